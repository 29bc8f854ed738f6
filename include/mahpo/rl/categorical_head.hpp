#pragma once
// Categorical action heads: one categorical distribution per action dimension, all read from one
// row of logits, the dimensions' logits side by side (sizes {3, 5} take 8 logits: 3 then 5).
// One agent of the MAPPO searcher has one dimension per hyperparameter it sets.
//
// The head has no parameters; it maps a batch x logit_count() logits matrix to samples,
// per-dimension log-probabilities and entropies (batch x dimensions()), and gives the gradients
// with respect to the logits of weighted sums of those:
//   d/dlogits sum_{b,d} w(b,d) log p_d(a(b,d))  =  w(b,d) (onehot(a(b,d)) - p_d)          (log-softmax)
//   d/dlogits sum_{b,d} w(b,d) H_d              = -w(b,d) p_d (log p_d + H_d)
// so a loss built on log-probabilities and entropies (mahpo/rl/actor_loss.hpp) backpropagates
// through the network that made the logits. Sampling draws one uniform number per dimension
// and inverts the cumulative distribution, so it is reproducible for a seeded generator.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

class CategoricalHead {
 public:
  CategoricalHead() = default;
  explicit CategoricalHead(std::vector<std::size_t> sizes) : sizes_(std::move(sizes)) {
    if (sizes_.empty()) throw std::invalid_argument("mahpo::rl::CategoricalHead: needs at least one dimension");
    for (std::size_t size : sizes_) {
      if (size == 0) throw std::invalid_argument("mahpo::rl::CategoricalHead: every dimension needs a choice");
      offsets_.push_back(logit_count_);
      logit_count_ += size;
    }
  }

  const std::vector<std::size_t>& sizes() const { return sizes_; }
  std::size_t dimensions() const { return sizes_.size(); }
  std::size_t logit_count() const { return logit_count_; }
  // Where dimension d's logits start in a row.
  std::size_t offset(std::size_t d) const { return offsets_.at(d); }

  // Softmax within each dimension's block: batch x logit_count().
  Matrix probabilities(const Matrix& logits) const {
    Matrix log_p = log_softmax(logits);
    for (auto& x : log_p) x = std::exp(x);
    return log_p;
  }

  Actions sample(const Matrix& logits, std::mt19937_64& rng) const {
    const Matrix p = probabilities(logits);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    Actions actions = Actions::from_shape({p.shape()[0], dimensions()});
    for (std::size_t b = 0; b < p.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions(); ++d) {
        const double u = uniform(rng);
        double cumulative = 0.0;
        std::size_t choice = sizes_[d] - 1;  // rounding leftovers go to the last choice
        for (std::size_t k = 0; k < sizes_[d]; ++k) {
          cumulative += p(b, offsets_[d] + k);
          if (u < cumulative) {
            choice = k;
            break;
          }
        }
        actions(b, d) = choice;
      }
    return actions;
  }

  // The most likely choice of each dimension (greedy acting); ties go to the first.
  Actions mode(const Matrix& logits) const {
    check_logits(logits);
    Actions actions = Actions::from_shape({logits.shape()[0], dimensions()});
    for (std::size_t b = 0; b < logits.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions(); ++d) {
        std::size_t best = 0;
        for (std::size_t k = 1; k < sizes_[d]; ++k)
          if (logits(b, offsets_[d] + k) > logits(b, offsets_[d] + best)) best = k;
        actions(b, d) = best;
      }
    return actions;
  }

  // log p_d(actions(b, d)): batch x dimensions().
  Matrix log_probabilities(const Matrix& logits, const Actions& actions) const {
    check_actions(logits, actions);
    const Matrix log_p = log_softmax(logits);
    Matrix result = Matrix::from_shape({logits.shape()[0], dimensions()});
    for (std::size_t b = 0; b < logits.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions(); ++d) result(b, d) = log_p(b, offsets_[d] + actions(b, d));
    return result;
  }

  // H_d = -sum_k p_k log p_k: batch x dimensions().
  Matrix entropy(const Matrix& logits) const {
    const Matrix log_p = log_softmax(logits);
    Matrix result = xt::zeros<double>({logits.shape()[0], dimensions()});
    for (std::size_t b = 0; b < logits.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions(); ++d)
        for (std::size_t k = 0; k < sizes_[d]; ++k) {
          const double lp = log_p(b, offsets_[d] + k);
          result(b, d) -= std::exp(lp) * lp;
        }
    return result;
  }

  // KL(old || new) per sample and dimension, for early stopping or trust-region checks.
  Matrix kl_divergence(const Matrix& old_logits, const Matrix& new_logits) const {
    if (old_logits.shape() != new_logits.shape())
      throw std::invalid_argument("mahpo::rl::CategoricalHead: KL of logits of different shapes");
    const Matrix log_p = log_softmax(old_logits), log_q = log_softmax(new_logits);
    Matrix result = xt::zeros<double>({old_logits.shape()[0], dimensions()});
    for (std::size_t b = 0; b < old_logits.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions(); ++d)
        for (std::size_t k = 0; k < sizes_[d]; ++k) {
          const std::size_t j = offsets_[d] + k;
          result(b, d) += std::exp(log_p(b, j)) * (log_p(b, j) - log_q(b, j));
        }
    return result;
  }

  // d/dlogits of sum_{b,d} weights(b,d) * log p_d(actions(b,d)); weights is batch x dimensions().
  Matrix log_probability_gradient(const Matrix& logits, const Actions& actions, const Matrix& weights) const {
    check_actions(logits, actions);
    check_weights(logits, weights);
    Matrix gradient = probabilities(logits);
    for (std::size_t b = 0; b < logits.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions(); ++d) {
        const double w = weights(b, d);
        for (std::size_t k = 0; k < sizes_[d]; ++k) {
          double& g = gradient(b, offsets_[d] + k);
          g = w * ((k == actions(b, d) ? 1.0 : 0.0) - g);
        }
      }
    return gradient;
  }

  // d/dlogits of sum_{b,d} weights(b,d) * H_d; weights is batch x dimensions().
  Matrix entropy_gradient(const Matrix& logits, const Matrix& weights) const {
    check_weights(logits, weights);
    const Matrix log_p = log_softmax(logits);
    const Matrix h = entropy(logits);
    Matrix gradient = Matrix::from_shape(logits.shape());
    for (std::size_t b = 0; b < logits.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions(); ++d)
        for (std::size_t k = 0; k < sizes_[d]; ++k) {
          const std::size_t j = offsets_[d] + k;
          gradient(b, j) = -weights(b, d) * std::exp(log_p(b, j)) * (log_p(b, j) + h(b, d));
        }
    return gradient;
  }

 private:
  std::vector<std::size_t> sizes_;
  std::vector<std::size_t> offsets_;
  std::size_t logit_count_ = 0;

  void check_logits(const Matrix& logits) const {
    if (logits.shape()[1] != logit_count_)
      throw std::invalid_argument(fmt::format("mahpo::rl::CategoricalHead: logits have {} columns, the head takes {}",
                                              logits.shape()[1], logit_count_));
  }

  void check_actions(const Matrix& logits, const Actions& actions) const {
    check_logits(logits);
    if (actions.shape()[0] != logits.shape()[0] || actions.shape()[1] != dimensions())
      throw std::invalid_argument(fmt::format("mahpo::rl::CategoricalHead: actions must be {}x{}, got {}x{}",
                                              logits.shape()[0], dimensions(), actions.shape()[0], actions.shape()[1]));
    for (std::size_t b = 0; b < actions.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions(); ++d)
        if (actions(b, d) >= sizes_[d])
          throw std::invalid_argument(
              fmt::format("mahpo::rl::CategoricalHead: action {} of dimension {} has only {} choices", actions(b, d), d,
                          sizes_[d]));
  }

  void check_weights(const Matrix& logits, const Matrix& weights) const {
    check_logits(logits);
    if (weights.shape()[0] != logits.shape()[0] || weights.shape()[1] != dimensions())
      throw std::invalid_argument(fmt::format("mahpo::rl::CategoricalHead: weights must be {}x{}, got {}x{}",
                                              logits.shape()[0], dimensions(), weights.shape()[0], weights.shape()[1]));
  }

  // log softmax within each dimension's block, shifted by the block's maximum for stability.
  Matrix log_softmax(const Matrix& logits) const {
    check_logits(logits);
    Matrix result = Matrix::from_shape(logits.shape());
    for (std::size_t b = 0; b < logits.shape()[0]; ++b)
      for (std::size_t d = 0; d < dimensions(); ++d) {
        const std::size_t begin = offsets_[d], end = begin + sizes_[d];
        double maximum = -std::numeric_limits<double>::infinity();
        for (std::size_t j = begin; j < end; ++j) maximum = std::max(maximum, logits(b, j));
        double sum = 0.0;
        for (std::size_t j = begin; j < end; ++j) sum += std::exp(logits(b, j) - maximum);
        const double log_sum = maximum + std::log(sum);
        for (std::size_t j = begin; j < end; ++j) result(b, j) = logits(b, j) - log_sum;
      }
    return result;
  }
};

}  // namespace mahpo::rl
