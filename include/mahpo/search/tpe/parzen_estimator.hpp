#pragma once
// The Parzen estimator of TPE (l(x) or g(x)): one kernel per observation plus the prior's, in the
// unit cube of a space, fitted, sampled and scored as tpe/tpe.hpp describes; the rules (tpe/rules.hpp)
// give the weights, the bandwidth exceptions and the categorical kernel.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <numbers>
#include <random>
#include <span>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <mahpo/search/tpe/joint_terms.hpp>
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
  // `weights` (one per point), when given, replace the rules' mixture weights (the multi-objective
  // below group's hypervolume contributions).
  void fit(std::span<const Dimension> dims, std::span<const double* const> points,
           std::span<const std::uint32_t> sorted, const TpeOptions& options, std::span<const double> weights = {}) {
    if (dims_.size() != dims.size() || !std::equal(dims.begin(), dims.end(), dims_.begin(), same_dimension)) {
      set_dimensions(dims);
    }
    const std::size_t n = points.size(), count = n + 1, d = dims.size();
    multivariate_ = tpe::multivariate<Rules>(options);
    if (uses_neighbours() && sorted.size() != d * n) {
      throw std::invalid_argument(
          fmt::format("mahpo::tpe: a univariate fit needs {} sorted indices, got {}", d * n, sorted.size()));
    }
    components_ = count;
    unscaled_ = unscaled_kernels<Rules>(options);

    // Mixture weights: default_weights(n) and the prior's, normalized (Optuna's _ParzenEstimator).
    weight_.resize(count);
    double total = options.prior_weight;
    for (std::size_t i = 0; i < n; ++i) total += weight_[i] = weights.empty() ? Rules::weight(i, n) : weights[i];
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
    if (multivariate_) {
      observed32_.resize(d * count);
      cell_base_.resize(d * count);
      cell_lo_.resize(d * count);
      cell_hi_.resize(d * count);
      half_cells_.resize(d * count);
      irregular_.clear();
    }
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
      std::sort(irregular_.begin(), irregular_.end());
      irregular_.erase(std::unique(irregular_.begin(), irregular_.end()), irregular_.end());
      pack();
    }
  }

  std::size_t components() const { return components_; }
  double weight(std::size_t i) const { return weight_[i]; }
  double mu(std::size_t k, std::size_t i) const { return mu_[k * components_ + i]; }
  double sigma(std::size_t k, std::size_t i) const { return sigma_[k * components_ + i]; }
  bool multivariate() const { return multivariate_; }

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
    draw_kernels_as_optuna(rng, out.size());
    for (std::size_t c = 0; c < out.size(); ++c) out[c] = draw_as_optuna(k, active_[c], rng);
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

  // Multivariate, Optuna 5's draws (tpe/optuna_stream.hpp): `count` points into out (point-major,
  // dims().size() coordinates each): `count` kernels by numpy's choice with the mixture weights, then
  // per coordinate, categoricals first and each group in the order `order` lists them (Optuna's
  // search space sorted by name), `count` uniforms: a categorical's against its kernel's cumulative
  // probabilities, a numeric coordinate's through the truncated normal's inverse CDF.
  void sample_points_as_optuna(LegacyRandomState& rng, std::span<const std::size_t> order, std::size_t count,
                               std::vector<double>& out) const {
    const std::size_t d = dims_.size();
    out.resize(count * d);
    draw_kernels_as_optuna(rng, count);
    for (const bool categorical : {true, false}) {
      for (const std::size_t k : order) {
        if ((dims_[k].kind == Kind::categorical) != categorical) continue;
        for (std::size_t c = 0; c < count; ++c) out[c * d + k] = draw_as_optuna(k, active_[c], rng);
      }
    }
  }

  // Multivariate: log of the joint mixture density at x, log-sum-exp over the components. Each
  // component's constant (weight, normalizers, the prior's categorical 1/C) is in log_const_. The
  // observations' terms are computed together, vectorized (tpe/joint_terms.hpp); a linear integer's
  // cell masses come from tables by offset between cells (index_cells); kernels without such a
  // table, and the prior, one by one.
  double log_density(std::span<const double> x) {
    const std::size_t count = components_, n = count - 1;
    reals_.clear();
    categoricals_.clear();
    cells_.clear();
    for (std::size_t k = 0; k < dims_.size(); ++k) {
      const std::size_t base = k * count;
      if (dims_[k].kind == Kind::continuous) {
        reals_.push_back({mu_.data() + base, inv_sigma_.data() + base, x[k]});
        continue;
      }
      x_cell_[k] = unit_cell(x[k], dims_[k].count);
      const auto cell = static_cast<std::int32_t>(x_cell_[k]);
      if (dims_[k].kind == Kind::categorical) {
        categoricals_.push_back({observed32_.data() + base, cell, log_peak_[k], log_base_[k]});
      } else if (scored_by_cell(dims_[k])) {
        if (!cell_tables_[k].lazy.empty()) fill_cells(k, cell);
        cells_.push_back({cell_tables_[k].table.data(), cell_base_.data() + base, cell_lo_.data() + base,
                          cell_hi_.data() + base, cell});
      } else {  // a log-scale integer: the density at its point
        reals_.push_back({mu_.data() + base, inv_sigma_.data() + base, x[k]});
      }
    }
    terms_.resize(n);
    if (packed_dim_ == no_dim) {
      joint_terms({n, log_const_.data(), reals_, categoricals_, cells_}, terms_.data());
      for (const std::size_t i : irregular_) terms_[i] = term(i, x);
      return joint_log_sum_exp(std::span<const double>(terms_.data(), n), term(n, x));
    }
    // Packed (pack()): the kernels of the cells within the clip's radius of x's cell, then the tail.
    const std::size_t cell = x_cell_[packed_dim_], radius = packed_radius_;
    const std::size_t first = packed_bucket_[cell > radius ? cell - radius : 0];
    const std::size_t last = packed_bucket_[std::min(cell + radius + 1, dims_[packed_dim_].count)];
    std::size_t filled = 0;
    for (const auto& [from, to] : {std::pair{first, last}, std::pair{packed_tail_, n}}) {
      reals_.clear();
      categoricals_.clear();
      cells_.clear();
      for (std::size_t k = 0; k < dims_.size(); ++k) {
        const std::size_t base = k * n + from;
        if (dims_[k].kind == Kind::categorical) {
          categoricals_.push_back({packed_ints_.data() + 3 * k * n + from, static_cast<std::int32_t>(x_cell_[k]),
                                   log_peak_[k], log_base_[k]});
        } else if (scored_by_cell(dims_[k])) {
          const std::int32_t* ints = packed_ints_.data() + 3 * k * n + from;
          cells_.push_back({cell_tables_[k].table.data(), ints, ints + n, ints + 2 * n,
                            static_cast<std::int32_t>(x_cell_[k])});
        } else {
          reals_.push_back({packed_mu_.data() + base, packed_inv_sigma_.data() + base, x[k]});
        }
      }
      joint_terms({to - from, packed_log_const_.data() + from, reals_, categoricals_, cells_}, terms_.data() + filled);
      filled += to - from;
    }
    for (const auto& [at, i] : packed_irregular_) terms_[last - first + at - packed_tail_] = term(i, x);
    return joint_log_sum_exp(std::span<const double>(terms_.data(), filled), term(n, x));
  }

 private:
  static bool same_dimension(const Dimension& a, const Dimension& b) { return a.kind == b.kind && a.count == b.count; }

  // Multivariate: component i's log term at x, one by one (x_cell_ set for x).
  double term(std::size_t i, std::span<const double> x) {
    const std::size_t count = components_;
    double value = log_const_[i];
    for (std::size_t k = 0; k < dims_.size(); ++k) {
      const std::size_t at = k * count + i;
      if (dims_[k].kind == Kind::categorical) {
        if (i + 1 < count) value += observed_[at] == x_cell_[k] ? log_peak_[k] : log_base_[k];
      } else if (scored_by_cell(dims_[k])) {
        const auto [lo, hi] = cell_bounds(x[k], dims_[k].count);
        if (i + 1 < count) {
          value += std::log(interval_mass(lo, hi, mu_[at], inv_sigma_[at]));
          continue;
        }
        // The prior's kernel never changes: its cell masses are kept.
        double& cached = prior_cell_mass_[prior_offset_[k] + x_cell_[k]];
        if (std::isnan(cached)) cached = std::log(interval_mass(lo, hi, mu_[at], inv_sigma_[at]));
        value += cached;
      } else {
        const double z = (x[k] - mu_[at]) * inv_sigma_[at];
        value -= 0.5 * z * z;
      }
    }
    return value;
  }

  // Multivariate, a linear integer's coordinate k: points each observation kernel at its log cell
  // masses by offset between cells, in a table per bandwidth (segment()); a kernel off its cell's
  // centre or with another bandwidth is scored one by one (irregular_).
  void index_cells(std::size_t k, std::size_t base, std::size_t n, double lowest) {
    const std::size_t cells = dims_[k].count;
    const double* mu = mu_.data() + base;
    auto& tables = cell_tables_[k];
    const double* centres = tables.centre.data();
    tables.lazy.clear();
    const auto clip = segment(k, 0, lowest);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t c = unit_cell(mu[i], cells);
      const auto half_cells = static_cast<std::size_t>(half_cells_[base + i]);
      if (mu[i] != centres[c]) {
        irregular_.push_back(i);
        cell_base_[base + i] = cell_lo_[base + i] = cell_hi_[base + i] = 0;
        continue;
      }
      const auto [offset, radius] = half_cells == 0 ? clip : segment(k, half_cells, lowest);
      cell_base_[base + i] = offset + radius + 1 - static_cast<std::int32_t>(c);
      cell_lo_[base + i] = offset;
      cell_hi_[base + i] = offset + 2 * radius + 2;
      if (tables.filled[half_cells] < 2 * radius + 1) tables.lazy.push_back(static_cast<std::uint32_t>(i));
    }
  }

  // The entries of coordinate k's table that x's cell reads through kernels of unfinished
  // segments, computed where still missing (NaN).
  void fill_cells(std::size_t k, std::int32_t cell) {
    auto& tables = cell_tables_[k];
    const std::size_t base = k * components_;
    const double width = 1.0 / static_cast<double>(dims_[k].count);
    for (const std::uint32_t i : tables.lazy) {
      const std::int32_t index = std::clamp(cell_base_[base + i] + cell, cell_lo_[base + i], cell_hi_[base + i]);
      double& value = tables.table[static_cast<std::size_t>(index)];
      if (!std::isnan(value)) continue;
      const auto h = static_cast<std::size_t>(half_cells_[base + i]);
      const std::int32_t j = index - tables.offset[h] - tables.radius[h] - 1;
      value = std::log(interval_mass((j - 0.5) * width, (j + 0.5) * width, 0.0, inv_sigma_[base + i]));
      ++tables.filled[h];
    }
  }

  // Multivariate, with a linear integer and a long history: the observation kernels reordered so that
  // log_density scores a slice. By one such coordinate (the one whose clip radius covers the least
  // share of its cells), the kernels with the clip's sigma there and no irregular coordinate go
  // into buckets by their cell; the others into a tail. A bucket more than the clip's radius from x's
  // cell holds kernels whose mass on x's cell is 0 (interval_mass's 8.5 sigma): skipped.
  void pack() {
    const std::size_t n = components_ - 1, d = dims_.size();
    packed_dim_ = no_dim;
    if (n < pack_threshold) return;
    double least = 0.75;  // a slice of three quarters of the cells or more: not worth it
    for (std::size_t k = 0; k < d; ++k) {
      if (!scored_by_cell(dims_[k]) || cell_tables_[k].offset.empty()) continue;
      const double share = static_cast<double>(2 * cell_tables_[k].radius[0] + 1) / static_cast<double>(dims_[k].count);
      if (share < least) {
        least = share;
        packed_dim_ = k;
      }
    }
    if (packed_dim_ == no_dim) return;
    const std::size_t k0 = packed_dim_, cells = dims_[k0].count, base0 = k0 * components_;
    packed_radius_ = static_cast<std::size_t>(cell_tables_[k0].radius[0]);
    const std::int32_t clip_offset = cell_tables_[k0].offset[0];
    // Bucket of each kernel (cells: the tail), by a counting sort.
    bucketed_.assign(n, static_cast<std::uint32_t>(cells));
    for (std::size_t i = 0; i < n; ++i) {
      if (cell_lo_[base0 + i] == clip_offset) {
        bucketed_[i] = static_cast<std::uint32_t>(unit_cell(mu_[base0 + i], cells));
      }
    }
    for (const std::size_t i : irregular_) bucketed_[i] = static_cast<std::uint32_t>(cells);
    packed_bucket_.assign(cells + 2, 0);
    for (std::size_t i = 0; i < n; ++i) ++packed_bucket_[bucketed_[i] + 1];
    for (std::size_t c = 0; c <= cells; ++c) packed_bucket_[c + 1] += packed_bucket_[c];
    packed_tail_ = packed_bucket_[cells];
    packed_index_.resize(n);
    fill_position_.assign(packed_bucket_.begin(), packed_bucket_.end() - 1);
    for (std::size_t i = 0; i < n; ++i) packed_index_[fill_position_[bucketed_[i]]++] = static_cast<std::uint32_t>(i);
    packed_irregular_.clear();
    for (std::size_t j = packed_tail_; j < n; ++j) {
      if (std::binary_search(irregular_.begin(), irregular_.end(), packed_index_[j])) {
        packed_irregular_.push_back({j, packed_index_[j]});
      }
    }
    // The arrays joint_terms reads, in that order (per coordinate: n entries; ints: three blocks of n).
    packed_log_const_.resize(n);
    packed_mu_.resize(d * n);
    packed_inv_sigma_.resize(d * n);
    packed_ints_.resize(3 * d * n);
    for (std::size_t j = 0; j < n; ++j) packed_log_const_[j] = log_const_[packed_index_[j]];
    for (std::size_t k = 0; k < d; ++k) {
      const std::size_t from = k * components_, to = k * n;
      std::int32_t* ints = packed_ints_.data() + 3 * k * n;
      if (dims_[k].kind == Kind::categorical) {
        for (std::size_t j = 0; j < n; ++j) ints[j] = observed32_[from + packed_index_[j]];
      } else if (scored_by_cell(dims_[k])) {
        for (std::size_t j = 0; j < n; ++j) {
          const std::size_t i = from + packed_index_[j];
          ints[j] = cell_base_[i];
          ints[n + j] = cell_lo_[i];
          ints[2 * n + j] = cell_hi_[i];
        }
      } else {
        for (std::size_t j = 0; j < n; ++j) {
          packed_mu_[to + j] = mu_[from + packed_index_[j]];
          packed_inv_sigma_[to + j] = inv_sigma_[from + packed_index_[j]];
        }
      }
    }
  }

  // The table segment of coordinate k's kernels with h half cells of sigma (0: the clip's sigma,
  // `lowest`): [-inf, log mass at offsets -R..R, -inf], R the offset past which a cell is 8.5 sigma
  // away (interval_mass's zero), at most C - 1; its entries are computed now if there are no more of
  // them than kernels, else when first read (fill_cells).
  // Kept across fits; the clip's is started again when the clip moves.
  // The offset between cells past which a kernel of this sigma has no mass (8.5 sigma), at most C - 1.
  static std::int32_t radius_of(double sigma, std::size_t cells) {
    return static_cast<std::int32_t>(
        std::min<double>(static_cast<double>(cells - 1), std::ceil(8.5 * sigma * static_cast<double>(cells) + 0.5)));
  }

  std::pair<std::int32_t, std::int32_t> segment(std::size_t k, std::size_t h, double lowest) {
    const std::size_t cells = dims_[k].count;
    auto& table = cell_tables_[k];
    if (table.offset.empty()) {
      table.offset.assign(2 * cells + 1, -1);
      table.radius.assign(2 * cells + 1, 0);
      table.filled.assign(2 * cells + 1, 0);
      table.table.assign(1, -std::numeric_limits<double>::infinity());
    }
    const double sigma = h == 0 ? lowest : table.half_sigma[h];
    const double inv = 1.0 / sigma;
    if (table.offset[h] >= 0 && (h > 0 || table.clip_inv_sigma == inv)) return {table.offset[h], table.radius[h]};
    const std::int32_t radius = radius_of(sigma, cells);
    std::int32_t offset = table.offset[h];
    if (offset < 0 || radius > table.radius[h]) {
      offset = static_cast<std::int32_t>(table.table.size());
      table.table.resize(table.table.size() + 2 * static_cast<std::size_t>(radius) + 3);
    }
    double* values = table.table.data() + offset;
    values[0] = values[2 * radius + 2] = -std::numeric_limits<double>::infinity();
    const auto size = 2 * static_cast<std::size_t>(radius) + 1;
    if (size <= components_) {  // no dearer than a pass over the kernels: now
      const double width = 1.0 / static_cast<double>(cells);
      for (std::int32_t j = -radius; j <= radius; ++j) {
        values[radius + 1 + j] = std::log(interval_mass((j - 0.5) * width, (j + 0.5) * width, 0.0, inv));
      }
    } else {
      std::fill(values + 1, values + 2 * radius + 2, std::numeric_limits<double>::quiet_NaN());  // fill_cells
    }
    table.offset[h] = offset;
    table.radius[h] = radius;
    table.filled[h] = size <= components_ ? static_cast<std::int32_t>(size) : 0;
    if (h == 0) table.clip_inv_sigma = inv;
    return {offset, radius};
  }

  bool uses_neighbours() const { return !multivariate_ || Rules::joint_bandwidth == JointBandwidth::neighbours; }

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
    prior_offset_.assign(dims.size(), 0);
    std::size_t cells = 0;
    for (std::size_t k = 0; k < dims.size(); ++k) {
      prior_offset_[k] = cells;
      if (scored_by_cell(dims[k])) cells += dims[k].count;
    }
    prior_cell_mass_.assign(cells, std::numeric_limits<double>::quiet_NaN());
    cell_tables_.assign(dims.size(), {});
    for (std::size_t k = 0; k < dims.size(); ++k) {
      if (!scored_by_cell(dims[k])) continue;
      const std::size_t values = dims[k].count;
      auto& table = cell_tables_[k];
      for (std::size_t c = 0; c < values; ++c) table.centre.push_back(centre(c, values));
      for (std::size_t h = 0; h <= 2 * values; ++h) {
        table.half_sigma.push_back(static_cast<double>(h) / (2.0 * static_cast<double>(values)));
        table.half_inv_sigma.push_back(1.0 / table.half_sigma.back());
      }
    }
    x_cell_.assign(dims.size(), 0);
  }

  // numpy's choice(components, p = weights, size = count) into active_.
  void draw_kernels_as_optuna(LegacyRandomState& rng, std::size_t count) const {
    active_.resize(count);
    for (std::size_t& i : active_) {
      const double u = rng.random_sample();
      const auto found = std::upper_bound(normalized_.begin(), normalized_.end(), u) - normalized_.begin();
      i = std::min(static_cast<std::size_t>(found), components_ - 1);
    }
  }

  // Coordinate k from kernel i with one uniform of Optuna's stream: a numeric coordinate's by the
  // truncated normal's inverse CDF, a categorical's against its kernel's cumulative probabilities
  // (Optuna's kernel (1[choice = observed] + a) / (1 + C a); the prior's uniform).
  double draw_as_optuna(std::size_t k, std::size_t i, LegacyRandomState& rng) const {
    const std::size_t at = k * components_ + i;
    if (dims_[k].kind != Kind::categorical) {
      const double mu = mu_[at], sigma = sigma_[at];
      return optuna_truncated_normal_ppf(rng.random_sample(), -mu / sigma, (1.0 - mu) / sigma) * sigma + mu;
    }
    const std::size_t choices = dims_[k].count;
    const bool prior = i + 1 == components_;
    const double a = prior ? 1.0 : prior_kernel_mass_,
                 total = prior ? static_cast<double>(choices) : 1.0 + static_cast<double>(choices) * a;
    const double u = rng.random_sample();
    std::size_t chosen = 0;
    double running = 0.0;
    for (std::size_t choice = 0; choice + 1 < choices; ++choice) {
      running += ((!prior && observed_[at] == choice ? 1.0 : 0.0) + a) / total;
      if (running < u) chosen = choice + 1;
    }
    return centre(chosen, choices);
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
    if (multivariate_) {
      for (std::size_t i = 0; i < n; ++i) observed32_[base + i] = static_cast<std::int32_t>(observed_[base + i]);
    }
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
    if (!uses_neighbours()) {
      // Optuna 3's multivariate bandwidth: 0.2 n^(-1/(d+4)) of the range (a Scott-like rule).
      const double dims = static_cast<double>(dims_.size());
      const double width = 0.2 * std::pow(static_cast<double>(std::max<std::size_t>(n, 1)), -1.0 / (dims + 4.0));
      std::fill(sigma, sigma + n, width);
    } else {
      neighbour_bandwidths(base, n, sorted.subspan(k * n, n), options);
    }
    // The magic clip: sigma in [range / min(100, 1 + n + 1), range] (Bergstra et al. 2011; Optuna).
    const double lowest =
        options.consider_magic_clip || Rules::always_clip ? 1.0 / std::min(100.0, static_cast<double>(n + 2)) : 1e-12;
    if (multivariate_ && scored_by_cell(dims_[k])) {
      // Whole half cells h (the centres' gaps are whole cells), so that kernels share index_cells'
      // tables; sigma and 1 / sigma from the coordinate's table of h / (2 C).
      const auto& table = cell_tables_[k];
      const auto most = static_cast<std::int64_t>(2 * dims_[k].count);
      const double halves = static_cast<double>(most), inv_lowest = 1.0 / lowest;
      for (std::size_t i = 0; i < n; ++i) {
        const auto h = std::min(static_cast<std::int64_t>(sigma[i] * halves + 0.5), most);  // sigma >= 0
        const bool clipped = table.half_sigma[h] <= lowest;
        half_cells_[base + i] = clipped ? 0 : static_cast<std::int32_t>(h);
        sigma[i] = clipped ? lowest : table.half_sigma[h];
        inv_sigma_[base + i] = clipped ? inv_lowest : table.half_inv_sigma[h];
      }
      sigma[n] = 1.0;  // the prior: the whole range
      inv_sigma_[base + n] = 1.0;
    } else {
      for (std::size_t i = 0; i < n; ++i) sigma[i] = std::clamp(sigma[i], lowest, 1.0);
      sigma[n] = 1.0;  // the prior: the whole range
      for (std::size_t i = 0; i < count; ++i) inv_sigma_[base + i] = 1.0 / sigma[i];
    }
    if (multivariate_) {
      fold_normalizers(k, base, n);
      if (scored_by_cell(dims_[k])) index_cells(k, base, n, lowest);
    } else {
      merge_kernels(base, count);
    }
  }

  // Multivariate: each component's log constant gains -log(sigma sqrt(2 pi) Z) of this coordinate
  // (-log Z only for a coordinate scored by cell masses; no sigma for unscaled kernels). Z and sigma
  // go into the component's product (one log per component, in fit); repeated (mu, sigma) pairs, an
  // integer's repeats, reuse their Z.
  void fold_normalizers(std::size_t k, std::size_t base, std::size_t n) {
    const double* mu = mu_.data() + base;
    const double* sigma = sigma_.data() + base;
    const double* inv_sigma = inv_sigma_.data() + base;
    const bool density = !scored_by_cell(dims_[k]);
    const bool scaled = density && !unscaled_;
    const double log_sqrt_2pi = density ? 0.5 * std::log(2.0 * std::numbers::pi) : 0.0;
    recent_.fill({-1.0, 0.0, 1.0});
    for (std::size_t i = 0; i < n; ++i) {
      double mass = 1.0;  // 8.5 sigma from both ends: Z is 1 to the last bit
      if (mu[i] * inv_sigma[i] <= 8.5 || (1.0 - mu[i]) * inv_sigma[i] <= 8.5) {
        auto& [at, inv, known] = recent_[unit_cell(mu[i], recent_.size())];
        if (at != mu[i] || inv != inv_sigma[i]) {
          at = mu[i];
          inv = inv_sigma[i];
          known = inside(at, inv);
        }
        mass = known;
      }
      multiply_mass(i, scaled ? mass * sigma[i] : mass);
      log_const_[i] -= log_sqrt_2pi;
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

  // Bandwidths by the neighbour rule: the larger gap to a sorted neighbour, the domain's ends counting
  // as neighbours; unless `consider_endpoints`, the first and last kernel take their inner gap (when
  // there are two or more centres). The prior's 0.5 is among the centres if Rules::prior_is_neighbour
  // (Optuna 3, hyperopt's adaptive_parzen_normal), not in Optuna 5. Leaves all kernels, the prior
  // included, in order of their centres in order_.
  void neighbour_bandwidths(std::size_t base, std::size_t n, std::span<const std::uint32_t> sorted,
                            const TpeOptions& options) {
    double* sigma = sigma_.data() + base;
    const double* mu = mu_.data() + base;
    const std::size_t count = Rules::prior_is_neighbour ? n + 1 : n;  // the centres the rule sorts
    // The observations in order, with the prior (0.5, the last index) after its equals when it is
    // a neighbour. With optuna_stream, repeated values in numpy's argsort order instead, as Optuna's.
    std::size_t j = 0;
    if (options.optuna_stream) {
      numpy_argsort(std::span<const double>(mu, count), order_);
    } else if constexpr (Rules::prior_is_neighbour) {
      order_.resize(count);
      for (std::size_t r = 0; r < n; ++r) {
        if (j == r && mu[sorted[r]] > 0.5) order_[j++] = n;
        order_[j++] = sorted[r];
      }
      if (j == n) order_[j] = n;
    } else {
      order_.assign(sorted.begin(), sorted.end());
    }
    if (n > 0 && Rules::lone_bandwidth > 0.0 && n == 1) {
      sigma[0] = Rules::lone_bandwidth;
    } else if (n > 0) {
      const bool inner_only = !options.consider_endpoints && count >= 2;
      for (j = 0; j < count; ++j) {
        const double at = mu[order_[j]];
        const double below = j == 0 ? 0.0 : mu[order_[j - 1]];
        const double above = j + 1 == count ? 1.0 : mu[order_[j + 1]];
        double width = std::max(at - below, above - at);
        if (inner_only && j == 0) width = above - at;
        if (inner_only && j + 1 == count) width = at - below;
        if (order_[j] < n) sigma[order_[j]] = width;
      }
    }
    if constexpr (!Rules::prior_is_neighbour) {
      // The prior joins the order (merge_kernels walks the kernels by centre), after its equals.
      const auto at = std::upper_bound(order_.begin(), order_.end(), 0.5,
                                       [&](double value, std::size_t i) { return value < mu[i]; });
      order_.insert(at, n);
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
  std::array<std::tuple<double, double, double>, 64> recent_{};  // (mu, 1 / sigma, Z) of recently seen kernels
  std::vector<std::size_t> order_;
  // Multivariate scoring (log_density): the terms of the observations, what joint_terms reads, x's
  // cells; per kernel of a categorical its choice, of a linear integer its place in the coordinate's
  // tables (index_cells); kernels scored one by one; the prior's cell masses.
  std::vector<double> terms_;
  std::vector<JointTerms::Real> reals_;
  std::vector<JointTerms::Categorical> categoricals_;
  std::vector<JointTerms::Cell> cells_;
  std::vector<std::size_t> x_cell_;
  std::vector<std::int32_t> observed32_, cell_base_, cell_lo_, cell_hi_, half_cells_;
  std::vector<std::size_t> irregular_;
  struct CellTables {
    std::vector<double> table;                 // segments of log masses by offset (segment())
    std::vector<std::int32_t> offset, radius;  // by half cells of sigma (0: the clip's)
    double clip_inv_sigma = 0.0;               // the clip's segment is for this sigma
    std::vector<std::int32_t> filled;          // by h: entries computed
    std::vector<std::uint32_t> lazy;           // this fit's kernels whose segment is not yet complete
    std::vector<double> centre;                // by cell
    std::vector<double> half_sigma, half_inv_sigma;  // by h: h / (2 C) and its inverse
  };
  std::vector<CellTables> cell_tables_;
  std::vector<std::size_t> prior_offset_;
  std::vector<double> prior_cell_mass_;
  // pack(): the coordinate the kernels are bucketed by (no_dim: not packed), the clip's radius there,
  // where each cell's kernels start (packed_bucket_[cells]: the tail's start), packed position ->
  // kernel, the tail's irregular kernels (position, kernel), and the arrays joint_terms reads.
  static constexpr std::size_t no_dim = std::numeric_limits<std::size_t>::max(), pack_threshold = 64;
  std::size_t packed_dim_ = no_dim, packed_radius_ = 0, packed_tail_ = 0;
  std::vector<std::size_t> packed_bucket_, fill_position_;
  std::vector<std::uint32_t> packed_index_, bucketed_;
  std::vector<std::pair<std::size_t, std::size_t>> packed_irregular_;
  std::vector<double> packed_log_const_, packed_mu_, packed_inv_sigma_;
  std::vector<std::int32_t> packed_ints_;
  std::vector<double> normalized_;           // numpy's cdf of the weights (sample_coordinate_as_optuna)
  mutable std::vector<std::size_t> active_;  // sample_coordinate_as_optuna: the kernels drawn
};

}  // namespace mahpo::search::tpe::detail
