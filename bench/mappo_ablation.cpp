// What each part of the default MAPPO buys: the default, the paper preset, and the default with one
// part undone at a time, over many seeds (held-out and tuning seed sets, as search_quality) on the
// synthetic problems, the off-centre ones and the LeNet surrogates: the best value observed and the
// noiseless value of the config handed over after 25/50/100/200 trials, with win rates against
// random search, TPE and the default.
//
//   mappo_ablation [seeds=30] [--seed-sets held-out,tuning] [--rows NAME,...]
//                  [--variant 'NAME={"option": value, ...}' ...] [problem...]
//
// `--variant` adds a row: the default MappoOptions with the JSON's options changed (the names of
// MappoOptions' JSON form), for tuning on the tuning seeds without a rebuild. With `--rows`, only the
// rows named run (random, TPE and the default always do: the win rates need them).
#include <mahpo/search/ppo/mappo.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/tpe/tpe.hpp>

#include "quality.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace mahpo::search;
using mahpo::bench::Row;
using mahpo::bench::run;
using mahpo::bench::Selection;

using Variants = std::vector<std::pair<std::string, MappoOptions>>;

// The default with one part undone.
Variants variants() {
  Variants all;
  const auto undone = [&](std::string name, auto change) {
    MappoOptions options;
    change(options);
    all.emplace_back(std::move(name), options);
  };
  all.emplace_back("mappo (default)", MappoOptions{});
  all.emplace_back("mappo (paper preset)", MappoOptions::paper());
  undone("default: no reward model", [](MappoOptions& o) { o.reward_model = false; });
  undone("default: model without optimism", [](MappoOptions& o) { o.model_optimism = 0.0; });
  undone("default: no prior startup episodes", [](MappoOptions& o) { o.startup_episodes = 0; });
  undone("default: the other PPO ratio", [](MappoOptions& o) {
    o.ratio = o.ratio == mahpo::rl::Ratio::joint ? mahpo::rl::Ratio::per_dimension : mahpo::rl::Ratio::joint;
  });
  undone("default: no advantage floor", [](MappoOptions& o) { o.advantage_floor = 0.0; });
  undone("default: 8-level grid actions", [](MappoOptions& o) { o.actions = MappoActions::grid; });
  undone("default: z-scored rewards", [](MappoOptions& o) { o.rewards = MappoRewards::normalized; });
  undone("default: no reuse (each episode once)", [](MappoOptions& o) { o.replay = 0; });
  undone("default: no KL stop", [](MappoOptions& o) { o.target_kl = 0.0; });
  return all;
}

struct Table {
  const Selection& selection;
  const Variants& all;

  template <typename Problem>
  void operator()(std::string_view title, std::uint64_t first_seed) const {
    using S = typename Problem::space;
    mahpo::bench::announce(title, first_seed);
    std::vector<Row> rows;
    const std::size_t seeds = selection.seeds;
    rows.push_back(run<Problem>(
        "random", seeds, [](SearchOptions o) { return Random<S>(o); }, first_seed));
    rows.push_back(run<Problem>(
        "tpe", seeds, [](SearchOptions o) { return Tpe<S>(o); }, first_seed));
    for (const auto& [name, options] : all)
      if (rows.size() < 3 || selection.wanted_row(name))
        rows.push_back(run<Problem>(
            name, seeds, [&](SearchOptions o) { return Mappo<S>(o, options); }, first_seed));
    mahpo::bench::print_tables(title, seeds, Problem::goal == mahpo::Goal::maximize, rows, {0, 1, 2},
                               selection.seed_note(first_seed));
  }
};

}  // namespace

int main(int argc, char** argv) {
  Selection selection;
  Variants all = variants();
  std::string error;
  const auto variant = [&](std::string_view argument, const char* next) {
    if (argument != "--variant" || next == nullptr) return 0;
    const std::string_view text = next;
    const std::size_t equals = text.find('=');
    try {
      if (equals == std::string_view::npos) throw std::invalid_argument("expected NAME={...}");
      nlohmann::json json = MappoOptions{};
      json.merge_patch(nlohmann::json::parse(text.substr(equals + 1)));
      all.emplace_back(std::string(text.substr(0, equals)), json.get<MappoOptions>());
      selection.rows.emplace_back(text.substr(0, equals));
    } catch (const std::exception& e) {
      error = fmt::format("--variant '{}': {}", text, e.what());
      return 0;
    }
    return 2;
  };
  if (!mahpo::bench::parse_selection(argc, argv, selection, variant)) {
    if (!error.empty()) fmt::print(stderr, "{}\n", error);
    fmt::print(stderr,
               "usage: mappo_ablation [seeds >= 1] [--seed-sets held-out,tuning] [--rows NAME,...] "
               "[--variant 'NAME={{...}}' ...] [{} ...]\n",
               fmt::join(mahpo::bench::problem_names(), "|"));
    return 1;
  }
  fmt::print("MAPPO ablation\n");
  mahpo::bench::for_each_problem(selection, Table{selection, all});
}
