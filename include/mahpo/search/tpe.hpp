#pragma once
// TPE, the tree-structured Parzen estimator (Bergstra et al., "Algorithms for hyper-parameter
// optimization", NeurIPS 2011; Watanabe, "Tree-structured Parzen estimator: understanding its
// algorithm components and their roles for better empirical performance", 2023), with the defaults
// of Optuna's TPESampler.
//
// After `startup_trials` usable trials (ok or pruned; failed and diverged ones don't count) drawn
// from the prior, each ask splits the usable trials by loss: the best gamma(n) = min(ceil(n / 10), 25)
// form the "below" group, the rest the "above" group. A Parzen estimator is fitted to each in the
// unit cube, l(x) to below and g(x) to above; `candidates` (24) draws from l are scored by
// log l(x) - log g(x) and the best is asked.
//
// The estimators, as Optuna's _ParzenEstimator:
// - components: one kernel per observation plus a prior kernel (a Gaussian at 0.5 with sigma 1, the
//   whole range, on numeric coordinates; uniform on categoricals) of weight `prior_weight` (1);
// - mixture weights: Optuna's default_weights, oldest first: 1 for all of n <= 25 observations, else
//   a ramp from 1/n to 1 for the n - 25 oldest and 1 for the newest 25 (hyperopt's linear forgetting);
// - numeric coordinates: Gaussians truncated to [0, 1]. Univariate bandwidths by Optuna's rule: sorted
//   with the prior's 0.5, each kernel's sigma is the larger gap to its neighbours, the domain's ends
//   counting as neighbours; unless `consider_endpoints`, the first and last kernel take their inner
//   gap only. Multivariate bandwidths by Optuna's Scott-like rule 0.2 n^(-1/(d+4)). Either is clipped
//   to [1 / min(100, n + 2), 1] (the "magic clip"; [1e-12, 1] without it);
// - categorical coordinates: Optuna's kernel, (1[c = observed] + a) / (1 + C a) with
//   a = prior_weight / (n + 1) and C choices.
// Univariate (the default) treats each coordinate on its own, as Optuna's independent sampling
// does: each coordinate draws its own candidates and keeps its own best. `multivariate` uses one
// joint kernel per observation (a product over coordinates, one component choice per draw) and
// scores whole points, as Optuna's multivariate TPE.
//
// Pending trials: with `constant_liar` (the default here; Optuna's is false, but mahpo studies run
// trials in parallel) trials asked and not yet told join the above group, as the worst losses, and
// don't count in n, as in Optuna.
//
// `hyperopt_mode` follows hyperopt's TPE (v0.1.2 and on) instead: gamma(n) = min(ceil(sqrt(n) / 4),
// 25), one observation gets sigma 0.5 (otherwise the neighbour rule without the domain's ends),
// categoricals as weighted counts plus `prior_weight` pseudo-counts; univariate, magic clip always.
// Hyperopt starts with 20 random trials: set `startup_trials` for that.
//
// Choices the references leave open, or where mahpo differs:
// - Everything happens in the unit cube of S (log-scale parameters are log-uniform there, integers
//   own equal cells, as Optuna's int ranges widened by half a step).
// - Integers are drawn as continuous coordinates and snapped to their cell's centre
//   (P::encode(P::decode(u)), search::snap per coordinate); the continuous density is scored at the
//   snapped point (Optuna scores a discretized truncated Gaussian, the cell's mass).
// - gamma uses exact integer ceilings (Optuna's float ceil(0.1 * 30) gives 4, ours 3).
// - Pruned trials rank after every ok trial (as Optuna); a NaN loss ranks last; ties go to the
//   older trial.
// - Startup trials are S::sample on the searcher's engine, so they equal Random<S>'s with the same
//   seed.
// - Univariate numeric densities skip terms below 1e-10 of the prior's least value and merge kernels
//   with equal mu and sigma (an integer's repeats); an integer's score is computed once per value
//   and fit. The fit is redone only when a tell (or, with the liar, an ask) changed the history.

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
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <mahpo/objective.hpp>
#include <mahpo/search/searcher.hpp>

namespace mahpo::search {

struct TpeOptions {
  std::size_t startup_trials = 10;  // prior draws until this many usable trials are told
  std::size_t candidates = 24;      // draws from l(x) scored per ask (per coordinate when univariate)
  double prior_weight = 1.0;        // the prior kernel's weight, against 1 per recent observation
  bool consider_magic_clip = true;  // bandwidths at least 1 / min(100, n + 2)
  bool consider_endpoints = false;  // the domain's ends count as neighbours of the outer kernels
  bool multivariate = false;        // joint kernels (Optuna's multivariate TPE)
  bool hyperopt_mode = false;       // hyperopt's gamma, bandwidths and categoricals
  bool constant_liar = true;        // pending trials join the above group
};

// Optuna's default_gamma: how many of n observations form l(x) (Optuna, samplers/_tpe/sampler.py).
inline std::size_t tpe_default_gamma(std::size_t n) { return std::min<std::size_t>((n + 9) / 10, 25); }

// Hyperopt's gamma, min(ceil(0.25 sqrt(n)), 25) (hyperopt's tpe.ap_split_trials; Optuna's
// hyperopt_default_gamma).
inline std::size_t tpe_hyperopt_gamma(std::size_t n) {
  // The smallest m with 16 m^2 >= n, i.e. m >= sqrt(n) / 4, in integers.
  auto m = static_cast<std::size_t>(std::ceil(0.25 * std::sqrt(static_cast<double>(n))));
  while (m > 0 && 16 * (m - 1) * (m - 1) >= n) --m;
  while (16 * m * m < n) ++m;
  return std::min<std::size_t>(m, 25);
}

// The weight of the i-th oldest of n observations: Optuna's default_weights, hyperopt's linear
// forgetting with 25 (Bergstra et al. 2013): a ramp linspace(1/n, 1, n - 25), then 25 ones.
inline double tpe_weight(std::size_t i, std::size_t n) {
  constexpr std::size_t flat = 25;
  if (n <= flat || i >= n - flat) return 1.0;
  const std::size_t ramp = n - flat;
  const double first = 1.0 / static_cast<double>(n);
  if (ramp == 1) return first;
  return first + (1.0 - first) * static_cast<double>(i) / static_cast<double>(ramp - 1);
}

inline std::vector<double> tpe_default_weights(std::size_t n) {
  std::vector<double> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = tpe_weight(i, n);
  return all;
}

namespace detail {

// P(X > t) of a standard normal, for t >= 0; 0 past 8.5 (below 1e-17).
inline double tpe_upper_tail(double t) { return t > 8.5 ? 0.0 : 0.5 * std::erfc(t / std::numbers::sqrt2); }

// One Parzen estimator (l or g) over the unit cube: kernels for n observations plus the prior's.
// Per-kernel arrays are flat, coordinate-major: [k * components + i]; the prior is kernel n.
class TpeParzen {
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
      throw std::invalid_argument(fmt::format("mahpo::tpe: a univariate fit needs {} sorted indices, got {}", d * n,
                                              sorted.size()));
    }
    components_ = count;
    hyperopt_ = options.hyperopt_mode;
    multivariate_ = options.multivariate;

    // Mixture weights: default_weights(n) and the prior's, normalized (Optuna's _ParzenEstimator).
    weight_.resize(count);
    double total = options.prior_weight;
    for (std::size_t i = 0; i < n; ++i) total += weight_[i] = tpe_weight(i, n);
    weight_[n] = options.prior_weight;
    cumulative_.resize(count);
    double running = 0.0;
    for (std::size_t i = 0; i < count; ++i) {
      weight_[i] /= total;
      cumulative_[i] = running += weight_[i];
    }

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

  // Univariate: log of the coordinate's mixture density (a categorical's probability) at x.
  double log_density_coordinate(std::size_t k, double x) const {
    if (dims_[k].kind == Kind::categorical) return log_table_[offset_[k] + unit_cell(x, dims_[k].count)];
    const std::size_t first = kernel_offset_[k], size = kernel_offset_[k + 1] - first;
    const double* mu = kernel_mu_.data() + first;
    const double* inv_sigma = kernel_inv_sigma_.data() + first;
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
      } else {
        const double* mu = mu_.data() + base;
        const double* inv_sigma = inv_sigma_.data() + base;
        for (std::size_t i = 0; i < count; ++i) {
          const double z = (x[k] - mu[i]) * inv_sigma[i];
          term[i] -= 0.5 * z * z;
        }
      }
    }
    const double top = *std::max_element(terms_.begin(), terms_.end());
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
  static double inside(double mu, double inv) {
    return 1.0 - tpe_upper_tail((1.0 - mu) * inv) - tpe_upper_tail(mu * inv);
  }

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
    if (dims_[k].kind != Kind::categorical) return truncated_normal_unit(mu_[at], sigma_[at], rng);
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
    if (hyperopt_) {
      // Hyperopt's categorical posterior: linear-forgetting counts plus prior_weight per choice.
      double total = c_count * options.prior_weight;
      for (std::size_t i = 0; i < n; ++i) {
        const double w = tpe_weight(i, n);
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
    const double lowest = options.consider_magic_clip || options.hyperopt_mode
                              ? 1.0 / std::min(100.0, static_cast<double>(n + 2))
                              : 1e-12;
    for (std::size_t i = 0; i < n; ++i) sigma[i] = std::clamp(sigma[i], lowest, 1.0);
    sigma[n] = 1.0;  // the prior: the whole range
    for (std::size_t i = 0; i < count; ++i) inv_sigma_[base + i] = 1.0 / sigma[i];
    if (multivariate_) {
      fold_normalizers(base, n);
    } else {
      merge_kernels(base, count);
    }
  }

  // Multivariate: each component's log constant gains -log(sigma sqrt(2 pi) Z) of this coordinate.
  // The observations share one sigma, so Z depends on mu only: repeated values reuse it.
  void fold_normalizers(std::size_t base, std::size_t n) {
    const double* mu = mu_.data() + base;
    const double* inv_sigma = inv_sigma_.data() + base;
    const double log_sqrt_2pi = 0.5 * std::log(2.0 * std::numbers::pi);
    const double observed_log = n > 0 ? -std::log(sigma_[base]) - log_sqrt_2pi : 0.0;
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

  // Univariate densities sum w N(x; mu, sigma) / Z over the kernels in order of mu; kernels with
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
    for (std::size_t j = first; j < kernel_mu_.size(); ++j) {
      kernel_coef_[j] *= scale * kernel_inv_sigma_[j] / inside(kernel_mu_[j], kernel_inv_sigma_[j]);
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
    const std::size_t count = n + 1;
    order_.resize(count);
    std::size_t j = 0;
    for (std::size_t r = 0; r < n; ++r) {
      if (j == r && mu[sorted[r]] > 0.5) order_[j++] = n;
      order_[j++] = sorted[r];
    }
    if (j == n) order_[j] = n;
    if (n == 0) return;
    if (options.hyperopt_mode && n == 1) {
      sigma[0] = 0.5;  // hyperopt: a lone observation gets half the prior's sigma
      return;
    }
    const bool endpoints = options.consider_endpoints && !options.hyperopt_mode;
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
  bool hyperopt_ = false;
  bool multivariate_ = false;
  double prior_kernel_mass_ = 0.0;  // a = prior_weight / (n + 1) of the categorical kernel
  std::vector<double> weight_, cumulative_;
  std::vector<double> mu_, sigma_, inv_sigma_;  // per kernel
  std::vector<std::size_t> observed_;          // per kernel of a categorical coordinate: the choice
  // Univariate: the density terms of coordinate k, [kernel_offset_[k], kernel_offset_[k + 1]).
  std::vector<std::size_t> kernel_offset_;
  std::vector<double> kernel_mu_, kernel_inv_sigma_, kernel_coef_, kernel_cut_;
  std::vector<double> table_, log_table_;  // univariate categorical probabilities
  // Multivariate: per component, log(weight / prod Z) and normalizers; per categorical coordinate,
  // the log kernel at the observed choice and elsewhere.
  std::vector<double> log_const_, mass_product_, log_peak_, log_base_;
  std::array<std::pair<double, double>, 64> recent_{};  // (mu, Z) of recently seen values
  std::vector<std::size_t> order_;
  std::vector<double> terms_;
};

}  // namespace detail

template <typename S>
class Tpe {
 public:
  using space_type = S;
  static constexpr std::string_view name = "tpe";

  explicit Tpe(SearchOptions options = {}, TpeOptions tpe = {})
      : options_(options), tpe_(checked(tpe)), history_(options.goal), rng_(options.seed), dims_(dimensions<S>()) {
    S::for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      if constexpr (!P::is_fixed && !requires { P::count; } && std::same_as<typename P::value_type, std::int64_t>) {
        const std::size_t k = S::free_position(decltype(index)::value);
        snap_[k] = [](double u) { return P::encode(P::decode(u)); };
        cell_[k] = [](double u) { return static_cast<std::size_t>(P::decode(u) - P::lower); };
      }
    });
    memo_offset_[0] = 0;
    for (std::size_t k = 0; k < S::dimension; ++k) {
      const bool memoized = cell_[k] != nullptr && dims_[k].count <= memo_limit;
      memo_offset_[k + 1] = memo_offset_[k] + (memoized ? dims_[k].count : 0);
    }
  }

  Trial<S> ask() {
    const bool startup = usable_ < tpe_.startup_trials || S::dimension == 0;
    const Trial<S>& trial = history_.add(startup ? S::sample(rng_) : propose(), options_.budget);
    if (!tpe_.multivariate) index(trial.id);
    return trial;
  }

  void tell(std::size_t id, const Result& result) {
    if (history_.tell(id, result, name).usable()) ++usable_;
  }

  const SearchOptions& options() const { return options_; }
  const TpeOptions& tpe_options() const { return tpe_; }
  const History<S>& history() const { return history_; }

 private:
  static constexpr std::size_t memo_limit = 4096;  // integers with at most this many values cache their scores

  static TpeOptions checked(TpeOptions tpe) {
    if (tpe.candidates == 0) throw std::invalid_argument("mahpo::tpe: candidates must be at least 1");
    if (!(tpe.prior_weight > 0.0) || !std::isfinite(tpe.prior_weight)) {
      throw std::invalid_argument(
          fmt::format("mahpo::tpe: prior_weight must be positive and finite, got {}", tpe.prior_weight));
    }
    if (tpe.hyperopt_mode && tpe.multivariate) {
      throw std::invalid_argument("mahpo::tpe: hyperopt_mode is univariate, as hyperopt; set multivariate = false");
    }
    if (tpe.hyperopt_mode && tpe.consider_endpoints) {
      throw std::invalid_argument(
          "mahpo::tpe: hyperopt_mode never counts the domain's ends as neighbours; set consider_endpoints = false");
    }
    if (tpe.hyperopt_mode && !tpe.consider_magic_clip) {
      throw std::invalid_argument("mahpo::tpe: hyperopt_mode always clips bandwidths; set consider_magic_clip = true");
    }
    return tpe;
  }

  // Orders usable trials best first: ok before pruned (as Optuna), then loss (NaN last), then age.
  struct Rank {
    bool pruned;
    double loss;
    std::size_t id;
    bool operator<(const Rank& other) const {
      if (pruned != other.pruned) return !pruned;
      if (loss != other.loss) return loss < other.loss;
      return id < other.id;
    }
  };

  // Keeps every asked trial's id sorted by each coordinate (then by id), for the bandwidths.
  void index(std::size_t id) {
    const auto& entries = history_.entries();
    for (std::size_t k = 0; k < S::dimension; ++k) {
      auto& list = by_coordinate_[k];
      const double value = entries[id].point[k];
      const auto at = std::upper_bound(list.begin(), list.end(), value, [&](double v, std::uint32_t other) {
        return v < entries[other].point[k];
      });
      list.insert(at, static_cast<std::uint32_t>(id));
    }
  }

  Config<S> propose() {
    fit();
    std::array<double, S::dimension> point{};
    if (tpe_.multivariate) {
      propose_joint(point);
    } else {
      for (std::size_t k = 0; k < S::dimension; ++k) point[k] = propose_coordinate(k);
    }
    return S::from_unit_cube(point);
  }

  // Splits the history into below and above and fits l and g; reuses the last fit when nothing
  // it depends on changed.
  void fit() {
    const std::size_t pending_seen = tpe_.constant_liar ? history_.asked() : 0;
    if (fitted_ && fitted_finished_ == history_.finished() && fitted_asked_ == pending_seen) return;
    fitted_ = true;
    fitted_finished_ = history_.finished();
    fitted_asked_ = pending_seen;

    const auto& entries = history_.entries();
    ranks_.clear();
    for (const auto& entry : entries) {
      if (!entry.usable()) continue;
      const double loss = std::isnan(entry.loss) ? std::numeric_limits<double>::infinity() : entry.loss;
      ranks_.push_back({entry.result.status == Status::pruned, loss, entry.id});
    }
    const std::size_t n = ranks_.size();
    const std::size_t below_count = std::min(n, tpe_.hyperopt_mode ? tpe_hyperopt_gamma(n) : tpe_default_gamma(n));
    if (below_count < n) {
      std::nth_element(ranks_.begin(), ranks_.begin() + static_cast<std::ptrdiff_t>(below_count), ranks_.end());
    }
    group_.assign(entries.size(), none);
    for (std::size_t r = 0; r < below_count; ++r) group_[ranks_[r].id] = below;

    // Each group in age order (for the weights); position_ is a trial's index in its group.
    below_points_.clear();
    above_points_.clear();
    position_.resize(entries.size());
    for (const auto& entry : entries) {
      auto& group = group_[entry.id];
      if (!entry.usable() && !(tpe_.constant_liar && !entry.finished)) continue;  // pending: the constant liar
      if (group != below) group = above;
      auto& points = group == below ? below_points_ : above_points_;
      position_[entry.id] = static_cast<std::uint32_t>(points.size());
      points.push_back(entry.point.data());
    }
    if (!tpe_.multivariate) {
      const std::size_t nb = below_points_.size(), na = above_points_.size();
      below_sorted_.resize(S::dimension * nb);
      above_sorted_.resize(S::dimension * na);
      for (std::size_t k = 0; k < S::dimension; ++k) {
        std::size_t b = k * nb, a = k * na;
        for (const std::uint32_t id : by_coordinate_[k]) {
          if (group_[id] == below) below_sorted_[b++] = position_[id];
          if (group_[id] == above) above_sorted_[a++] = position_[id];
        }
      }
    }
    below_.fit(dims_, below_points_, below_sorted_, tpe_);
    above_.fit(dims_, above_points_, above_sorted_, tpe_);
    memo_.assign(memo_offset_.back(), std::numeric_limits<double>::quiet_NaN());
  }

  double snapped(std::size_t k, double u) const { return snap_[k] != nullptr ? snap_[k](u) : u; }

  double score(std::size_t k, double x) {
    if (memo_offset_[k + 1] == memo_offset_[k]) {
      return below_.log_density_coordinate(k, x) - above_.log_density_coordinate(k, x);
    }
    double& cached = memo_[memo_offset_[k] + cell_[k](x)];
    if (std::isnan(cached)) cached = below_.log_density_coordinate(k, x) - above_.log_density_coordinate(k, x);
    return cached;
  }

  // Univariate: the best of `candidates` draws from l for coordinate k, by log l - log g.
  double propose_coordinate(std::size_t k) {
    double best = 0.5, best_score = -std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < tpe_.candidates; ++c) {
      const double x = snapped(k, below_.sample_coordinate(k, rng_));
      const double value = score(k, x);
      if (c == 0 || value > best_score) {
        best = x;
        best_score = value;
      }
    }
    return best;
  }

  // Multivariate: the best of `candidates` joint draws from l, by log l - log g.
  void propose_joint(std::array<double, S::dimension>& point) {
    std::array<double, S::dimension> candidate{};
    double best_score = -std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < tpe_.candidates; ++c) {
      below_.sample_point(candidate, rng_);
      for (std::size_t k = 0; k < S::dimension; ++k) candidate[k] = snapped(k, candidate[k]);
      const double value = below_.log_density(candidate) - above_.log_density(candidate);
      if (c == 0 || value > best_score) {
        point = candidate;
        best_score = value;
      }
    }
  }

  enum Group : unsigned char { none, below, above };

  SearchOptions options_;
  TpeOptions tpe_;
  History<S> history_;
  std::mt19937_64 rng_;
  std::array<Dimension, S::dimension> dims_;
  std::array<double (*)(double), S::dimension> snap_{};       // integers: to their cell's centre
  std::array<std::size_t (*)(double), S::dimension> cell_{};  // integers: the value's index
  std::array<std::size_t, S::dimension + 1> memo_offset_{};
  std::size_t usable_ = 0;
  std::array<std::vector<std::uint32_t>, S::dimension> by_coordinate_;

  detail::TpeParzen below_, above_;
  bool fitted_ = false;
  std::size_t fitted_finished_ = 0, fitted_asked_ = 0;
  std::vector<Rank> ranks_;
  std::vector<Group> group_;
  std::vector<std::uint32_t> position_, below_sorted_, above_sorted_;
  std::vector<const double*> below_points_, above_points_;
  std::vector<double> memo_;  // scores of integer values under the current fit; NaN: not yet scored
};

}  // namespace mahpo::search
