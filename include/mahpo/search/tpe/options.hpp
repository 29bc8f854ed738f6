#pragma once
// What a TPE searcher can be told besides its rules (tpe/rules.hpp) and the SearchOptions.

#include <cstddef>

#include <nlohmann/json.hpp>

namespace mahpo::search {

struct TpeOptions {
  std::size_t startup_trials = 10;  // prior draws until this many usable trials are told
  std::size_t candidates = 24;      // draws from l(x) scored per ask (per coordinate when univariate)
  double prior_weight = 1.0;        // the prior kernel's weight, against 1 per recent observation
  bool consider_magic_clip = true;  // bandwidths at least 1 / min(100, n + 2)
  bool consider_endpoints = false;  // the domain's ends count as neighbours of the outer kernels
  bool multivariate = false;        // joint kernels (Optuna's multivariate TPE)
  bool constant_liar = true;        // pending trials join the above group
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TpeOptions, startup_trials, candidates, prior_weight, consider_magic_clip,
                                   consider_endpoints, multivariate, constant_liar)

}  // namespace mahpo::search
