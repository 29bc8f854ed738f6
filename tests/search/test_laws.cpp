// Every searcher, on a mixed space (integers, log reals, reals) and a plain real one, obeys the
// laws of tests/search/laws.hpp. This file: the searchers without a model; test_laws_models.cpp:
// those with one (two files, so that the two halves compile side by side). A new searcher: add it
// to one of the lists.
#include <catch2/catch.hpp>

#include "laws.hpp"

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/anneal.hpp>
#include <mahpo/search/grid.hpp>
#include <mahpo/search/hyperband/hyperband.hpp>
#include <mahpo/search/hyperband/successive_halving.hpp>
#include <mahpo/search/nsga2.hpp>
#include <mahpo/search/pbt.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/regularized_evolution.hpp>

#include "../seeds.hpp"

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
// NSGA-II with a population of 10, so that the laws' 40-80 trials cross several generations.
template <typename S>
struct SmallNsga2 : Nsga2<S> {
  explicit SmallNsga2(SearchOptions options = {}) : Nsga2<S>(options, {.population_size = 10}) {}
};
}  // namespace

TEMPLATE_PRODUCT_TEST_CASE("searcher laws", "[laws][seeded]",
                           (Random, Grid, Anneal, RegularizedEvolution, SmallEvolution, SuccessiveHalving, Hyperband,
                            Pbt, Nsga2, SmallNsga2),
                           (LeNetQuadratic::space, Branin::space)) {
  mahpo::testing::check_searcher_laws<TestType>();
}
