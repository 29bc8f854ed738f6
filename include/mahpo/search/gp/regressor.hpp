#pragma once
// The Gaussian-process regressor of GP-BO: Matern-5/2 ARD kernel, Gaussian noise with a floor,
// hyperparameters fitted by the log marginal likelihood plus a weak prior on their logs (box L-BFGS),
// posterior mean and variance with their gradients. LAPACK through xtensor-blas does the algebra.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <numeric>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>  // brings xlapack.hpp and the cxxblas macros it needs
#include <xtensor/xadapt.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xtensor.hpp>

#include <mahpo/search/gp/lbfgs.hpp>
#include <mahpo/search/gp/special_functions.hpp>

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

// The kernel's factor for inputs beyond the unit cube: none (GP-BO: k = s2 M(x, x')).
struct NoFidelity {
  static constexpr std::size_t inputs = 0;      // coordinates after x in each point
  static constexpr std::size_t parameters = 0;  // hyperparameters after (log l, log s2, log noise)
};

// FABOLAS's kernel over the training-set fraction s (Klein et al. 2017, "Fast Bayesian optimization
// of machine learning hyperparameters on large datasets", AISTATS, section 3.1): k(s, s') =
// phi(s)^T Sigma phi(s') with a basis phi(s) = (1, g(s)) and Sigma = L L^T, L = [[1, 0], [a, b]]
// (the signal variance s2 scales it, so L's corner is 1): g(s) = (1 - s)^2 for the loss, which falls
// as the data grow, g(s) = s for the cost, which grows with them. Hyperparameters (a, log b).
enum class FidelityBasis { loss, cost };

template <FidelityBasis Basis>
struct DataSetSize {
  static constexpr std::size_t inputs = 1, parameters = 2;

  static double basis(double s) { return Basis == FidelityBasis::loss ? (1.0 - s) * (1.0 - s) : s; }

  // k(s, t) / s2 at parameters p = (a, log b).
  static double value(double s, double t, const double* p) {
    const double a = p[0], b2 = std::exp(2.0 * p[1]), g = basis(s), h = basis(t);
    return (1.0 + a * g) * (1.0 + a * h) + b2 * g * h;
  }

  // d value / d(a, log b).
  static void gradient(double s, double t, const double* p, double* out) {
    const double a = p[0], b2 = std::exp(2.0 * p[1]), g = basis(s), h = basis(t);
    out[0] = g * (1.0 + a * h) + h * (1.0 + a * g);
    out[1] = 2.0 * b2 * g * h;
  }

  // Bounds and start of (a, log b), and their weak Gaussian priors (centre, spread): our choice.
  static constexpr double a_bound = 5.0, a_spread = 2.0;
  static constexpr double log_b_low = -6.907755278982137, log_b_high = 2.302585092994046;  // log 1e-3, log 10
  static constexpr double log_b_spread = 2.0;
};

// A GP regressor with a Matérn-5/2 ARD kernel and Gaussian noise, on points of [0, 1]^dimension
// (row-major) followed by Fidelity::inputs more coordinates (DataSetSize: the fraction s), zero prior
// mean: k((x, s), (x', s')) = s2 M(x, x') F(s, s'). Hyperparameters theta = (log l_1..l_d, log s2,
// log noise, the fidelity's). With NoFidelity (`Regressor`) every number is GP-BO's as before.
template <typename Fidelity = NoFidelity>
class BasicRegressor {
  static constexpr std::size_t extra = Fidelity::inputs;
  static constexpr bool fidelity = Fidelity::inputs > 0;

 public:
  BasicRegressor(std::size_t dimension, double noise_floor)
      : dimension_(dimension),
        width_(dimension + extra),
        theta_(dimension + 2 + Fidelity::parameters),
        lower_(theta_.size()),
        upper_(theta_.size()) {
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
    if constexpr (fidelity) {
      const std::size_t at = dimension + 2;
      lower_[at] = -Fidelity::a_bound;
      upper_[at] = Fidelity::a_bound;
      theta_[at] = 0.0;
      lower_[at + 1] = Fidelity::log_b_low;
      upper_[at + 1] = Fidelity::log_b_high;
      theta_[at + 1] = 0.0;
    }
  }

  std::size_t dimension() const { return dimension_; }
  // Coordinates per point: the dimension and the fidelity's inputs.
  std::size_t width() const { return width_; }
  std::size_t size() const { return y_.size(); }
  const std::vector<double>& theta() const { return theta_; }
  double lengthscale(std::size_t d) const { return std::exp(theta_[d]); }
  double signal_variance() const { return std::exp(theta_[dimension_]); }
  double noise_variance() const { return std::exp(theta_[dimension_ + 1]); }

  // Sets the hyperparameters (clamped to their bounds); `fidelity_parameters`, when given, the fidelity's.
  void set_hyperparameters(std::span<const double> lengthscales, double signal_variance, double noise_variance,
                           std::span<const double> fidelity_parameters = {}) {
    for (std::size_t d = 0; d < dimension_; ++d) theta_[d] = std::log(lengthscales[d]);
    theta_[dimension_] = std::log(signal_variance);
    theta_[dimension_ + 1] = std::log(noise_variance);
    for (std::size_t k = 0; k < fidelity_parameters.size() && k < Fidelity::parameters; ++k) {
      theta_[dimension_ + 2 + k] = fidelity_parameters[k];
    }
    for (std::size_t k = 0; k < theta_.size(); ++k) theta_[k] = std::clamp(theta_[k], lower_[k], upper_[k]);
  }

  // K + noise I at the current hyperparameters, for the n points x (row-major).
  xt::xtensor<double, 2> kernel_matrix(std::span<const double> x) {
    const std::size_t n = x.size() / width_;
    fill_kernel(feature_major(x, width_), n, theta_, 0.0, work_);
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
    const std::vector<double> columns = feature_major(x, width_);
    return log_posterior_of_columns(columns, y, theta, gradient);
  }

  // Fits theta to (x, y): L-BFGS warm-started at the current theta (its first step moves at most
  // `first_step` in a log), and `restarts` more starts at random theta; keeps the best. At most
  // `evaluations` likelihood evaluations per start.
  template <typename Rng>
  void fit(std::span<const double> x, std::span<const double> y, Rng& rng, std::size_t restarts,
           std::size_t evaluations, double first_step = 1.0) {
    const std::vector<double> columns = feature_major(x, width_);
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
      if constexpr (fidelity) {
        start[dimension_ + 2] = -1.0 + 2.0 * unit(rng);
        start[dimension_ + 3] = std::log(0.1) + unit(rng) * std::log(2.0 / 0.1);
      }
      Minimum found = minimize_in_box(negative, std::move(start), lower_, upper_, evaluations, 1.0);
      if (found.value < best.value) best = std::move(found);
    }
    if (std::isfinite(best.value)) theta_ = best.x;
  }

  // Conditions on (x, y) at the current theta. Adds jitter when K is numerically singular; false
  // if even that fails.
  bool condition(std::span<const double> x, std::span<const double> y) {
    columns_ = feature_major(x, width_);
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
    std::vector<double>& cross = cross_;
    cross_covariances(points, m, mean, cross);
    const auto size = static_cast<xt::blas_index_t>(n);
    cxxlapack::trtrs<xt::blas_index_t>('L', 'N', 'N', size, static_cast<xt::blas_index_t>(m), cholesky_.data(), size,
                                       cross.data(), size);  // L^-1 k: variance = s2 - |L^-1 k|^2
    const double signal = signal_variance();
    for (std::size_t c = 0; c < m; ++c) {
      const double* row = &cross[c * n];
      double explained = 0.0;
      for (std::size_t i = 0; i < n; ++i) explained += row[i] * row[i];
      variance[c] = std::max(prior_variance(&points[c * width_], signal) - explained, variance_floor());
    }
  }

  // What predictions at m points are made of: L^-1 k(point c, X) (column c of `solved`, n x m), the
  // posterior means k^T alpha and the latent variances.
  struct Projection {
    std::vector<double> points, solved, mean, variance;
  };

  // The projection of m points (row-major), after condition().
  Projection project(std::span<const double> points) const {
    const std::size_t n = y_.size(), m = points.size() / width_;
    Projection projection{std::vector<double>(points.begin(), points.end()), {}, std::vector<double>(m), {}};
    cross_covariances(points, m, projection.mean, projection.solved);
    const auto size = static_cast<xt::blas_index_t>(n);
    cxxlapack::trtrs<xt::blas_index_t>('L', 'N', 'N', size, static_cast<xt::blas_index_t>(m), cholesky_.data(), size,
                                       projection.solved.data(), size);
    const double signal = signal_variance();
    projection.variance.resize(m);
    for (std::size_t c = 0; c < m; ++c) {
      const double* row = &projection.solved[c * n];
      double explained = 0.0;
      for (std::size_t i = 0; i < n; ++i) explained += row[i] * row[i];
      projection.variance[c] = std::max(prior_variance(&points[c * width_], signal) - explained, variance_floor());
    }
    return projection;
  }

  // The posterior covariance of point c of `a` with point c of `b` (projections of as many points).
  void covariances(const Projection& a, const Projection& b, std::span<double> covariance) const {
    const std::size_t n = y_.size();
    const double signal = signal_variance();
    const auto inverse_squared = inverse_squared_lengthscales(theta_);
    for (std::size_t c = 0; c < covariance.size(); ++c) {
      const double* row_a = &a.solved[c * n];
      const double* row_b = &b.solved[c * n];
      double shared = 0.0;
      for (std::size_t i = 0; i < n; ++i) shared += row_a[i] * row_b[i];
      const double* point_a = &a.points[c * width_];
      const double* point_b = &b.points[c * width_];
      double r2 = 0.0;
      for (std::size_t d = 0; d < dimension_; ++d) {
        r2 += (point_a[d] - point_b[d]) * (point_a[d] - point_b[d]) * inverse_squared[d];
      }
      covariance[c] =
          matern52(std::sqrt(r2), signal) * factor(point_a + dimension_, point_b + dimension_, theta_) - shared;
    }
  }

  // The joint posterior of pairs: at points a_c and b_c (row-major, m each), their means, latent
  // variances and covariance (FABOLAS: a config at a fraction s and at s = 1).
  void predict_pairs(std::span<const double> a, std::span<const double> b, std::span<double> mean_a,
                     std::span<double> variance_a, std::span<double> mean_b, std::span<double> variance_b,
                     std::span<double> covariance) const {
    const Projection at_a = project(a), at_b = project(b);
    std::copy(at_a.mean.begin(), at_a.mean.end(), mean_a.begin());
    std::copy(at_a.variance.begin(), at_a.variance.end(), variance_a.begin());
    std::copy(at_b.mean.begin(), at_b.mean.end(), mean_b.begin());
    std::copy(at_b.variance.begin(), at_b.variance.end(), variance_b.begin());
    covariances(at_a, at_b, covariance);
  }

  // One config at any fraction, cheaply. With FABOLAS's factor, F(s, t) = u(s) u(t) + b^2 g(s) g(t)
  // with u(s) = 1 + a g(s): the cross-covariance of (x, s) with a data point i is u(s) P_i + g(s) Q_i,
  // P_i = s2 M(x, x_i) u(s_i), Q_i = s2 M(x, x_i) b^2 g(s_i). Two triangular solves per config
  // (p = L^-1 P, q = L^-1 Q) then give the posterior at every fraction from five numbers.
  struct FractionProjection {
    std::vector<double> p_mean, q_mean, pp, pq, qq;  // per config: P^T alpha, Q^T alpha, p.p, p.q, q.q
  };

  // The fraction projection of m configs (row-major, `dimension` coordinates each: no fraction), after condition().
  FractionProjection project_fractions(std::span<const double> configs) const requires(fidelity) {
    const std::size_t n = y_.size(), m = configs.size() / dimension_;
    const auto inverse_squared = inverse_squared_lengthscales(theta_);
    const double signal = signal_variance(), a = fidelity_a(), b2 = fidelity_b2();
    const double* s = &columns_[dimension_ * n];
    std::vector<double> p(n * m), q(n * m);
    FractionProjection projection{std::vector<double>(m), std::vector<double>(m), std::vector<double>(m),
                                  std::vector<double>(m), std::vector<double>(m)};
    for (std::size_t c = 0; c < m; ++c) {
      double* p_row = &p[c * n];
      double* q_row = &q[c * n];
      scaled_distances(&configs[c * dimension_], columns_, n, 0, n, inverse_squared, p_row);
      double p_total = 0.0, q_total = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        const double base = matern52(p_row[i], signal), g = Fidelity::basis(s[i]);
        p_row[i] = base * (1.0 + a * g);
        q_row[i] = base * b2 * g;
        p_total += p_row[i] * alpha_[i];
        q_total += q_row[i] * alpha_[i];
      }
      projection.p_mean[c] = p_total;
      projection.q_mean[c] = q_total;
    }
    const auto size = static_cast<xt::blas_index_t>(n);
    for (auto* cross : {&p, &q}) {
      cxxlapack::trtrs<xt::blas_index_t>('L', 'N', 'N', size, static_cast<xt::blas_index_t>(m), cholesky_.data(), size,
                                         cross->data(), size);
    }
    for (std::size_t c = 0; c < m; ++c) {
      const double* p_row = &p[c * n];
      const double* q_row = &q[c * n];
      double pp = 0.0, pq = 0.0, qq = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        pp += p_row[i] * p_row[i];
        pq += p_row[i] * q_row[i];
        qq += q_row[i] * q_row[i];
      }
      projection.pp[c] = pp;
      projection.pq[c] = pq;
      projection.qq[c] = qq;
    }
    return projection;
  }

  // The posterior mean of config c at fraction s (a fraction projection).
  double fraction_mean(const FractionProjection& projection, std::size_t c, double s) const requires(fidelity) {
    const double g = Fidelity::basis(s);
    return (1.0 + fidelity_a() * g) * projection.p_mean[c] + g * projection.q_mean[c];
  }

  // The posterior covariance of config c at fractions s and t (its latent variance when s = t).
  double fraction_covariance(const FractionProjection& projection, std::size_t c, double s, double t) const
      requires(fidelity) {
    const double a = fidelity_a(), g_s = Fidelity::basis(s), g_t = Fidelity::basis(t);
    const double u_s = 1.0 + a * g_s, u_t = 1.0 + a * g_t;
    const double prior = signal_variance() * (u_s * u_t + fidelity_b2() * g_s * g_t);
    const double explained =
        u_s * u_t * projection.pp[c] + (u_s * g_t + g_s * u_t) * projection.pq[c] + g_s * g_t * projection.qq[c];
    const double covariance = prior - explained;
    return s == t ? std::max(covariance, variance_floor()) : covariance;
  }

  // Posterior mean and latent variance at one point, with their gradients in the point (no fidelity).
  void predict(std::span<const double> point, double& mean, double& variance, std::span<double> mean_gradient,
               std::span<double> variance_gradient) const requires(!fidelity) {
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

  double fidelity_a() const { return theta_[dimension_ + 2]; }
  double fidelity_b2() const { return std::exp(2.0 * theta_[dimension_ + 3]); }

  // F(s, s') between two points' fidelity inputs (1 without a fidelity).
  static double factor(const double* s, const double* t, std::span<const double> theta) {
    if constexpr (fidelity) {
      return Fidelity::value(*s, *t, theta.data() + theta.size() - Fidelity::parameters);
    } else {
      return 1.0;
    }
  }

  // The prior variance s2 F(s, s) at a point.
  double prior_variance(const double* point, double signal) const {
    if constexpr (fidelity) {
      return signal * factor(point + dimension_, point + dimension_, theta_);
    } else {
      return signal;
    }
  }

  // Column c of `cross` (n x m, column-major): k(point c, x_i); mean[c] = k^T alpha.
  void cross_covariances(std::span<const double> points, std::size_t m, std::span<double> mean,
                         std::vector<double>& cross) const {
    const std::size_t n = y_.size();
    const auto inverse_squared = inverse_squared_lengthscales(theta_);
    const double signal = signal_variance();
    // A kept buffer: a fresh megabyte each ask costs page faults.
    resize_kept(cross, n * m);
    for (std::size_t c = 0; c < m; ++c) {
      double* row = &cross[c * n];
      const double* point = &points[c * width_];
      scaled_distances(point, columns_, n, 0, n, inverse_squared, row);
      double total = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        row[i] = matern52(row[i], signal);
        if constexpr (fidelity) {
          const double at = columns_[dimension_ * n + i];
          row[i] *= factor(point + dimension_, &at, theta_);
        }
        total += row[i] * alpha_[i];
      }
      mean[c] = total;
    }
  }

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
      if constexpr (fidelity) {
        const double* s = &columns[dimension_ * n];
        for (std::size_t i = 0; i < n - j; ++i) column[i] *= factor(&s[j + i], &s[j], theta);
      }
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
    std::array<double, Fidelity::parameters + 1> fidelity_gradient{}, dfactor{};
    const double* s = fidelity ? &columns[dims * n] : nullptr;
    const double* parameters = theta.data() + theta.size() - Fidelity::parameters;
    for (std::size_t j = 0; j < n; ++j) {
      const double diagonal_weight = alpha[j] * alpha[j] - work_[j * n + j];  // W = alpha alpha^T - K^-1
      if constexpr (fidelity) {
        signal_gradient += 0.5 * diagonal_weight * signal * Fidelity::value(s[j], s[j], parameters);
        Fidelity::gradient(s[j], s[j], parameters, dfactor.data());
        for (std::size_t p = 0; p < Fidelity::parameters; ++p) {
          fidelity_gradient[p] += 0.5 * diagonal_weight * signal * dfactor[p];
        }
      } else {
        signal_gradient += 0.5 * diagonal_weight * signal;
      }
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
        double weight = (alpha[i] * alpha[j] - inverse[i]) * signal * std::exp(-sqrt5 * r);
        if constexpr (fidelity) {
          // W_ij s2 M_ij dF_ij for the fidelity's parameters; the rest as without, times F_ij.
          const double shape = 1.0 + sqrt5 * r + 5.0 / 3.0 * r * r;
          Fidelity::gradient(s[i], s[j], parameters, dfactor.data());
          for (std::size_t p = 0; p < Fidelity::parameters; ++p) fidelity_gradient[p] += weight * shape * dfactor[p];
          weight *= Fidelity::value(s[i], s[j], parameters);
        }
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
    for (std::size_t p = 0; p < Fidelity::parameters; ++p) gradient[dims + 2 + p] += fidelity_gradient[p];
    return value;
  }

  // Weak Gaussian priors on the log hyperparameters (our choice; see the header comment), and on the
  // fidelity's (a, log b): N(0, 2^2) each.
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
    if constexpr (fidelity) {
      add(dimension_ + 2, 0.0, Fidelity::a_spread);
      add(dimension_ + 3, 0.0, Fidelity::log_b_spread);
    }
    return value;
  }

  std::size_t dimension_, width_;
  std::vector<double> theta_, lower_, upper_;
  std::vector<double> columns_, y_, alpha_, radius_;
  std::vector<double> cholesky_, work_;  // column-major n x n, lower halves used
  mutable std::vector<double> cross_;
};

// GP-BO's regressor: the unit cube alone.
using Regressor = BasicRegressor<NoFidelity>;

// Losses standardized in place (zero mean, unit sd): the GP's constant mean is their mean. A set
// without spread keeps its scale (sd 1).
inline void standardize(std::vector<double>& y) {
  auto losses = xt::adapt(y);
  const double mean = xt::mean(losses)();
  double spread = xt::stddev(losses)();
  if (!(spread > 1e-12 * std::max(1.0, std::abs(mean)))) spread = 1.0;
  losses = (losses - mean) / spread;
}

// Losses replaced in place by the normal scores of their ranks, Phi^-1((rank + 1/2) / n), ties
// sharing their mean rank: a Gaussian copula of the losses (Salinas et al. 2020, "A quantile-based
// approach for hyperparameter transfer learning", ICML), so that a few far outliers (a diverged
// training at chance level) cannot flatten the GP's picture of the good region.
inline void normal_scores(std::vector<double>& y) {
  const std::size_t n = y.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return y[a] < y[b]; });
  std::vector<double> scores(n);
  for (std::size_t first = 0; first < n;) {
    std::size_t last = first;
    while (last + 1 < n && y[order[last + 1]] == y[order[first]]) ++last;
    const double rank = 0.5 * static_cast<double>(first + last);
    const double score = normal_quantile((rank + 0.5) / static_cast<double>(n));
    for (std::size_t k = first; k <= last; ++k) scores[order[k]] = score;
    first = last + 1;
  }
  y = std::move(scores);
}

// GP-BO's fitting schedule. While at most `cheap_fit_limit` (64) results are modelled a fit costs
// little: `evaluations` likelihood evaluations per start and `restarts` random restarts. Past it an
// evaluation costs O(n^3): the warm start alone, with evaluations * (64 / n)^3 evaluations (at least
// 2: a gradient and a step) and small steps, so that the hyperparameters track the data.
inline constexpr std::size_t cheap_fit_limit = 64;

template <typename Model, typename Rng>
void fit_on_schedule(Model& model, std::span<const double> x, std::span<const double> y, Rng& rng, std::size_t restarts,
                     std::size_t evaluations) {
  const std::size_t n = y.size();
  if (n <= cheap_fit_limit) {
    model.fit(x, y, rng, restarts, evaluations);
    return;
  }
  const double scale = std::pow(static_cast<double>(cheap_fit_limit) / static_cast<double>(n), 3.0);
  const auto shrunk =
      std::max<std::size_t>(2, static_cast<std::size_t>(std::lround(static_cast<double>(evaluations) * scale)));
  model.fit(x, y, rng, 0, shrunk, 0.2);
}

}  // namespace mahpo::search::gp::detail
