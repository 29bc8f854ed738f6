#pragma once
// Annealing: hyperopt's `anneal.suggest` (Bergstra et al., hyperopt's AnnealingAlgo) in the unit cube.
// Each ask picks one earlier finished trial, the one at a rank drawn from a geometric distribution
// over the trials sorted by loss (rank 1 the best, mean rank `average_best_rank`), and samples a
// new config around it; the neighbourhood shrinks as trials accumulate:
//   - a real or integer coordinate is drawn uniformly from a window of width
//     1 / (1 + T * shrink_coefficient) (T: finished usable trials) centred on the chosen trial's
//     coordinate, shifted (not cut) to lie inside [0, 1], as hyperopt does for its uniform priors;
//     an integer then falls into the cell its draw lands in, as for hyperopt's quniform (hyperopt's
//     unordered randint mixes like a categorical; mahpo's Int is ordered, so it gets the window);
//   - a categorical keeps the chosen trial's value, or with probability equal to the same fraction
//     is drawn from its (uniform) prior: hyperopt's mixture (1 - f) * onehot + f * prior.
// Before any finished usable trial every config is a prior draw (a window of width 1 is the prior).
// Defaults are hyperopt's: average_best_rank 2 (avg_best_idx), shrink_coefficient 0.1 (shrink_coef).
//
// Choices where hyperopt differs or leaves it open:
//   - All of mahpo's priors are uniform in the unit cube (log scales included), so every numeric
//     coordinate gets hyperopt's uniform window; hyperopt's normal priors (a normal of shrunk sigma)
//     have no counterpart here.
//   - Pending trials are ignored: they are neither ranked nor counted in T (hyperopt ranks running
//     and failed trials last with an infinite loss and counts them in T). Failed and diverged
//     trials are ignored too. So a burst of asks with no tells draws around the same trials.
//   - The space is flat, so one trial is chosen per ask and serves every coordinate (hyperopt reuses
//     its first pick for every label that trial defines).
//   - Ties in loss rank by id (the older trial first).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <mahpo/search/history.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/search/unit_cube.hpp>

namespace mahpo::search {

struct AnnealOptions {
  double average_best_rank = 2.0;   // mean of the geometric distribution over ranks, 1 = the best (>= 1)
  double shrink_coefficient = 0.1;  // the window is 1 / (1 + T * shrink_coefficient) of the range (>= 0)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AnnealOptions, average_best_rank, shrink_coefficient)

namespace anneal::detail {

inline double uniform(std::uniform_random_bit_generator auto& rng) {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// A rank 1, 2, 3, ... from a geometric distribution of mean `average_best_rank` (success
// probability 1 / mean; hyperopt: rng.geometric(1 / avg_best_idx)), by inverting
// P(rank > k) = (1 - p)^k, so the draw is the same under every standard library.
inline std::size_t draw_rank(std::uniform_random_bit_generator auto& rng, double average_best_rank) {
  const double success = 1.0 / average_best_rank;
  const double u = uniform(rng);  // consumed even when success == 1, so the stream stays aligned
  if (success >= 1.0) return 1;
  const double failures = std::floor(std::log1p(-u) / std::log1p(-success));
  return 1 + static_cast<std::size_t>(std::min(failures, 1e15));
}

// The fraction of the original range the window keeps after `observations` (hyperopt: shrinking).
inline double shrink(std::size_t observations, double shrink_coefficient) {
  return 1.0 / (1.0 + static_cast<double>(observations) * shrink_coefficient);
}

// A uniform draw from a window of width `width` centred on `centre`, shifted to fit in [0, 1]
// (hyperopt's hp_uniform clips the midpoint to [half, 1 - half]).
inline double window_draw(std::uniform_random_bit_generator auto& rng, double centre, double width) {
  const double half = 0.5 * std::min(width, 1.0);
  const double middle = std::clamp(centre, half, 1.0 - half);
  return std::clamp(middle - half + 2.0 * half * uniform(rng), 0.0, 1.0);
}

}  // namespace anneal::detail

template <typename S>
class Anneal {
 public:
  using space_type = S;
  static constexpr std::string_view name = "anneal";

  explicit Anneal(SearchOptions options = {}, AnnealOptions anneal = {})
      : options_(options),
        anneal_(checked(anneal)),
        history_(options.goal),
        rng_(options.seed),
        dimensions_(dimensions<S>()) {}

  Trial<S> ask() {
    auto ranked = history_.usable();
    if (ranked.empty()) return history_.add(S::sample(rng_), options_.budget);
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto* a, const auto* b) { return a->loss < b->loss; });
    const std::size_t rank = anneal::detail::draw_rank(rng_, anneal_.average_best_rank);
    const auto& chosen = ranked[std::min(rank, ranked.size()) - 1]->point;
    const double fraction = anneal::detail::shrink(ranked.size(), anneal_.shrink_coefficient);

    std::array<double, S::dimension> point{};
    for (std::size_t k = 0; k < S::dimension; ++k) {
      if (dimensions_[k].kind == Kind::categorical) {
        // hyperopt's hp_categorical: p = (1 - f) * onehot(chosen) + f * prior.
        const bool from_prior = anneal::detail::uniform(rng_) < fraction;
        const double prior_draw = anneal::detail::uniform(rng_);
        point[k] = from_prior ? prior_draw : chosen[k];
      } else {
        point[k] = anneal::detail::window_draw(rng_, chosen[k], fraction);
      }
    }
    return history_.add(S::from_unit_cube(point), options_.budget);
  }

  void tell(std::size_t id, const Result& result) { history_.tell(id, result, name); }
  // The pending trial `id` was run with `config` (see Searcher::replace).
  void replace(std::size_t id, const Config<S>& config) { history_.replace(id, config, name); }

  const AnnealOptions& anneal_options() const { return anneal_; }
  nlohmann::json options_json() const { return anneal_; }
  const SearchOptions& options() const { return options_; }
  const History<S>& history() const { return history_; }

 private:
  static AnnealOptions checked(const AnnealOptions& anneal) {
    if (!(anneal.average_best_rank >= 1.0) || !std::isfinite(anneal.average_best_rank)) {
      throw std::invalid_argument(fmt::format(
          "mahpo::anneal: average_best_rank is {}, must be a finite number >= 1 (1 always picks the best trial)",
          anneal.average_best_rank));
    }
    if (!(anneal.shrink_coefficient >= 0.0) || !std::isfinite(anneal.shrink_coefficient)) {
      throw std::invalid_argument(fmt::format(
          "mahpo::anneal: shrink_coefficient is {}, must be a finite number >= 0 (0 never shrinks the window)",
          anneal.shrink_coefficient));
    }
    return anneal;
  }

  SearchOptions options_;
  AnnealOptions anneal_;
  History<S> history_;
  std::mt19937_64 rng_;
  std::array<Dimension, S::dimension> dimensions_;
};

// Anneal of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S>
  requires(!SearchSpace<S>)
class Anneal<S> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
