// The laws of tests/search/laws.hpp for the searchers with a model (TPE, GP-BO, BOHB, Hyperband with a GP, MAPPO in
// both presets, PPO-LSTM), on a mixed space and a plain real one; test_laws.cpp has the others.
#include <catch2/catch.hpp>

#include "laws.hpp"

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/fabolas.hpp>
#include <mahpo/search/gp/gp_bo.hpp>
#include <mahpo/search/hyperband/bohb.hpp>
#include <mahpo/search/hyperband/gp_sampler.hpp>
#include <mahpo/search/hyperband/hyperband.hpp>
#include <mahpo/search/ppo/mappo.hpp>
#include <mahpo/search/ppo/ppo_lstm.hpp>
#include <mahpo/search/tpe/tpe.hpp>

#include "../seeds.hpp"

using mahpo::problems::Branin;
using mahpo::problems::LeNetQuadratic;
using namespace mahpo::search;

namespace {
// MAPPO as the paper runs it: an action grid, on-policy batches, z-scored rewards.
template <typename S>
struct PaperMappo : Mappo<S> {
  explicit PaperMappo(SearchOptions options = {}) : Mappo<S>(options, MappoOptions::paper()) {}
};
// Hyperband whose new configs come from a GP (Bertrand et al. 2017).
template <typename S>
using HyperbandGp = Hyperband<S, hyperband::GpSampler>;
// FABOLAS with fewer candidates, fraction levels, f* samples and quadrature nodes: the laws' budget.
template <typename S>
struct SmallFabolas : Fabolas<S> {
  explicit SmallFabolas(SearchOptions options = {})
      : Fabolas<S>(options, FabolasOptions{.startup_configs = 3,
                                           .startup_fractions = {0.125, 0.25},
                                           .min_fraction = 0.125,
                                           .fraction_levels = 3,
                                           .candidates = 40,
                                           .max_value_samples = 3,
                                           .quadrature_nodes = 8}) {}
};
}  // namespace

TEMPLATE_PRODUCT_TEST_CASE("searcher laws with a model", "[laws][seeded]",
                           (Tpe, GpBo, Bohb, HyperbandGp, SmallFabolas, Mappo, PaperMappo),
                           (LeNetQuadratic::space, Branin::space)) {
  mahpo::testing::check_searcher_laws<TestType>();
}

// MAPPO also takes a topology; PpoLstm a space of its own.
TEMPLATE_TEST_CASE("searcher laws for the RL searchers", "[laws][seeded]", Mappo<mahpo::nn::paper_lenet>,
                   PpoLstm<LeNetQuadratic::space>) {
  mahpo::testing::check_searcher_laws<TestType>();
}
