// Each model-based searcher beats random search on Branin and Hartmann-6: at a fixed number of
// trials per searcher, its median best over seeds 0-4 is better than random search's median with
// the same trials and seeds (BOHB on Hartmann-6 alone, below). (The full table, 50/100/200 trials:
// bench/search_quality.)
#include <catch2/catch.hpp>

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/anneal.hpp>
#include <mahpo/search/gp/gp_bo.hpp>
#include <mahpo/search/hyperband/bohb.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/regularized_evolution.hpp>
#include <mahpo/search/tpe/tpe.hpp>

#include <algorithm>
#include <vector>

#include "../seeds.hpp"

using namespace mahpo;
using namespace mahpo::search;

namespace {

template <typename S>
struct SizedEvolution : RegularizedEvolution<S> {  // population 25, sample 6: sized for 100 trials
  explicit SizedEvolution(SearchOptions options)
      : RegularizedEvolution<S>(options, EvolutionOptions::for_budget(100)) {}
};

// Tpe with its default rules, as a one-parameter template: clang with strict template template
// matching (scripts/sanitize.sh) does not bind Tpe<S, Rules = ...> to `template <typename> class`.
template <typename S>
using DefaultTpe = Tpe<S>;

// The median over seeds 0..seeds-1 of the lowest value found in `trials` trials (both problems minimize).
template <template <typename> class Searcher, typename Problem>
double median_best(std::size_t trials, std::uint64_t seeds = 5) {
  std::vector<double> best;
  for (std::uint64_t seed = 0; seed < seeds; ++seed) {
    Searcher<typename Problem::space> searcher(
        SearchOptions{.seed = mahpo::testing::seed(seed), .goal = Goal::minimize});
    double lowest = 1e300;
    for (std::size_t k = 0; k < trials; ++k) {
      const auto trial = searcher.ask();
      const auto result = Problem{}(trial.config, trial.budget);
      searcher.tell(trial.id, result);
      lowest = std::min(lowest, result.value);
    }
    best.push_back(lowest);
  }
  std::sort(best.begin(), best.end());
  return best[best.size() / 2];
}

template <template <typename> class Searcher>
void beats_random(std::size_t trials, std::uint64_t seeds = 5) {
  const double branin = median_best<Searcher, problems::Branin>(trials, seeds);
  const double random_branin = median_best<Random, problems::Branin>(trials, seeds);
  INFO("Branin, " << trials << " trials: " << branin << " vs random " << random_branin);
  CHECK(branin < random_branin);
  const double hartmann = median_best<Searcher, problems::Hartmann6>(trials, seeds);
  const double random_hartmann = median_best<Random, problems::Hartmann6>(trials, seeds);
  INFO("Hartmann-6, " << trials << " trials: " << hartmann << " vs random " << random_hartmann);
  CHECK(hartmann < random_hartmann);
}

}  // namespace

TEST_CASE("anneal beats random search on Branin and Hartmann-6", "[seeded]") { beats_random<Anneal>(100); }
// Nine seeds: the multivariate TPE (the default) is near random search on Branin at 100 trials,
// where five seeds' medians decide by chance too often (docs/testing.md).
TEST_CASE("TPE beats random search on Branin and Hartmann-6", "[seeded]") { beats_random<DefaultTpe>(100, 9); }
TEST_CASE("GP-BO beats random search on Branin and Hartmann-6", "[seeded]") { beats_random<GpBo>(40); }
// On Branin, whose value does not depend on the budget, BOHB's promotions evaluate configs again and
// its model does not make up for it: it beat random search's median on 13 of 30 batches of seeds, so
// the claim is made on Hartmann-6 alone (docs/testing.md).
TEST_CASE("BOHB beats random search on Hartmann-6", "[seeded]") {
  const double hartmann = median_best<Bohb, problems::Hartmann6>(150, 9);
  const double random_hartmann = median_best<Random, problems::Hartmann6>(150, 9);
  INFO("Hartmann-6, 150 trials, median of 9 seeds: " << hartmann << " vs random " << random_hartmann);
  CHECK(hartmann < random_hartmann);
}
TEST_CASE("regularized evolution beats random search on Branin and Hartmann-6", "[seeded]") {
  beats_random<SizedEvolution>(100);
}
