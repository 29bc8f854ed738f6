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
// - Pending trials (`pending`): each running trial's point joins the GP with a made-up loss, with the
//   hyperparameters fitted on real results only: the Kriging believer (`believer`, the default; Ginsbourger
//   et al. 2010), the posterior mean there given the real results, or the constant liar CL-min
//   (`best`), the best standardized loss. The liar pushes the next points away from the pending
//   ones; the believer only shrinks the variance there. With 4 workers the believer stays nearer
//   one worker's quality (bench/parallel_quality.cpp, docs/benchmarks.md).
// - A pick whose snapped point repeats a point already asked (within 1e-6 in every coordinate) is
//   skipped for the next best candidate; if every candidate repeats one, a prior draw is used.
// - Failed and diverged trials, and results with a non-finite value, are not modelled.
// - Several objectives (SearchOptions::goals): ParEGO (Knowles 2006; search/scalarization.hpp): each
//   proposal draws weights on the simplex, models every result's augmented Chebyshev scalarization
//   of its losses (scaled by the observed bounds; constraint violations added), and refits.
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

#include <mahpo/search/gp/acquisition.hpp>
#include <mahpo/search/gp/halton.hpp>
#include <mahpo/search/gp/lbfgs.hpp>
#include <mahpo/search/gp/regressor.hpp>
#include <mahpo/search/history.hpp>
#include <mahpo/search/scalarization.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/search/unit_cube.hpp>

namespace mahpo::search {

// What a pending trial's point is told, for the fit that picks the next point (see above).
enum class GpPending { believer, best };
NLOHMANN_JSON_SERIALIZE_ENUM(GpPending, {{GpPending::believer, "believer"}, {GpPending::best, "best"}})

struct GpBoOptions {
  using Acquisition = gp::AcquisitionKind;
  using Pending = GpPending;

  std::size_t startup_trials = 10;                // prior draws before the model is used
  Acquisition acquisition = Acquisition::log_ei;  // log expected improvement, or the lower confidence bound
  double ucb_beta = 2.0;                          // ucb: minimize mu - ucb_beta * sigma
  std::size_t candidates = 1000;                  // shifted-Halton points scored per ask
  std::size_t refine_starts = 5;                  // best candidates refined by L-BFGS
  std::size_t fit_restarts = 2;                   // random restarts of the fit (while n <= 64)
  std::size_t fit_evaluations = 30;               // likelihood evaluations per start of the fit
  double noise_floor = 1e-6;                      // least noise variance (standardized losses)
  Pending pending = Pending::believer;            // pending trials: the Kriging believer or CL-min
};

// As JSON (journals record it; missing keys read as the defaults). `pending` always: a journal of a
// study run before it existed (under CL-min) lacks it, so its header differs and it is not resumed
// under the believer.
inline void to_json(nlohmann::json& json, const GpBoOptions& options) {
  json = {{"startup_trials", options.startup_trials}, {"acquisition", options.acquisition},
          {"ucb_beta", options.ucb_beta},             {"candidates", options.candidates},
          {"refine_starts", options.refine_starts},   {"fit_restarts", options.fit_restarts},
          {"fit_evaluations", options.fit_evaluations}, {"noise_floor", options.noise_floor},
          {"pending", options.pending}};
}

inline void from_json(const nlohmann::json& json, GpBoOptions& options) {
  const GpBoOptions defaults;
  options.startup_trials = json.value("startup_trials", defaults.startup_trials);
  options.acquisition = json.value("acquisition", defaults.acquisition);
  options.ucb_beta = json.value("ucb_beta", defaults.ucb_beta);
  options.candidates = json.value("candidates", defaults.candidates);
  options.refine_starts = json.value("refine_starts", defaults.refine_starts);
  options.fit_restarts = json.value("fit_restarts", defaults.fit_restarts);
  options.fit_evaluations = json.value("fit_evaluations", defaults.fit_evaluations);
  options.noise_floor = json.value("noise_floor", defaults.noise_floor);
  options.pending = json.value("pending", defaults.pending);
}

template <typename S>
class GpBo {
 public:
  using space_type = S;
  static constexpr std::string_view name = "gp_bo";
  static constexpr bool multi_objective = true;  // several goals: ParEGO (search/scalarization.hpp)

  explicit GpBo(SearchOptions options = {}, GpBoOptions gp = {})
      : options_(options),
        gp_(checked(gp)),
        history_(goals_of(options)),
        rng_(options.seed),
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
  // The pending trial `id` was run with `config` (see Searcher::replace).
  void replace(std::size_t id, const Config<S>& config) { history_.replace(id, config, name); }

  // The config the search hands over: of the best tenth of the told configs by observed loss (at
  // least one), the one whose posterior mean loss is lowest (the model's estimate, not a noisy
  // observation; the observed values keep it off a cliff the GP smooths over); the best observed one
  // before the model is fitted. Throws when nothing usable was told.
  Config<S> recommended_config() {
    const auto* best = history_.best();
    if (best == nullptr) throw std::logic_error("mahpo::gp_bo: recommended_config() before any usable trial was told");
    std::vector<double> x, y;
    for (const auto* entry : history_.usable()) {
      if (!std::isfinite(entry->loss)) continue;
      x.insert(x.end(), entry->point.begin(), entry->point.end());
      y.push_back(entry->loss);
    }
    if (fitted_size_ == 0 || y.size() < 2) return best->config;
    gp::detail::standardize(y);
    if (!model_.condition(x, y)) return best->config;
    const auto candidates = best_observed(history_);
    std::vector<double> points, means(candidates.size()), variances(candidates.size());
    for (const auto* entry : candidates) points.insert(points.end(), entry->point.begin(), entry->point.end());
    model_.predict(points, means, variances);
    return candidates[static_cast<std::size_t>(std::min_element(means.begin(), means.end()) - means.begin())]->config;
  }

  const SearchOptions& options() const { return options_; }
  const GpBoOptions& gp_options() const { return gp_; }
  nlohmann::json options_json() const { return gp_; }
  const History<S>& history() const { return history_; }

 private:
  using point_type = std::array<double, S::dimension>;
  static constexpr std::size_t dims = S::dimension;
  static constexpr std::size_t refine_evaluations = 12;

  static GpBoOptions checked(GpBoOptions gp) {
    if (!(std::isfinite(gp.ucb_beta) && gp.ucb_beta >= 0.0)) {
      throw std::invalid_argument(
          fmt::format("mahpo::gp_bo: ucb_beta ({}) must be finite and at least 0", gp.ucb_beta));
    }
    if (gp.candidates == 0) throw std::invalid_argument("mahpo::gp_bo: candidates must be at least 1");
    if (gp.fit_evaluations == 0) throw std::invalid_argument("mahpo::gp_bo: fit_evaluations must be at least 1");
    if (!(gp.noise_floor > 0.0 && gp.noise_floor < 1.0)) {
      throw std::invalid_argument(fmt::format(
          "mahpo::gp_bo: noise_floor ({}) must be in (0, 1) (a variance of standardized losses)", gp.noise_floor));
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
    // Several objectives: this proposal's scalarization of every result, with fresh weights (ParEGO).
    const bool several = history_.goals().size() > 1;
    const auto weights = several ? simplex_weights(history_.goals().size(), rng_) : std::vector<double>{};
    const auto bounds = several ? loss_bounds(history_) : LossBounds{};
    for (const auto* entry : history_.usable()) {
      const double loss =
          several ? augmented_chebyshev(entry->losses, entry->violation, weights, bounds) : entry->loss;
      if (!std::isfinite(loss)) continue;
      x.insert(x.end(), entry->point.begin(), entry->point.end());
      y.push_back(loss);
    }
    const std::size_t n = y.size();
    if (n < 2) return std::nullopt;
    gp::detail::standardize(y);
    const double best = *std::min_element(y.begin(), y.end());
    const std::size_t best_index = static_cast<std::size_t>(std::min_element(y.begin(), y.end()) - y.begin());

    if (n != fitted_size_ || several) {  // each scalarization is a new function to fit
      gp::detail::fit_on_schedule(model_, x, y, rng_, gp_.fit_restarts, gp_.fit_evaluations);
      fitted_size_ = n;
    }
    // Running trials join at the posterior mean given the real results (believer) or the best loss.
    const auto running = history_.running();
    if (!running.empty() && gp_.pending == GpPending::believer) {
      if (!model_.condition(x, y)) return std::nullopt;
      std::vector<double> points, lies(running.size()), variances(running.size());
      for (const auto* entry : running) points.insert(points.end(), entry->point.begin(), entry->point.end());
      model_.predict(points, lies, variances);
      x.insert(x.end(), points.begin(), points.end());
      y.insert(y.end(), lies.begin(), lies.end());
    } else {
      for (const auto* entry : running) {
        x.insert(x.end(), entry->point.begin(), entry->point.end());
        y.push_back(best);
      }
    }
    if (!model_.condition(x, y)) return std::nullopt;
    const gp::detail::Acquisition acquisition{gp_.acquisition, gp_.ucb_beta, best};

    // Candidates: a shifted Halton set and perturbations of the best point, snapped.
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::normal_distribution<double> perturbation(0.0, 0.05);
    std::vector<double> shift(dims);
    for (double& component : shift) component = unit(rng_);
    std::vector<double> candidates = gp::detail::shifted_halton(gp_.candidates, shift);
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
      const auto found = gp::detail::minimize_in_box(negative, std::move(start), lower, upper, refine_evaluations, 0.1);
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
  gp::detail::Regressor model_;
  std::size_t fitted_size_ = 0;
};

// GpBo of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S>
  requires(!SearchSpace<S>)
class GpBo<S> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
