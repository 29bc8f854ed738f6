#pragma once
// What every searcher keeps: the trials it asked, in order, with their unit-cube points, budgets and
// results; checks tells (unknown ids, second tells) with errors that name the searcher.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <mahpo/objective.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/space/config.hpp>

namespace mahpo::search {

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
  std::vector<double> losses;  // several objectives: each one minimized (-value or value); empty until usable
  double violation = 0.0;      // the sum of the result's positive constraint values (0: feasible)

  bool usable() const { return finished && (result.status == Status::ok || result.status == Status::pruned); }
};

// Trials in the order they were asked; ids are 0, 1, 2, ... . Checks tells.
template <typename S>
class History {
 public:
  using observation_type = Observation<S>;

  explicit History(Goal goal = Goal::maximize) : goal_(goal), goals_{goal} {}
  // A history of several objectives (SearchOptions::goals); one goal: the same as History(goal).
  explicit History(std::vector<Goal> goals)
      : goal_(goals.empty() ? Goal::maximize : goals.front()), goals_(std::move(goals)) {
    if (goals_.empty()) goals_.push_back(goal_);
  }

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

  // Makes `config` the config of pending trial `id` (Searcher::replace); throws
  // std::invalid_argument for an unknown id or a trial already told.
  const observation_type& replace(std::size_t id, Config<S> config, std::string_view searcher) {
    if (id >= entries_.size() || entries_[id].finished) {
      throw std::invalid_argument(fmt::format("mahpo::{}: replace({}): trial {} is {}", searcher, id, id,
                                              id >= entries_.size() ? "unknown" : "already told"));
    }
    auto& entry = entries_[id];
    entry.point = S::to_unit_cube(config);
    entry.config = std::move(config);
    if (last_.id == id) last_.config = entry.config;
    return entry;
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
    const bool usable = result.status == Status::ok || result.status == Status::pruned;
    if (usable && goals_.size() > 1 && result.values.size() != goals_.size()) {
      throw std::invalid_argument(fmt::format("mahpo::{}: tell({}): {} objective values, {} expected", searcher, id,
                                              result.values.size(), goals_.size()));
    }
    entry.finished = true;
    entry.result = result;
    ++finished_;
    if (entry.usable()) {
      entry.loss = goal_ == Goal::maximize ? -result.value : result.value;
      if (goals_.size() > 1) {
        for (std::size_t m = 0; m < goals_.size(); ++m)
          entry.losses.push_back(goals_[m] == Goal::maximize ? -result.values[m] : result.values[m]);
      } else {
        entry.losses.push_back(entry.loss);
      }
      for (double constraint : result.constraints) entry.violation += std::max(0.0, constraint);
    }
    return entry;
  }

  const std::vector<observation_type>& entries() const { return entries_; }
  std::size_t asked() const { return entries_.size(); }
  std::size_t finished() const { return finished_; }
  std::size_t pending() const { return entries_.size() - finished_; }
  Goal goal() const { return goal_; }
  const std::vector<Goal>& goals() const { return goals_; }

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
  std::vector<Goal> goals_;
  std::vector<observation_type> entries_;
  std::size_t finished_ = 0;
  Trial<S> last_;
};

// The best tenth of the usable trials with a finite loss (at least one), best first: the candidates
// a model-based searcher hands over from (see Mappo::recommended_config, GpBo::recommended_config).
template <typename S>
std::vector<const Observation<S>*> best_observed(const History<S>& history) {
  std::vector<const Observation<S>*> usable;
  for (const auto* entry : history.usable())
    if (std::isfinite(entry->loss)) usable.push_back(entry);
  const std::size_t keep = std::min(usable.size(), std::max<std::size_t>(1, (usable.size() + 9) / 10));
  std::partial_sort(usable.begin(), usable.begin() + static_cast<std::ptrdiff_t>(keep), usable.end(),
                    [](const auto* a, const auto* b) { return a->loss < b->loss; });
  usable.resize(keep);
  return usable;
}

}  // namespace mahpo::search
