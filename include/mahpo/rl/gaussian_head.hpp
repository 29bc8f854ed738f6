#pragma once
// A diagonal Gaussian action head with a tanh-squashed mean, the policy of seed 001's PPO agent:
// the network's output o gives the mean m = tanh(o) in (-1, 1), the action is a ~ N(m, std^2)
// (unsquashed: the caller clips it into [-1, 1] before using it, as PPO implementations do with
// bounded continuous actions), and log_std is one row of free parameters (1 x dimensions) shared
// by the batch, as in the MAPPO reference's continuous policies.
//
//   log p(a)                        = -((a - m) / std)^2 / 2 - log_std - log(2 pi) / 2
//   d/do       sum w log p          = w (a - m) / std^2 * (1 - m^2)
//   d/dlog_std sum w log p          = sum over the batch of w (((a - m) / std)^2 - 1)
//   entropy (per dimension)         = 1/2 + log(2 pi)/2 + log_std
//   KL(old || new) (per dimension)  = log(s_new / s_old) + (s_old^2 + (m_old - m_new)^2) / (2 s_new^2) - 1/2
//
// Unlike SquashedGaussianHead (tanh of the sample), an action here keeps its density when it
// lands near the bounds, and a mean inside (-1, 1) can be reached exactly, so an integer level
// or a bound is as easy to learn as an interior value.

#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>

#include <fmt/format.h>
#include <xtensor/xbuilder.hpp>

#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

struct GaussianHeadGradient {
  Matrix output;   // d/d(network output), batch x dimensions
  Matrix log_std;  // d/dlog_std, 1 x dimensions (summed over the batch)
};

class GaussianHead {
 public:
  explicit GaussianHead(std::size_t dimensions) : dimensions_(dimensions) {
    if (dimensions == 0) throw std::invalid_argument("mahpo::rl::GaussianHead: needs at least one dimension");
  }

  std::size_t dimensions() const { return dimensions_; }

  // The means, tanh(output): the greedy action.
  Matrix mode(const Matrix& output) const {
    check(output);
    Matrix mean = output;
    for (double& x : mean) x = std::tanh(x);
    return mean;
  }

  Matrix sample(const Matrix& output, const Matrix& log_std, std::mt19937_64& rng) const {
    check(output, log_std);
    std::normal_distribution<double> normal(0.0, 1.0);
    Matrix action = mode(output);
    for (std::size_t b = 0; b < action.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions_; ++d) action(b, d) += std::exp(log_std(0, d)) * normal(rng);
    return action;
  }

  // log p(action) per sample and dimension.
  Matrix log_probabilities(const Matrix& output, const Matrix& log_std, const Matrix& action) const {
    check(output, log_std);
    check_same(output, action);
    Matrix result = Matrix::from_shape(output.shape());
    for (std::size_t b = 0; b < output.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions_; ++d) {
        const double z = (action(b, d) - std::tanh(output(b, d))) * std::exp(-log_std(0, d));
        result(b, d) = -0.5 * z * z - log_std(0, d) - half_log_two_pi;
      }
    return result;
  }

  // d/doutput and d/dlog_std of sum_{b,d} weights(b,d) * log p(action(b,d)).
  GaussianHeadGradient log_probability_gradient(const Matrix& output, const Matrix& log_std, const Matrix& action,
                                                const Matrix& weights) const {
    check(output, log_std);
    check_same(output, action);
    check_same(output, weights);
    GaussianHeadGradient gradient{Matrix::from_shape(output.shape()), xt::zeros<double>({std::size_t{1}, dimensions_})};
    for (std::size_t b = 0; b < output.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions_; ++d) {
        const double mean = std::tanh(output(b, d)), inverse_std = std::exp(-log_std(0, d));
        const double z = (action(b, d) - mean) * inverse_std;
        gradient.output(b, d) = weights(b, d) * z * inverse_std * (1.0 - mean * mean);
        gradient.log_std(0, d) += weights(b, d) * (z * z - 1.0);
      }
    return gradient;
  }

  // KL(old || new) of the two policies' Gaussians per sample and dimension (exact).
  Matrix kl_divergence(const Matrix& old_output, const Matrix& old_log_std, const Matrix& new_output,
                       const Matrix& new_log_std) const {
    check(old_output, old_log_std);
    check(new_output, new_log_std);
    check_same(old_output, new_output);
    Matrix result = Matrix::from_shape(old_output.shape());
    for (std::size_t b = 0; b < old_output.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions_; ++d)
        result(b, d) = gaussian_kl(std::tanh(old_output(b, d)), old_log_std(0, d), std::tanh(new_output(b, d)),
                                   new_log_std(0, d));
    return result;
  }

  // The entropy of each dimension, 1 x dimensions.
  Matrix entropy(const Matrix& log_std) const {
    check_row(log_std);
    Matrix result = log_std;
    result += 0.5 + half_log_two_pi;
    return result;
  }

 private:
  static constexpr double half_log_two_pi = 0.91893853320467274178;  // log(2 pi) / 2
  std::size_t dimensions_;

  void check(const Matrix& output) const {
    if (output.shape()[1] != dimensions_)
      throw std::invalid_argument(fmt::format("mahpo::rl::GaussianHead: output has {} columns, the head {} dimensions",
                                              output.shape()[1], dimensions_));
  }
  void check_row(const Matrix& log_std) const {
    if (log_std.shape()[0] != 1 || log_std.shape()[1] != dimensions_)
      throw std::invalid_argument(fmt::format("mahpo::rl::GaussianHead: log_std must be 1x{}, got {}x{}", dimensions_,
                                              log_std.shape()[0], log_std.shape()[1]));
  }
  void check(const Matrix& output, const Matrix& log_std) const {
    check(output);
    check_row(log_std);
  }
  static void check_same(const Matrix& a, const Matrix& b) {
    if (a.shape() != b.shape())
      throw std::invalid_argument(fmt::format("mahpo::rl::GaussianHead: shapes {}x{} and {}x{} differ", a.shape()[0],
                                              a.shape()[1], b.shape()[0], b.shape()[1]));
  }
};

}  // namespace mahpo::rl
