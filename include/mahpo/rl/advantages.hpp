#pragma once
// Generalized advantage estimation (Schulman et al., 2016) and advantage normalization.
//
// `gae` reads a buffer of T transitions in time order, possibly several episodes one after the
// other: rewards(t), values(t) = V(s_t), next_values(t) = V(s_{t+1}) and dones(t) = 1 when the
// episode ended at step t (then next_values(t) is ignored and the recursion restarts), else 0:
//   delta_t = r_t + gamma (1 - done_t) V(s_{t+1}) - V(s_t)
//   A_t     = delta_t + gamma lambda (1 - done_t) A_{t+1},      return_t = A_t + V(s_t).
// A buffer whose last step is not done bootstraps from next_values (a truncated episode).
// Pass values in the return's scale: with value normalization, denormalize the critic's
// outputs first (as the MAPPO reference code does).
//
// `normalize_advantages` centres and scales a batch: (A - mean) / (std + epsilon), population std,
// epsilon 1e-5 (MAPPO reference code).

#include <cmath>
#include <cstddef>
#include <stdexcept>

#include <fmt/format.h>

#include <xtensor/xmath.hpp>

#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

struct AdvantagesAndReturns {
  Vector advantages;
  Vector returns;  // advantages + values: the critic's targets
};

inline AdvantagesAndReturns gae(const Vector& rewards, const Vector& values, const Vector& next_values,
                                const Vector& dones, double gamma, double lambda) {
  const std::size_t steps = rewards.size();
  if (values.size() != steps || next_values.size() != steps || dones.size() != steps)
    throw std::invalid_argument(
        fmt::format("mahpo::rl::gae: rewards ({}), values ({}), next_values ({}) and dones ({}) "
                    "must have the same length",
                    steps, values.size(), next_values.size(), dones.size()));
  if (!(gamma >= 0.0 && gamma <= 1.0) || !(lambda >= 0.0 && lambda <= 1.0))
    throw std::invalid_argument(fmt::format("mahpo::rl::gae: gamma {} and lambda {} must be in [0, 1]", gamma, lambda));
  AdvantagesAndReturns result{Vector::from_shape({steps}), Vector::from_shape({steps})};
  double next_advantage = 0.0;
  for (std::size_t t = steps; t-- > 0;) {
    const double continues = 1.0 - dones(t);
    const double delta = rewards(t) + gamma * continues * next_values(t) - values(t);  // TD error
    next_advantage = delta + gamma * lambda * continues * next_advantage;
    result.advantages(t) = next_advantage;
    result.returns(t) = next_advantage + values(t);
  }
  return result;
}

inline Vector normalize_advantages(const Vector& advantages, double epsilon = 1e-5) {
  const std::size_t n = advantages.size();
  if (n == 0) return advantages;
  const double mean = xt::mean(advantages)();
  const double deviation = std::sqrt(xt::variance(advantages)());
  return (advantages - mean) * (1.0 / (deviation + epsilon));
}

}  // namespace mahpo::rl
