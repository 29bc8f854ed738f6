#pragma once
// The PPO losses and their gradients (Schulman et al., 2017), with the MAPPO refinements of
// Yu et al., 2022 (value clipping, Huber value loss with delta 10).
//
// Policy: for a batch of B samples with K log-probability columns each (K = 1 for one joint
// log-probability; K = the action dimensions for MAPPO's per-dimension ratios, mahpo/rl/actor_loss.hpp)
//   r(b,k) = exp(new(b,k) - old(b,k))
//   loss   = -(1/B) sum_b sum_k min(r A_b, clip(r, 1 - eps, 1 + eps) A_b)        (PPO eq. 7)
//   d loss / d new(b,k) = -(1/B) r A_b where the unclipped term is the minimum, else 0.
// The sum over k and mean over b follow the MAPPO reference code.
//
// Value: for predictions v, the predictions at collection time v_old and targets R (all in the
// normalized scale when value normalization is on)
//   v_clip = v_old + clip(v - v_old, -eps, eps)
//   loss   = (1/B) sum_b max(h(R - v), h(R - v_clip))    (unclipped: (1/B) sum_b h(R - v))
// with h the Huber loss of delta 10 (or e^2 / 2 without it, as the MAPPO code's mse_loss).
// The MAPPO defaults: clip 0.2 for both, Huber on, value clipping on.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>

#include <fmt/format.h>

#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

struct PolicyLoss {
  double loss = 0.0;
  Matrix gradient;             // d(loss)/d(new log-probabilities), batch x K
  double clip_fraction = 0.0;  // share of ratios outside [1 - eps, 1 + eps]
  double approx_kl = 0.0;      // mean over b of sum_k (r - 1) - log r, an estimate of KL(old || new) >= 0
};

inline PolicyLoss ppo_policy_loss(const Matrix& new_log_probabilities, const Matrix& old_log_probabilities,
                                  const Vector& advantages, double clip = 0.2) {
  const std::size_t batch = new_log_probabilities.shape()[0], columns = new_log_probabilities.shape()[1];
  if (old_log_probabilities.shape() != new_log_probabilities.shape() || advantages.size() != batch)
    throw std::invalid_argument(fmt::format(
        "mahpo::rl::ppo_policy_loss: new ({}x{}) and old ({}x{}) log-probabilities and advantages ({}) "
        "must agree",
        batch, columns, old_log_probabilities.shape()[0], old_log_probabilities.shape()[1], advantages.size()));
  if (!(clip > 0.0)) throw std::invalid_argument(fmt::format("mahpo::rl::ppo_policy_loss: clip {} must be > 0", clip));
  PolicyLoss result;
  result.gradient = xt::zeros<double>({batch, columns});
  if (batch == 0) return result;
  const double scale = 1.0 / static_cast<double>(batch);
  std::size_t clipped = 0;
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t k = 0; k < columns; ++k) {
      const double log_ratio = new_log_probabilities(b, k) - old_log_probabilities(b, k);
      const double ratio = std::exp(log_ratio), a = advantages(b);
      const double unclipped = ratio * a, clipped_term = std::clamp(ratio, 1.0 - clip, 1.0 + clip) * a;
      result.loss -= scale * std::min(unclipped, clipped_term);
      if (unclipped <= clipped_term) result.gradient(b, k) = -scale * ratio * a;  // else the clip holds it: 0
      if (std::abs(ratio - 1.0) > clip) ++clipped;
      result.approx_kl += scale * (ratio - 1.0 - log_ratio);  // Schulman's k3 estimator
    }
  result.clip_fraction = static_cast<double>(clipped) / static_cast<double>(batch * columns);
  return result;
}

// Huber (1964): e^2 / 2 for |e| <= delta, delta (|e| - delta / 2) beyond.
inline double huber_loss(double error, double delta) {
  const double magnitude = std::abs(error);
  return magnitude <= delta ? 0.5 * error * error : delta * (magnitude - 0.5 * delta);
}

// d huber_loss / d error.
inline double huber_derivative(double error, double delta) {
  return std::abs(error) <= delta ? error : (error > 0.0 ? delta : -delta);
}

struct ValueLossOptions {
  double clip = 0.2;        // how far a prediction may move from its collection-time value
  bool clip_values = true;  // the max of clipped and unclipped losses (MAPPO's use_clipped_value_loss)
  bool huber = true;        // Huber loss; else e^2 / 2
  double huber_delta = 10.0;
};

struct ValueLoss {
  double loss = 0.0;
  Vector gradient;  // d(loss)/d(values)
};

inline ValueLoss ppo_value_loss(const Vector& values, const Vector& old_values, const Vector& returns,
                                const ValueLossOptions& options = {}) {
  const std::size_t batch = values.size();
  if (old_values.size() != batch || returns.size() != batch)
    throw std::invalid_argument(fmt::format(
        "mahpo::rl::ppo_value_loss: values ({}), old values ({}) and returns ({}) must have the same length", batch,
        old_values.size(), returns.size()));
  if (options.clip_values && !(options.clip > 0.0))
    throw std::invalid_argument(fmt::format("mahpo::rl::ppo_value_loss: clip {} must be > 0", options.clip));
  if (options.huber && !(options.huber_delta > 0.0))
    throw std::invalid_argument(
        fmt::format("mahpo::rl::ppo_value_loss: huber_delta {} must be > 0", options.huber_delta));
  const auto loss = [&](double e) { return options.huber ? huber_loss(e, options.huber_delta) : 0.5 * e * e; };
  const auto derivative = [&](double e) { return options.huber ? huber_derivative(e, options.huber_delta) : e; };
  ValueLoss result{0.0, xt::zeros<double>({batch})};
  if (batch == 0) return result;
  const double scale = 1.0 / static_cast<double>(batch);
  for (std::size_t b = 0; b < batch; ++b) {
    const double error = returns(b) - values(b);
    double term = loss(error), gradient = -derivative(error);
    if (options.clip_values) {
      const double step = values(b) - old_values(b);
      const double clipped_value = old_values(b) + std::clamp(step, -options.clip, options.clip);
      const double clipped_error = returns(b) - clipped_value;
      const double clipped_term = loss(clipped_error);
      if (clipped_term > term) {  // then the clamp is active and holds the prediction: no gradient
        term = clipped_term;
        gradient = std::abs(step) < options.clip ? -derivative(clipped_error) : 0.0;
      }
    }
    result.loss += scale * term;
    result.gradient(b) = scale * gradient;
  }
  return result;
}

}  // namespace mahpo::rl
