#pragma once
// The rules of a TPE, a policy of Tpe<S, Rules>: how many observations form l(x) (gamma), how much
// each weighs, how bandwidths are set, and the categorical kernel. Three are provided: tpe::Optuna
// (today's Optuna TPESampler, 5.0: the default), tpe::Optuna3 (Optuna 3.1's) and tpe::Hyperopt
// (hyperopt's TPE). A rules type has:
//   searcher_name                   the searcher's name (journals, reports)
//   revision                        recorded in the options' JSON when not empty ("rules")
//   gamma(n)                        how many of n usable observations form l(x)
//   weight(i, n)                    the mixture weight of the i-th oldest of n observations
//   lone_bandwidth                  sigma of a lone observation (0: the neighbour rule)
//   always_clip                     bandwidths clipped to [1 / min(100, n + 2), 1] whatever the options
//   prior_is_neighbour              the prior's centre 0.5 counts in the neighbour rule's sorted centres
//   joint_bandwidth                 multivariate: Scott-like 0.2 n^(-1/(d+4)) or the neighbour rule
//   multivariate                    whether the TPE is multivariate unless TpeOptions says
//   categoricals                    Optuna's kernel or hyperopt's weighted counts
//   kernel_height                   how real coordinates' kernels are scored unless TpeOptions says
//   optuna_stream                   which Optuna's draws TpeOptions::optuna_stream reproduces (none: refused)
//   check(TpeOptions)               refuses options the rules cannot honour

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <mahpo/search/tpe/options.hpp>

namespace mahpo::search::tpe {

enum class JointBandwidth {
  scott,       // Optuna 3.1 to 3.x: 0.2 n^(-1/(d+4)) of the range on every coordinate
  neighbours,  // Optuna 4 and 5: each coordinate's neighbour rule, as univariate
};

// Whose random draws TpeOptions::optuna_stream reproduces (tpe/optuna_stream.hpp).
enum class OptunaStream { none, optuna3, optuna5 };

enum class CategoricalRule {
  kernel,           // Optuna: (1[c = observed] + a) / (1 + C a) per observation, a = prior_weight / (n + 1)
  weighted_counts,  // hyperopt: weight-summed counts plus prior_weight pseudo-counts per choice
};

// Optuna's default_weights: hyperopt's linear forgetting with 25 (Bergstra et al. 2013): for n > 25,
// a ramp linspace(1/n, 1, n - 25) for the oldest, then 25 ones. As numpy's linspace computes it:
// i * step + start with step = (stop - start) / (num - 1), the last exactly stop (a ramp of one: start).
inline double linear_forgetting_weight(std::size_t i, std::size_t n) {
  constexpr std::size_t flat = 25;
  if (n <= flat || i >= n - flat) return 1.0;
  const std::size_t ramp = n - flat;
  const double first = 1.0 / static_cast<double>(n);
  if (ramp == 1) return first;
  if (i + 1 == ramp) return 1.0;
  return static_cast<double>(i) * ((1.0 - first) / static_cast<double>(ramp - 1)) + first;
}

// Today's Optuna TPESampler (5.0 development, commit 1d8ce7b of 2026-08-21: samplers/_tpe/sampler.py,
// parzen_estimator.py, probability_distributions.py): multivariate by default, every coordinate's
// bandwidth by the neighbour rule among the observations alone (the prior is not a neighbour; with
// two or more observations the outer ones take their inner gap), real coordinates scored by the
// mixture's density, integers by their cells' mass. KernelHeight::unscaled (Optuna 3.1's scores)
// converges faster on Branin and the LeNet quadratic but leaves Hartmann-6's second basin less
// often (docs/tpe_vs_optuna.md).
struct Optuna {
  static constexpr std::string_view searcher_name = "tpe";
  static constexpr std::string_view revision = "optuna-5";
  static constexpr double lone_bandwidth = 0.0;
  static constexpr bool always_clip = false;
  static constexpr bool prior_is_neighbour = false;
  static constexpr JointBandwidth joint_bandwidth = JointBandwidth::neighbours;
  static constexpr bool multivariate = true;
  static constexpr CategoricalRule categoricals = CategoricalRule::kernel;
  static constexpr KernelHeight kernel_height = KernelHeight::density;
  static constexpr OptunaStream optuna_stream = OptunaStream::optuna5;

  // Optuna's default_gamma, min(ceil(n / 10), 25), in exact integers.
  static std::size_t gamma(std::size_t n) { return std::min<std::size_t>((n + 9) / 10, 25); }
  static double weight(std::size_t i, std::size_t n) { return linear_forgetting_weight(i, n); }
  static void check(const TpeOptions&) {}
};

// Optuna 3.1's TPESampler (Debian's python3-optuna 3.1.0), as Optuna 3.1 to 3.4 score real
// coordinates: each kernel without its 1 / sigma (their _truncnorm.logpdf drops log(scale); Optuna
// 3.5 restored it); univariate by default, the prior's 0.5 among the neighbours, multivariate
// bandwidths by the Scott-like rule. TpeOptions::kernel_height = density gives Optuna 3.5's scores.
struct Optuna3 : Optuna {  // Optuna 5's rules but for these
  static constexpr std::string_view searcher_name = "tpe_optuna3";
  static constexpr std::string_view revision = "";
  static constexpr bool prior_is_neighbour = true;
  static constexpr JointBandwidth joint_bandwidth = JointBandwidth::scott;
  static constexpr bool multivariate = false;
  static constexpr KernelHeight kernel_height = KernelHeight::unscaled;
  static constexpr OptunaStream optuna_stream = OptunaStream::optuna3;
};

// Hyperopt's TPE (v0.1.2 and on; Optuna's hyperopt_parameters reproduce it).
struct Hyperopt {
  static constexpr std::string_view searcher_name = "tpe_hyperopt";
  static constexpr std::string_view revision = "";
  static constexpr double lone_bandwidth = 0.5;  // a lone observation gets half the prior's sigma
  static constexpr bool always_clip = true;
  static constexpr bool prior_is_neighbour = true;
  static constexpr JointBandwidth joint_bandwidth = JointBandwidth::scott;  // unused: univariate only
  static constexpr bool multivariate = false;
  static constexpr CategoricalRule categoricals = CategoricalRule::weighted_counts;
  static constexpr KernelHeight kernel_height = KernelHeight::density;
  static constexpr OptunaStream optuna_stream = OptunaStream::none;

  // Hyperopt's gamma, min(ceil(0.25 sqrt(n)), 25) (tpe.ap_split_trials; Optuna's hyperopt_default_gamma).
  static std::size_t gamma(std::size_t n) {
    // The smallest m with 16 m^2 >= n, i.e. m >= sqrt(n) / 4, in integers.
    auto m = static_cast<std::size_t>(std::ceil(0.25 * std::sqrt(static_cast<double>(n))));
    while (m > 0 && 16 * (m - 1) * (m - 1) >= n) --m;
    while (16 * m * m < n) ++m;
    return std::min<std::size_t>(m, 25);
  }
  static double weight(std::size_t i, std::size_t n) { return linear_forgetting_weight(i, n); }

  static void check(const TpeOptions& options) {
    if (options.multivariate.value_or(false)) {
      throw std::invalid_argument("mahpo::tpe_hyperopt: hyperopt's TPE is univariate; set multivariate = false");
    }
    if (options.optuna_stream) {
      throw std::invalid_argument("mahpo::tpe_hyperopt: optuna_stream draws as Optuna's TPE, not hyperopt's");
    }
    if (options.consider_endpoints) {
      throw std::invalid_argument(
          "mahpo::tpe_hyperopt: hyperopt never counts the domain's ends as neighbours; set consider_endpoints = false");
    }
    if (!options.consider_magic_clip) {
      throw std::invalid_argument(
          "mahpo::tpe_hyperopt: hyperopt always clips bandwidths; set consider_magic_clip = true");
    }
  }
};

// Whether real coordinates' kernels drop their 1 / sigma under these rules and options.
template <typename Rules>
bool unscaled_kernels(const TpeOptions& options) {
  const KernelHeight height =
      options.kernel_height == KernelHeight::rules ? Rules::kernel_height : options.kernel_height;
  return height == KernelHeight::unscaled;
}

// Whether the TPE is multivariate under these rules and options.
template <typename Rules>
bool multivariate(const TpeOptions& options) {
  return options.multivariate.value_or(Rules::multivariate);
}

// The weights of n observations under a rules type, oldest first.
template <typename Rules>
std::vector<double> weights(std::size_t n) {
  std::vector<double> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = Rules::weight(i, n);
  return all;
}

}  // namespace mahpo::search::tpe
