#pragma once
// The searcher contract and what every searcher shares.
//
// A searcher proposes trials and learns from their results:
//
//   Trial<S> trial = searcher.ask();        // an id, a config of space S, a budget
//   searcher.tell(trial.id, result);        // mahpo::Result: value, status, intermediate values
//
// Rules every searcher in mahpo follows (and `tests/search/test_laws.cpp` checks):
// - ask() never blocks and always returns a trial; trials may be pending (asked, not yet told)
//   in any number, and tells may come in any order. Multi-fidelity searchers open a new bracket
//   when the current one waits for results.
// - tell() refuses, with std::invalid_argument, an id that was never asked or is told twice.
// - Seeded and deterministic: the same seed and the same sequence of asks and tells give the same
//   trials.
// - `goal` says whether the value is maximized (the default: accuracies) or minimized. Inside,
//   searchers minimize a loss: -value or value.
// - Only `ok` and `pruned` results are fitted by models; `failed` and `diverged` trials are kept
//   in the history (they count as trials) but carry no value a model could trust (as in Optuna).

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/hana/at.hpp>
#include <fmt/format.h>

#include <mahpo/objective.hpp>
#include <mahpo/space/config.hpp>
#include <mahpo/space/parameters.hpp>
#include <mahpo/space/space.hpp>

namespace mahpo::search {

enum class Goal { maximize, minimize };

inline const char* to_string(Goal goal) { return goal == Goal::maximize ? "maximize" : "minimize"; }

// What every searcher takes besides its own options.
struct SearchOptions {
  std::uint64_t seed = 0;
  Goal goal = Goal::maximize;
  Budget budget{};  // the budget of every trial of a single-fidelity searcher
};

template <typename S>
struct Trial {
  std::size_t id = 0;
  Config<S> config;
  Budget budget{};
};

// The contract, checked at the study's entry points.
template <typename T>
concept Searcher = requires(T& searcher, std::size_t id, const Result& result) {
  typename T::space_type;
  { T::name } -> std::convertible_to<std::string_view>;
  { searcher.ask() } -> std::same_as<Trial<typename T::space_type>>;
  searcher.tell(id, result);
  { searcher.options() } -> std::convertible_to<const SearchOptions&>;
};

// ---- how a model sees a space: each free parameter is one coordinate of [0, 1]^d

enum class Kind { continuous, integer, categorical };

struct Dimension {
  std::string_view name;
  Kind kind = Kind::continuous;
  std::size_t count = 0;  // values of an integer or categorical parameter; 0 for a real one
};

// The free dimensions of S, in unit-cube order. Integers keep their encoding's order (each value
// owns an equal cell of [0, 1]); categoricals are unordered cells.
template <typename S>
std::array<Dimension, S::dimension> dimensions() {
  std::array<Dimension, S::dimension> all{};
  S::for_each_parameter([&](auto index, auto type) {
    using P = typename decltype(type)::type;
    if constexpr (!P::is_fixed) {
      auto& d = all[S::free_position(decltype(index)::value)];
      d.name = P::name.view();
      if constexpr (requires { P::count; }) {
        d.kind = Kind::categorical;
        d.count = P::count;
      } else if constexpr (std::same_as<typename P::value_type, std::int64_t>) {
        d.kind = Kind::integer;
        d.count = static_cast<std::size_t>(P::upper - P::lower + 1);
      } else {
        d.kind = Kind::continuous;
      }
    }
  });
  return all;
}

// Snaps a unit-cube point onto the values the space can hold (the centre of an integer's or a
// categorical's cell), so equal configs have equal points.
template <typename S>
std::array<double, S::dimension> snap(std::span<const double> point) {
  return S::to_unit_cube(S::from_unit_cube(point));
}

// The index of the equal-width cell of [0, 1] that holds u, of `count` cells (how Int and
// Categorical decode a coordinate).
inline std::size_t unit_cell(double u, std::size_t count) {
  const auto cell = static_cast<std::size_t>(std::floor(std::clamp(u, 0.0, 1.0) * static_cast<double>(count)));
  return std::min(cell, count - 1);
}

namespace detail {
// A draw of N(mean, sigma) truncated to [0, 1], by rejection (with mean in [0, 1] and sigma <= 1 a
// draw lands inside with probability at least 1/3); after 200 misses, the mean clamped to [0, 1].
inline double truncated_normal_unit(double mean, double sigma, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(mean, sigma);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const double x = normal(rng);
    if (x >= 0.0 && x <= 1.0) return x;
  }
  return std::clamp(mean, 0.0, 1.0);
}
}  // namespace detail

// ---- the history every searcher keeps

template <typename S>
struct Observation {
  using point_type = std::array<double, S::dimension>;
  std::size_t id = 0;
  Config<S> config;
  point_type point{};  // the config in the unit cube
  Budget budget{};
  bool finished = false;
  Result result;
  double loss = std::numeric_limits<double>::quiet_NaN();  // -value or value; NaN until told, or if unusable

  bool usable() const { return finished && (result.status == Status::ok || result.status == Status::pruned); }
};

// Trials in the order they were asked; ids are 0, 1, 2, ... . Checks tells.
template <typename S>
class History {
 public:
  using observation_type = Observation<S>;

  explicit History(Goal goal = Goal::maximize) : goal_(goal) {}

  const Trial<S>& add(Config<S> config, Budget budget) {
    observation_type entry;
    entry.id = entries_.size();
    entry.point = S::to_unit_cube(config);
    entry.config = std::move(config);
    entry.budget = budget;
    entries_.push_back(std::move(entry));
    last_ = Trial<S>{entries_.back().id, entries_.back().config, budget};
    return last_;
  }

  // Records a result; throws std::invalid_argument for an unknown id or a second tell.
  const observation_type& tell(std::size_t id, const Result& result, std::string_view searcher) {
    if (id >= entries_.size()) {
      throw std::invalid_argument(fmt::format("mahpo::{}: tell({}): no trial {} was asked ({} asked so far)", searcher,
                                              id, id, entries_.size()));
    }
    auto& entry = entries_[id];
    if (entry.finished) {
      throw std::invalid_argument(fmt::format("mahpo::{}: tell({}): trial {} was already told", searcher, id, id));
    }
    entry.finished = true;
    entry.result = result;
    ++finished_;
    if (entry.usable()) entry.loss = goal_ == Goal::maximize ? -result.value : result.value;
    return entry;
  }

  const std::vector<observation_type>& entries() const { return entries_; }
  std::size_t asked() const { return entries_.size(); }
  std::size_t finished() const { return finished_; }
  std::size_t pending() const { return entries_.size() - finished_; }
  Goal goal() const { return goal_; }

  // The finished trials a model may fit (ok or pruned), in the order they were asked.
  std::vector<const observation_type*> usable() const {
    std::vector<const observation_type*> all;
    for (const auto& entry : entries_) {
      if (entry.usable()) all.push_back(&entry);
    }
    return all;
  }

  // The trials asked and not yet told (for constant-liar strategies).
  std::vector<const observation_type*> running() const {
    std::vector<const observation_type*> all;
    for (const auto& entry : entries_) {
      if (!entry.finished) all.push_back(&entry);
    }
    return all;
  }

  // The usable trial with the lowest loss, if any.
  const observation_type* best() const {
    const observation_type* found = nullptr;
    for (const auto& entry : entries_) {
      if (entry.usable() && (found == nullptr || entry.loss < found->loss)) found = &entry;
    }
    return found;
  }

 private:
  Goal goal_;
  std::vector<observation_type> entries_;
  std::size_t finished_ = 0;
  Trial<S> last_;
};

}  // namespace mahpo::search
