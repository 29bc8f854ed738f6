#pragma once
// Successive halving (Jamieson & Talwalkar, "Non-stochastic Best Arm Identification and
// Hyperparameter Optimization", AISTATS 2016; in the bracket form of Li et al., JMLR 2018): n new
// configs at the smallest budget, the best 1/eta of them go on with eta times the budget, and so
// on up to max_budget; then a new bracket of the same shape starts, forever.
//
// Budgets are epochs (Budget{.epochs = b}); SearchOptions::budget is ignored. The one bracket is
// Hyperband's most aggressive one: s_max = floor(log_eta(max_budget / min_budget)),
// n = ceil(eta^s_max) configs at max_budget·eta^-s_max, rung i holding floor(n·eta^-i) configs.
// Defaults: min_budget 1/9, max_budget 1, eta 3 (rungs of 9, 3 and 1 configs at 1/9, 1/3, 1 epoch).
//
// Choices left open by the papers (the same as mahpo's Hyperband): a promoted config is asked again
// as a new trial (new id, same config, bigger budget), as in HpBandSter; ask() never blocks: while
// every open bracket waits for results, a new bracket opens; a rung promotes once all its trials
// are told, failed and diverged trials counting as the worst, ties in the order they were asked.

#include <mahpo/search/hyperband/sampled_brackets.hpp>

namespace mahpo::search {

// min_budget: epochs of the first rung; max_budget: of the last; eta: keep 1/eta, give eta x the budget.
using SuccessiveHalvingOptions = HyperbandOptions;

template <typename S>
class SuccessiveHalving
    : public hyperband::detail::SampledBrackets<S, "successive_halving", hyperband::detail::Cycle::most_aggressive,
                                                hyperband::RandomSampler> {
 public:
  using hyperband::detail::SampledBrackets<S, "successive_halving", hyperband::detail::Cycle::most_aggressive,
                                           hyperband::RandomSampler>::SampledBrackets;
};

// SuccessiveHalving of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S>
  requires(!SearchSpace<S>)
class SuccessiveHalving<S> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
