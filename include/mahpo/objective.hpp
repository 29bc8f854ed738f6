#pragma once
// What an objective is, gets and gives back: a config and a budget in, a result out, and whether
// its value is maximized or minimized.
//
// An objective is a callable (const Config&, Budget) -> Result (the Objective concept). Its value is
// what a searcher maximizes (for a LeNet, the validation accuracy) or minimizes (Goal); its status
// says whether the value means anything. A diverged or failed trial never carries a NaN: its value is 0.

#include <cmath>
#include <concepts>
#include <cstddef>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <mahpo/space/config.hpp>

namespace mahpo {

enum class Goal { maximize, minimize };

inline const char* to_string(Goal goal) { return goal == Goal::maximize ? "maximize" : "minimize"; }

enum class Status { ok, failed, diverged, pruned };

inline const char* to_string(Status status) {
  switch (status) {
    case Status::ok:
      return "ok";
    case Status::failed:
      return "failed";
    case Status::diverged:
      return "diverged";
    case Status::pruned:
      return "pruned";
  }
  return "unknown";
}

// How much training a trial gets: `iterations` when non-zero, else `epochs` (may be fractional), on
// `fraction` of the training set (a seeded subset, the same validation set: the data-set-size
// fidelity of FABOLAS, Klein et al. 2017; 1: all of it). An epoch is one pass over that subset.
struct Budget {
  double epochs = 1.0;
  std::size_t iterations = 0;
  double fraction = 1.0;
};

// The fractions a budget may carry: (0, 1].
inline bool valid_fraction(double fraction) { return fraction > 0.0 && fraction <= 1.0; }

// The budget in epochs of the whole training set: a pass over a fraction s costs s of one.
inline double whole_set_epochs(const Budget& budget) { return budget.epochs * budget.fraction; }

// The fraction is written only when below 1, so that whole-set budgets read as they always have.
inline void to_json(nlohmann::json& json, const Budget& budget) {
  json = {{"epochs", budget.epochs}, {"iterations", budget.iterations}};
  if (budget.fraction != 1.0) json["fraction"] = budget.fraction;
}

// A trial's outcome. With several objectives (mahpo::Objectives, objectives.hpp) `values` holds one
// value per objective in their declared order (`value` is the first) and `constraints` one value per
// constraint, satisfied when <= 0; a single-objective result leaves both empty.
struct Result {
  double value = 0.0;
  Status status = Status::ok;
  std::vector<double> intermediate;  // e.g. validation accuracy after each history point
  nlohmann::json metrics = nlohmann::json::object();
  std::string message;
  std::vector<double> values;       // several objectives: one value each
  std::vector<double> constraints;  // one value per constraint: <= 0 is feasible
};

// The rule a study applies to every result, evaluated or replayed from a journal: an ok result
// whose value, objective values or constraint values are not all finite numbers is a failed one (it
// could otherwise become the best trial or join the Pareto front).
inline void settle(Result& result) {
  if (result.status != Status::ok) return;
  const auto finite = [](const std::vector<double>& values) {
    for (double value : values)
      if (!std::isfinite(value)) return false;
    return true;
  };
  const bool values_ok = finite(result.values), constraints_ok = finite(result.constraints);
  if (std::isfinite(result.value) && values_ok && constraints_ok) return;
  result.status = Status::failed;
  if (result.message.empty()) {
    result.message = !std::isfinite(result.value) ? fmt::format("the objective returned a non-finite value ({})",
                                                                result.value)
                     : !values_ok ? fmt::format("the objective returned a non-finite objective value ({})",
                                                fmt::join(result.values, ", "))
                                  : fmt::format("the objective returned a non-finite constraint value ({})",
                                                fmt::join(result.constraints, ", "));
  }
  result.value = 0.0;
  result.values.clear();
  result.constraints.clear();
}

// What a study optimizes, at run time: the objectives' names and goals and the constraints' names.
// Empty names: one unnamed objective, its goal the searcher's. Objectives<...>::list() makes one
// from the typed declaration; the journal and the report carry it.
struct ObjectiveList {
  std::vector<std::string> names;
  std::vector<Goal> goals;
  std::vector<std::string> constraints;

  bool empty() const { return names.empty() && constraints.empty(); }
  bool several() const { return names.size() > 1; }
  friend bool operator==(const ObjectiveList&, const ObjectiveList&) = default;
};

inline void to_json(nlohmann::json& json, const ObjectiveList& list) {
  json = nlohmann::json::object();
  json["names"] = list.names;
  json["goals"] = nlohmann::json::array();
  for (Goal goal : list.goals) json["goals"].push_back(to_string(goal));
  json["constraints"] = list.constraints;
}

// What a running trial may use besides its config and budget; the study gives each trial one, and
// an objective that takes it (objective(config, budget, context)) can report its intermediate values,
// be stopped early, and continue from a saved training state:
// - report(step, value): the value after the step-th report (a LeNet: the validation accuracy after
//   each epoch; steps count 1, 2, ... from the training's start, resumed steps included); true means
//   stop now: the trial then returns Status::pruned with its last value.
// - resume_state(): the state to continue from: the trial's own last one (the study was killed while
//   it ran), or the state of the trial it continues (a promotion, a PBT step); empty: start afresh.
// - wants_state() / save_state(bytes): whether the study keeps states for this trial, and the
//   trial's latest one (an opaque blob: train/checkpoint.hpp for the LeNet trainer).
// The default context (no study) reports into nothing, never stops and keeps no state.
class TrialContext {
 public:
  virtual ~TrialContext() = default;
  virtual bool report(std::size_t step, double value) {
    (void)step;
    (void)value;
    return false;
  }
  virtual std::string resume_state() { return {}; }
  virtual bool wants_state() const { return false; }
  virtual void save_state(std::string bytes) { (void)bytes; }
};

// What a study evaluates: objective(config, budget) -> Result, or objective(config, budget,
// TrialContext&) -> Result (an objective that reports, may be pruned and resumes).
template <typename O, typename S>
concept ReportingObjective = std::invocable<const O&, const Config<S>&, const Budget&, TrialContext&> &&
    std::convertible_to<std::invoke_result_t<const O&, const Config<S>&, const Budget&, TrialContext&>, Result>;

template <typename O, typename S>
concept Objective = ReportingObjective<O, S> ||
    (std::invocable<const O&, const Config<S>&, const Budget&> &&
     std::convertible_to<std::invoke_result_t<const O&, const Config<S>&, const Budget&>, Result>);

// Calls the objective with the context when it takes one, else without (it then reports nothing).
template <typename S, typename O>
  requires Objective<O, S>
Result invoke_objective(const O& objective, const Config<S>& config, const Budget& budget, TrialContext& context) {
  if constexpr (ReportingObjective<O, S>) {
    return objective(config, budget, context);
  } else {
    (void)context;
    return objective(config, budget);
  }
}

}  // namespace mahpo
