#pragma once
// The Parzen estimator of TPE (l(x) or g(x)): one kernel per observation plus the prior's, in the
// unit cube of a space, fitted, sampled and scored as tpe/tpe.hpp describes; the rules (tpe/rules.hpp)
// give the weights, the bandwidth exceptions and the categorical kernel.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <mahpo/search/tpe/options.hpp>
#include <mahpo/search/tpe/optuna_stream.hpp>
#include <mahpo/search/tpe/rules.hpp>
#include <mahpo/search/unit_cube.hpp>

namespace mahpo::search::tpe::detail {

// P(X > t) of a standard normal, for t >= 0; 0 past 8.5 (below 1e-17).
inline double upper_tail(double t) { return t > 8.5 ? 0.0 : 0.5 * std::erfc(t / std::numbers::sqrt2); }

// The mass of N(mu, 1 / inv^2) on [lo, hi], from the tails on the side(s) of mu the interval lies on
// (no cancellation against 1 when the interval is far from mu).
inline double interval_mass(double lo, double hi, double mu, double inv) {
  const double below = (lo - mu) * inv, above = (hi - mu) * inv;
  if (below >= 0.0) return upper_tail(below) - upper_tail(above);
  if (above <= 0.0) return upper_tail(-above) - upper_tail(-below);
  return 1.0 - upper_tail(-below) - upper_tail(above);
}

// A linear integer's values own equal cells of [0, 1] and are scored by their cell's mass (as
// Optuna scores an int: its discretized truncated Gaussian); a log-scale integer's by the density.
inline bool scored_by_cell(const Dimension& dimension) {
  return dimension.kind == Kind::integer && !dimension.log_scale;
}

// The cell of [0, 1] that holds x, of `count` equal cells.
inline std::pair<double, double> cell_bounds(double x, std::size_t count) {
  const auto c = static_cast<double>(unit_cell(x, count)), width = static_cast<double>(count);
  return {c / width, (c + 1.0) / width};
}

// One Parzen estimator (l or g) over the unit cube: kernels for n observations plus the prior's.
// Per-kernel arrays are flat, coordinate-major: [k * components + i]; the prior is kernel n.
template <typename Rules>
class ParzenEstimator {
 public:
  // `points` are the observations, oldest first; each holds dims.size() coordinates. Univariate fits
  // also take `sorted`: for each coordinate k, sorted[k * n, (k + 1) * n) lists the observations'
  // indices in increasing order of their k-th coordinate (ties by index).
  void fit(std::span<const Dimension> dims, std::span<const double* const> points,
           std::span<const std::uint32_t> sorted, const TpeOptions& options) {
    if (dims_.size() != dims.size() || !std::equal(dims.begin(), dims.end(), dims_.begin(), same_dimension)) {
      set_dimensions(dims);
    }
    const std::size_t n = points.size(), count = n + 1, d = dims.size();
    if (!options.multivariate && sorted.size() != d * n) {
      throw std::invalid_argument(
          fmt::format("mahpo::tpe: a univariate fit needs {} sorted indices, got {}", d * n, sorted.size()));
    }
    components_ = count;
    multivariate_ = options.multivariate;
    unscaled_ = unscaled_kernels<Rules>(options);

    // Mixture weights: default_weights(n) and the prior's, normalized (Optuna's _ParzenEstimator).
    weight_.resize(count);
    double total = options.prior_weight;
    for (std::size_t i = 0; i < n; ++i) total += weight_[i] = Rules::weight(i, n);
    weight_[n] = options.prior_weight;
    cumulative_.resize(count);
    double running = 0.0;
    for (std::size_t i = 0; i < count; ++i) {
      weight_[i] /= total;
      cumulative_[i] = running += weight_[i];
    }
    normalized_.resize(count);  // numpy's choice: the cumulative weights over their last
    for (std::size_t i = 0; i < count; ++i) normalized_[i] = cumulative_[i] / cumulative_.back();

    mu_.resize(d * count);
    sigma_.resize(d * count);
    inv_sigma_.resize(d * count);
    observed_.resize(d * count);
    kernel_mu_.clear();
    kernel_inv_sigma_.clear();
    kernel_coef_.clear();
    kernel_cut_.clear();
    mass_product_.assign(count, 1.0);
    log_const_.assign(count, 0.0);
    for (std::size_t k = 0; k < d; ++k) {
      kernel_offset_[k] = kernel_mu_.size();
      const std::size_t base = k * count;
      for (std::size_t i = 0; i < n; ++i) mu_[base + i] = points[i][k];
      mu_[base + n] = 0.5;
      if (dims[k].kind == Kind::categorical) {
        fit_categorical(k, n, options);
      } else {
        fit_numeric(k, n, sorted, options);
      }
    }
    kernel_offset_[d] = kernel_mu_.size();
    if (multivariate_) {
      for (std::size_t i = 0; i < count; ++i) log_const_[i] += std::log(weight_[i] / mass_product_[i]);
    }
  }

  std::size_t components() const { return components_; }
  double weight(std::size_t i) const { return weight_[i]; }
  double mu(std::size_t k, std::size_t i) const { return mu_[k * components_ + i]; }
  double sigma(std::size_t k, std::size_t i) const { return sigma_[k * components_ + i]; }

  // Univariate: one coordinate drawn from its own mixture (continuous; a categorical's cell centre).
  double sample_coordinate(std::size_t k, std::mt19937_64& rng) const {
    if (dims_[k].kind == Kind::categorical) {
      const std::size_t count = dims_[k].count;
      const double* p = table_.data() + offset_[k];
      double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      std::size_t c = 0;
      for (; c + 1 < count; ++c) {
        if ((u -= p[c]) < 0.0) break;
      }
      return centre(c, count);
    }
    return sample_kernel(k, pick(rng), rng);
  }

  // Univariate, Optuna 3.1's draws (tpe/optuna_stream.hpp): out.size() kernels by numpy's choice with
  // the mixture weights, then a value from each: a numeric coordinate's by the truncated normal's
  // inverse CDF, a categorical's by its kernel's cumulative probabilities (the cell's centre).
  void sample_coordinate_as_optuna(std::size_t k, LegacyRandomState& rng, std::span<double> out) const {
    const std::size_t count = out.size();
    active_.resize(count);
    for (std::size_t& i : active_) {
      const double u = rng.random_sample();
      const auto found = std::upper_bound(normalized_.begin(), normalized_.end(), u) - normalized_.begin();
      i = std::min(static_cast<std::size_t>(found), components_ - 1);
    }
    for (std::size_t c = 0; c < count; ++c) {
      const std::size_t at = k * components_ + active_[c];
      if (dims_[k].kind != Kind::categorical) {
        const double mu = mu_[at], sigma = sigma_[at];
        out[c] = optuna_truncated_normal_ppf(rng.random_sample(), -mu / sigma, (1.0 - mu) / sigma) * sigma + mu;
        continue;
      }
      // Optuna's categorical kernel: (1[choice = observed] + a) / (1 + C a); the prior's uniform.
      const std::size_t choices = dims_[k].count;
      const bool prior = active_[c] + 1 == components_;
      const double a = prior ? 1.0 : prior_kernel_mass_,
                   total = prior ? static_cast<double>(choices) : 1.0 + static_cast<double>(choices) * a;
      const double u = rng.random_sample();
      std::size_t chosen = 0;
      double running = 0.0;
      for (std::size_t choice = 0; choice + 1 < choices; ++choice) {
        running += ((!prior && observed_[at] == choice ? 1.0 : 0.0) + a) / total;
        if (running < u) chosen = choice + 1;
      }
      out[c] = centre(chosen, choices);
    }
  }

  // Univariate: log of the coordinate's mixture density at x (a categorical's probability; a linear
  // integer's: the mass of x's cell).
  double log_density_coordinate(std::size_t k, double x) const {
    if (dims_[k].kind == Kind::categorical) return log_table_[offset_[k] + unit_cell(x, dims_[k].count)];
    const std::size_t first = kernel_offset_[k], size = kernel_offset_[k + 1] - first;
    const double* mu = kernel_mu_.data() + first;
    const double* inv_sigma = kernel_inv_sigma_.data() + first;
    if (scored_by_cell(dims_[k])) {
      // A kernel whose nearest point of the cell is 8.5 sigma away adds below 1e-17 of its weight.
      const auto [lo, hi] = cell_bounds(x, dims_[k].count);
      const double* share = kernel_share_.data() + first;
      double sum = 0.0;
      for (std::size_t i = 0; i < size; ++i) {
        if ((lo - mu[i]) * inv_sigma[i] > 8.5 || (hi - mu[i]) * inv_sigma[i] < -8.5) continue;
        sum += share[i] * interval_mass(lo, hi, mu[i], inv_sigma[i]);
      }
      return std::log(sum);
    }
    const double* coef = kernel_coef_.data() + first;
    const double* cut = kernel_cut_.data() + first;
    double sum = 0.0;
    for (std::size_t i = 0; i < size; ++i) {
      const double z = (x - mu[i]) * inv_sigma[i];
      const double t = z * z;
      if (t < cut[i]) sum += coef[i] * std::exp(-0.5 * t);
    }
    return std::log(sum);
  }

  // Multivariate: one point from one component's joint kernel.
  void sample_point(std::span<double> x, std::mt19937_64& rng) const {
    const std::size_t i = pick(rng);
    for (std::size_t k = 0; k < dims_.size(); ++k) x[k] = sample_kernel(k, i, rng);
  }

  // Multivariate: log of the joint mixture density at x (log-sum-exp over components). Each
  // component's constant (weight, normalizers, the prior's categorical 1/C) is in log_const_.
  double log_density(std::span<const double> x) {
    const std::size_t count = components_, n = count - 1;
    terms_.assign(log_const_.begin(), log_const_.end());
    double* term = terms_.data();
    for (std::size_t k = 0; k < dims_.size(); ++k) {
      const std::size_t base = k * count;
      if (dims_[k].kind == Kind::categorical) {
        const std::size_t c = unit_cell(x[k], dims_[k].count);
        const std::size_t* observed = observed_.data() + base;
        for (std::size_t i = 0; i < n; ++i) term[i] += observed[i] == c ? log_peak_[k] : log_base_[k];
      } else if (scored_by_cell(dims_[k])) {
        const auto [lo, hi] = cell_bounds(x[k], dims_[k].count);
        const double* mu = mu_.data() + base;
        const double* inv_sigma = inv_sigma_.data() + base;
        for (std::size_t i = 0; i < count; ++i) term[i] += std::log(interval_mass(lo, hi, mu[i], inv_sigma[i]));
      } else {
        const double* mu = mu_.data() + base;
        const double* inv_sigma = inv_sigma_.data() + base;
        for (std::size_t i = 0; i < count; ++i) {
          const double z = (x[k] - mu[i]) * inv_sigma[i];
          term[i] -= 0.5 * z * z;
        }
      }
    }
    const double top = *std::max_element(terms_.begin(), terms_.end());  // finite: the prior's
    double sum = 0.0;
    for (std::size_t i = 0; i < count; ++i) {
      const double shifted = term[i] - top;
      if (shifted > -40.0) sum += std::exp(shifted);
    }
    return top + std::log(sum);
  }

 private:
  static bool same_dimension(const Dimension& a, const Dimension& b) { return a.kind == b.kind && a.count == b.count; }

  static double centre(std::size_t c, std::size_t count) {
    return (static_cast<double>(c) + 0.5) / static_cast<double>(count);
  }

  // The mass of N(mu, 1 / inv^2) inside [0, 1]: 1 - P(X > (1 - mu) inv) - P(X > mu inv).
  static double inside(double mu, double inv) { return 1.0 - upper_tail((1.0 - mu) * inv) - upper_tail(mu * inv); }

  void set_dimensions(std::span<const Dimension> dims) {
    dims_.assign(dims.begin(), dims.end());
    offset_.assign(dims.size() + 1, 0);
    for (std::size_t k = 0; k < dims.size(); ++k) {
      offset_[k + 1] = offset_[k] + (dims[k].kind == Kind::categorical ? dims[k].count : 0);
    }
    table_.assign(offset_.back(), 0.0);
    log_table_.assign(offset_.back(), 0.0);
    log_peak_.assign(dims.size(), 0.0);
    log_base_.assign(dims.size(), 0.0);
    kernel_offset_.assign(dims.size() + 1, 0);
  }

  std::size_t pick(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0.0, cumulative_.back())(rng);
    const auto found = std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin();
    return std::min(static_cast<std::size_t>(found), components_ - 1);
  }

  double sample_kernel(std::size_t k, std::size_t i, std::mt19937_64& rng) const {
    const std::size_t at = k * components_ + i;
    if (dims_[k].kind != Kind::categorical) return search::detail::truncated_normal_unit(mu_[at], sigma_[at], rng);
    const std::size_t choices = dims_[k].count;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    // Optuna's kernel: the observed choice with mass 1 / (1 + C a), else uniform (the prior: uniform).
    if (i + 1 < components_ && unit(rng) * (1.0 + static_cast<double>(choices) * prior_kernel_mass_) < 1.0) {
      return centre(observed_[at], choices);
    }
    return centre(std::min(static_cast<std::size_t>(unit(rng) * static_cast<double>(choices)), choices - 1), choices);
  }

  void fit_categorical(std::size_t k, std::size_t n, const TpeOptions& options) {
    const std::size_t count = n + 1, base = k * count, choices = dims_[k].count;
    const auto c_count = static_cast<double>(choices);
    for (std::size_t i = 0; i < n; ++i) observed_[base + i] = unit_cell(mu_[base + i], choices);
    // Optuna's categorical kernel: prior_weight / (n + 1) spread on every choice, 1 on the observed.
    const double a = options.prior_weight / static_cast<double>(count);
    prior_kernel_mass_ = a;
    if (multivariate_) {
      log_peak_[k] = std::log((1.0 + a) / (1.0 + c_count * a));
      log_base_[k] = std::log(a / (1.0 + c_count * a));
      log_const_[n] -= std::log(c_count);
      return;
    }
    double* p = table_.data() + offset_[k];
    std::fill(p, p + choices, 0.0);
    if constexpr (Rules::categoricals == CategoricalRule::weighted_counts) {
      // Hyperopt's categorical posterior: linear-forgetting counts plus prior_weight per choice.
      double total = c_count * options.prior_weight;
      for (std::size_t i = 0; i < n; ++i) {
        const double w = Rules::weight(i, n);
        p[observed_[base + i]] += w;
        total += w;
      }
      for (std::size_t c = 0; c < choices; ++c) p[c] = (p[c] + options.prior_weight) / total;
    } else {
      // The mixture of Optuna's kernels collapses to one table per coordinate.
      double observed_weight = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        p[observed_[base + i]] += weight_[i];
        observed_weight += weight_[i];
      }
      for (std::size_t c = 0; c < choices; ++c) {
        p[c] = (p[c] + a * observed_weight) / (1.0 + c_count * a) + weight_[n] / c_count;
      }
    }
    double* log_p = log_table_.data() + offset_[k];
    for (std::size_t c = 0; c < choices; ++c) log_p[c] = std::log(p[c]);
  }

  void fit_numeric(std::size_t k, std::size_t n, std::span<const std::uint32_t> sorted, const TpeOptions& options) {
    const std::size_t count = n + 1, base = k * count;
    double* sigma = sigma_.data() + base;
    if (multivariate_) {
      // Optuna's multivariate bandwidth: 0.2 n^(-1/(d+4)) of the range (a Scott-like rule).
      const double dims = static_cast<double>(dims_.size());
      const double width = 0.2 * std::pow(static_cast<double>(std::max<std::size_t>(n, 1)), -1.0 / (dims + 4.0));
      std::fill(sigma, sigma + n, width);
    } else {
      neighbour_bandwidths(base, n, sorted.subspan(k * n, n), options);
    }
    // The magic clip: sigma in [range / min(100, 1 + n + 1), range] (Bergstra et al. 2011; Optuna).
    const double lowest =
        options.consider_magic_clip || Rules::always_clip ? 1.0 / std::min(100.0, static_cast<double>(n + 2)) : 1e-12;
    for (std::size_t i = 0; i < n; ++i) sigma[i] = std::clamp(sigma[i], lowest, 1.0);
    sigma[n] = 1.0;  // the prior: the whole range
    for (std::size_t i = 0; i < count; ++i) inv_sigma_[base + i] = 1.0 / sigma[i];
    if (multivariate_) {
      fold_normalizers(k, base, n);
    } else {
      merge_kernels(base, count);
    }
  }

  // Multivariate: each component's log constant gains -log(sigma sqrt(2 pi) Z) of this coordinate
  // (-log Z only for a coordinate scored by cell masses). The observations share one sigma, so Z
  // depends on mu only: repeated values reuse it.
  void fold_normalizers(std::size_t k, std::size_t base, std::size_t n) {
    const double* mu = mu_.data() + base;
    const double* inv_sigma = inv_sigma_.data() + base;
    const bool density = !scored_by_cell(dims_[k]);
    const double log_sqrt_2pi = density ? 0.5 * std::log(2.0 * std::numbers::pi) : 0.0;
    const double log_sigma = n > 0 && density && !unscaled_ ? std::log(sigma_[base]) : 0.0;
    const double observed_log = n > 0 && density ? -log_sigma - log_sqrt_2pi : 0.0;
    recent_.fill({-1.0, 1.0});
    for (std::size_t i = 0; i < n; ++i) {
      auto& slot = recent_[unit_cell(mu[i], recent_.size())];
      if (slot.first != mu[i]) slot = {mu[i], inside(mu[i], inv_sigma[i])};
      multiply_mass(i, slot.second);
      log_const_[i] += observed_log;
    }
    multiply_mass(n, inside(0.5, 1.0));
    log_const_[n] -= log_sqrt_2pi;
  }

  // Keeps the product of a component's masses in range by moving it into log_const_ when small.
  void multiply_mass(std::size_t i, double mass) {
    mass_product_[i] *= mass;
    if (mass_product_[i] < 1e-200) {
      log_const_[i] -= std::log(mass_product_[i]);
      mass_product_[i] = 1.0;
    }
  }

  // Univariate densities sum w N(x; mu, sigma) / Z over the kernels in order of mu (cell masses: the
  // kernels' shares w / Z times their mass on the cell); kernels with
  // equal mu and sigma (an integer's repeated values) are one term with the summed weight.
  // A term below 1e-10 of the prior's least value (coef e^(-1/8)) is skipped: it can't move a log
  // density by more than 1e-10 per kernel. coef e^(-t/2) < floor <=> t > 2 ln(coef / floor), which
  // is bounded above through the binary exponent (no log).
  void merge_kernels(std::size_t base, std::size_t count) {
    const double* mu = mu_.data() + base;
    const double* inv_sigma = inv_sigma_.data() + base;
    const std::size_t first = kernel_mu_.size();
    for (std::size_t j = 0; j < count; ++j) {
      const std::size_t i = order_[j];
      if (kernel_mu_.size() > first && kernel_mu_.back() == mu[i] && kernel_inv_sigma_.back() == inv_sigma[i]) {
        kernel_coef_.back() += weight_[i];
        continue;
      }
      kernel_mu_.push_back(mu[i]);
      kernel_inv_sigma_.push_back(inv_sigma[i]);
      kernel_coef_.push_back(weight_[i]);
    }
    const double scale = 1.0 / std::sqrt(2.0 * std::numbers::pi);
    kernel_share_.resize(kernel_mu_.size());
    for (std::size_t j = first; j < kernel_mu_.size(); ++j) {
      kernel_share_[j] = kernel_coef_[j] / inside(kernel_mu_[j], kernel_inv_sigma_[j]);
      kernel_coef_[j] = kernel_share_[j] * scale * (unscaled_ ? 1.0 : kernel_inv_sigma_[j]);
    }
    const std::size_t n = count - 1;
    const double floor = weight_[n] * scale / inside(0.5, 1.0) * std::exp(-0.125) * 1e-10;
    for (std::size_t j = first; j < kernel_mu_.size(); ++j) {
      const double ratio = kernel_coef_[j] / floor;
      kernel_cut_.push_back(ratio <= 1.0 ? 0.0 : 2.0 * std::numbers::ln2 * (std::ilogb(ratio) + 1));
    }
  }

  // Univariate bandwidths: the larger gap to a sorted neighbour, the prior's 0.5 included (Optuna's
  // _ParzenEstimator; hyperopt's adaptive_parzen_normal). Leaves the kernels' order in order_.
  void neighbour_bandwidths(std::size_t base, std::size_t n, std::span<const std::uint32_t> sorted,
                            const TpeOptions& options) {
    double* sigma = sigma_.data() + base;
    const double* mu = mu_.data() + base;
    // The observations in order, the prior (0.5, the last index) merged in after its equals.
    // With optuna_stream, repeated values in numpy's argsort order instead, as Optuna's.
    const std::size_t count = n + 1;
    std::size_t j = 0;
    if (options.optuna_stream) {
      numpy_argsort(std::span<const double>(mu, count), order_);
    } else {
      order_.resize(count);
      for (std::size_t r = 0; r < n; ++r) {
        if (j == r && mu[sorted[r]] > 0.5) order_[j++] = n;
        order_[j++] = sorted[r];
      }
      if (j == n) order_[j] = n;
    }
    if (n == 0) return;
    if (Rules::lone_bandwidth > 0.0 && n == 1) {
      sigma[0] = Rules::lone_bandwidth;
      return;
    }
    const bool endpoints = options.consider_endpoints;
    for (j = 0; j < count; ++j) {
      const double at = mu[order_[j]];
      const double below = j == 0 ? 0.0 : mu[order_[j - 1]];
      const double above = j + 1 == count ? 1.0 : mu[order_[j + 1]];
      double width = std::max(at - below, above - at);
      if (!endpoints && j == 0) width = above - at;
      if (!endpoints && j + 1 == count) width = at - below;
      if (order_[j] < n) sigma[order_[j]] = width;
    }
  }

  std::vector<Dimension> dims_;
  std::vector<std::size_t> offset_;  // of each categorical coordinate's table
  std::size_t components_ = 0;
  bool multivariate_ = false;
  bool unscaled_ = false;           // real kernels without their 1 / sigma (KernelHeight::unscaled)
  double prior_kernel_mass_ = 0.0;  // a = prior_weight / (n + 1) of the categorical kernel
  std::vector<double> weight_, cumulative_;
  std::vector<double> mu_, sigma_, inv_sigma_;  // per kernel
  std::vector<std::size_t> observed_;           // per kernel of a categorical coordinate: the choice
  // Univariate: the density terms of coordinate k, [kernel_offset_[k], kernel_offset_[k + 1]).
  std::vector<std::size_t> kernel_offset_;
  std::vector<double> kernel_mu_, kernel_inv_sigma_, kernel_coef_, kernel_cut_;
  std::vector<double> kernel_share_;       // w / Z: a kernel's weight over its mass inside [0, 1]
  std::vector<double> table_, log_table_;  // univariate categorical probabilities
  // Multivariate: per component, log(weight / prod Z) and normalizers; per categorical coordinate,
  // the log kernel at the observed choice and elsewhere.
  std::vector<double> log_const_, mass_product_, log_peak_, log_base_;
  std::array<std::pair<double, double>, 64> recent_{};  // (mu, Z) of recently seen values
  std::vector<std::size_t> order_;
  std::vector<double> terms_;
  std::vector<double> normalized_;           // numpy's cdf of the weights (sample_coordinate_as_optuna)
  mutable std::vector<std::size_t> active_;  // sample_coordinate_as_optuna: the kernels drawn
};

}  // namespace mahpo::search::tpe::detail
