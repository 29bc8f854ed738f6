#pragma once
// The Gaussian-process regressor of GP-BO: Matern-5/2 ARD kernel, Gaussian noise with a floor,
// hyperparameters fitted by the log marginal likelihood plus a weak prior on their logs (box L-BFGS),
// posterior mean and variance with their gradients. LAPACK through xtensor-blas does the algebra.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>  // brings xlapack.hpp and the cxxblas macros it needs
#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>

#include <mahpo/search/gp/lbfgs.hpp>

namespace mahpo::search::gp::detail {

inline constexpr double sqrt5 = 2.2360679774997896964;

// Matérn-5/2 (Rasmussen & Williams 2006, eq. 4.17): k(r) = s2 (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r).
// Past sqrt5 r = 40 (k < 1e-14 s2) it is flushed to 0, keeping subnormal numbers (slow) out of the algebra.
inline double matern52(double r, double signal_variance) {
  if (sqrt5 * r > 40.0) return 0.0;
  return signal_variance * (1.0 + sqrt5 * r + 5.0 / 3.0 * r * r) * std::exp(-sqrt5 * r);
}

// -dk/d(r^2) * 2 = s2 (5/3) (1 + sqrt5 r) exp(-sqrt5 r): so dk/dx_d = -slope (x_d - x'_d) / l_d^2 and
// dk/dlog l_d = slope (x_d - x'_d)^2 / l_d^2 (differentiating eq. 4.17).
inline double matern52_slope(double r, double signal_variance) {
  if (sqrt5 * r > 40.0) return 0.0;
  return signal_variance * 5.0 / 3.0 * (1.0 + sqrt5 * r) * std::exp(-sqrt5 * r);
}

// Feature-major copy (dimension x n) of n row-major points, so kernel loops run over points.
inline std::vector<double> feature_major(std::span<const double> x, std::size_t dimension) {
  const std::size_t n = x.size() / dimension;
  std::vector<double> columns(x.size());
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t d = 0; d < dimension; ++d) columns[d * n + i] = x[i * dimension + d];
  }
  return columns;
}

// Scaled distances r_i from `point` to points [begin, end) of `columns` (feature-major, n points),
// written to radius[0 .. end - begin).
inline void scaled_distances(const double* point, std::span<const double> columns, std::size_t n, std::size_t begin,
                             std::size_t end, std::span<const double> inverse_squared, double* radius) {
  const std::size_t count = end - begin;
  std::fill(radius, radius + count, 0.0);
  for (std::size_t d = 0; d < inverse_squared.size(); ++d) {
    const double coordinate = point[d], weight = inverse_squared[d];
    const double* column = columns.data() + d * n + begin;
    for (std::size_t i = 0; i < count; ++i) {
      const double delta = coordinate - column[i];
      radius[i] += delta * delta * weight;
    }
  }
  for (std::size_t i = 0; i < count; ++i) radius[i] = std::sqrt(radius[i]);
}

// Resizes a kept buffer, growing its capacity geometrically: in some sandboxes a fresh large
// allocation each ask costs more in page faults than the algebra on it.
inline void resize_kept(std::vector<double>& buffer, std::size_t size) {
  if (buffer.capacity() < size) buffer.reserve(2 * size);
  buffer.resize(size);
}

// The Cholesky factor L (K = L L^T), in place in the lower half of a column-major n x n matrix
// (LAPACK potrf, through xtensor-blas's cxxlapack); false when K is not positive definite.
inline bool cholesky(std::vector<double>& matrix, std::size_t n) {
  const auto size = static_cast<xt::blas_index_t>(n);
  return cxxlapack::potrf<xt::blas_index_t>('L', size, matrix.data(), size) == 0;
}

// A GP regressor with a Matérn-5/2 ARD kernel and Gaussian noise, on points of [0, 1]^dimension
// (row-major), zero prior mean. Hyperparameters theta = (log l_1..l_d, log s2, log noise).
class Regressor {
 public:
  Regressor(std::size_t dimension, double noise_floor)
      : dimension_(dimension), theta_(dimension + 2), lower_(dimension + 2), upper_(dimension + 2) {
    for (std::size_t d = 0; d < dimension; ++d) {
      lower_[d] = std::log(0.01);
      upper_[d] = std::log(10.0);
      theta_[d] = std::log(0.5);
    }
    lower_[dimension] = std::log(0.01);
    upper_[dimension] = std::log(100.0);
    theta_[dimension] = 0.0;
    lower_[dimension + 1] = std::log(noise_floor);
    upper_[dimension + 1] = std::max(0.0, lower_[dimension + 1]);
    theta_[dimension + 1] = std::clamp(std::log(1e-3), lower_[dimension + 1], upper_[dimension + 1]);
  }

  std::size_t dimension() const { return dimension_; }
  std::size_t size() const { return y_.size(); }
  const std::vector<double>& theta() const { return theta_; }
  double lengthscale(std::size_t d) const { return std::exp(theta_[d]); }
  double signal_variance() const { return std::exp(theta_[dimension_]); }
  double noise_variance() const { return std::exp(theta_[dimension_ + 1]); }

  // Sets the hyperparameters (clamped to their bounds).
  void set_hyperparameters(std::span<const double> lengthscales, double signal_variance, double noise_variance) {
    for (std::size_t d = 0; d < dimension_; ++d) theta_[d] = std::log(lengthscales[d]);
    theta_[dimension_] = std::log(signal_variance);
    theta_[dimension_ + 1] = std::log(noise_variance);
    for (std::size_t k = 0; k < theta_.size(); ++k) theta_[k] = std::clamp(theta_[k], lower_[k], upper_[k]);
  }

  // K + noise I at the current hyperparameters, for the n points x (row-major).
  xt::xtensor<double, 2> kernel_matrix(std::span<const double> x) {
    const std::size_t n = x.size() / dimension_;
    fill_kernel(feature_major(x, dimension_), n, theta_, 0.0, work_);
    xt::xtensor<double, 2> full = xt::zeros<double>({n, n});
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t i = j; i < n; ++i) full(i, j) = full(j, i) = work_[j * n + i];
    }
    return full;
  }

  // The log marginal likelihood of (x, y) (R&W eq. 5.8) plus the log prior at theta; its gradient
  // (R&W eq. 5.9: 1/2 tr((alpha alpha^T - K^-1) dK/dtheta)) in `gradient` when not empty.
  // -infinity where K is not positive definite.
  double log_posterior(std::span<const double> x, std::span<const double> y, std::span<const double> theta,
                       std::span<double> gradient) {
    const std::vector<double> columns = feature_major(x, dimension_);
    return log_posterior_of_columns(columns, y, theta, gradient);
  }

  // Fits theta to (x, y): L-BFGS warm-started at the current theta (its first step moves at most
  // `first_step` in a log), and `restarts` more starts at random theta; keeps the best. At most
  // `evaluations` likelihood evaluations per start.
  template <typename Rng>
  void fit(std::span<const double> x, std::span<const double> y, Rng& rng, std::size_t restarts,
           std::size_t evaluations, double first_step = 1.0) {
    const std::vector<double> columns = feature_major(x, dimension_);
    const auto negative = [&](std::span<const double> theta, std::span<double> gradient) {
      const double value = log_posterior_of_columns(columns, y, theta, gradient);
      for (double& component : gradient) component = -component;
      return std::isfinite(value) ? -value : std::numeric_limits<double>::infinity();
    };
    Minimum best = minimize_in_box(negative, theta_, lower_, upper_, evaluations, first_step);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (std::size_t restart = 0; restart < restarts; ++restart) {
      std::vector<double> start(theta_.size());
      for (std::size_t d = 0; d < dimension_; ++d) start[d] = std::log(0.05) + unit(rng) * std::log(2.0 / 0.05);
      start[dimension_] = -1.0 + 2.0 * unit(rng);
      start[dimension_ + 1] = std::log(1e-5) + unit(rng) * std::log(1e-1 / 1e-5);
      Minimum found = minimize_in_box(negative, std::move(start), lower_, upper_, evaluations, 1.0);
      if (found.value < best.value) best = std::move(found);
    }
    if (std::isfinite(best.value)) theta_ = best.x;
  }

  // Conditions on (x, y) at the current theta. Adds jitter when K is numerically singular; false
  // if even that fails.
  bool condition(std::span<const double> x, std::span<const double> y) {
    columns_ = feature_major(x, dimension_);
    y_.assign(y.begin(), y.end());
    const std::size_t n = y_.size();
    bool factored = false;
    for (double jitter : {0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2}) {
      fill_kernel(columns_, n, theta_, jitter * signal_variance(), cholesky_);
      if (cholesky(cholesky_, n)) {
        factored = true;
        break;
      }
    }
    if (!factored) {
      y_.clear();
      return false;
    }
    alpha_ = y_;
    const auto size = static_cast<xt::blas_index_t>(n);
    cxxlapack::potrs<xt::blas_index_t>('L', size, 1, cholesky_.data(), size, alpha_.data(), size);
    return true;
  }

  // Posterior mean and latent variance at m points (row-major), after condition().
  void predict(std::span<const double> points, std::span<double> mean, std::span<double> variance) const {
    const std::size_t n = y_.size(), m = mean.size();
    if (m == 0) return;
    const auto inverse_squared = inverse_squared_lengthscales(theta_);
    const double signal = signal_variance();
    // Column c: k(point c, x_i), i = 0..n-1. A kept buffer: a fresh megabyte each ask costs page faults.
    std::vector<double>& cross = cross_;
    resize_kept(cross, n * m);
    for (std::size_t c = 0; c < m; ++c) {
      double* row = &cross[c * n];
      scaled_distances(&points[c * dimension_], columns_, n, 0, n, inverse_squared, row);
      double total = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        row[i] = matern52(row[i], signal);
        total += row[i] * alpha_[i];
      }
      mean[c] = total;
    }
    const auto size = static_cast<xt::blas_index_t>(n);
    cxxlapack::trtrs<xt::blas_index_t>('L', 'N', 'N', size, static_cast<xt::blas_index_t>(m), cholesky_.data(), size,
                                       cross.data(), size);  // L^-1 k: variance = s2 - |L^-1 k|^2
    for (std::size_t c = 0; c < m; ++c) {
      const double* row = &cross[c * n];
      double explained = 0.0;
      for (std::size_t i = 0; i < n; ++i) explained += row[i] * row[i];
      variance[c] = std::max(signal - explained, variance_floor());
    }
  }

  // Posterior mean and latent variance at one point, with their gradients in the point.
  void predict(std::span<const double> point, double& mean, double& variance, std::span<double> mean_gradient,
               std::span<double> variance_gradient) const {
    const std::size_t n = y_.size();
    const auto inverse_squared = inverse_squared_lengthscales(theta_);
    const double signal = signal_variance();
    std::vector<double> k(n), slope(n);
    scaled_distances(point.data(), columns_, n, 0, n, inverse_squared, slope.data());
    for (std::size_t i = 0; i < n; ++i) {
      const double r = slope[i];
      k[i] = matern52(r, signal);
      slope[i] = matern52_slope(r, signal);
    }
    std::vector<double> solved = k;  // K^-1 k
    const auto size = static_cast<xt::blas_index_t>(n);
    cxxlapack::potrs<xt::blas_index_t>('L', size, 1, cholesky_.data(), size, solved.data(), size);
    mean = dot(k, alpha_);
    variance = signal - dot(k, solved);
    const bool floored = variance < variance_floor();
    variance = std::max(variance, variance_floor());
    // dk_i/dx_d = -slope_i (x_d - x_id) / l_d^2
    for (std::size_t d = 0; d < dimension_; ++d) {
      const double* column = &columns_[d * n];
      double mean_total = 0.0, variance_total = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        const double dk = -slope[i] * (point[d] - column[i]);
        mean_total += alpha_[i] * dk;
        variance_total += solved[i] * dk;
      }
      mean_gradient[d] = mean_total * inverse_squared[d];
      variance_gradient[d] = floored ? 0.0 : -2.0 * variance_total * inverse_squared[d];
    }
  }

 private:
  double variance_floor() const { return 1e-12 * signal_variance(); }

  std::vector<double> inverse_squared_lengthscales(std::span<const double> theta) const {
    std::vector<double> all(dimension_);
    for (std::size_t d = 0; d < dimension_; ++d) all[d] = std::exp(-2.0 * theta[d]);
    return all;
  }

  // The lower half of K + (noise + jitter) I; the distances stay in radius_ (lower half).
  void fill_kernel(std::span<const double> columns, std::size_t n, std::span<const double> theta, double jitter,
                   std::vector<double>& into) {
    resize_kept(into, n * n);
    resize_kept(radius_, n * n);
    const auto inverse_squared = inverse_squared_lengthscales(theta);
    const double signal = std::exp(theta[dimension_]), noise = std::exp(theta[dimension_ + 1]);
    std::vector<double> point(dimension_);
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t d = 0; d < dimension_; ++d) point[d] = columns[d * n + j];
      double* radius = &radius_[j * n + j];
      scaled_distances(point.data(), columns, n, j, n, inverse_squared, radius);
      double* column = &into[j * n + j];  // column-major: rows j..n-1 of column j are contiguous
      for (std::size_t i = 0; i < n - j; ++i) column[i] = matern52(radius[i], signal);
      column[0] += noise + jitter;
    }
  }

  double log_posterior_of_columns(std::span<const double> columns, std::span<const double> y,
                                  std::span<const double> theta, std::span<double> gradient) {
    const std::size_t n = y.size(), dims = dimension_;
    std::fill(gradient.begin(), gradient.end(), 0.0);
    fill_kernel(columns, n, theta, 0.0, work_);
    if (!cholesky(work_, n)) return -std::numeric_limits<double>::infinity();
    std::vector<double> alpha(y.begin(), y.end());
    const auto size = static_cast<xt::blas_index_t>(n);
    cxxlapack::potrs<xt::blas_index_t>('L', size, 1, work_.data(), size, alpha.data(), size);
    double log_determinant = 0.0;
    for (std::size_t i = 0; i < n; ++i) log_determinant += 2.0 * std::log(work_[i * n + i]);
    double value =
        -0.5 * dot(y, alpha) - 0.5 * log_determinant - 0.5 * static_cast<double>(n) * std::log(2.0 * std::numbers::pi);
    value += log_prior(theta, gradient);
    if (gradient.empty()) return value;

    cxxlapack::potri<xt::blas_index_t>('L', size, work_.data(), size);  // lower half of K^-1
    const auto inverse_squared = inverse_squared_lengthscales(theta);
    const double signal = std::exp(theta[dims]), noise = std::exp(theta[dims + 1]);
    std::vector<double> lengthscale_gradient(dims, 0.0), slope(n);
    double signal_gradient = 0.0, noise_gradient = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
      const double diagonal_weight = alpha[j] * alpha[j] - work_[j * n + j];  // W = alpha alpha^T - K^-1
      signal_gradient += 0.5 * diagonal_weight * signal;
      noise_gradient += 0.5 * diagonal_weight * noise;
      // Off the diagonal, W_ij counts twice (W is symmetric): 1/2 tr(W dK) = sum_{i > j} W_ij dK_ij + ...
      const double* radius = &radius_[j * n];
      const double* inverse = &work_[j * n];
      for (std::size_t i = j + 1; i < n; ++i) {
        const double r = radius[i];
        if (sqrt5 * r > 40.0) {  // flushed to 0 in K (see matern52)
          slope[i] = 0.0;
          continue;
        }
        const double weight = (alpha[i] * alpha[j] - inverse[i]) * signal * std::exp(-sqrt5 * r);
        signal_gradient += weight * (1.0 + sqrt5 * r + 5.0 / 3.0 * r * r);
        slope[i] = weight * 5.0 / 3.0 * (1.0 + sqrt5 * r);  // W_ij dk/dlog l_d = slope_i (x_id - x_jd)^2 / l_d^2
      }
      for (std::size_t d = 0; d < dims; ++d) {
        const double* column = &columns[d * n];
        const double at = column[j];
        double total = 0.0;
        for (std::size_t i = j + 1; i < n; ++i) total += slope[i] * (column[i] - at) * (column[i] - at);
        lengthscale_gradient[d] += total * inverse_squared[d];
      }
    }
    for (std::size_t d = 0; d < dims; ++d) gradient[d] += lengthscale_gradient[d];
    gradient[dims] += signal_gradient;
    gradient[dims + 1] += noise_gradient;
    return value;
  }

  // Weak Gaussian priors on the log hyperparameters (our choice; see the header comment).
  double log_prior(std::span<const double> theta, std::span<double> gradient) const {
    double value = 0.0;
    const auto add = [&](std::size_t k, double centre, double spread) {
      const double standardized = (theta[k] - centre) / spread;
      value -= 0.5 * standardized * standardized;
      if (!gradient.empty()) gradient[k] -= standardized / spread;
    };
    for (std::size_t d = 0; d < dimension_; ++d) add(d, std::log(0.5), 1.5);
    add(dimension_, 0.0, 1.5);
    add(dimension_ + 1, std::log(1e-4), 4.0);
    return value;
  }

  std::size_t dimension_;
  std::vector<double> theta_, lower_, upper_;
  std::vector<double> columns_, y_, alpha_, radius_;
  std::vector<double> cholesky_, work_;  // column-major n x n, lower halves used
  mutable std::vector<double> cross_;
};

}  // namespace mahpo::search::gp::detail
