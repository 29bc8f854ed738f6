#pragma once
// Value normalization as the MAPPO reference code does it (Yu et al., 2022, onpolicy ValueNorm, the
// PopArt-free variant): debiased exponential moving averages of the batch mean and of the batch
// mean of squares of the value targets.
//   per update with a batch:  mean_ema = beta mean_ema + (1 - beta) mean(batch)
//                             square_ema = beta square_ema + (1 - beta) mean(batch^2)
//                             debias = beta debias + (1 - beta)
//   mean = mean_ema / max(debias, epsilon),  variance = max(square_ema / max(debias, epsilon) - mean^2, min_variance)
//   normalize(x) = (x - mean) / sqrt(variance),  denormalize(y) = y sqrt(variance) + mean
// Defaults are the reference's: beta 0.99999, epsilon 1e-5, min_variance 1e-2, one EMA step per
// batch (per_element_update off). With beta that close to 1 the debiased averages are, for all
// practical purposes, the plain average of the batch means and mean squares: for equally sized
// batches that is the pooled mean and variance (mahpo/rl/running_mean_std.hpp gives them exactly).
// min_variance floors the standard deviation at 0.1, so targets with a small spread (accuracies
// within a few points) are scaled by at most 10. As in the reference, before the first update
// the mean is 0 and the variance min_variance.
// The workflow (reference code): denormalize the critic's outputs before GAE; before each value
// loss, update with the returns batch and compare normalize(returns) to the critic's raw outputs.

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include <xtensor/xmath.hpp>

#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

struct ValueNormalizerOptions {
  double beta = 0.99999;
  double epsilon = 1e-5;       // floor of the debiasing term
  double min_variance = 1e-2;  // floor of the variance
};

class ValueNormalizer {
 public:
  explicit ValueNormalizer(ValueNormalizerOptions options = {}) : options_(options) {
    if (!(options.beta > 0.0 && options.beta < 1.0))
      throw std::invalid_argument(fmt::format("mahpo::rl::ValueNormalizer: beta {} must be in (0, 1)", options.beta));
    if (!(options.epsilon > 0.0) || !(options.min_variance > 0.0))
      throw std::invalid_argument(fmt::format("mahpo::rl::ValueNormalizer: epsilon {} and min_variance {} must be > 0",
                                              options.epsilon, options.min_variance));
  }

  const ValueNormalizerOptions& options() const { return options_; }

  void update(const Vector& batch) {
    if (batch.size() == 0) return;
    const double batch_mean = xt::mean(batch)();
    const double batch_square = xt::mean(xt::square(batch))();
    const double beta = options_.beta;
    mean_ema_ = beta * mean_ema_ + (1.0 - beta) * batch_mean;
    square_ema_ = beta * square_ema_ + (1.0 - beta) * batch_square;
    debias_ = beta * debias_ + (1.0 - beta);
  }

  double mean() const { return mean_ema_ / std::max(debias_, options_.epsilon); }

  double variance() const {
    const double m = mean();
    return std::max(square_ema_ / std::max(debias_, options_.epsilon) - m * m, options_.min_variance);
  }

  Vector normalize(const Vector& x) const {
    Vector result = x;
    const double m = mean(), scale = 1.0 / std::sqrt(variance());
    for (double& v : result) v = (v - m) * scale;
    return result;
  }

  Vector denormalize(const Vector& x) const {
    Vector result = x;
    const double m = mean(), scale = std::sqrt(variance());
    for (double& v : result) v = v * scale + m;
    return result;
  }

 private:
  ValueNormalizerOptions options_;
  double mean_ema_ = 0.0;
  double square_ema_ = 0.0;
  double debias_ = 0.0;
};

}  // namespace mahpo::rl
