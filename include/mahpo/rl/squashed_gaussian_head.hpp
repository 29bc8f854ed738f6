#pragma once
// A tanh-squashed diagonal Gaussian action head (as in Haarnoja et al., 2018, appendix C):
// u ~ N(mean, exp(log_std)^2), action = tanh(u) in (-1, 1); the caller rescales the action to a
// hyperparameter's range. Everything is per sample and dimension (batch x dimensions matrices).
//
//   log p(action) = log N(u; mean, std) - log(1 - tanh(u)^2 + epsilon)     (change of variables)
//   d/dmean    sum w log p = w (u - mean) / std^2
//   d/dlog_std sum w log p = w (((u - mean) / std)^2 - 1)
// The tanh correction does not depend on mean or std for a given u, so keep u (`pre_squash`)
// with each action: recovering it with atanh from a rounded or clamped action is lossy
// (`pre_squash(action)` is there when it is all you have).
//
// Choices: epsilon 1e-6 (as in SAC implementations) keeps the log finite when |u| is large. The
// squashed distribution's entropy has no closed form; `entropy` is the Gaussian's, which is what
// an entropy bonus usually uses. KL divergence is invariant under the bijection tanh, so
// `kl_divergence` is the Gaussian KL and is exact for the squashed distributions too.
// If log_std is one parameter shared by the batch, sum its gradient over the batch rows.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

struct SquashedSample {
  Matrix pre_squash;  // u, batch x dimensions
  Matrix action;      // tanh(u)
};

struct GaussianGradient {
  Matrix mean;     // d/dmean, batch x dimensions
  Matrix log_std;  // d/dlog_std, batch x dimensions
};

class SquashedGaussianHead {
 public:
  explicit SquashedGaussianHead(double epsilon = 1e-6) : epsilon_(epsilon) {
    if (!(epsilon >= 0.0)) throw std::invalid_argument("mahpo::rl::SquashedGaussianHead: epsilon must be >= 0");
  }

  double epsilon() const { return epsilon_; }

  SquashedSample sample(const Matrix& mean, const Matrix& log_std, std::mt19937_64& rng) const {
    check(mean, log_std);
    std::normal_distribution<double> normal(0.0, 1.0);
    SquashedSample s{Matrix::from_shape(mean.shape()), Matrix::from_shape(mean.shape())};
    for (std::size_t k = 0; k < mean.size(); ++k) {
      s.pre_squash.flat(k) = mean.flat(k) + std::exp(log_std.flat(k)) * normal(rng);
      s.action.flat(k) = std::tanh(s.pre_squash.flat(k));
    }
    return s;
  }

  // The squashed mean, tanh(mean), for greedy acting.
  Matrix mode(const Matrix& mean) const {
    Matrix action = mean;
    for (auto& x : action) x = std::tanh(x);
    return action;
  }

  // u = atanh(action), the action clamped into (-1, 1) first.
  static Matrix pre_squash(const Matrix& action) {
    constexpr double limit = 1.0 - 1e-12;
    Matrix u = action;
    for (auto& x : u) x = std::atanh(std::clamp(x, -limit, limit));
    return u;
  }

  // log p(tanh(u)) per sample and dimension.
  Matrix log_probabilities(const Matrix& mean, const Matrix& log_std, const Matrix& pre_squash) const {
    check(mean, log_std, pre_squash);
    Matrix result = Matrix::from_shape(mean.shape());
    for (std::size_t k = 0; k < mean.size(); ++k) {
      const double u = pre_squash.flat(k), z = (u - mean.flat(k)) * std::exp(-log_std.flat(k)), t = std::tanh(u);
      result.flat(k) = -0.5 * z * z - log_std.flat(k) - half_log_two_pi - std::log(1.0 - t * t + epsilon_);
    }
    return result;
  }

  // d/dmean and d/dlog_std of sum_{b,d} weights(b,d) * log p(tanh(u(b,d))).
  GaussianGradient log_probability_gradient(const Matrix& mean, const Matrix& log_std, const Matrix& pre_squash,
                                            const Matrix& weights) const {
    check(mean, log_std, pre_squash);
    check(mean, weights);
    GaussianGradient gradient{Matrix::from_shape(mean.shape()), Matrix::from_shape(mean.shape())};
    for (std::size_t k = 0; k < mean.size(); ++k) {
      const double inverse_std = std::exp(-log_std.flat(k)), z = (pre_squash.flat(k) - mean.flat(k)) * inverse_std;
      gradient.mean.flat(k) = weights.flat(k) * z * inverse_std;
      gradient.log_std.flat(k) = weights.flat(k) * (z * z - 1.0);
    }
    return gradient;
  }

  // The Gaussian's entropy, 1/2 + log(2 pi)/2 + log_std, per sample and dimension.
  Matrix entropy(const Matrix& log_std) const {
    Matrix result = log_std;
    result += 0.5 + half_log_two_pi;
    return result;
  }

  // d/dlog_std of sum_{b,d} weights(b,d) * entropy(b,d): the weights themselves (d/dmean is zero).
  Matrix entropy_gradient(const Matrix& weights) const { return weights; }

  // KL(old || new) per sample and dimension.
  Matrix kl_divergence(const Matrix& old_mean, const Matrix& old_log_std, const Matrix& new_mean,
                       const Matrix& new_log_std) const {
    check(old_mean, old_log_std);
    check(old_mean, new_mean);
    check(old_mean, new_log_std);
    Matrix result = Matrix::from_shape(old_mean.shape());
    for (std::size_t k = 0; k < old_mean.size(); ++k)
      result.flat(k) = gaussian_kl(old_mean.flat(k), old_log_std.flat(k), new_mean.flat(k), new_log_std.flat(k));
    return result;
  }

 private:
  static constexpr double half_log_two_pi = 0.91893853320467274178;  // log(2 pi) / 2
  double epsilon_ = 1e-6;

  static void check(const Matrix& a, const Matrix& b) {
    if (a.shape() != b.shape())
      throw std::invalid_argument(fmt::format("mahpo::rl::SquashedGaussianHead: shapes {}x{} and {}x{} differ",
                                              a.shape()[0], a.shape()[1], b.shape()[0], b.shape()[1]));
  }
  static void check(const Matrix& a, const Matrix& b, const Matrix& c) {
    check(a, b);
    check(a, c);
  }
};

}  // namespace mahpo::rl
