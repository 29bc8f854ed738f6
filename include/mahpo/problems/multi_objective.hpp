#pragma once
// Test problems of several objectives with known Pareto fronts, for issue 41's benchmarks: a typed
// space of unit coordinates, the objectives' goals (all minimized), their values at a config, a
// reference point and a dense sample of the true front (its hypervolume is the most any searcher's
// results can reach).
//
//   ZDT1, ZDT2, ZDT3 (Zitzler, Deb and Thiele 2000): 30 variables, 2 objectives,
//     f1 = x1, g = 1 + 9 / (n - 1) sum_{i >= 2} x_i, f2 = g h(f1 / g) with h(r) = 1 - sqrt(r) (ZDT1,
//     a convex front), 1 - r^2 (ZDT2, concave), 1 - sqrt(r) - r sin(10 pi f1) (ZDT3, five pieces);
//     the front is x_2 = ... = x_n = 0 (g = 1). Reference point (1.1, 1.1); search reference
//     (1.1, 11).
//   DTLZ2 (Deb, Thiele, Laumanns and Zitzler 2002): 12 variables (k = 10), 3 objectives,
//     g = sum_{i >= 3} (x_i - 1/2)^2, f1 = (1 + g) cos(x1 pi/2) cos(x2 pi/2),
//     f2 = (1 + g) cos(x1 pi/2) sin(x2 pi/2), f3 = (1 + g) sin(x1 pi/2); the front is the unit
//     sphere's positive octant (g = 0). Reference point (1.1, 1.1, 1.1); search reference 3.85 each.
//
// `reference` bounds the true front; `search_reference` is 1.1 times each objective's largest value
// over the whole space (ZDT: f1 <= 1, f2 <= g <= 10; DTLZ2: each <= 1 + g <= 3.5), the reference of
// the searches' hypervolumes, so that every trial counts: after 50 to 200 trials of a 30-variable
// ZDT problem no trial comes near (1.1, 1.1).

#include <array>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <utility>
#include <vector>

#include <mahpo/objective.hpp>
#include <mahpo/space/config.hpp>
#include <mahpo/space/fixed_string.hpp>
#include <mahpo/space/parameters.hpp>
#include <mahpo/space/space.hpp>

namespace mahpo::problems {

// A set of objective vectors (as search/pareto.hpp takes them).
using ObjectivePoints = std::vector<std::vector<double>>;

namespace multi_objective_detail {

// "x1", "x2", ..., "x99": the name of coordinate I (from 1).
template <std::size_t I>
constexpr auto coordinate_name() {
  static_assert(I >= 1 && I <= 99);
  constexpr std::size_t digits = I < 10 ? 1 : 2;
  FixedString<digits + 2> name;
  name.chars[0] = 'x';
  if constexpr (digits == 2) {
    name.chars[1] = static_cast<char>('0' + I / 10);
    name.chars[2] = static_cast<char>('0' + I % 10);
  } else {
    name.chars[1] = static_cast<char>('0' + I);
  }
  return name;
}

template <std::size_t... I>
Space<Real<coordinate_name<I + 1>(), 0.0, 1.0>...> unit_space(std::index_sequence<I...>);

}  // namespace multi_objective_detail

// N coordinates x1 ... xN, each in [0, 1].
template <std::size_t N>
using UnitSpace = decltype(multi_objective_detail::unit_space(std::make_index_sequence<N>{}));

namespace multi_objective_detail {

enum class Zdt { one, two, three };

template <Zdt Kind>
struct ZdtProblem {
  static constexpr std::size_t variables = 30, objectives = 2;
  using space = UnitSpace<variables>;
  static constexpr std::array<Goal, objectives> goals{Goal::minimize, Goal::minimize};
  static constexpr std::array<double, objectives> reference{1.1, 1.1};
  static constexpr std::array<double, objectives> search_reference{1.1, 11.0};

  // h of the ratio r = f1 / g at f1.
  static double shape(double r, double f1) {
    if constexpr (Kind == Zdt::one) return 1.0 - std::sqrt(r);
    if constexpr (Kind == Zdt::two) return 1.0 - r * r;
    return 1.0 - std::sqrt(r) - r * std::sin(10.0 * std::numbers::pi * f1);
  }

  static std::array<double, objectives> evaluate(const std::array<double, variables>& x) {
    double sum = 0.0;
    for (std::size_t i = 1; i < variables; ++i) sum += x[i];
    const double g = 1.0 + 9.0 * sum / static_cast<double>(variables - 1), f1 = x[0];
    return {f1, g * shape(f1 / g, f1)};
  }
  static std::array<double, objectives> evaluate(const Config<space>& config) {
    return evaluate(space::to_unit_cube(config));
  }

  // The front at `count` evenly spaced values of x1 (g = 1), its dominated points dropped (ZDT3's:
  // in increasing f1, a point is kept only below every f2 before it).
  static ObjectivePoints true_front(std::size_t count = 10001) {
    ObjectivePoints front;
    for (std::size_t i = 0; i < count; ++i) {
      std::array<double, variables> x{};
      x[0] = static_cast<double>(i) / static_cast<double>(count - 1);
      const auto f = evaluate(x);
      if (front.empty() || f[1] < front.back()[1]) front.push_back({f[0], f[1]});
    }
    return front;
  }
};

}  // namespace multi_objective_detail

using Zdt1 = multi_objective_detail::ZdtProblem<multi_objective_detail::Zdt::one>;
using Zdt2 = multi_objective_detail::ZdtProblem<multi_objective_detail::Zdt::two>;
using Zdt3 = multi_objective_detail::ZdtProblem<multi_objective_detail::Zdt::three>;

struct Dtlz2 {
  static constexpr std::size_t variables = 12, objectives = 3;
  using space = UnitSpace<variables>;
  static constexpr std::array<Goal, objectives> goals{Goal::minimize, Goal::minimize, Goal::minimize};
  static constexpr std::array<double, objectives> reference{1.1, 1.1, 1.1};
  static constexpr std::array<double, objectives> search_reference{3.85, 3.85, 3.85};

  static std::array<double, objectives> evaluate(const std::array<double, variables>& x) {
    double g = 0.0;
    for (std::size_t i = objectives - 1; i < variables; ++i) g += (x[i] - 0.5) * (x[i] - 0.5);
    const double a = x[0] * std::numbers::pi / 2.0, b = x[1] * std::numbers::pi / 2.0;
    return {(1.0 + g) * std::cos(a) * std::cos(b), (1.0 + g) * std::cos(a) * std::sin(b), (1.0 + g) * std::sin(a)};
  }
  static std::array<double, objectives> evaluate(const Config<space>& config) {
    return evaluate(space::to_unit_cube(config));
  }

  // The front on a side x side grid of (x1, x2), g = 0.
  static ObjectivePoints true_front(std::size_t side = 101) {
    ObjectivePoints points;
    for (std::size_t i = 0; i < side; ++i) {
      for (std::size_t j = 0; j < side; ++j) {
        std::array<double, variables> x{};
        for (std::size_t k = objectives - 1; k < variables; ++k) x[k] = 0.5;
        x[0] = static_cast<double>(i) / static_cast<double>(side - 1);
        x[1] = static_cast<double>(j) / static_cast<double>(side - 1);
        const auto f = evaluate(x);
        points.push_back({f[0], f[1], f[2]});
      }
    }
    return points;
  }
};

}  // namespace mahpo::problems
