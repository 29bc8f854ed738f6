#pragma once
// Bracket bookkeeping shared by SuccessiveHalving, Hyperband and Bohb (not a searcher itself).
//
// - Shape: the budget levels and the brackets' sizes of Hyperband (Li et al. 2018, Algorithm 1),
//   validated once. Level 0 is the smallest budget, level s_max the largest (max_budget).
// - Scheduler: hands out, for each trial asked, its budget and whether it is a new config or a
//   promoted one (and whose config it continues); runs several brackets at once when the current
//   one waits for results (as HpBandSter runs several iterations in parallel); promotes the best
//   n_{i+1} (= floor(n_i / eta) for an integer eta) of a rung once all the rung's trials are told. Everything it does
//   depends only on the order of asks and tells, so it is deterministic. It also says which trials
//   no rung will continue any more (take_dropped), so that their saved training states can go.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace mahpo::search::hyperband::detail {

// floor and ceil that forgive the rounding error of a quantity like n·eta^-i or log(R/r)/log(eta)
// computed in floating point (81·3^-4 may come out as 0.99999999999).
inline double forgiving_floor(double x) { return std::floor(x + 1e-9 * std::max(1.0, std::abs(x))); }
inline double forgiving_ceil(double x) { return std::ceil(x - 1e-9 * std::max(1.0, std::abs(x))); }

// The most configs one bracket may hold (guards against a huge max_budget / min_budget).
inline constexpr double max_bracket_size = 1e7;

struct Shape {
  double min_budget = 1.0 / 9.0;
  double max_budget = 1.0;
  double eta = 3.0;
  std::size_t s_max = 0;

  // The budget of a level: R·eta^(level - s_max), so level s_max is max_budget (Li et al. 2018: r_i = r·eta^i).
  double budget(std::size_t level) const {
    return max_budget * std::pow(eta, static_cast<double>(level) - static_cast<double>(s_max));
  }

  // n = ceil((s_max + 1) / (s + 1) · eta^s) configs start bracket s (Li et al. 2018, Algorithm 1).
  std::size_t bracket_size(std::size_t s) const {
    const double n = forgiving_ceil(static_cast<double>(s_max + 1) / static_cast<double>(s + 1) *
                                    std::pow(eta, static_cast<double>(s)));
    return static_cast<std::size_t>(n);
  }

  // n_i = floor(n · eta^-i) configs in rung i of bracket s, at least one (Li et al. 2018, Algorithm 1).
  std::size_t rung_size(std::size_t s, std::size_t rung) const {
    const double n = static_cast<double>(bracket_size(s)) / std::pow(eta, static_cast<double>(rung));
    return std::max<std::size_t>(1, static_cast<std::size_t>(forgiving_floor(n)));
  }

  // The level of rung i of bracket s, so that budget(level(s, i)) = r·eta^i with r = R·eta^-s (Li et
  // al. 2018, Algorithm 1): bracket s starts s_max - s levels above the smallest budget.
  std::size_t level(std::size_t s, std::size_t rung) const { return s_max - s + rung; }
};

// Validates the options and derives s_max = floor(log_eta(R / r)) (Li et al. 2018).
inline Shape make_shape(std::string_view searcher, double min_budget, double max_budget, double eta) {
  if (!(eta >= 2.0) || !std::isfinite(eta)) {
    throw std::invalid_argument(fmt::format("mahpo::{}: eta ({}) must be at least 2", searcher, eta));
  }
  if (!(min_budget > 0.0) || !std::isfinite(min_budget)) {
    throw std::invalid_argument(fmt::format("mahpo::{}: min_budget ({}) must be above 0", searcher, min_budget));
  }
  if (!(max_budget >= min_budget) || !std::isfinite(max_budget)) {
    throw std::invalid_argument(fmt::format("mahpo::{}: max_budget ({}) must be finite and at least min_budget ({})",
                                            searcher, max_budget, min_budget));
  }
  Shape shape{.min_budget = min_budget, .max_budget = max_budget, .eta = eta, .s_max = 0};
  const double s_max = forgiving_floor(std::log(max_budget / min_budget) / std::log(eta));
  if (std::pow(eta, s_max) > max_bracket_size) {
    throw std::invalid_argument(
        fmt::format("mahpo::{}: max_budget / min_budget ({}) with eta {} gives brackets of more than {} configs",
                    searcher, max_budget / min_budget, eta, max_bracket_size));
  }
  shape.s_max = static_cast<std::size_t>(std::max(0.0, s_max));
  return shape;
}

// Which brackets open, in turn: Hyperband's s_max, s_max - 1, ..., 0, or only s_max (successive halving).
enum class Cycle { all_brackets, most_aggressive };

// What the scheduler says about the next trial.
struct Slot {
  double budget = 0.0;
  std::size_t level = 0;
  std::optional<std::size_t>
      parent;  // the trial whose config this one continues at a bigger budget; none: a new config
};

class Scheduler {
 public:
  Scheduler(Shape shape, Cycle cycle) : shape_(shape) {
    if (cycle == Cycle::most_aggressive) {
      cycle_.push_back(shape_.s_max);
    } else {
      for (std::size_t s = shape_.s_max + 1; s-- > 0;) cycle_.push_back(s);
    }
  }

  // The slot of trial `id`, which must be the next id (0, 1, 2, ...). The oldest open bracket whose
  // current rung has a trial left to ask gives it; when none has, the next bracket of the cycle opens.
  Slot ask(std::size_t id) {
    if (id != locations_.size()) {
      throw std::logic_error(
          fmt::format("mahpo: bracket scheduler asked for trial {}, expected {}", id, locations_.size()));
    }
    Bracket* bracket = nullptr;
    for (auto& open : open_) {
      if (open.rungs[open.current].ids.size() < open.rungs[open.current].size) {
        bracket = &open;
        break;
      }
    }
    if (bracket == nullptr) bracket = &open_bracket();
    Rung& rung = bracket->rungs[bracket->current];
    const std::size_t index = rung.ids.size();
    rung.ids.push_back(id);
    rung.losses.push_back(std::numeric_limits<double>::infinity());
    locations_.push_back(Location{bracket->serial, bracket->current, index, rung.level});
    Slot slot{.budget = shape_.budget(rung.level), .level = rung.level, .parent = std::nullopt};
    if (bracket->current > 0) slot.parent = rung.parents[index];
    return slot;
  }

  // Records trial id's loss (lower is better; NaN or infinite: the worst, as failed trials).
  // When it completes a rung, the rung's best go up to the next rung.
  void tell(std::size_t id, double loss) {
    if (id >= locations_.size()) throw std::logic_error(fmt::format("mahpo: bracket scheduler: no trial {}", id));
    const Location& location = locations_[id];
    const auto found = std::find_if(open_.begin(), open_.end(),
                                    [&](const Bracket& bracket) { return bracket.serial == location.bracket; });
    if (found == open_.end()) throw std::logic_error(fmt::format("mahpo: bracket scheduler: trial {} told twice", id));
    Rung& rung = found->rungs[location.rung];
    rung.losses[location.index] = std::isfinite(loss) ? loss : std::numeric_limits<double>::infinity();
    if (location.rung > 0) dropped_.push_back(rung.parents[location.index]);  // this trial continued it
    if (++rung.told < rung.size) return;
    if (found->current + 1 == found->rungs.size()) {
      dropped_.insert(dropped_.end(), rung.ids.begin(), rung.ids.end());
      open_.erase(found);
      return;
    }
    // Promote the best n_{i+1}, best first; ties keep the order they were asked in.
    std::vector<std::size_t> order(rung.size);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return rung.losses[a] < rung.losses[b]; });
    Rung& next = found->rungs[++found->current];
    for (std::size_t k = 0; k < next.size; ++k) next.parents.push_back(rung.ids[order[k]]);
    for (std::size_t k = next.size; k < rung.size; ++k) dropped_.push_back(rung.ids[order[k]]);
  }

  // The trials no rung will continue any more, since the last call: not promoted, at the last rung,
  // or continued by a promoted trial that has been told (their saved states may go).
  std::vector<std::size_t> take_dropped() { return std::exchange(dropped_, {}); }

  // The budget level of an asked trial.
  std::size_t level(std::size_t id) const { return locations_.at(id).level; }
  // The bracket (its serial: 0, 1, 2, ... in the order they opened) an asked trial belongs to.
  std::size_t bracket(std::size_t id) const { return locations_.at(id).bracket; }
  std::size_t open_brackets() const { return open_.size(); }
  const Shape& shape() const { return shape_; }

 private:
  struct Rung {
    std::size_t level = 0;
    std::size_t size = 0;
    std::vector<std::size_t> parents;  // rung > 0: the promoted trials, best first
    std::vector<std::size_t> ids;      // the trials asked in this rung
    std::vector<double> losses;
    std::size_t told = 0;
  };
  struct Bracket {
    std::size_t serial = 0;
    std::size_t current = 0;  // the rung being asked or waited for
    std::vector<Rung> rungs;
  };
  struct Location {
    std::size_t bracket = 0, rung = 0, index = 0, level = 0;
  };

  Bracket& open_bracket() {
    const std::size_t s = cycle_[next_serial_ % cycle_.size()];
    Bracket bracket{.serial = next_serial_++, .current = 0, .rungs = {}};
    for (std::size_t i = 0; i <= s; ++i) {
      bracket.rungs.push_back(Rung{.level = shape_.level(s, i),
                                   .size = shape_.rung_size(s, i),
                                   .parents = {},
                                   .ids = {},
                                   .losses = {},
                                   .told = 0});
    }
    open_.push_back(std::move(bracket));
    return open_.back();
  }

  Shape shape_;
  std::vector<std::size_t> cycle_;
  std::vector<Bracket> open_;  // in the order they opened
  std::vector<Location> locations_;
  std::vector<std::size_t> dropped_;
  std::size_t next_serial_ = 0;
};

}  // namespace mahpo::search::hyperband::detail
