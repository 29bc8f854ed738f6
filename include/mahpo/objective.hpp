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

struct Result {
  double value = 0.0;
  Status status = Status::ok;
  std::vector<double> intermediate;  // e.g. validation accuracy after each history point
  nlohmann::json metrics = nlohmann::json::object();
  std::string message;
};

// The rule a study applies to every result, evaluated or replayed from a journal: an ok result
// whose value is not a finite number is a failed one (it could otherwise become the best trial).
inline void settle(Result& result) {
  if (result.status == Status::ok && !std::isfinite(result.value)) {
    result.status = Status::failed;
    if (result.message.empty())
      result.message = fmt::format("the objective returned a non-finite value ({})", result.value);
    result.value = 0.0;
  }
}

// What a study evaluates: objective(config, budget) -> Result.
template <typename O, typename S>
concept Objective = std::invocable < const O&,
        const Config<S>
&, const Budget& > &&std::convertible_to<std::invoke_result_t<const O&, const Config<S>&, const Budget&>, Result>;

}  // namespace mahpo
