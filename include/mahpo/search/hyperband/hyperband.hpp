#pragma once
// Hyperband (Li et al., "Hyperband: A Novel Bandit-Based Approach to Hyperparameter
// Optimization", JMLR 2018, Algorithm 1): successive halving over brackets that trade the number of
// configs against their starting budget, cycled forever.
//
// Budgets are epochs (Budget{.epochs = b}); SearchOptions::budget is ignored. With R = max_budget,
// s_max = floor(log_eta(R / min_budget)), bracket s = s_max, ..., 0 starts n = ceil((s_max + 1) /
// (s + 1) · eta^s) new configs at r = R·eta^-s; rung i holds floor(n·eta^-i) configs at r·eta^i.
// Defaults: min_budget 1/9, max_budget 1, eta 3 (brackets of 9, 5 and 3 configs).
//
// Choices the paper leaves open:
// - A promoted config is asked again as a new trial (new id, same config, bigger budget), as in
//   HpBandSter; the objective trains it from scratch (or resumes, if it can).
// - ask() never blocks: when every open bracket waits for results, the next bracket of the cycle
//   opens (HpBandSter's parallel iterations). Trials come from the oldest bracket that has one.
// - A rung promotes once all its trials are told: the best floor(n_i / eta) by loss; failed and
//   diverged trials (and non-finite values) count as the worst, pruned ones by their value; ties
//   keep the order the trials were asked in.
// - New configs come from the Sampler policy (random draws by default); promoted ones never do.
// - The smallest budget is R·eta^-s_max, which is min_budget when R / min_budget is a power of eta
//   and up to eta times more otherwise (as in HpBandSter).

#include <mahpo/search/hyperband/sampled_brackets.hpp>

namespace mahpo::search {

// Sampler: where a bracket's new configs come from (hyperband/sampled_brackets.hpp):
// hyperband::RandomSampler (Li et al., the default) or hyperband::GpSampler (Bertrand et al. 2017,
// hyperband/gp_sampler.hpp), or a user's own.
template <typename S, typename Sampler = hyperband::RandomSampler>
class Hyperband
    : public hyperband::detail::SampledBrackets<S, "hyperband", hyperband::detail::Cycle::all_brackets, Sampler> {
 public:
  using hyperband::detail::SampledBrackets<S, "hyperband", hyperband::detail::Cycle::all_brackets,
                                           Sampler>::SampledBrackets;
};

// Hyperband of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S, typename Sampler>
  requires(!SearchSpace<S>)
class Hyperband<S, Sampler> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
