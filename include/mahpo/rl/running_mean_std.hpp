#pragma once
// Exact running mean and variance of a stream of scalars, merged batch by batch with the parallel
// formulas of Chan, Golub & LeVeque (1979):
//   total = n_a + n_b,  mean = mean_a + delta n_b / total,
//   M2 = M2_a + M2_b + delta^2 n_a n_b / total,   variance = M2 / total (population), delta = mean_b - mean_a.
// Before any update the mean is 0 and the variance 1, so normalize() is the identity.
// normalize(x) = (x - mean) / sqrt(variance + epsilon), denormalize is its inverse; epsilon 1e-8.
// (mahpo/rl/value_normalizer.hpp is the MAPPO reference code's exponentially weighted variant.)

#include <cmath>
#include <cstddef>
#include <stdexcept>

#include <fmt/format.h>

#include <xtensor/xmath.hpp>

#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

class RunningMeanStd {
 public:
  explicit RunningMeanStd(double epsilon = 1e-8) : epsilon_(epsilon) {
    if (!(epsilon >= 0.0))
      throw std::invalid_argument(fmt::format("mahpo::rl::RunningMeanStd: epsilon {} must be >= 0", epsilon));
  }

  double mean() const { return mean_; }
  double variance() const { return variance_; }
  double count() const { return count_; }

  void update(const Vector& batch) {
    const std::size_t n = batch.size();
    if (n == 0) return;
    const double batch_mean = xt::mean(batch)();
    const double batch_m2 = xt::variance(batch)() * static_cast<double>(n);
    const double added = static_cast<double>(n), total = count_ + added, delta = batch_mean - mean_;
    const double m2 = (count_ > 0.0 ? variance_ * count_ : 0.0) + batch_m2 + delta * delta * count_ * added / total;
    mean_ += delta * added / total;
    variance_ = m2 / total;
    count_ = total;
  }

  Vector normalize(const Vector& x) const { return (x - mean_) * (1.0 / std::sqrt(variance_ + epsilon_)); }

  Vector denormalize(const Vector& x) const { return x * std::sqrt(variance_ + epsilon_) + mean_; }

 private:
  double epsilon_ = 1e-8;
  double mean_ = 0.0;
  double variance_ = 1.0;
  double count_ = 0.0;
};

}  // namespace mahpo::rl
