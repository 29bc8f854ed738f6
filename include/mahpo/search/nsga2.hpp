#pragma once
// NSGA-II (Deb, Pratap, Agarwal and Meyarivan, "A fast and elitist multiobjective genetic algorithm:
// NSGA-II", 2002) for several objectives and constraints, asked and told one trial at a time.
//
// Generation 0 is `population_size` draws from the prior. Once a generation holds `population_size`
// usable trials, the next generation's parents are the best `population_size` of the last parents
// and that generation's usable trials: whole fronts by constrained non-dominated sorting
// (search/pareto.hpp), the last front cut by crowding distance (largest first; ties: the older
// trial). Until then, asks keep making children of the current parents (trials may be pending in any
// number; late results of an earlier generation are kept in the history but not selected). A child:
// two parents by binary tournament (lower front, then larger crowding distance), with probability
// `crossover_probability` crossed in the unit cube (SBX, the simulated binary crossover of Deb and
// Agrawal 1995 with index `crossover_eta`, each coordinate crossed with probability 1/2; or
// `uniform`: each coordinate from either parent with probability `swapping_probability`), else a copy
// of a random parent; then each coordinate mutated with probability `mutation_probability` (unset:
// 1 / dimension): polynomial mutation (Deb, index `mutation_eta`) or `resample` from the prior.
// Integers and categoricals snap to their cells as the unit cube decodes them.
//
// Optuna's NSGAIISampler (the peer bench/mo_vs_optuna.py runs) defaults to uniform crossover and
// prior resampling: NsgaCrossover::uniform with NsgaMutation::resample; mahpo's defaults are
// Deb's operators, which bench/multi_objective_quality measured better on the ZDT and DTLZ problems.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mahpo/search/history.hpp>
#include <mahpo/search/pareto.hpp>
#include <mahpo/search/searcher.hpp>

namespace mahpo::search {

enum class NsgaCrossover { sbx, uniform };
NLOHMANN_JSON_SERIALIZE_ENUM(NsgaCrossover, {{NsgaCrossover::sbx, "sbx"}, {NsgaCrossover::uniform, "uniform"}})
enum class NsgaMutation { polynomial, resample };
NLOHMANN_JSON_SERIALIZE_ENUM(NsgaMutation,
                             {{NsgaMutation::polynomial, "polynomial"}, {NsgaMutation::resample, "resample"}})

struct Nsga2Options {
  std::size_t population_size = 50;
  NsgaCrossover crossover = NsgaCrossover::sbx;
  double crossover_probability = 0.9;
  double crossover_eta = 15.0;        // SBX's distribution index: larger keeps children nearer their parents
  double swapping_probability = 0.5;  // uniform crossover: a coordinate from the second parent
  NsgaMutation mutation = NsgaMutation::polynomial;
  std::optional<double> mutation_probability;  // per coordinate; unset: 1 / dimension
  double mutation_eta = 20.0;                  // polynomial mutation's distribution index
};

inline void to_json(nlohmann::json& json, const Nsga2Options& options) {
  json = {{"population_size", options.population_size},
          {"crossover", options.crossover},
          {"crossover_probability", options.crossover_probability},
          {"crossover_eta", options.crossover_eta},
          {"swapping_probability", options.swapping_probability},
          {"mutation", options.mutation},
          {"mutation_probability",
           options.mutation_probability ? nlohmann::json(*options.mutation_probability) : nlohmann::json()},
          {"mutation_eta", options.mutation_eta}};
}

namespace nsga2 {

// Each point's crowding distance within its front `members` (points minimized): infinite at each
// objective's ends, else the sum over objectives of the gap between its neighbours over the range.
inline std::vector<double> crowding_distances(const pareto::Points& points, const std::vector<std::size_t>& members) {
  std::vector<double> distance(members.size(), 0.0);
  if (members.empty()) return distance;
  std::vector<std::size_t> order(members.size());
  for (std::size_t m = 0; m < points[members.front()].size(); ++m) {
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return points[members[a]][m] < points[members[b]][m]; });
    const double low = points[members[order.front()]][m], high = points[members[order.back()]][m];
    distance[order.front()] = distance[order.back()] = std::numeric_limits<double>::infinity();
    if (!(high > low)) continue;
    for (std::size_t i = 1; i + 1 < order.size(); ++i) {
      distance[order[i]] += (points[members[order[i + 1]]][m] - points[members[order[i - 1]]][m]) / (high - low);
    }
  }
  return distance;
}

// SBX of two parents' coordinates in [0, 1] (Deb and Agrawal 1995, bounded form): the first child.
inline double sbx(double a, double b, double eta, double u, bool swap) {
  if (std::abs(a - b) <= 1e-14) return a;
  const double low = std::min(a, b), high = std::max(a, b), spread = high - low;
  const auto spread_factor = [&](double beta) {
    const double alpha = 2.0 - std::pow(beta, -(eta + 1.0));
    return u <= 1.0 / alpha ? std::pow(u * alpha, 1.0 / (eta + 1.0))
                            : std::pow(1.0 / (2.0 - u * alpha), 1.0 / (eta + 1.0));
  };
  const double c1 = 0.5 * (low + high - spread_factor(1.0 + 2.0 * low / spread) * spread);
  const double c2 = 0.5 * (low + high + spread_factor(1.0 + 2.0 * (1.0 - high) / spread) * spread);
  return std::clamp(swap ? c2 : c1, 0.0, 1.0);
}

// Polynomial mutation of a coordinate in [0, 1] (Deb, bounded form), index eta, uniform draw u.
inline double polynomial_mutation(double x, double eta, double u) {
  const double power = 1.0 / (eta + 1.0);
  double shift;
  if (u < 0.5) {
    const double value = 2.0 * u + (1.0 - 2.0 * u) * std::pow(1.0 - x, eta + 1.0);
    shift = std::pow(value, power) - 1.0;
  } else {
    const double value = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * std::pow(x, eta + 1.0);
    shift = 1.0 - std::pow(value, power);
  }
  return std::clamp(x + shift, 0.0, 1.0);
}

}  // namespace nsga2

template <typename S>
class Nsga2 {
 public:
  using space_type = S;
  static constexpr std::string_view name = "nsga2";
  static constexpr bool multi_objective = true;

  explicit Nsga2(SearchOptions options = {}, Nsga2Options nsga2 = {})
      : options_(options), nsga2_(checked(nsga2)), history_(goals_of(options)), rng_(options.seed) {}

  Trial<S> ask() {
    advance();
    const std::size_t generation = generation_;
    const Trial<S>& trial =
        history_.add(parents_.empty() ? S::sample(rng_) : S::from_unit_cube(child()), options_.budget);
    generation_of_.push_back(generation);
    return trial;
  }

  void tell(std::size_t id, const Result& result) { history_.tell(id, result, name); }
  // The pending trial `id` was run with `config` (see Searcher::replace).
  void replace(std::size_t id, const Config<S>& config) { history_.replace(id, config, name); }

  const SearchOptions& options() const { return options_; }
  const History<S>& history() const { return history_; }
  nlohmann::json options_json() const { return nsga2_; }
  // The generation new trials belong to (0: the prior's) and its parents' ids.
  std::size_t generation() const { return generation_; }
  const std::vector<std::size_t>& parents() const { return parents_; }

 private:
  using point_type = std::array<double, S::dimension>;

  static Nsga2Options checked(Nsga2Options nsga2) {
    const auto probability = [](double p) { return p >= 0.0 && p <= 1.0; };
    if (nsga2.population_size < 2) {
      throw std::invalid_argument(
          fmt::format("mahpo::nsga2: population_size is {}, must be at least 2", nsga2.population_size));
    }
    if (!probability(nsga2.crossover_probability) || !probability(nsga2.swapping_probability) ||
        (nsga2.mutation_probability && !probability(*nsga2.mutation_probability))) {
      throw std::invalid_argument("mahpo::nsga2: crossover, swapping and mutation probabilities must be in [0, 1]");
    }
    if (!(nsga2.crossover_eta >= 0.0) || !(nsga2.mutation_eta >= 0.0) || !std::isfinite(nsga2.crossover_eta) ||
        !std::isfinite(nsga2.mutation_eta)) {
      throw std::invalid_argument("mahpo::nsga2: crossover_eta and mutation_eta must be finite numbers >= 0");
    }
    return nsga2;
  }

  // Moves to the next generation while the current one holds population_size usable trials.
  void advance() {
    const auto& entries = history_.entries();
    for (;;) {
      std::vector<std::size_t> pool = parents_;
      std::size_t usable = 0;
      for (std::size_t id = 0; id < entries.size(); ++id) {
        if (generation_of_[id] == generation_ && entries[id].usable()) {
          pool.push_back(id);
          ++usable;
        }
      }
      if (usable < nsga2_.population_size) return;
      select(pool);
      ++generation_;
    }
  }

  // The best population_size of `pool` by front, then crowding distance, become the parents.
  void select(const std::vector<std::size_t>& pool) {
    const auto& entries = history_.entries();
    pareto::Points points;
    std::vector<double> violations;
    for (const std::size_t id : pool) {
      points.push_back(entries[id].losses);
      violations.push_back(entries[id].violation);
    }
    const auto rank = pareto::nondominated_ranks(points, violations);
    const std::size_t fronts = rank.empty() ? 0 : *std::max_element(rank.begin(), rank.end()) + 1;
    parents_.clear();
    parent_rank_.clear();
    parent_crowding_.clear();
    for (std::size_t front = 0; front < fronts && parents_.size() < nsga2_.population_size; ++front) {
      std::vector<std::size_t> members;
      for (std::size_t i = 0; i < pool.size(); ++i)
        if (rank[i] == front) members.push_back(i);
      const auto distance = nsga2::crowding_distances(points, members);
      std::vector<std::size_t> order(members.size());
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return distance[a] > distance[b] || (distance[a] == distance[b] && pool[members[a]] < pool[members[b]]);
      });
      for (std::size_t k = 0; k < order.size() && parents_.size() < nsga2_.population_size; ++k) {
        parents_.push_back(pool[members[order[k]]]);
        parent_rank_.push_back(front);
        parent_crowding_.push_back(distance[order[k]]);
      }
    }
  }

  // A parent's index by binary tournament: the lower front wins, then the larger crowding distance.
  std::size_t tournament() {
    std::uniform_int_distribution<std::size_t> pick(0, parents_.size() - 1);
    const std::size_t a = pick(rng_), b = pick(rng_);
    if (parent_rank_[a] != parent_rank_[b]) return parent_rank_[a] < parent_rank_[b] ? a : b;
    return parent_crowding_[a] >= parent_crowding_[b] ? a : b;
  }

  point_type child() {
    const auto& entries = history_.entries();
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    point_type point{};
    if (unit(rng_) < nsga2_.crossover_probability) {
      const point_type& first = entries[parents_[tournament()]].point;
      const point_type& second = entries[parents_[tournament()]].point;
      for (std::size_t k = 0; k < S::dimension; ++k) {
        if (nsga2_.crossover == NsgaCrossover::uniform) {
          point[k] = unit(rng_) < nsga2_.swapping_probability ? second[k] : first[k];
        } else {
          const double u = unit(rng_);
          const bool crossed = unit(rng_) < 0.5, swap = unit(rng_) < 0.5;
          point[k] = crossed ? nsga2::sbx(first[k], second[k], nsga2_.crossover_eta, u, swap) : first[k];
        }
      }
    } else {
      point = entries[parents_[std::uniform_int_distribution<std::size_t>(0, parents_.size() - 1)(rng_)]].point;
    }
    const double rate = nsga2_.mutation_probability.value_or(1.0 / static_cast<double>(std::max<std::size_t>(
                                                                       1, S::dimension)));
    for (std::size_t k = 0; k < S::dimension; ++k) {
      if (unit(rng_) >= rate) continue;
      const double u = unit(rng_);
      point[k] = nsga2_.mutation == NsgaMutation::resample
                     ? u
                     : nsga2::polynomial_mutation(point[k], nsga2_.mutation_eta, u);
    }
    return point;
  }

  SearchOptions options_;
  Nsga2Options nsga2_;
  History<S> history_;
  std::mt19937_64 rng_;
  std::size_t generation_ = 0;
  std::vector<std::size_t> generation_of_;  // by trial id
  std::vector<std::size_t> parents_, parent_rank_;
  std::vector<double> parent_crowding_;
};

// Nsga2 of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S>
  requires(!SearchSpace<S>)
class Nsga2<S> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
