// What each of the default MAPPO's changes to the paper's algorithm buys: the default, the paper
// preset, and the default with one change undone at a time, over many seeds on the synthetic
// problems and the LeNet surrogates (best value after 25/50/100/200 trials, as search_quality).
//
//   mappo_ablation [seeds=30] [problem...]
//     problems: branin hartmann6 quadratic surrogate-mnist surrogate-fashion (all by default)
#include <mahpo/problems/lenet_surrogate.hpp>
#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/ppo/mappo.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/tpe/tpe.hpp>

#include "quality.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace mahpo::search;
using mahpo::bench::Row;
using mahpo::bench::run;

// The default with one change undone.
std::vector<std::pair<std::string, MappoOptions>> variants() {
  std::vector<std::pair<std::string, MappoOptions>> all;
  all.emplace_back("mappo (default)", MappoOptions{});
  all.emplace_back("mappo (paper preset)", MappoOptions::paper());
  MappoOptions options;
  options.actions = MappoActions::grid;
  all.emplace_back("default, 8-level grid actions", options);
  options = {};
  options.rewards = MappoRewards::normalized;
  all.emplace_back("default, z-scored rewards", options);
  options = {};
  options.replay = 0;
  all.emplace_back("default, no reuse (each episode once)", options);
  options = {};
  options.target_kl = 0.0;
  all.emplace_back("default, no KL stop", options);
  options = {};
  options.initial_std = 0.5;
  all.emplace_back("default, initial std 0.5", options);
  options = {};
  options.hidden_sizes = {64, 64};
  all.emplace_back("default, 64x64 networks", options);
  return all;
}

template <typename Problem>
void table(std::string_view title, std::size_t seeds) {
  using S = typename Problem::space;
  std::fprintf(stderr, "%s\n", std::string(title).c_str());
  std::vector<Row> rows;
  rows.push_back(run<Problem>("random", seeds, [](SearchOptions o) { return Random<S>(o); }));
  rows.push_back(run<Problem>("tpe", seeds, [](SearchOptions o) { return Tpe<S>(o); }));
  for (const auto& [name, options] : variants())
    rows.push_back(run<Problem>(name, seeds, [&](SearchOptions o) { return Mappo<S>(o, options); }));
  mahpo::bench::print_tables(title, seeds, Problem::goal == mahpo::Goal::maximize, rows, 0, 2);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t seeds = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 30;
  if (seeds == 0) {
    fmt::print(
        stderr,
        "usage: mappo_ablation [seeds >= 1] [branin|hartmann6|quadratic|surrogate-mnist|surrogate-fashion ...]\n");
    return 1;
  }
  const std::vector<std::string_view> wanted(argv + std::min(argc, 2), argv + argc);
  const auto chosen = [&](std::string_view problem) {
    return wanted.empty() || std::find(wanted.begin(), wanted.end(), problem) != wanted.end();
  };
  using mahpo::problems::LeNetDataset;
  using mahpo::problems::LeNetSurrogate;
  fmt::print("MAPPO ablation: best value found, over seeds 0-{}\n", seeds - 1);
  if (chosen("branin")) table<mahpo::problems::Branin>("Branin", seeds);
  if (chosen("hartmann6")) table<mahpo::problems::Hartmann6>("Hartmann-6", seeds);
  if (chosen("quadratic")) table<mahpo::problems::LeNetQuadratic>("LeNet quadratic", seeds);
  if (chosen("surrogate-mnist")) table<LeNetSurrogate<LeNetDataset::mnist>>("LeNet surrogate, MNIST", seeds);
  if (chosen("surrogate-fashion"))
    table<LeNetSurrogate<LeNetDataset::fashion_mnist>>("LeNet surrogate, Fashion-MNIST", seeds);
}
