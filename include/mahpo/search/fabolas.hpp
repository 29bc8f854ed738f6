#pragma once
// FABOLAS (Klein, Falkner, Bartels, Hennig & Hutter, "Fast Bayesian optimization of machine learning
// hyperparameters on large datasets", AISTATS 2017): Bayesian optimization over a config x and the
// fraction s of the training set it trains on, buying per unit of cost the most information about
// the best config on the whole set (s = 1).
//
//   mahpo::search::Fabolas<Space> searcher({.seed = 1, .budget = {.epochs = 1.0}});
//   // each trial: budget.epochs epochs on a fraction s of the training set (Budget::fraction)
//   std::optional<Config<Space>> best = searcher.incumbent();  // predicted best at s = 1
//
// The models (the paper's section 3.1), both GP-BO's Matérn-5/2 GP with a second factor over s
// (gp/regressor.hpp, DataSetSize):
// - the loss: k = s2 M(x, x') phi(s)^T Sigma phi(s'), phi(s) = (1, (1 - s)^2), on the normal scores of
//   the losses' ranks (`normal_scores`, as the GP sampler: a Gaussian copula, so that diverged trials at
//   chance level cannot flatten the model of the good region; off: standardized losses, the paper's);
// - the cost: the same with phi(s) = (1, s) (cost grows linearly with the data), on standardized costs.
//   A trial's cost is the sum of its result's metrics `cost_metrics` that it has (LeNetObjective's
//   "training_seconds" and "evaluation_seconds": a trial pays for its validation too, a fixed cost
//   that makes small fractions far from free), else its budget in whole-set epochs (epochs x s).
// The acquisition: information about the best value at s = 1 per unit of predicted cost. The paper
// uses entropy search over the location of the optimum (representer points and expectation
// propagation: costly); mahpo uses the cheaper approximation the issue allows, multi-fidelity
// max-value entropy search (MF-MES: Takeno et al., "Multi-fidelity Bayesian optimization with
// max-value entropy search and its parallelization", ICML 2020, eq. 6), written for an observation
// y(x, s) with its noise:
//   a(x, s) = E_{f*}[ I ] / c(x, s),
//   I = 1/2 (1 - E_c[(y - mu_y)^2] / sigma_y^2) + E_c[log Phi(gamma(y))] - log Z,
// where f* is the best value at s = 1 (sampled from a Gumbel fit to its distribution over the
// candidates: Wang & Jegelka, "Max-value entropy search", ICML 2017, section 3.1), E_c is the
// expectation under y's density given f(x, 1) <= f*, gamma(y) = (f* - mu_1|y) / sigma_1|y, and Z the
// probability of that event; the 1-D expectations by Gauss-Hermite quadrature. At s = 1 it is MES's
// closed form gamma phi / (2 Phi) - log Phi. (Signs: mahpo minimizes a loss; the formulas run on its
// negative.)
//
// Choices the paper leaves open, or where mahpo differs:
// - Startup: `startup_configs` prior draws, each at every fraction of `startup_fractions` (the
//   paper's initial design on small subsets), before the model is used.
// - Candidates: `candidates` prior draws plus candidates / 10 Gaussian perturbations (sd 0.05) of the
//   incumbent, each at `fraction_levels` fractions on a log grid from min_fraction to 1. The factor
//   over s is linear in (1 + a g(s), g(s)), so a config's posterior at every fraction comes from two
//   triangular solves (BasicRegressor::project_fractions), not one per fraction.
// - Pending trials: kriging believer (their points join the loss GP at its posterior mean), so that
//   parallel asks differ; the hyperparameters are fitted on real results only.
// - The incumbent: among the configs asked so far, the one with the lowest posterior mean at s = 1.
// - The GPs model the newest `max_points` (300) results: an evaluation costs O(n^2) per candidate and
//   cheap fractions give many trials.
// - Failed and diverged trials are not modelled (the searcher contract).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xtensor.hpp>

#include <mahpo/search/gp/regressor.hpp>
#include <mahpo/search/history.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/search/unit_cube.hpp>

namespace mahpo::search {

namespace fabolas {
// What LeNetObjective reports a trial to cost. (A function, not a braced list of strings in the member
// initializer: g++ 12 then fails with an internal error on a designated initializer of the options in
// a constructor's member initializer list.)
inline std::vector<std::string> default_cost_metrics() { return {"training_seconds", "evaluation_seconds"}; }
}  // namespace fabolas

struct FabolasOptions {
  std::size_t startup_configs = 5;                                               // prior configs of the initial design
  std::vector<double> startup_fractions{1.0 / 64, 1.0 / 32, 1.0 / 16, 1.0 / 8};  // ... each tried at these
  double min_fraction = 1.0 / 64;                                                // the smallest fraction searched
  std::size_t fraction_levels = 7;                                               // fractions on a log grid, 1 included
  std::size_t candidates = 500;                                                  // prior configs scored per ask
  std::size_t max_value_samples = 10;                                            // f* samples of MES
  std::size_t quadrature_nodes = 24;                                             // Gauss-Hermite nodes per expectation
  std::size_t max_points = 300;                                                  // the newest results the GPs model
  std::vector<std::string> cost_metrics = fabolas::default_cost_metrics();       // summed: a result's cost
  std::size_t fit_restarts = 2;                                                  // GP fits: as GP-BO
  std::size_t fit_evaluations = 30;
  double noise_floor = 1e-6;
  bool normal_scores = true;  // the loss GP models the normal scores of the losses' ranks (else standardized losses)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(FabolasOptions, startup_configs, startup_fractions, min_fraction, fraction_levels,
                                   candidates, max_value_samples, quadrature_nodes, max_points, cost_metrics,
                                   fit_restarts, fit_evaluations, noise_floor, normal_scores)

namespace fabolas::detail {

// Gauss-Hermite nodes z_k and weights w_k for E[h(Z)], Z ~ N(0, 1): sum w_k h(z_k) (Golub & Welsch
// 1969: the eigenvalues of the Jacobi matrix of the Hermite polynomials, weights from the first
// components of its eigenvectors).
struct Quadrature {
  std::vector<double> nodes, weights;
};

inline Quadrature gauss_hermite(std::size_t count) {
  xt::xtensor<double, 2> jacobi = xt::zeros<double>({count, count});
  for (std::size_t k = 1; k < count; ++k) jacobi(k, k - 1) = jacobi(k - 1, k) = std::sqrt(static_cast<double>(k));
  const auto [values, vectors] = xt::linalg::eigh(jacobi);  // probabilists' Hermite: nodes of N(0, 1)
  Quadrature rule;
  for (std::size_t k = 0; k < count; ++k) {
    rule.nodes.push_back(values(k));
    rule.weights.push_back(vectors(0, k) * vectors(0, k));
  }
  return rule;
}

inline double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::numbers::sqrt2); }

// log Phi(z), finite far into the lower tail (Phi(z) ~ phi(z) / -z there).
inline double log_normal_cdf(double z) {
  if (z > -30.0) return std::log(normal_cdf(z));
  return -0.5 * z * z - std::log(-z) - 0.5 * std::log(2.0 * std::numbers::pi);
}

// MES at the full fraction (Wang & Jegelka 2017, eq. 6): gamma phi(gamma) / (2 Phi(gamma)) - log Phi(gamma).
inline double max_value_information(double gamma) {
  const double log_cdf = log_normal_cdf(gamma);
  const double ratio = std::exp(-0.5 * gamma * gamma - 0.5 * std::log(2.0 * std::numbers::pi) - log_cdf);
  return gamma * ratio / 2.0 - log_cdf;
}

// MF-MES for an observation y with mean mu_y and variance var_y, correlated (covariance `shared`)
// with the full-fraction value of mean mu_1, latent variance var_1, given f(x, 1) <= f* (maximization).
inline double fidelity_information(double mu_y, double var_y, double mu_1, double var_1, double shared, double best,
                                   const Quadrature& rule) {
  const double sigma_y = std::sqrt(var_y);
  const double conditional_var = std::max(var_1 - shared * shared / var_y, 1e-12 * var_1);
  const double conditional_sd = std::sqrt(conditional_var);
  double mass = 0.0, spread = 0.0, log_term = 0.0;
  for (std::size_t k = 0; k < rule.nodes.size(); ++k) {
    const double z = rule.nodes[k];
    const double y = mu_y + sigma_y * z;
    const double mu_given = mu_1 + shared / var_y * (y - mu_y);
    const double gamma = (best - mu_given) / conditional_sd;
    const double log_cdf = log_normal_cdf(gamma);
    const double cdf = std::exp(log_cdf);
    mass += rule.weights[k] * cdf;
    spread += rule.weights[k] * cdf * z * z;
    log_term += rule.weights[k] * cdf * log_cdf;
  }
  if (!(mass > 1e-300)) return 0.0;
  return std::max(0.0, 0.5 * (1.0 - spread / mass) + log_term / mass - std::log(mass));
}

// Samples of the best value max_x f(x) from a Gumbel fit to P(f* < z) = prod_x Phi((z - mu_x) / sd_x)
// at its quartiles (Wang & Jegelka 2017, section 3.1); each at least the largest mean.
inline std::vector<double> max_value_samples(const std::vector<double>& means, const std::vector<double>& sds,
                                             std::size_t count, std::mt19937_64& rng) {
  const double top = *std::max_element(means.begin(), means.end());
  const double widest = *std::max_element(sds.begin(), sds.end());
  const auto log_probability = [&](double z) {
    double total = 0.0;
    for (std::size_t i = 0; i < means.size(); ++i) total += log_normal_cdf((z - means[i]) / sds[i]);
    return total;
  };
  const auto quantile = [&](double q) {
    double low = top - 5.0 * widest - 1e-9, high = top + 10.0 * widest + 1e-9;
    const double target = std::log(q);
    for (int step = 0; step < 100; ++step) {
      const double middle = 0.5 * (low + high);
      (log_probability(middle) < target ? low : high) = middle;
    }
    return 0.5 * (low + high);
  };
  const double q25 = quantile(0.25), q50 = quantile(0.5), q75 = quantile(0.75);
  // Gumbel: z_q = a - b log(-log q).
  const double b = std::max((q75 - q25) / (std::log(std::log(4.0)) - std::log(std::log(4.0 / 3.0))), 1e-12);
  const double a = q50 + b * std::log(std::log(2.0));
  std::uniform_real_distribution<double> unit(1e-12, 1.0 - 1e-12);
  std::vector<double> samples(count);
  for (double& sample : samples) sample = std::max(a - b * std::log(-std::log(unit(rng))), top + 1e-9);
  return samples;
}

}  // namespace fabolas::detail

template <typename S>
class Fabolas {
 public:
  using space_type = S;
  static constexpr std::string_view name = "fabolas";

  explicit Fabolas(SearchOptions options = {}, FabolasOptions fabolas = {})
      : options_(options),
        fabolas_(validated(std::move(fabolas))),
        history_(options.goal),
        rng_(options.seed),
        loss_(S::dimension, fabolas_.noise_floor),
        cost_(S::dimension, fabolas_.noise_floor),
        rule_(fabolas::detail::gauss_hermite(fabolas_.quadrature_nodes)) {}

  Trial<S> ask() {
    const std::size_t asked = history_.asked();
    const std::size_t startup = fabolas_.startup_configs * fabolas_.startup_fractions.size();
    if (asked < startup) {
      const std::size_t per_config = fabolas_.startup_fractions.size();
      if (asked % per_config == 0) startup_config_ = S::sample(rng_);
      return add(startup_config_, fabolas_.startup_fractions[asked % per_config]);
    }
    if constexpr (S::dimension > 0) {
      if (auto chosen = propose()) return add(S::from_unit_cube(chosen->first), chosen->second);
    }
    return add(S::sample(rng_), fabolas_.startup_fractions.back());
  }

  void tell(std::size_t id, const Result& result) {
    const auto& entry = history_.tell(id, result, name);
    double cost = 0.0;
    for (const auto& metric : fabolas_.cost_metrics) {
      if (const auto found = result.metrics.find(metric); found != result.metrics.end() && found->is_number()) {
        cost += std::max(found->template get<double>(), 0.0);
      }
    }
    if (!(cost > 0.0)) cost = whole_set_epochs(entry.budget);
    costs_.resize(history_.asked(), 0.0);
    costs_[id] = cost;
  }

  // The pending trial `id` was run with `config` (see Searcher::replace).
  void replace(std::size_t id, const Config<S>& config) { history_.replace(id, config, name); }

  const SearchOptions& options() const { return options_; }
  const FabolasOptions& fabolas_options() const { return fabolas_; }
  nlohmann::json options_json() const { return fabolas_; }
  const History<S>& history() const { return history_; }

  // The config predicted best on the whole training set, among those asked: none before two results
  // and a fit. Uses the last fitted hyperparameters (draws nothing from the searcher's stream).
  std::optional<Config<S>> incumbent() const {
    if constexpr (S::dimension > 0) {
      std::vector<double> x, y;
      gather(x, y);
      if (y.size() < 2 || fitted_size_ == 0) return std::nullopt;
      Loss model = loss_;
      if (!model.condition(x, y)) return std::nullopt;
      return incumbent_among_results(model);
    }
    return std::nullopt;
  }

 private:
  static constexpr std::size_t dims = S::dimension;
  using Loss = gp::detail::BasicRegressor<gp::detail::DataSetSize<gp::detail::FidelityBasis::loss>>;
  using Cost = gp::detail::BasicRegressor<gp::detail::DataSetSize<gp::detail::FidelityBasis::cost>>;

  static FabolasOptions validated(FabolasOptions fabolas) {
    const auto fail = [](const std::string& message) { throw std::invalid_argument("mahpo::fabolas: " + message); };
    if (!(fabolas.min_fraction > 0.0 && fabolas.min_fraction < 1.0)) {
      fail(fmt::format("min_fraction ({}) must be in (0, 1)", fabolas.min_fraction));
    }
    if (fabolas.startup_fractions.empty()) fail("startup_fractions must name at least one fraction");
    for (double fraction : fabolas.startup_fractions) {
      if (!(fraction >= fabolas.min_fraction && fraction <= 1.0)) {
        fail(fmt::format("a startup fraction ({}) must be in [min_fraction, 1]", fraction));
      }
    }
    if (fabolas.startup_configs < 2) fail("startup_configs must be at least 2");
    if (fabolas.fraction_levels < 2) fail("fraction_levels must be at least 2 (min_fraction and 1)");
    if (fabolas.candidates == 0) fail("candidates must be at least 1");
    if (fabolas.max_value_samples == 0) fail("max_value_samples must be at least 1");
    if (fabolas.quadrature_nodes < 2) fail("quadrature_nodes must be at least 2");
    if (fabolas.max_points < 2 * fabolas.startup_fractions.size()) {
      fail(fmt::format("max_points ({}) must hold at least two startup configs' results", fabolas.max_points));
    }
    if (fabolas.fit_evaluations == 0) fail("fit_evaluations must be at least 1");
    if (!(fabolas.noise_floor > 0.0 && fabolas.noise_floor < 1.0)) {
      fail(fmt::format("noise_floor ({}) must be in (0, 1)", fabolas.noise_floor));
    }
    return fabolas;
  }

  const Trial<S>& add(Config<S> config, double fraction) {
    Budget budget = options_.budget;
    budget.fraction = fraction;
    return history_.add(std::move(config), budget);
  }

  // (x, s) of a trial: its unit-cube point and its fraction.
  void append_point(std::vector<double>& into, const typename History<S>::observation_type& entry) const {
    into.insert(into.end(), entry.point.begin(), entry.point.end());
    into.push_back(entry.budget.fraction);
  }

  // The newest `max_points` usable results as (x, s) points and standardized losses; returns how
  // many usable results there are in all.
  std::size_t gather(std::vector<double>& x, std::vector<double>& y) const {
    std::vector<const typename History<S>::observation_type*> kept;
    for (const auto* entry : history_.usable()) {
      if (std::isfinite(entry->loss)) kept.push_back(entry);
    }
    const std::size_t first = kept.size() > fabolas_.max_points ? kept.size() - fabolas_.max_points : 0;
    for (std::size_t k = first; k < kept.size(); ++k) {
      append_point(x, *kept[k]);
      y.push_back(kept[k]->loss);
    }
    if (y.size() >= 2) {
      if (fabolas_.normal_scores) {
        gp::detail::normal_scores(y);
      } else {
        gp::detail::standardize(y);
      }
    }
    return kept.size();
  }

  // Fits (when results came in) and conditions the loss GP on the usable results; false when too few.
  bool condition_on_results() {
    x_.clear();
    y_.clear();
    const std::size_t results = gather(x_, y_);
    if (y_.size() < 2) return false;
    if (results != fitted_size_) {
      gp::detail::fit_on_schedule(loss_, x_, y_, rng_, fabolas_.fit_restarts, fabolas_.fit_evaluations);
      fitted_size_ = results;
    }
    return loss_.condition(x_, y_);
  }

  // Among the configs with results, the one with the lowest posterior mean at s = 1 under `model`.
  Config<S> incumbent_among_results(const Loss& model) const {
    std::vector<double> points;
    std::vector<const typename History<S>::observation_type*> entries;
    for (const auto* entry : history_.usable()) {
      if (!std::isfinite(entry->loss)) continue;
      points.insert(points.end(), entry->point.begin(), entry->point.end());
      points.push_back(1.0);
      entries.push_back(entry);
    }
    std::vector<double> means(entries.size()), variances(entries.size());
    model.predict(points, means, variances);
    const auto best = static_cast<std::size_t>(std::min_element(means.begin(), means.end()) - means.begin());
    return entries[best]->config;
  }

  // The (point, fraction) with the most information about the best full-set value per unit of cost.
  std::optional<std::pair<std::array<double, dims>, double>> propose() {
    if (!condition_on_results()) return std::nullopt;
    const Config<S> incumbent = incumbent_among_results(loss_);
    const auto incumbent_point = S::to_unit_cube(incumbent);

    // The cost GP on the costs of the told trials.
    std::vector<double> cost_x, cost_y;
    const auto& entries = history_.entries();
    for (std::size_t k = entries.size(); k-- > 0 && cost_y.size() < fabolas_.max_points;) {  // the newest
      const auto& entry = entries[k];
      if (!entry.finished || entry.id >= costs_.size() || !(costs_[entry.id] > 0.0)) continue;
      append_point(cost_x, entry);
      cost_y.push_back(costs_[entry.id]);
    }
    if (cost_y.size() < 2) return std::nullopt;
    const double cost_mean = mean_of(cost_y), cost_floor = 1e-3 * *std::min_element(cost_y.begin(), cost_y.end());
    double cost_spread = 0.0;
    for (double cost : cost_y) cost_spread += (cost - cost_mean) * (cost - cost_mean);
    cost_spread = std::sqrt(cost_spread / static_cast<double>(cost_y.size()));
    if (!(cost_spread > 1e-12 * std::max(1.0, cost_mean))) cost_spread = 1.0;
    for (double& cost : cost_y) cost = (cost - cost_mean) / cost_spread;
    if (history_.finished() != cost_fitted_size_) {
      gp::detail::fit_on_schedule(cost_, cost_x, cost_y, rng_, fabolas_.fit_restarts, fabolas_.fit_evaluations);
      cost_fitted_size_ = history_.finished();
    }
    if (!cost_.condition(cost_x, cost_y)) return std::nullopt;

    // Kriging believer: pending trials join the loss GP at its posterior mean.
    const auto running = history_.running();
    if (!running.empty()) {
      std::vector<double> pending;
      for (const auto* entry : running) append_point(pending, *entry);
      std::vector<double> believed(running.size()), unused(running.size());
      loss_.predict(pending, believed, unused);
      x_.insert(x_.end(), pending.begin(), pending.end());
      y_.insert(y_.end(), believed.begin(), believed.end());
      if (!loss_.condition(x_, y_)) return std::nullopt;
    }

    // Candidate configs: prior draws and perturbations of the incumbent, snapped.
    std::normal_distribution<double> perturbation(0.0, 0.05);
    std::vector<std::array<double, dims>> configs;
    for (std::size_t c = 0; c < fabolas_.candidates; ++c) configs.push_back(S::to_unit_cube(S::sample(rng_)));
    for (std::size_t c = 0; c < fabolas_.candidates / 10; ++c) {
      std::array<double, dims> point{};
      for (std::size_t d = 0; d < dims; ++d) point[d] = std::clamp(incumbent_point[d] + perturbation(rng_), 0.0, 1.0);
      configs.push_back(snap<S>(point));
    }
    const std::size_t count = configs.size(), levels = fabolas_.fraction_levels;

    // The candidates' projections: the posterior at any fraction from a few numbers per config.
    std::vector<double> xs(count * dims);
    for (std::size_t c = 0; c < count; ++c) {
      std::copy(configs[c].begin(), configs[c].end(), xs.begin() + static_cast<std::ptrdiff_t>(c * dims));
    }
    const auto loss_at = loss_.project_fractions(xs);
    const auto cost_at = cost_.project_fractions(xs);

    // The best value at s = 1 (on the negated loss: MES maximizes), sampled over the candidates.
    std::vector<double> full_mean(count), full_variance(count), full_sd(count);
    for (std::size_t c = 0; c < count; ++c) {
      full_mean[c] = -loss_.fraction_mean(loss_at, c, 1.0);
      full_variance[c] = loss_.fraction_covariance(loss_at, c, 1.0, 1.0);
      full_sd[c] = std::sqrt(full_variance[c]);
    }
    const auto best_values = fabolas::detail::max_value_samples(full_mean, full_sd, fabolas_.max_value_samples, rng_);

    // Every candidate at every fraction level: information per cost.
    double best_score = -std::numeric_limits<double>::infinity();
    std::optional<std::pair<std::array<double, dims>, double>> chosen;
    const double noise = loss_.noise_variance();
    for (std::size_t level = 0; level < levels; ++level) {
      const bool whole = level + 1 == levels;
      const double fraction =
          whole ? 1.0
                : std::pow(fabolas_.min_fraction, 1.0 - static_cast<double>(level) / static_cast<double>(levels - 1));
      for (std::size_t c = 0; c < count; ++c) {
        double information = 0.0;
        if (whole) {
          for (const double best : best_values) {
            information += fabolas::detail::max_value_information((best - full_mean[c]) / full_sd[c]);
          }
        } else {
          const double mean = -loss_.fraction_mean(loss_at, c, fraction);
          const double variance = loss_.fraction_covariance(loss_at, c, fraction, fraction) + noise;
          const double shared = loss_.fraction_covariance(loss_at, c, fraction, 1.0);
          for (const double best : best_values) {
            information += fabolas::detail::fidelity_information(mean, variance, full_mean[c], full_variance[c], shared,
                                                                 best, rule_);
          }
        }
        information /= static_cast<double>(best_values.size());
        const double cost = std::max(cost_mean + cost_spread * cost_.fraction_mean(cost_at, c, fraction), cost_floor);
        const double score = information / cost;
        if (score > best_score) {
          best_score = score;
          chosen = std::pair{configs[c], fraction};
        }
      }
    }
    return chosen;
  }

  static double mean_of(const std::vector<double>& values) {
    double total = 0.0;
    for (double value : values) total += value;
    return total / static_cast<double>(values.size());
  }

  SearchOptions options_;
  FabolasOptions fabolas_;
  History<S> history_;
  std::mt19937_64 rng_;
  Loss loss_;
  Cost cost_;
  fabolas::detail::Quadrature rule_;
  Config<S> startup_config_{};
  std::vector<double> costs_;  // per trial id: its cost (0 until told)
  std::vector<double> x_, y_;
  std::size_t fitted_size_ = 0, cost_fitted_size_ = 0;  // the results (told trials) at the last fits
};

// Fabolas of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S>
  requires(!SearchSpace<S>)
class Fabolas<S> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
