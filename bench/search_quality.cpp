// Search quality with statistics: for every searcher and problem, after 25, 50, 100 and 200 trials
// over many seeds, the best value observed and the noiseless value of the config the searcher hands
// over (its model's estimate where it has one), as medians with quartiles, and the paired win rates
// against random search and both TPEs (same seed; a tie counts half). Prints Markdown tables.
//
//   search_quality [seeds=30] [--seed-sets held-out,tuning] [--rows NAME,...] [problem...]
//
// Seed sets: `held-out` is seeds 10000.. (no default of any searcher was tuned on them), `tuning`
// is seeds 0.. (the seeds the defaults were chosen on); both by default, held-out first. A seed
// is the searcher's seed and the problem's: the surrogates' noise, the off-centre problems' optima.
//
// Problems (all by default):
//   branin hartmann6          minimized (optima 0.397887 and -3.32237)
//   quadratic                 the LeNet quadratic, optimum near the centre of the space
//   quadratic-off-centre      its bowl around an optimum drawn per seed away from the centre
//   cliff                     the off-centre bowl with a learning-rate cliff next to its optimum
//   surrogate-mnist surrogate-fashion                     the LeNet surrogates (smooth noise)
//   surrogate-mnist-mirrored surrogate-fashion-mirrored   the same, coordinates mirrored per seed
// Trials are asked and told one at a time. Multi-fidelity searchers count each evaluation as a
// trial, whatever its budget; the quadratics score low budgets lower, the other problems ignore the
// budget. `--rows` keeps the rows named (random and both TPEs are always run: the win rates need them).
#include <mahpo/mahpo.hpp>

#include "quality.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace mahpo::search;
using mahpo::bench::Row;
using mahpo::bench::run;
using mahpo::bench::Selection;

struct Table {
  const Selection& selection;

  template <typename Problem>
  void operator()(std::string_view title, std::uint64_t first_seed) const {
    using S = typename Problem::space;
    mahpo::bench::announce(title, first_seed);
    std::vector<Row> rows;
    const auto add = [&](std::string name, auto make) {
      if (rows.size() < 3 || selection.wanted_row(name))  // random and both TPEs: the references
        rows.push_back(run<Problem>(std::move(name), selection.seeds, make, first_seed));
    };
    add("random", [](SearchOptions o) { return Random<S>(o); });
    add("tpe", [](SearchOptions o) { return Tpe<S>(o); });
    add("tpe (univariate)", [](SearchOptions o) { return Tpe<S>(o, TpeOptions{.multivariate = false}); });
    add("anneal", [](SearchOptions o) { return Anneal<S>(o); });
    add("gp_bo", [](SearchOptions o) { return GpBo<S>(o); });
    add("hyperband", [](SearchOptions o) { return Hyperband<S>(o); });
    add("bohb", [](SearchOptions o) { return Bohb<S>(o); });
    add("regularized_evolution", [](SearchOptions o) { return RegularizedEvolution<S>(o); });
    add("ppo_lstm", [](SearchOptions o) { return PpoLstm<S>(o); });
    add("mappo (paper preset)", [](SearchOptions o) { return Mappo<S>(o, MappoOptions::paper()); });
    add("mappo (no reward model)", [](SearchOptions o) { return Mappo<S>(o, MappoOptions{.reward_model = false}); });
    add("mappo", [](SearchOptions o) { return Mappo<S>(o); });
    mahpo::bench::print_tables(title, selection.seeds, Problem::goal == mahpo::Goal::maximize, rows, {0, 1, 2},
                               selection.seed_note(first_seed));
  }
};

}  // namespace

int main(int argc, char** argv) {
  Selection selection;
  if (!mahpo::bench::parse_selection(argc, argv, selection, [](std::string_view, const char*) { return 0; })) {
    fmt::print(stderr, "usage: search_quality [seeds >= 1] [--seed-sets held-out,tuning] [--rows NAME,...] [{} ...]\n",
               fmt::join(mahpo::bench::problem_names(), "|"));
    return 1;
  }
  mahpo::bench::for_each_problem(selection, Table{selection});
}
