#pragma once
// Several objectives and constraints, declared as a type, in the style of the typed spaces:
//
//   using Goals = mahpo::Objectives<mahpo::Maximize<"validation_accuracy">, mahpo::Minimize<"parameters">,
//                                   mahpo::AtMost<"inference_seconds_per_image", 20e-6>>;
//   auto objective = mahpo::with_objectives<Goals>(lenet_objective);  // values from its metrics
//   mahpo::search::Nsga2<Space> nsga2({.seed = 1, .goals = Goals::goals()});
//   auto report = mahpo::study::run_study(nsga2, objective, {.trials = 200});
//   Goals::get<"parameters">(result);  // a misspelt name does not compile
//
// Each objective and constraint names a numeric metric of the objective's results (Result::metrics);
// after every ok trial, with_objectives fills Result::values (one per objective, in declared order;
// Result::value becomes the first) and Result::constraints (one per constraint, <= 0 satisfied)
// from them. An objective that declares its metrics (`metric_names`, as LeNetObjective) is checked
// at compile time: naming a metric it does not report does not compile. A metric missing from an ok
// result fails that trial with a message that names it.
//
// AtMost<Name, Bound>: satisfied when the metric is <= Bound (constraint value metric - Bound);
// AtLeast<Name, Bound>: when >= Bound (Bound - metric); Constraint<Name>: the metric is the value.

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <mahpo/objective.hpp>
#include <mahpo/space/config.hpp>
#include <mahpo/space/fixed_string.hpp>

namespace mahpo {

template <FixedString Name>
struct Maximize {
  static constexpr std::string_view name = Name;
  static constexpr Goal goal = Goal::maximize;
};

template <FixedString Name>
struct Minimize {
  static constexpr std::string_view name = Name;
  static constexpr Goal goal = Goal::minimize;
};

template <FixedString Name, double Bound>
struct AtMost {
  static constexpr std::string_view name = Name;
  static constexpr double constraint(double metric) { return metric - Bound; }
};

template <FixedString Name, double Bound>
struct AtLeast {
  static constexpr std::string_view name = Name;
  static constexpr double constraint(double metric) { return Bound - metric; }
};

template <FixedString Name>
using Constraint = AtMost<Name, 0.0>;

namespace detail {

template <typename T>
inline constexpr bool is_goal_item = requires {
  { T::goal } -> std::convertible_to<Goal>;
};
template <typename T>
inline constexpr bool is_constraint_item = requires(double x) {
  { T::constraint(x) } -> std::convertible_to<double>;
};

template <std::size_t N>
constexpr bool contains(const std::array<std::string_view, N>& names, std::string_view name) {
  for (auto candidate : names)
    if (candidate == name) return true;
  return false;
}

}  // namespace detail

template <typename... Items>
struct Objectives {
  static_assert(((detail::is_goal_item<Items> || detail::is_constraint_item<Items>)&&...),
                "mahpo::Objectives: each item must be Maximize<\"name\">, Minimize<\"name\">, AtMost<\"name\", bound>, "
                "AtLeast<\"name\", bound> or Constraint<\"name\">");
  static constexpr std::size_t count = (std::size_t{detail::is_goal_item<Items>} + ... + 0);
  static constexpr std::size_t constraint_count = sizeof...(Items) - count;
  static_assert(count >= 1, "mahpo::Objectives: declare at least one objective (Maximize or Minimize)");

  // The objectives' and the constraints' names, each in declared order.
  static constexpr auto names = [] {
    std::array<std::string_view, count> all{};
    std::size_t at = 0;
    ((detail::is_goal_item<Items> ? void(all[at++] = Items::name) : void()), ...);
    return all;
  }();
  static constexpr auto constraint_names = [] {
    std::array<std::string_view, constraint_count> all{};
    std::size_t at = 0;
    ((detail::is_constraint_item<Items> ? void(all[at++] = Items::name) : void()), ...);
    return all;
  }();
  static_assert(
      [] {
        for (std::size_t i = 0; i < count; ++i)
          for (std::size_t j = i + 1; j < count; ++j)
            if (names[i] == names[j]) return false;
        return true;
      }(),
      "mahpo::Objectives: two objectives have the same name");

  static std::vector<Goal> goals() {
    std::vector<Goal> all;
    ((detail::is_goal_item<Items> ? all.push_back(goal_of<Items>()) : void()), ...);
    return all;
  }

  static ObjectiveList list() {
    ObjectiveList list{{names.begin(), names.end()}, goals(), {}};
    for (auto name : constraint_names) list.constraints.emplace_back(name);
    return list;
  }

  // The position of objective `Name` among the objectives; a name not declared does not compile.
  template <FixedString Name>
  static constexpr std::size_t index() {
    static_assert(detail::contains(names, std::string_view(Name)), "mahpo::Objectives: no objective of that name");
    std::size_t at = 0;
    while (names[at] != std::string_view(Name)) ++at;
    return at;
  }

  // Objective `Name`'s value in a result with values (with_objectives filled them).
  template <FixedString Name>
  static double get(const Result& result) {
    constexpr std::size_t at = index<Name>();
    if (result.values.size() != count) {
      throw std::invalid_argument(fmt::format("mahpo::Objectives::get<\"{}\">: the result holds {} objective values, "
                                              "{} declared (a failed trial has none)",
                                              std::string_view(Name), result.values.size(), count));
    }
    return result.values[at];
  }

  // Fills an ok (or pruned) result's values and constraints from its metrics; a result whose values
  // are already there (the objective set them) keeps them. Throws std::invalid_argument naming a
  // missing or non-numeric metric.
  static void fill(Result& result) {
    if (result.status != Status::ok && result.status != Status::pruned) return;
    if (result.values.empty()) {
      ((detail::is_goal_item<Items> ? result.values.push_back(metric(result, Items::name)) : void()), ...);
    }
    if (result.constraints.empty()) {
      (fill_constraint<Items>(result), ...);
    }
    if (result.values.size() != count || result.constraints.size() != constraint_count) {
      throw std::invalid_argument(fmt::format("mahpo: the objective returned {} objective values and {} constraint "
                                              "values; {} and {} are declared",
                                              result.values.size(), result.constraints.size(), count,
                                              constraint_count));
    }
    result.value = result.values.front();
  }

 private:
  template <typename Item>
  static constexpr Goal goal_of() {
    if constexpr (detail::is_goal_item<Item>) return Item::goal;
    return Goal::maximize;
  }
  template <typename Item>
  static void fill_constraint(Result& result) {
    if constexpr (detail::is_constraint_item<Item>)
      result.constraints.push_back(Item::constraint(metric(result, Item::name)));
  }
  static double metric(const Result& result, std::string_view name) {
    const auto found = result.metrics.find(std::string(name));
    if (found == result.metrics.end() || !found->is_number()) {
      throw std::invalid_argument(fmt::format("mahpo: the objective's result has no numeric metric \"{}\" (declared "
                                              "in mahpo::Objectives)",
                                              name));
    }
    return found->template get<double>();
  }
};

template <typename T>
inline constexpr bool is_objectives = false;
template <typename... Items>
inline constexpr bool is_objectives<Objectives<Items...>> = true;

// An objective whose results carry the values and constraints of `Objs` (see the top of this file).
template <typename Objs, typename O>
class WithObjectives {
 public:
  using objectives_type = Objs;

  explicit WithObjectives(O objective) : objective_(std::move(objective)) {}

  template <typename S>
    requires Objective<O, S>
  Result operator()(const Config<S>& config, const Budget& budget, TrialContext& context) const {
    Result result = invoke_objective<S>(objective_, config, budget, context);
    Objs::fill(result);
    return result;
  }
  template <typename S>
    requires Objective<O, S>
  Result operator()(const Config<S>& config, const Budget& budget) const {
    TrialContext none;
    return (*this)(config, budget, none);
  }

  const O& inner() const { return objective_; }

 private:
  O objective_;
};

template <typename Objs, typename O>
WithObjectives<Objs, O> with_objectives(O objective) {
  static_assert(is_objectives<Objs>,
                "mahpo::with_objectives: the first template argument must be mahpo::Objectives<...>");
  if constexpr (requires { O::metric_names; }) {
    constexpr auto reported = [] {
      for (auto name : Objs::names)
        if (!detail::contains(O::metric_names, name)) return false;
      for (auto name : Objs::constraint_names)
        if (!detail::contains(O::metric_names, name)) return false;
      return true;
    }();
    static_assert(reported,
                  "mahpo::with_objectives: the objective reports no metric of a name that Objectives declares");
  }
  return WithObjectives<Objs, O>(std::move(objective));
}

}  // namespace mahpo
