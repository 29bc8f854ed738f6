#pragma once
// The actor's PPO loss assembled from a head, with the entropy bonus:
//   total = policy_loss - entropy_coefficient * entropy                      (Schulman et al., 2017, eq. 9)
// where policy_loss is the clipped surrogate of mahpo/rl/ppo.hpp and entropy the mean over the
// batch and the action dimensions (the MAPPO reference code's multi-discrete mean). Each function
// returns the losses and d(total)/d(head inputs), ready for the network's backward.
//
// Ratios: `Ratio::per_dimension` (default) gives every action dimension its own clipped ratio and
// sums the surrogates, as the MAPPO reference code does for multi-discrete actions;
// `Ratio::joint` clips the ratio of the joint probability (the product over dimensions), the
// textbook PPO. Old log-probabilities are stored per dimension (batch x dimensions) either way.
// Defaults: clip 0.2, entropy coefficient 0.01 (MAPPO).

#include <cstddef>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>

#include <mahpo/rl/categorical_head.hpp>
#include <mahpo/rl/gaussian_head.hpp>
#include <mahpo/rl/ppo.hpp>
#include <mahpo/rl/squashed_gaussian_head.hpp>
#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

enum class Ratio { per_dimension, joint };

struct ActorLossOptions {
  double clip = 0.2;
  double entropy_coefficient = 0.01;
  Ratio ratio = Ratio::per_dimension;
};

// policy_loss - entropy_coefficient * entropy.
inline double actor_objective(double policy_loss, double entropy, double entropy_coefficient) {
  return policy_loss - entropy_coefficient * entropy;
}

struct ActorLoss {
  double total = 0.0;          // actor_objective(policy, entropy, coefficient): what the gradients are of
  double policy = 0.0;         // the clipped surrogate loss
  double entropy = 0.0;        // mean entropy per sample and dimension
  double clip_fraction = 0.0;  // from ppo_policy_loss
  double approx_kl = 0.0;      // from ppo_policy_loss
};

struct CategoricalActorLoss : ActorLoss {
  Matrix logits_gradient;  // d(total)/d(logits), batch x head.logit_count()
};

struct MeanSquashedActorLoss : ActorLoss {
  Matrix output_gradient;   // d(total)/d(network output), batch x dimensions
  Matrix log_std_gradient;  // d(total)/d(log_std), 1 x dimensions
};

struct GaussianActorLoss : ActorLoss {
  Matrix mean_gradient;     // d(total)/d(mean), batch x dimensions
  Matrix log_std_gradient;  // d(total)/d(log_std), batch x dimensions
};

namespace detail {

// The surrogate on per-dimension or joint log-probabilities; the gradient comes back per dimension.
inline PolicyLoss rl_surrogate(const Matrix& new_log_probabilities, const Matrix& old_log_probabilities,
                               const Vector& advantages, const ActorLossOptions& options) {
  if (new_log_probabilities.shape() != old_log_probabilities.shape())
    throw std::invalid_argument(fmt::format("mahpo::rl::actor_loss: old log-probabilities must be {}x{}, got {}x{}",
                                            new_log_probabilities.shape()[0], new_log_probabilities.shape()[1],
                                            old_log_probabilities.shape()[0], old_log_probabilities.shape()[1]));
  if (options.ratio == Ratio::per_dimension)
    return ppo_policy_loss(new_log_probabilities, old_log_probabilities, advantages, options.clip);
  const std::size_t batch = new_log_probabilities.shape()[0], dimensions = new_log_probabilities.shape()[1];
  Matrix new_joint = xt::zeros<double>({batch, std::size_t{1}}), old_joint = new_joint;
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t d = 0; d < dimensions; ++d) {
      new_joint(b, 0) += new_log_probabilities(b, d);
      old_joint(b, 0) += old_log_probabilities(b, d);
    }
  PolicyLoss joint = ppo_policy_loss(new_joint, old_joint, advantages, options.clip);
  Matrix gradient = Matrix::from_shape({batch, dimensions});
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t d = 0; d < dimensions; ++d) gradient(b, d) = joint.gradient(b, 0);  // d joint / d part = 1
  joint.gradient = std::move(gradient);
  return joint;
}

// The mean of a matrix's entries (0 for none): the entropy the bonus uses.
inline double rl_mean(const Matrix& values) { return values.size() > 0 ? xt::mean(values)() : 0.0; }

inline void rl_fill(ActorLoss& loss, const PolicyLoss& policy, double entropy, double entropy_coefficient) {
  loss.policy = policy.loss;
  loss.entropy = entropy;
  loss.total = actor_objective(policy.loss, entropy, entropy_coefficient);
  loss.clip_fraction = policy.clip_fraction;
  loss.approx_kl = policy.approx_kl;
}

}  // namespace detail

inline CategoricalActorLoss categorical_actor_loss(const CategoricalHead& head, const Matrix& logits,
                                                   const Actions& actions, const Matrix& old_log_probabilities,
                                                   const Vector& advantages, const ActorLossOptions& options = {}) {
  const Matrix log_probabilities = head.log_probabilities(logits, actions);
  const PolicyLoss policy = detail::rl_surrogate(log_probabilities, old_log_probabilities, advantages, options);
  const Matrix entropies = head.entropy(logits);
  const double count = static_cast<double>(entropies.size());
  const double entropy = detail::rl_mean(entropies);
  CategoricalActorLoss loss;
  detail::rl_fill(loss, policy, entropy, options.entropy_coefficient);
  loss.logits_gradient = head.log_probability_gradient(logits, actions, policy.gradient);
  if (count > 0.0) {
    const Matrix weights = xt::full_like(entropies, -options.entropy_coefficient / count);
    loss.logits_gradient += head.entropy_gradient(logits, weights);
  }
  return loss;
}

inline GaussianActorLoss squashed_gaussian_actor_loss(const SquashedGaussianHead& head, const Matrix& mean,
                                                      const Matrix& log_std, const Matrix& pre_squash,
                                                      const Matrix& old_log_probabilities, const Vector& advantages,
                                                      const ActorLossOptions& options = {}) {
  const Matrix log_probabilities = head.log_probabilities(mean, log_std, pre_squash);
  const PolicyLoss policy = detail::rl_surrogate(log_probabilities, old_log_probabilities, advantages, options);
  const Matrix entropies = head.entropy(log_std);
  const double count = static_cast<double>(entropies.size());
  const double entropy = detail::rl_mean(entropies);
  GaussianActorLoss loss;
  detail::rl_fill(loss, policy, entropy, options.entropy_coefficient);
  GaussianGradient gradient = head.log_probability_gradient(mean, log_std, pre_squash, policy.gradient);
  loss.mean_gradient = std::move(gradient.mean);
  loss.log_std_gradient = std::move(gradient.log_std);
  if (count > 0.0) {
    const Matrix weights = xt::full_like(entropies, -options.entropy_coefficient / count);
    loss.log_std_gradient += head.entropy_gradient(weights);
  }
  return loss;
}

// The same loss for GaussianHead (tanh-squashed mean, log_std a 1 x dimensions row).
inline MeanSquashedActorLoss gaussian_actor_loss(const GaussianHead& head, const Matrix& output, const Matrix& log_std,
                                                 const Matrix& actions, const Matrix& old_log_probabilities,
                                                 const Vector& advantages, const ActorLossOptions& options = {}) {
  const Matrix log_probabilities = head.log_probabilities(output, log_std, actions);
  const PolicyLoss policy = detail::rl_surrogate(log_probabilities, old_log_probabilities, advantages, options);
  const Matrix entropies = head.entropy(log_std);  // per dimension; the same for every sample
  const double entropy = detail::rl_mean(entropies);
  MeanSquashedActorLoss loss;
  detail::rl_fill(loss, policy, entropy, options.entropy_coefficient);
  GaussianHeadGradient gradient = head.log_probability_gradient(output, log_std, actions, policy.gradient);
  loss.output_gradient = std::move(gradient.output);
  loss.log_std_gradient = std::move(gradient.log_std);
  loss.log_std_gradient -= options.entropy_coefficient / static_cast<double>(entropies.size());
  return loss;
}

}  // namespace mahpo::rl
