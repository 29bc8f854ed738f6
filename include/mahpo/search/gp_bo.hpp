#pragma once
// Gaussian-process Bayesian optimization (GP-BO) in the unit cube [0, 1]^d of a space.
//
// The model: a zero-mean GP on the standardized losses (zero mean, unit sd: the constant mean is
// the losses' mean), Matérn-5/2 kernel with one lengthscale per dimension (ARD) and a signal
// variance, plus Gaussian noise whose variance has a floor (`noise_floor`, 1e-6 in standardized
// units). The hyperparameters (log lengthscales in [0.01, 10], log signal variance in [0.01, 100],
// log noise in [noise_floor, 1]) maximize the log marginal likelihood plus a weak Gaussian prior on
// the logs (our choice: lengthscale ~ logN(log 0.5, 1.5), signal ~ logN(0, 1.5), noise ~
// logN(log 1e-4, 4)), with analytic gradients and a small box-projected L-BFGS. The fit runs when
// new results came in, warm-started from the previous fit. While at most 64 results are modelled
// (a fit costs little there) it has `fit_evaluations` (30) likelihood evaluations per start and
// `fit_restarts` (2) more starts from random hyperparameters, the best fit winning; past 64 an
// evaluation costs O(n^3), so the warm start alone runs, with fit_evaluations * (64 / n)^3
// evaluations (at least 2): the hyperparameters then track the data a few steps per ask, which
// keeps ask + tell near 10 ms at n = 200.
//
// The acquisition: log expected improvement (default; computed stably as in Ament et al. 2023,
// "Unexpected improvements to expected improvement", NeurIPS) over the best observed loss, or the
// lower confidence bound mu - ucb_beta * sigma (ucb, "GP-UCB" of Srinivas et al. 2010, on a loss).
// It is maximized over `candidates` points of a Halton sequence under a seeded random shift
// (Cranley-Patterson rotation; a fresh shift each ask) plus, our choice, candidates / 10 Gaussian
// perturbations (sd 0.05) of the best trial's point; the best `refine_starts` of them are refined
// by L-BFGS on the acquisition (analytic gradients, clamped to the cube, at most 12 evaluations
// each).
//
// Choices the references leave open:
// - The first `startup_trials` (10) trials, and any ask with fewer than 2 usable results, are draws
//   from the space's prior (as Random does).
// - Integers and categoricals are modelled by their unit-cube coordinate (a categorical's cell
//   coordinate, not a one-hot code: unordered values are treated as ordered, cheap and adequate for
//   the small categoricals of mahpo's spaces). Candidates are snapped (search::snap) before they
//   are scored, so the acquisition is that of a config the space can hold.
// - Pending trials: constant liar, CL-min (Ginsbourger et al. 2010): each running trial's point is
//   added with the lie = the best (lowest) standardized loss, with the fitted hyperparameters
//   (the hyperparameters are fitted on real results only).
// - A pick whose snapped point repeats a point already asked (within 1e-6 in every coordinate) is
//   skipped for the next best candidate; if every candidate repeats one, a prior draw is used.
// - Failed and diverged trials, and results with a non-finite value, are not modelled.
//
// Cost: one likelihood evaluation is a Cholesky factorization and an inverse of the n x n kernel
// matrix (LAPACK potrf/potri through xtensor-blas's cxxlapack interface, on buffers kept between
// asks); scoring the candidates is one triangular solve with many right-hand sides (trtrs).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <xtensor-blas/xlinalg.hpp>  // brings xlapack.hpp and the cxxblas macros it needs
#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>

#include <mahpo/search/searcher.hpp>

namespace mahpo::search {

struct GpBoOptions {
  enum class Acquisition { log_ei, ucb };

  std::size_t startup_trials = 10;               // prior draws before the model is used
  Acquisition acquisition = Acquisition::log_ei;  // log expected improvement, or the lower confidence bound
  double ucb_beta = 2.0;                         // ucb: minimize mu - ucb_beta * sigma
  std::size_t candidates = 1000;                 // shifted-Halton points scored per ask
  std::size_t refine_starts = 5;                 // best candidates refined by L-BFGS
  std::size_t fit_restarts = 2;                  // random restarts of the fit (while n <= 64)
  std::size_t fit_evaluations = 30;              // likelihood evaluations per start of the fit
  double noise_floor = 1e-6;                     // least noise variance (standardized losses)
};

namespace detail {

inline constexpr double gp_sqrt5 = 2.2360679774997896964;

// Matérn-5/2 (Rasmussen & Williams 2006, eq. 4.17): k(r) = s2 (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r).
// Past sqrt5 r = 40 (k < 1e-14 s2) it is flushed to 0, keeping subnormal numbers (slow) out of the algebra.
inline double gp_matern52(double r, double signal_variance) {
  if (gp_sqrt5 * r > 40.0) return 0.0;
  return signal_variance * (1.0 + gp_sqrt5 * r + 5.0 / 3.0 * r * r) * std::exp(-gp_sqrt5 * r);
}

// -dk/d(r^2) * 2 = s2 (5/3) (1 + sqrt5 r) exp(-sqrt5 r): so dk/dx_d = -slope (x_d - x'_d) / l_d^2 and
// dk/dlog l_d = slope (x_d - x'_d)^2 / l_d^2 (differentiating eq. 4.17).
inline double gp_matern52_slope(double r, double signal_variance) {
  if (gp_sqrt5 * r > 40.0) return 0.0;
  return signal_variance * 5.0 / 3.0 * (1.0 + gp_sqrt5 * r) * std::exp(-gp_sqrt5 * r);
}

// erfcx(x) = exp(x^2) erfc(x). From 12 on (erfc underflows past 26, and exp(x^2) loses digits) the
// asymptotic series (Abramowitz & Stegun 7.1.23), whose 11th term is below 1e-17 there.
inline double gp_erfcx(double x) {
  if (x < 0.0) return 2.0 * std::exp(x * x) - gp_erfcx(-x);  // erfc(-x) = 2 - erfc(x)
  if (x < 12.0) return std::exp(x * x) * std::erfc(x);
  const double inverse = 1.0 / (2.0 * x * x);
  double term = 1.0, sum = 1.0;
  for (int k = 1; k <= 10; ++k) {
    term *= -(2.0 * k - 1.0) * inverse;
    sum += term;
  }
  return sum / (x * std::sqrt(std::numbers::pi));
}

// log(1 - exp(a)) for a < 0, accurate at both ends (Mächler 2012, "Accurately computing log(1 - exp(-|a|))").
inline double gp_log1mexp(double a) {
  return a > -std::numbers::ln2 ? std::log(-std::expm1(a)) : std::log1p(-std::exp(a));
}

// log h(z) with h(z) = phi(z) + z Phi(z), so that EI = sigma h(z) (Jones et al. 1998), and its
// derivative Phi(z) / h(z). Below z = -1 the erfcx form of Ament et al. 2023 (their log_h) avoids the
// cancellation; below -1/sqrt(eps) its asymptote -z^2/2 - log(2 pi)/2 - 2 log|z|.
struct GpLogH {
  double value;
  double derivative;
};

inline GpLogH gp_log_h(double z) {
  constexpr double half_log_2pi = 0.91893853320467274178;  // log(2 pi) / 2
  const double half_log_pi_2 = 0.5 * std::log(std::numbers::pi / 2.0);
  const double inv_sqrt2 = 1.0 / std::numbers::sqrt2;
  if (z > -1.0) {
    const double pdf = std::exp(-0.5 * z * z - half_log_2pi);
    const double cdf = 0.5 * std::erfc(-z * inv_sqrt2);
    const double h = pdf + z * cdf;
    return {std::log(h), cdf / h};
  }
  const double scaled = gp_erfcx(-z * inv_sqrt2);  // Phi(z) = scaled exp(-z^2/2) / 2
  double value;
  if (z > -1.0 / std::sqrt(std::numeric_limits<double>::epsilon())) {
    value = -0.5 * z * z - half_log_2pi + gp_log1mexp(std::log(scaled * -z) + half_log_pi_2);
  } else {
    value = -0.5 * z * z - half_log_2pi - 2.0 * std::log(-z);
  }
  const double log_cdf = std::log(0.5 * scaled) - 0.5 * z * z;
  return {value, std::exp(log_cdf - value)};
}

// log EI of a loss to minimize, below `best`: log h(z) + log sigma, z = (best - mean) / sigma.
inline double gp_log_ei(double mean, double sigma, double best) {
  return gp_log_h((best - mean) / sigma).value + std::log(sigma);
}

// The radical inverse of `index` in `base`: coordinate of the Halton sequence (Halton 1960).
inline double gp_radical_inverse(std::size_t index, std::size_t base) {
  double result = 0.0, digit_weight = 1.0 / static_cast<double>(base);
  while (index > 0) {
    result += digit_weight * static_cast<double>(index % base);
    index /= base;
    digit_weight /= static_cast<double>(base);
  }
  return result;
}

inline std::vector<std::size_t> gp_first_primes(std::size_t count) {
  std::vector<std::size_t> primes;
  for (std::size_t candidate = 2; primes.size() < count; ++candidate) {
    bool prime = true;
    for (std::size_t p : primes) {
      if (p * p > candidate) break;
      if (candidate % p == 0) {
        prime = false;
        break;
      }
    }
    if (prime) primes.push_back(candidate);
  }
  return primes;
}

// `count` Halton points in [0, 1]^dimension, shifted by `shift` modulo 1 (Cranley & Patterson 1976),
// row-major.
inline std::vector<double> gp_shifted_halton(std::size_t count, std::span<const double> shift) {
  const std::size_t dimension = shift.size();
  const auto primes = gp_first_primes(dimension);
  std::vector<double> points(count * dimension);
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t d = 0; d < dimension; ++d) {
      const double u = gp_radical_inverse(i + 1, primes[d]) + shift[d];
      points[i * dimension + d] = u - std::floor(u);
    }
  }
  return points;
}

inline double gp_dot(std::span<const double> a, std::span<const double> b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

struct GpMinimum {
  std::vector<double> x;
  double value = std::numeric_limits<double>::infinity();
  std::size_t evaluations = 0;
};

// Minimizes f(x, gradient) -> value over the box [lower, upper] by L-BFGS (Nocedal & Wright 2006,
// alg. 7.4) on the projected gradient, with a backtracking Armijo search along the clamped path.
// A non-finite value makes the search step back. The first step moves at most `first_step` in any
// coordinate.
template <typename F>
GpMinimum gp_minimize_in_box(F&& f, std::vector<double> x, std::span<const double> lower,
                             std::span<const double> upper, std::size_t max_evaluations, double first_step,
                             std::size_t memory = 8) {
  const std::size_t n = x.size();
  for (std::size_t i = 0; i < n; ++i) x[i] = std::clamp(x[i], lower[i], upper[i]);
  std::vector<double> gradient(n), trial(n), trial_gradient(n), direction(n), projected(n);
  GpMinimum best{x, f(std::span<const double>(x), std::span<double>(gradient)), 1};
  if (!std::isfinite(best.value)) return best;
  double value = best.value;
  std::vector<std::vector<double>> steps, changes;
  std::vector<double> rho, alpha;
  while (best.evaluations < max_evaluations) {
    double largest = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const bool blocked = (x[i] <= lower[i] && gradient[i] > 0.0) || (x[i] >= upper[i] && gradient[i] < 0.0);
      projected[i] = blocked ? 0.0 : gradient[i];
      largest = std::max(largest, std::abs(projected[i]));
    }
    if (largest <= 1e-9) break;
    // Two-loop recursion: direction = -H projected.
    direction = projected;
    alpha.assign(steps.size(), 0.0);
    for (std::size_t k = steps.size(); k-- > 0;) {
      alpha[k] = rho[k] * gp_dot(steps[k], direction);
      for (std::size_t i = 0; i < n; ++i) direction[i] -= alpha[k] * changes[k][i];
    }
    if (!steps.empty()) {
      const double gamma = gp_dot(steps.back(), changes.back()) / gp_dot(changes.back(), changes.back());
      for (double& component : direction) component *= gamma;
    }
    for (std::size_t k = 0; k < steps.size(); ++k) {
      const double beta = rho[k] * gp_dot(changes[k], direction);
      for (std::size_t i = 0; i < n; ++i) direction[i] += steps[k][i] * (alpha[k] - beta);
    }
    for (std::size_t i = 0; i < n; ++i) direction[i] = projected[i] == 0.0 ? 0.0 : -direction[i];
    if (!(gp_dot(direction, projected) < 0.0)) {  // not a descent direction: start the memory again
      steps.clear();
      changes.clear();
      rho.clear();
      for (std::size_t i = 0; i < n; ++i) direction[i] = -projected[i];
    }
    double step = 1.0;
    if (steps.empty()) {
      double longest = 0.0;
      for (double component : direction) longest = std::max(longest, std::abs(component));
      step = first_step / longest;
    }
    bool accepted = false;
    double trial_value = value;
    while (best.evaluations < max_evaluations) {
      bool moved = false;
      for (std::size_t i = 0; i < n; ++i) {
        trial[i] = std::clamp(x[i] + step * direction[i], lower[i], upper[i]);
        moved = moved || trial[i] != x[i];
      }
      if (!moved) break;
      trial_value = f(std::span<const double>(trial), std::span<double>(trial_gradient));
      ++best.evaluations;
      double decrease = 0.0;
      for (std::size_t i = 0; i < n; ++i) decrease += gradient[i] * (trial[i] - x[i]);
      if (std::isfinite(trial_value) && trial_value <= value + 1e-4 * std::min(decrease, 0.0)) {
        accepted = true;
        break;
      }
      step *= std::isfinite(trial_value) ? 0.5 : 0.1;
    }
    if (!accepted) break;
    std::vector<double> s(n), y(n);
    for (std::size_t i = 0; i < n; ++i) {
      s[i] = trial[i] - x[i];
      y[i] = trial_gradient[i] - gradient[i];
    }
    const double curvature = gp_dot(s, y);
    if (curvature > 1e-12 * gp_dot(y, y)) {
      steps.push_back(std::move(s));
      changes.push_back(std::move(y));
      rho.push_back(1.0 / curvature);
      if (steps.size() > memory) {
        steps.erase(steps.begin());
        changes.erase(changes.begin());
        rho.erase(rho.begin());
      }
    }
    const bool stalled = value - trial_value <= 1e-10 * (1.0 + std::abs(value));
    x = trial;
    gradient = trial_gradient;
    value = trial_value;
    best.x = x;
    best.value = value;
    if (stalled) break;
  }
  return best;
}

// Feature-major copy (dimension x n) of n row-major points, so kernel loops run over points.
inline std::vector<double> gp_columns(std::span<const double> x, std::size_t dimension) {
  const std::size_t n = x.size() / dimension;
  std::vector<double> columns(x.size());
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t d = 0; d < dimension; ++d) columns[d * n + i] = x[i * dimension + d];
  }
  return columns;
}

// Scaled distances r_i from `point` to points [begin, end) of `columns` (feature-major, n points),
// written to radius[0 .. end - begin).
inline void gp_distances(const double* point, std::span<const double> columns, std::size_t n, std::size_t begin,
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
inline void gp_resize(std::vector<double>& buffer, std::size_t size) {
  if (buffer.capacity() < size) buffer.reserve(2 * size);
  buffer.resize(size);
}

// The Cholesky factor L (K = L L^T), in place in the lower half of a column-major n x n matrix
// (LAPACK potrf, through xtensor-blas's cxxlapack); false when K is not positive definite.
inline bool gp_cholesky(std::vector<double>& matrix, std::size_t n) {
  const auto size = static_cast<xt::blas_index_t>(n);
  return cxxlapack::potrf<xt::blas_index_t>('L', size, matrix.data(), size) == 0;
}

// A GP regressor with a Matérn-5/2 ARD kernel and Gaussian noise, on points of [0, 1]^dimension
// (row-major), zero prior mean. Hyperparameters theta = (log l_1..l_d, log s2, log noise).
class GpRegressor {
 public:
  GpRegressor(std::size_t dimension, double noise_floor)
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
    fill_kernel(gp_columns(x, dimension_), n, theta_, 0.0, work_);
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
    const std::vector<double> columns = gp_columns(x, dimension_);
    return log_posterior_of_columns(columns, y, theta, gradient);
  }

  // Fits theta to (x, y): L-BFGS warm-started at the current theta (its first step moves at most
  // `first_step` in a log), and `restarts` more starts at random theta; keeps the best. At most
  // `evaluations` likelihood evaluations per start.
  template <typename Rng>
  void fit(std::span<const double> x, std::span<const double> y, Rng& rng, std::size_t restarts,
           std::size_t evaluations, double first_step = 1.0) {
    const std::vector<double> columns = gp_columns(x, dimension_);
    const auto negative = [&](std::span<const double> theta, std::span<double> gradient) {
      const double value = log_posterior_of_columns(columns, y, theta, gradient);
      for (double& component : gradient) component = -component;
      return std::isfinite(value) ? -value : std::numeric_limits<double>::infinity();
    };
    GpMinimum best = gp_minimize_in_box(negative, theta_, lower_, upper_, evaluations, first_step);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (std::size_t restart = 0; restart < restarts; ++restart) {
      std::vector<double> start(theta_.size());
      for (std::size_t d = 0; d < dimension_; ++d) start[d] = std::log(0.05) + unit(rng) * std::log(2.0 / 0.05);
      start[dimension_] = -1.0 + 2.0 * unit(rng);
      start[dimension_ + 1] = std::log(1e-5) + unit(rng) * std::log(1e-1 / 1e-5);
      GpMinimum found = gp_minimize_in_box(negative, std::move(start), lower_, upper_, evaluations, 1.0);
      if (found.value < best.value) best = std::move(found);
    }
    if (std::isfinite(best.value)) theta_ = best.x;
  }

  // Conditions on (x, y) at the current theta. Adds jitter when K is numerically singular; false
  // if even that fails.
  bool condition(std::span<const double> x, std::span<const double> y) {
    columns_ = gp_columns(x, dimension_);
    y_.assign(y.begin(), y.end());
    const std::size_t n = y_.size();
    bool factored = false;
    for (double jitter : {0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2}) {
      fill_kernel(columns_, n, theta_, jitter * signal_variance(), cholesky_);
      if (gp_cholesky(cholesky_, n)) {
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
    gp_resize(cross, n * m);
    for (std::size_t c = 0; c < m; ++c) {
      double* row = &cross[c * n];
      gp_distances(&points[c * dimension_], columns_, n, 0, n, inverse_squared, row);
      double total = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        row[i] = gp_matern52(row[i], signal);
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
    gp_distances(point.data(), columns_, n, 0, n, inverse_squared, slope.data());
    for (std::size_t i = 0; i < n; ++i) {
      const double r = slope[i];
      k[i] = gp_matern52(r, signal);
      slope[i] = gp_matern52_slope(r, signal);
    }
    std::vector<double> solved = k;  // K^-1 k
    const auto size = static_cast<xt::blas_index_t>(n);
    cxxlapack::potrs<xt::blas_index_t>('L', size, 1, cholesky_.data(), size, solved.data(), size);
    mean = gp_dot(k, alpha_);
    variance = signal - gp_dot(k, solved);
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
    gp_resize(into, n * n);
    gp_resize(radius_, n * n);
    const auto inverse_squared = inverse_squared_lengthscales(theta);
    const double signal = std::exp(theta[dimension_]), noise = std::exp(theta[dimension_ + 1]);
    std::vector<double> point(dimension_);
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t d = 0; d < dimension_; ++d) point[d] = columns[d * n + j];
      double* radius = &radius_[j * n + j];
      gp_distances(point.data(), columns, n, j, n, inverse_squared, radius);
      double* column = &into[j * n + j];  // column-major: rows j..n-1 of column j are contiguous
      for (std::size_t i = 0; i < n - j; ++i) column[i] = gp_matern52(radius[i], signal);
      column[0] += noise + jitter;
    }
  }

  double log_posterior_of_columns(std::span<const double> columns, std::span<const double> y,
                                  std::span<const double> theta, std::span<double> gradient) {
    const std::size_t n = y.size(), dims = dimension_;
    std::fill(gradient.begin(), gradient.end(), 0.0);
    fill_kernel(columns, n, theta, 0.0, work_);
    if (!gp_cholesky(work_, n)) return -std::numeric_limits<double>::infinity();
    std::vector<double> alpha(y.begin(), y.end());
    const auto size = static_cast<xt::blas_index_t>(n);
    cxxlapack::potrs<xt::blas_index_t>('L', size, 1, work_.data(), size, alpha.data(), size);
    double log_determinant = 0.0;
    for (std::size_t i = 0; i < n; ++i) log_determinant += 2.0 * std::log(work_[i * n + i]);
    double value = -0.5 * gp_dot(y, alpha) - 0.5 * log_determinant -
                   0.5 * static_cast<double>(n) * std::log(2.0 * std::numbers::pi);
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
        if (gp_sqrt5 * r > 40.0) {  // flushed to 0 in K (see gp_matern52)
          slope[i] = 0.0;
          continue;
        }
        const double weight = (alpha[i] * alpha[j] - inverse[i]) * signal * std::exp(-gp_sqrt5 * r);
        signal_gradient += weight * (1.0 + gp_sqrt5 * r + 5.0 / 3.0 * r * r);
        slope[i] = weight * 5.0 / 3.0 * (1.0 + gp_sqrt5 * r);  // W_ij dk/dlog l_d = slope_i (x_id - x_jd)^2 / l_d^2
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

// The acquisition to maximize at a posterior (mean, variance) of standardized losses, and its
// gradient from the mean's and the variance's gradients.
struct GpAcquisition {
  GpBoOptions::Acquisition kind = GpBoOptions::Acquisition::log_ei;
  double beta = 2.0;
  double best = 0.0;  // the lowest standardized loss

  double operator()(double mean, double variance) const {
    const double sigma = std::sqrt(variance);
    if (kind == GpBoOptions::Acquisition::ucb) return -(mean - beta * sigma);
    return gp_log_ei(mean, sigma, best);
  }

  double operator()(double mean, double variance, std::span<const double> mean_gradient,
                    std::span<const double> variance_gradient, std::span<double> gradient) const {
    const double sigma = std::sqrt(variance);
    if (kind == GpBoOptions::Acquisition::ucb) {
      for (std::size_t d = 0; d < gradient.size(); ++d) {
        gradient[d] = -mean_gradient[d] + beta * variance_gradient[d] / (2.0 * sigma);
      }
      return -(mean - beta * sigma);
    }
    // d log EI = (log h)'(z) dz + dsigma / sigma, dz = -(dmean + z dsigma) / sigma.
    const double z = (best - mean) / sigma;
    const GpLogH log_h = gp_log_h(z);
    for (std::size_t d = 0; d < gradient.size(); ++d) {
      const double sigma_gradient = variance_gradient[d] / (2.0 * sigma);
      gradient[d] = log_h.derivative * (-mean_gradient[d] - z * sigma_gradient) / sigma + sigma_gradient / sigma;
    }
    return log_h.value + std::log(sigma);
  }
};

}  // namespace detail

template <typename S>
class GpBo {
 public:
  using space_type = S;
  static constexpr std::string_view name = "gp_bo";

  explicit GpBo(SearchOptions options = {}, GpBoOptions gp = {})
      : options_(options), gp_(checked(gp)), history_(options.goal), rng_(options.seed),
        model_(S::dimension, gp.noise_floor) {}

  Trial<S> ask() {
    if constexpr (S::dimension > 0) {
      if (history_.asked() >= gp_.startup_trials) {
        if (auto point = propose()) return history_.add(S::from_unit_cube(*point), options_.budget);
      }
    }
    return history_.add(S::sample(rng_), options_.budget);
  }

  void tell(std::size_t id, const Result& result) { history_.tell(id, result, name); }

  const SearchOptions& options() const { return options_; }
  const GpBoOptions& gp_options() const { return gp_; }
  const History<S>& history() const { return history_; }

 private:
  using point_type = std::array<double, S::dimension>;
  static constexpr std::size_t dims = S::dimension;
  static constexpr std::size_t refine_evaluations = 12;
  static constexpr std::size_t cheap_fit_limit = 64;  // full fits (with restarts) up to this many results

  static GpBoOptions checked(GpBoOptions gp) {
    if (!(std::isfinite(gp.ucb_beta) && gp.ucb_beta >= 0.0)) {
      throw std::invalid_argument(fmt::format("mahpo::gp_bo: ucb_beta ({}) must be finite and at least 0", gp.ucb_beta));
    }
    if (gp.candidates == 0) throw std::invalid_argument("mahpo::gp_bo: candidates must be at least 1");
    if (gp.fit_evaluations == 0) throw std::invalid_argument("mahpo::gp_bo: fit_evaluations must be at least 1");
    if (!(gp.noise_floor > 0.0 && gp.noise_floor < 1.0)) {
      throw std::invalid_argument(
          fmt::format("mahpo::gp_bo: noise_floor ({}) must be in (0, 1) (a variance of standardized losses)",
                      gp.noise_floor));
    }
    if (gp.acquisition != GpBoOptions::Acquisition::log_ei && gp.acquisition != GpBoOptions::Acquisition::ucb) {
      throw std::invalid_argument("mahpo::gp_bo: acquisition must be log_ei or ucb");
    }
    return gp;
  }

  bool asked_before(const point_type& point) const {
    for (const auto& entry : history_.entries()) {
      bool same = true;
      for (std::size_t d = 0; d < dims && same; ++d) same = std::abs(entry.point[d] - point[d]) <= 1e-6;
      if (same) return true;
    }
    return false;
  }

  // The next point, or nothing when the model can't be used (too few results, or a failed fit).
  std::optional<point_type> propose() {
    std::vector<double> x, y;
    for (const auto* entry : history_.usable()) {
      if (!std::isfinite(entry->loss)) continue;
      x.insert(x.end(), entry->point.begin(), entry->point.end());
      y.push_back(entry->loss);
    }
    const std::size_t n = y.size();
    if (n < 2) return std::nullopt;
    // Standardize: the constant mean is the losses' mean.
    const double mean = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
    double spread = 0.0;
    for (double value : y) spread += (value - mean) * (value - mean);
    spread = std::sqrt(spread / static_cast<double>(n));
    if (!(spread > 1e-12 * std::max(1.0, std::abs(mean)))) spread = 1.0;
    for (double& value : y) value = (value - mean) / spread;
    const double best = *std::min_element(y.begin(), y.end());
    const std::size_t best_index = static_cast<std::size_t>(std::min_element(y.begin(), y.end()) - y.begin());

    if (n != fitted_size_) {
      if (n <= cheap_fit_limit) {
        model_.fit(x, y, rng_, gp_.fit_restarts, gp_.fit_evaluations);
      } else {
        // Past the limit a likelihood evaluation costs O(n^3): the warm start alone, with a budget
        // shrinking as (limit / n)^3 (at least 2 evaluations: a gradient and a step), small steps.
        const double scale = std::pow(static_cast<double>(cheap_fit_limit) / static_cast<double>(n), 3.0);
        const auto evaluations = std::max<std::size_t>(
            2, static_cast<std::size_t>(std::lround(static_cast<double>(gp_.fit_evaluations) * scale)));
        model_.fit(x, y, rng_, 0, evaluations, 0.2);
      }
      fitted_size_ = n;
    }
    // CL-min: running trials join at the best loss.
    for (const auto* entry : history_.running()) {
      x.insert(x.end(), entry->point.begin(), entry->point.end());
      y.push_back(best);
    }
    if (!model_.condition(x, y)) return std::nullopt;
    const detail::GpAcquisition acquisition{gp_.acquisition, gp_.ucb_beta, best};

    // Candidates: a shifted Halton set and perturbations of the best point, snapped.
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::normal_distribution<double> perturbation(0.0, 0.05);
    std::vector<double> shift(dims);
    for (double& component : shift) component = unit(rng_);
    std::vector<double> candidates = detail::gp_shifted_halton(gp_.candidates, shift);
    const std::size_t local = gp_.candidates / 10;
    for (std::size_t c = 0; c < local; ++c) {
      for (std::size_t d = 0; d < dims; ++d) {
        candidates.push_back(std::clamp(x[best_index * dims + d] + perturbation(rng_), 0.0, 1.0));
      }
    }
    const std::size_t count = candidates.size() / dims;
    for (std::size_t c = 0; c < count; ++c) {
      const auto snapped = snap<S>(std::span<const double>(&candidates[c * dims], dims));
      std::copy(snapped.begin(), snapped.end(), candidates.begin() + static_cast<std::ptrdiff_t>(c * dims));
    }
    std::vector<double> means(count), variances(count), scores(count);
    model_.predict(candidates, means, variances);
    for (std::size_t c = 0; c < count; ++c) scores[c] = acquisition(means[c], variances[c]);
    std::vector<std::size_t> order(count);
    std::iota(order.begin(), order.end(), std::size_t{0});
    const auto by_score = [&](std::size_t a, std::size_t b) {
      // NaN scores (never expected) sort last.
      if (std::isnan(scores[a]) || std::isnan(scores[b])) return !std::isnan(scores[a]) && std::isnan(scores[b]);
      return scores[a] > scores[b];
    };
    const std::size_t starts = std::min(gp_.refine_starts, count);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(starts), order.end(), by_score);

    // Refine the best candidates by L-BFGS on the acquisition; the refined points join, snapped.
    const std::vector<double> lower(dims, 0.0), upper(dims, 1.0);
    const auto negative = [&](std::span<const double> point, std::span<double> gradient) {
      double point_mean = 0.0, point_variance = 0.0;
      std::array<double, dims> mean_gradient{}, variance_gradient{};
      model_.predict(point, point_mean, point_variance, mean_gradient, variance_gradient);
      const double value = acquisition(point_mean, point_variance, mean_gradient, variance_gradient, gradient);
      for (double& component : gradient) component = -component;
      return std::isfinite(value) ? -value : std::numeric_limits<double>::infinity();
    };
    std::vector<double> refined;
    for (std::size_t k = 0; k < starts; ++k) {
      const std::size_t c = order[k];
      std::vector<double> start(candidates.begin() + static_cast<std::ptrdiff_t>(c * dims),
                                candidates.begin() + static_cast<std::ptrdiff_t>((c + 1) * dims));
      const auto found = detail::gp_minimize_in_box(negative, std::move(start), lower, upper, refine_evaluations, 0.1);
      const auto snapped = snap<S>(found.x);
      refined.insert(refined.end(), snapped.begin(), snapped.end());
    }
    if (starts > 0) {
      std::vector<double> refined_means(starts), refined_variances(starts);
      model_.predict(refined, refined_means, refined_variances);
      candidates.insert(candidates.end(), refined.begin(), refined.end());
      for (std::size_t k = 0; k < starts; ++k) {
        scores.push_back(acquisition(refined_means[k], refined_variances[k]));
        order.push_back(count + k);
      }
    }
    std::sort(order.begin(), order.end(), by_score);
    for (std::size_t c : order) {
      point_type point;
      std::copy_n(candidates.begin() + static_cast<std::ptrdiff_t>(c * dims), dims, point.begin());
      if (!asked_before(point)) return point;
    }
    // Every candidate repeats an asked point: prior draws (the last one even if it repeats too).
    point_type point{};
    for (int attempt = 0; attempt < 100; ++attempt) {
      point = S::to_unit_cube(S::sample(rng_));
      if (!asked_before(point)) break;
    }
    return point;
  }

  SearchOptions options_;
  GpBoOptions gp_;
  History<S> history_;
  std::mt19937_64 rng_;
  detail::GpRegressor model_;
  std::size_t fitted_size_ = 0;
};

}  // namespace mahpo::search
