#pragma once
// TPE, the tree-structured Parzen estimator (Bergstra et al., "Algorithms for hyper-parameter
// optimization", NeurIPS 2011; Watanabe, "Tree-structured Parzen estimator: understanding its
// algorithm components and their roles for better empirical performance", 2023). Tpe<S> follows
// today's Optuna TPESampler (5.0, tpe::Optuna): multivariate, the constant liar on; Tpe<S,
// tpe::Optuna3> Optuna 3.1's, Tpe<S, tpe::Hyperopt> hyperopt's (tpe/rules.hpp).
// docs/tpe_vs_optuna.md compares them with Optuna piece by piece, trial by trial and over seeds.
//
// After `startup_trials` usable trials (ok or pruned; failed and diverged ones don't count) drawn
// from the prior, each ask splits the usable trials by loss: the best gamma(n) = min(ceil(n / 10), 25)
// form the "below" group, the rest the "above" group. A Parzen estimator is fitted to each in the
// unit cube, l(x) to below and g(x) to above; `candidates` (24) draws from l are scored by
// log l(x) - log g(x) and the best is asked.
//
// The estimators (tpe/parzen_estimator.hpp), as Optuna's _ParzenEstimator:
// - components: one kernel per observation plus a prior kernel (a Gaussian at 0.5 with sigma 1, the
//   whole range, on numeric coordinates; uniform on categoricals) of weight `prior_weight` (1);
// - mixture weights: Optuna's default_weights, oldest first: 1 for all of n <= 25 observations, else
//   a ramp from 1/n to 1 for the n - 25 oldest and 1 for the newest 25 (hyperopt's linear forgetting);
// - numeric coordinates: Gaussians truncated to [0, 1], with bandwidths by the neighbour rule: sorted,
//   each kernel's sigma is the larger gap to its neighbours, the domain's ends counting as
//   neighbours; unless `consider_endpoints`, the first and last kernel take their inner gap (with
//   two or more observations). Optuna 5 sorts the observations alone, Optuna 3.1 and hyperopt with
//   the prior's 0.5; Optuna 3.1's multivariate TPE has the Scott-like 0.2 n^(-1/(d+4)) instead.
//   Then the "magic clip" to [1 / min(100, n + 2), 1] ([1e-12, 1] without it);
// - categorical coordinates: Optuna's kernel, (1[c = observed] + a) / (1 + C a) with
//   a = prior_weight / (n + 1) and C choices;
// - a real coordinate (and a log-scale integer) is scored by the density of the truncated mixture
//   (`kernel_height` density; tpe::Optuna3's default, unscaled, drops each kernel's 1 / sigma as
//   Optuna 3.1 to 3.4 did), a linear integer by the mass of its cell (Optuna's discretized truncated
//   Gaussian).
// Multivariate (tpe::Optuna's default) uses one joint kernel per observation (a product over
// coordinates, one component choice per draw) and scores whole points; univariate treats each
// coordinate on its own, as Optuna's independent sampling: each coordinate draws its own candidates
// and keeps its own best.
//
// Pending trials: with `constant_liar` (the default, as Optuna 5) trials asked and not yet told join
// the above group, as the worst losses, and don't count in n.
//
// Constraints (Result::constraints, <= 0 feasible): feasible trials rank before infeasible ones, and
// these by their total violation (as Optuna's constraints_func). Several objectives
// (SearchOptions::goals): the below group by constrained non-dominated sorting and hypervolume, its
// weights the trials' hypervolume contributions (tpe/multi_objective.hpp, as Optuna's MOTPE).
//
// Choices the references leave open, or where mahpo differs:
// - Everything happens in the unit cube of S (log-scale parameters are log-uniform there, integers
//   own equal cells, as Optuna's int ranges widened by half a step).
// - Integers are drawn as continuous coordinates and snapped to their cell's centre
//   (P::encode(P::decode(u)), search::snap per coordinate), as Optuna rounds its draws. A log-scale
//   integer is scored by the density at its point of log space (Optuna 5: by its cell's mass there).
// - gamma in exact integers: the same as Optuna's ceil(0.1 * n) in doubles for every n up to 10^6
//   (checked), and beyond any n a study reaches.
// - Pruned trials rank after every ok trial (as Optuna); a NaN loss ranks last; ties go to the
//   older trial.
// - Startup trials are S::sample on the searcher's engine, so they equal Random<S>'s with the same
//   seed.
// - `optuna_stream` draws Optuna's random numbers instead (numpy's RandomState(seed) streams, Optuna's
//   order of draws, its inverse-CDF truncated normals, numpy's argsort order of repeated values:
//   tpe/optuna_stream.hpp): then Tpe<S> asks Optuna 5's TPESampler(seed)'s trials, and Tpe<S,
//   tpe::Optuna3> (univariate) Optuna 3.1's, trial for trial, to the last bits of rounding (integers
//   exactly; tests/search/test_tpe_optuna_traces.cpp).
// - Univariate numeric densities skip terms below 1e-10 of the prior's least value and merge kernels
//   with equal mu and sigma (an integer's repeats); an integer's score is computed once per value
//   and fit. Multivariate scores are computed for all kernels at once, vectorized
//   (tpe/joint_terms.hpp). The fit is redone only when a tell (or, with the liar, an ask) changed
//   the history.

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
#include <mahpo/search/history.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/search/pareto.hpp>
#include <mahpo/search/tpe/multi_objective.hpp>
#include <mahpo/search/tpe/options.hpp>
#include <mahpo/search/tpe/parzen_estimator.hpp>
#include <mahpo/search/tpe/rules.hpp>
#include <mahpo/search/unit_cube.hpp>

namespace mahpo::search {

template <typename S, typename Rules = tpe::Optuna>
class Tpe {
 public:
  using space_type = S;
  using rules_type = Rules;
  static constexpr std::string_view name = Rules::searcher_name;
  static constexpr bool multi_objective = true;  // several goals: the split and weights of tpe/multi_objective.hpp

  explicit Tpe(SearchOptions options = {}, TpeOptions tpe = {})
      : options_(options),
        tpe_(checked(tpe, options.seed)),
        history_(goals_of(options)),
        rng_(options.seed),
        dims_(dimensions<S>()),
        startup_stream_(static_cast<std::uint32_t>(options.seed)),
        model_stream_(static_cast<std::uint32_t>(options.seed)) {
    S::for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      if constexpr (!P::is_fixed && !requires { P::count; } && std::same_as<typename P::value_type, std::int64_t>) {
        const std::size_t k = S::free_position(decltype(index)::value);
        snap_[k] = [](double u) { return P::encode(P::decode(u)); };
        cell_[k] = [](double u) { return static_cast<std::size_t>(P::decode(u) - P::lower); };
      }
    });
    for (std::size_t k = 0; k < S::dimension; ++k) name_order_[k] = k;
    std::stable_sort(name_order_.begin(), name_order_.end(),
                     [&](std::size_t a, std::size_t b) { return dims_[a].name < dims_[b].name; });
    memo_offset_[0] = 0;
    for (std::size_t k = 0; k < S::dimension; ++k) {
      const bool memoized = cell_[k] != nullptr && dims_[k].count <= memo_limit;
      memo_offset_[k + 1] = memo_offset_[k] + (memoized ? dims_[k].count : 0);
    }
  }

  Trial<S> ask() {
    const bool startup = usable_ < tpe_.startup_trials || S::dimension == 0;
    const Trial<S>& trial = history_.add(
        startup ? (tpe_.optuna_stream ? startup_as_optuna() : S::sample(rng_)) : propose(), options_.budget);
    index(trial.id);
    return trial;
  }

  void tell(std::size_t id, const Result& result) {
    if (history_.tell(id, result, name).usable()) ++usable_;
  }

  const SearchOptions& options() const { return options_; }
  const TpeOptions& tpe_options() const { return tpe_; }
  // The options as the journal records them: `multivariate` resolved, and the rules' revision.
  nlohmann::json options_json() const {
    nlohmann::json json = tpe_;
    if (!Rules::revision.empty()) json["rules"] = Rules::revision;
    return json;
  }
  // The pending trial `id` was run with `config` (see Searcher::replace): its point moves in the
  // coordinate orders, and the next ask refits (with the liar, the point is in g's kernels).
  void replace(std::size_t id, const Config<S>& config) {
    history_.replace(id, config, name);
    for (auto& list : by_coordinate_) list.erase(std::find(list.begin(), list.end(), static_cast<std::uint32_t>(id)));
    index(id);
    fitted_ = false;
  }
  const History<S>& history() const { return history_; }

  // For inspection (bench/tpe_vs_optuna compares them with Optuna's): the estimators l(x) (below)
  // and g(x) (above) as the next model-based ask would use them, fitted now if the history changed.
  // A kernel's index is its observation's rank by age within its group; the prior's is the last.
  using estimator_type = tpe::detail::ParzenEstimator<Rules>;
  std::pair<const estimator_type&, const estimator_type&> estimators() {
    fit();
    return {below_, above_};
  }

 private:
  static constexpr std::size_t memo_limit = 4096;  // integers with at most this many values cache their scores

  static TpeOptions checked(TpeOptions tpe, std::uint64_t seed) {
    if (tpe.candidates == 0) throw std::invalid_argument("mahpo::tpe: candidates must be at least 1");
    tpe.multivariate = tpe::multivariate<Rules>(tpe);
    if (tpe.optuna_stream && *tpe.multivariate && Rules::optuna_stream != tpe::OptunaStream::optuna5) {
      throw std::invalid_argument(fmt::format(
          "mahpo::{}: optuna_stream draws as Optuna 3.1's univariate TPE; set multivariate = false (Optuna 5's "
          "multivariate draws are tpe::Optuna's, the default)",
          Rules::searcher_name));
    }
    if (tpe.optuna_stream && seed > std::numeric_limits<std::uint32_t>::max()) {
      throw std::invalid_argument(fmt::format(
          "mahpo::tpe: optuna_stream seeds numpy's RandomState, which takes seeds below 2^32, got {}", seed));
    }
    if (!(tpe.prior_weight > 0.0) || !std::isfinite(tpe.prior_weight)) {
      throw std::invalid_argument(
          fmt::format("mahpo::tpe: prior_weight must be positive and finite, got {}", tpe.prior_weight));
    }
    Rules::check(tpe);
    return tpe;
  }

  // Orders usable trials best first: ok before pruned (as Optuna), feasible before infeasible and
  // these by their violation (as Optuna with constraints), then loss (NaN last), then age.
  struct Rank {
    bool pruned;
    double violation;
    double loss;
    std::size_t id;
    bool operator<(const Rank& other) const {
      if (pruned != other.pruned) return !pruned;
      if (violation != other.violation) return violation < other.violation;
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
      const auto at = std::upper_bound(list.begin(), list.end(), value,
                                       [&](double v, std::uint32_t other) { return v < entries[other].point[k]; });
      list.insert(at, static_cast<std::uint32_t>(id));
    }
  }

  Config<S> propose() {
    fit();
    std::array<double, S::dimension> point{};
    if (*tpe_.multivariate) {
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
      ranks_.push_back({entry.result.status == Status::pruned, entry.violation, loss, entry.id});
    }
    const std::size_t n = ranks_.size();
    const std::size_t below_count = std::min(n, Rules::gamma(n));
    group_.assign(entries.size(), none);
    if (history_.goals().size() > 1) {
      split_multi_objective(below_count);
    } else {
      if (below_count < n) {
        std::nth_element(ranks_.begin(), ranks_.begin() + static_cast<std::ptrdiff_t>(below_count), ranks_.end());
      }
      for (std::size_t r = 0; r < below_count; ++r) group_[ranks_[r].id] = below;
    }

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
    if (!*tpe_.multivariate || Rules::joint_bandwidth == tpe::JointBandwidth::neighbours) {
      const std::size_t nb = below_points_.size(), na = above_points_.size();
      below_sorted_.resize(S::dimension * nb + 1);
      above_sorted_.resize(S::dimension * na + 1);
      for (std::size_t k = 0; k < S::dimension; ++k) {
        std::size_t b = k * nb, a = k * na;
        // Both lists written at every step, advanced where the trial belongs (one slack entry each).
        std::uint32_t* to_below = below_sorted_.data();
        std::uint32_t* to_above = above_sorted_.data();
        for (const std::uint32_t id : by_coordinate_[k]) {
          const Group group = group_[id];
          to_below[b] = to_above[a] = position_[id];
          b += group == below;
          a += group == above;
        }
      }
    }
    const std::size_t sorted_below = below_sorted_.empty() ? 0 : below_sorted_.size() - 1;
    const std::size_t sorted_above = above_sorted_.empty() ? 0 : above_sorted_.size() - 1;
    if (history_.goals().size() > 1) {  // the below group's weights in age order, as below_points_
      below_weights_.clear();
      for (const auto& entry : entries)
        if (group_[entry.id] == below) below_weights_.push_back(weight_of_[entry.id]);
    }
    below_.fit(dims_, below_points_, std::span<const std::uint32_t>(below_sorted_.data(), sorted_below), tpe_,
               history_.goals().size() > 1 ? std::span<const double>(below_weights_) : std::span<const double>());
    above_.fit(dims_, above_points_, std::span<const std::uint32_t>(above_sorted_.data(), sorted_above), tpe_);
    memo_.assign(memo_offset_.back(), std::numeric_limits<double>::quiet_NaN());
  }

  // Several objectives: the below group by fronts and hypervolume, and its weights in weight_of_.
  void split_multi_objective(std::size_t below_count) {
    const auto& entries = history_.entries();
    pareto::Points losses;
    std::vector<double> violations;
    for (const auto& rank : ranks_) {
      losses.push_back(entries[rank.id].losses);
      violations.push_back(entries[rank.id].violation);
    }
    const auto chosen = tpe::detail::split_below(losses, violations, below_count);
    pareto::Points below_losses;
    std::vector<double> below_violations;
    for (const std::size_t i : chosen) {
      below_losses.push_back(losses[i]);
      below_violations.push_back(violations[i]);
    }
    const auto weights = tpe::detail::below_weights(below_losses, below_violations);
    weight_of_.assign(entries.size(), 1.0);
    for (std::size_t k = 0; k < chosen.size(); ++k) {
      group_[ranks_[chosen[k]].id] = below;
      weight_of_[ranks_[chosen[k]].id] = weights[k];
    }
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

  // Univariate: the best of `candidates` draws from l for coordinate k, by log l - log g (the first
  // of equal scores). With optuna_stream the draws are Optuna's, from its TPE sampler's stream.
  double propose_coordinate(std::size_t k) {
    draws_.resize(tpe_.candidates);
    if (tpe_.optuna_stream) {
      below_.sample_coordinate_as_optuna(k, model_stream_, draws_);
    } else {
      for (double& draw : draws_) draw = below_.sample_coordinate(k, rng_);
    }
    double best = 0.5, best_score = -std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < draws_.size(); ++c) {
      const double x = snapped(k, draws_[c]);
      const double value = score(k, x);
      if (c == 0 || value > best_score) {
        best = x;
        best_score = value;
      }
    }
    return best;
  }

  // Optuna's draws (tpe/optuna_stream.hpp): a startup config from its RandomSampler's stream, one
  // uniform per coordinate (a categorical: one per choice, the largest wins, as its one-hot encoding).
  Config<S> startup_as_optuna() {
    std::array<double, S::dimension> point{};
    for (std::size_t k = 0; k < S::dimension; ++k) {
      if (dims_[k].kind != Kind::categorical) {
        point[k] = snapped(k, startup_stream_.random_sample());
        continue;
      }
      const std::size_t choices = dims_[k].count;
      std::size_t chosen = 0;
      double top = -1.0;
      for (std::size_t choice = 0; choice < choices; ++choice) {
        if (const double u = startup_stream_.random_sample(); u > top) {
          top = u;
          chosen = choice;
        }
      }
      point[k] = (static_cast<double>(chosen) + 0.5) / static_cast<double>(choices);
    }
    return S::from_unit_cube(point);
  }

  // Multivariate: the best of `candidates` joint draws from l, by log l - log g (the first of equal
  // scores). With optuna_stream the draws are Optuna 5's, from its TPE sampler's stream.
  void propose_joint(std::array<double, S::dimension>& point) {
    std::array<double, S::dimension> candidate{};
    double best_score = -std::numeric_limits<double>::infinity();
    if (tpe_.optuna_stream) below_.sample_points_as_optuna(model_stream_, name_order_, tpe_.candidates, draws_);
    for (std::size_t c = 0; c < tpe_.candidates; ++c) {
      if (tpe_.optuna_stream) {
        std::copy_n(draws_.begin() + static_cast<std::ptrdiff_t>(c * S::dimension), S::dimension, candidate.begin());
      } else {
        below_.sample_point(candidate, rng_);
      }
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
  tpe::detail::LegacyRandomState startup_stream_, model_stream_;  // optuna_stream: Optuna's two streams
  std::vector<double> draws_;
  std::array<double (*)(double), S::dimension> snap_{};       // integers: to their cell's centre
  std::array<std::size_t (*)(double), S::dimension> cell_{};  // integers: the value's index
  std::array<std::size_t, S::dimension + 1> memo_offset_{};
  std::array<std::size_t, S::dimension> name_order_{};  // coordinates by name: Optuna's order of joint draws
  std::size_t usable_ = 0;
  std::array<std::vector<std::uint32_t>, S::dimension> by_coordinate_;

  tpe::detail::ParzenEstimator<Rules> below_, above_;
  bool fitted_ = false;
  std::size_t fitted_finished_ = 0, fitted_asked_ = 0;
  std::vector<Rank> ranks_;
  std::vector<Group> group_;
  std::vector<std::uint32_t> position_, below_sorted_, above_sorted_;
  std::vector<const double*> below_points_, above_points_;
  std::vector<double> weight_of_, below_weights_;  // several objectives: below trials' weights, by id / in age order
  std::vector<double> memo_;  // scores of integer values under the current fit; NaN: not yet scored
};

// Tpe of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S, typename Rules>
  requires(!SearchSpace<S>)
class Tpe<S, Rules> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
