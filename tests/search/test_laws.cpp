// Every searcher, on a mixed space (integers, log reals, reals) and a plain real one, obeys the
// laws of tests/search/laws.hpp. A new searcher: add it to the first list.
#include <catch2/catch.hpp>

#include "laws.hpp"

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/anneal.hpp>
#include <mahpo/search/gp/gp_bo.hpp>
#include <mahpo/search/grid.hpp>
#include <mahpo/search/hyperband/bohb.hpp>
#include <mahpo/search/hyperband/hyperband.hpp>
#include <mahpo/search/hyperband/successive_halving.hpp>
#include <mahpo/search/ppo/mappo.hpp>
#include <mahpo/search/ppo/ppo_lstm.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/regularized_evolution.hpp>
#include <mahpo/search/tpe/tpe.hpp>

using mahpo::problems::Branin;
using mahpo::problems::LeNetQuadratic;
using namespace mahpo::search;

namespace {
// Regularized evolution sized for the laws' 40-80 trials, so they exercise its evolution phase too.
template <typename S>
struct SmallEvolution : RegularizedEvolution<S> {
  explicit SmallEvolution(SearchOptions options = {})
      : RegularizedEvolution<S>(options, EvolutionOptions::for_budget(40)) {}
};
// MAPPO as the paper runs it: an action grid, on-policy batches, z-scored rewards.
template <typename S>
struct PaperMappo : Mappo<S> {
  explicit PaperMappo(SearchOptions options = {}) : Mappo<S>(options, MappoOptions::paper()) {}
};
}  // namespace

TEMPLATE_PRODUCT_TEST_CASE("searcher laws", "[laws]",
                           (Random, Grid, Anneal, Tpe, GpBo, RegularizedEvolution, SmallEvolution, SuccessiveHalving,
                            Hyperband, Bohb, Mappo, PaperMappo),
                           (LeNetQuadratic::space, Branin::space)) {
  mahpo::testing::check_searcher_laws<TestType>();
}

// MAPPO also takes a topology; PpoLstm a space of its own.
TEMPLATE_TEST_CASE("searcher laws for the RL searchers", "[laws]", Mappo<mahpo::nn::paper_lenet>,
                   PpoLstm<LeNetQuadratic::space>) {
  mahpo::testing::check_searcher_laws<TestType>();
}
