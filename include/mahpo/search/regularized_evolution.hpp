#pragma once
// Regularized ("aging") evolution: Real, Aggarwal, Huang & Le, "Regularized Evolution for Image
// Classifier Architecture Search", AAAI 2019, Algorithm 1, in the unit cube.
// The first `population` asks are prior draws. After that each ask holds a tournament: `sample`
// distinct members drawn at random from the population, the one with the lowest loss is the
// parent, and the child is the parent with exactly one free dimension mutated. The population is
// the newest `population` finished usable trials in the order they were told; a new one pushes the
// oldest out (aging), however good it was: that is the "regularization".
// Defaults are the paper's: population 100, sample 25. For small budgets use
// `EvolutionOptions::for_budget(trials)`: population = clamp(trials / 4, 10, 100) and
// sample = clamp(population / 4, 2, 25), so that at least three quarters of the budget evolves and
// the tournament keeps the paper's sample/population ratio of 1/4.
//
// Choices the paper leaves open (it mutates architectures, not hyperparameters):
//   - Mutation of a real or integer coordinate: a Gaussian step of standard deviation
//     `mutation_scale` in the unit cube, reflected at 0 and 1; while the step lands on the parent's
//     own value (an integer's cell) the deviation doubles, so the child always differs and small
//     changes stay likelier than large ones. mutation_scale = 0 resamples the coordinate from the
//     prior instead (the paper's "random different op"). The default 0.1 did best of {0, 0.05,
//     0.1, 0.2} on Branin (100 trials) and Hartmann-6 over 51 seeds; prior resampling was worst.
//     A categorical takes a different value, uniformly among the others.
//   - Only dimensions with more than one value mutate (a one-value categorical never does); a space
//     with none gives prior draws.
//   - The tournament draws `sample` distinct members (Algorithm 1 leaves repeats open), so
//     sample = population picks the best of the population.
//   - Pending trials: asked trials count toward the initial random phase, so ask() never waits;
//     afterwards children come from whatever the population holds (prior draws while it is empty,
//     e.g. when every finished trial failed). Failed and diverged trials never join the population.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <deque>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <mahpo/search/history.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/search/unit_cube.hpp>

namespace mahpo::search {

struct EvolutionOptions {
  std::size_t population = 100;  // P: the newest P finished usable trials (>= 1)
  std::size_t sample = 25;       // S: tournament size, 1 <= S <= P
  double mutation_scale = 0.1;   // std dev of a numeric coordinate's step in [0, 1]; 0: resample from the prior

  // Smaller populations for small budgets: population = clamp(trials / 4, 10, 100),
  // sample = clamp(population / 4, 2, 25).
  static EvolutionOptions for_budget(std::size_t trials) {
    EvolutionOptions options;
    options.population = std::clamp<std::size_t>(trials / 4, 10, 100);
    options.sample = std::clamp<std::size_t>(options.population / 4, 2, 25);
    return options;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(EvolutionOptions, population, sample, mutation_scale)

namespace evolution::detail {

// Folds any real onto [0, 1] by reflecting at both ends (period 2).
inline double reflect(double x) {
  double folded = std::fmod(std::abs(x), 2.0);
  if (folded > 1.0) folded = 2.0 - folded;
  return std::clamp(folded, 0.0, 1.0);
}

}  // namespace evolution::detail

template <typename S>
class RegularizedEvolution {
 public:
  using space_type = S;
  static constexpr std::string_view name = "regularized_evolution";

  explicit RegularizedEvolution(SearchOptions options = {}, EvolutionOptions evolution = {})
      : options_(options), evolution_(checked(evolution)), history_(options.goal), rng_(options.seed) {
    const auto all = dimensions<S>();
    for (std::size_t k = 0; k < S::dimension; ++k) {
      if (all[k].kind == Kind::continuous || all[k].count > 1) mutable_.push_back(k);
    }
    kinds_ = all;
  }

  Trial<S> ask() {
    if (history_.asked() < evolution_.population || population_.empty() || mutable_.empty()) {
      return history_.add(S::sample(rng_), options_.budget);
    }
    const auto& entries = history_.entries();
    const auto& parent = entries[tournament()];
    return history_.add(S::from_unit_cube(mutate(parent.point)), options_.budget);
  }

  void tell(std::size_t id, const Result& result) {
    if (history_.tell(id, result, name).usable()) {
      population_.push_back(id);  // Algorithm 1: the child joins on the right, the oldest leaves on the left
      if (population_.size() > evolution_.population) population_.pop_front();
    }
  }

  // The ids of the current population, oldest first.
  const std::deque<std::size_t>& population() const { return population_; }
  const EvolutionOptions& evolution_options() const { return evolution_; }
  nlohmann::json options_json() const { return evolution_; }
  // The pending trial `id` was run with `config` (see Searcher::replace).
  void replace(std::size_t id, const Config<S>& config) { history_.replace(id, config, name); }
  const SearchOptions& options() const { return options_; }
  const History<S>& history() const { return history_; }

 private:
  using point_type = std::array<double, S::dimension>;

  static EvolutionOptions checked(const EvolutionOptions& evolution) {
    if (evolution.population < 1) {
      throw std::invalid_argument("mahpo::regularized_evolution: population is 0, must be at least 1");
    }
    if (evolution.sample < 1 || evolution.sample > evolution.population) {
      throw std::invalid_argument(
          fmt::format("mahpo::regularized_evolution: sample is {}, must be in [1, population = {}]", evolution.sample,
                      evolution.population));
    }
    if (!(evolution.mutation_scale >= 0.0) || !std::isfinite(evolution.mutation_scale)) {
      throw std::invalid_argument(
          fmt::format("mahpo::regularized_evolution: mutation_scale is {}, must be a finite number >= 0 (0: resample "
                      "from the prior)",
                      evolution.mutation_scale));
    }
    return evolution;
  }

  // The id of the lowest-loss member of `sample` distinct random members (ties: the first drawn).
  std::size_t tournament() {
    const auto& entries = history_.entries();
    members_.resize(population_.size());
    std::iota(members_.begin(), members_.end(), std::size_t{0});
    const std::size_t size = std::min(evolution_.sample, members_.size());
    std::size_t best = population_[0];
    bool found = false;
    for (std::size_t i = 0; i < size; ++i) {  // a partial Fisher-Yates shuffle
      std::uniform_int_distribution<std::size_t> pick(i, members_.size() - 1);
      std::swap(members_[i], members_[pick(rng_)]);
      const std::size_t id = population_[members_[i]];
      if (!found || entries[id].loss < entries[best].loss) best = id;
      found = true;
    }
    return best;
  }

  // The parent's point with one mutable coordinate moved to a different value.
  point_type mutate(const point_type& parent) {
    const std::size_t k = mutable_[std::uniform_int_distribution<std::size_t>(0, mutable_.size() - 1)(rng_)];
    point_type child = parent;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    if (kinds_[k].kind == Kind::categorical) {
      const std::size_t count = kinds_[k].count;
      const auto current = std::min(static_cast<std::size_t>(parent[k] * static_cast<double>(count)), count - 1);
      std::size_t other = std::uniform_int_distribution<std::size_t>(0, count - 2)(rng_);
      if (other >= current) ++other;  // uniform over the count - 1 other values
      child[k] = (static_cast<double>(other) + 0.5) / static_cast<double>(count);
      return child;
    }
    const double own = snap<S>(parent)[k];
    double deviation = evolution_.mutation_scale;
    for (int attempt = 0; attempt < 64; ++attempt) {
      child[k] = deviation > 0.0 ? evolution::detail::reflect(parent[k] + deviation * normal_(rng_)) : unit(rng_);
      if (snap<S>(child)[k] != own) return child;
      deviation *= 2.0;  // a wide integer cell: grow the step until it leaves it
    }
    for (;;) {  // a draw from the prior leaves the parent's cell with probability > 0
      child[k] = unit(rng_);
      if (snap<S>(child)[k] != own) return child;
    }
  }

  SearchOptions options_;
  EvolutionOptions evolution_;
  History<S> history_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_{0.0, 1.0};
  std::array<Dimension, S::dimension> kinds_{};
  std::vector<std::size_t> mutable_;
  std::deque<std::size_t> population_;
  std::vector<std::size_t> members_;
};

// RegularizedEvolution of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S>
  requires(!SearchSpace<S>)
class RegularizedEvolution<S> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
