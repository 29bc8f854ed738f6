#pragma once
// Several objectives at once: Pareto dominance with constraints, non-dominated sorting, and the
// hypervolume of a set of points. Every function here takes points to be *minimized* in every
// objective (to_minimized turns maximized objectives around) and, where constraints are given, each
// point's total violation (violation(): the sum of its constraint values above 0; 0 is feasible).
//
// Constraint domination (Deb, Pratap, Agarwal and Meyarivan 2002, the rule of NSGA-II): a feasible
// point dominates an infeasible one; of two infeasible points the one with the smaller violation
// dominates; two feasible points compare by Pareto dominance (no worse in every objective, better
// in one). Non-dominated sorting gives each point its front: 0 for the points nothing dominates,
// 1 for those only front 0 dominates, and so on. Two objectives sort in O(N log N) (the points by
// the first objective, each placed on the first front whose last point does not dominate it); more
// sort in O(M N^2) by the fast non-dominated sort of the same paper.
//
// The hypervolume of a set is the measure of the region that its points dominate and that dominates
// the reference point (points not better than the reference in every objective add nothing): exact
// for 2 objectives (a sweep, O(N log N)), 3 (slices along the third objective, each a 2-D staircase
// kept sorted, O(N^2)) and more (slices along the last objective, recursively).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <map>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <mahpo/objective.hpp>

namespace mahpo::search::pareto {

// A set of points: points[i][m] is point i's value in objective m (all points alike in size).
using Points = std::vector<std::vector<double>>;

// The points with every maximized objective negated, so that all are minimized.
inline Points to_minimized(const Points& points, std::span<const Goal> goals) {
  Points out = points;
  for (auto& point : out) {
    if (point.size() != goals.size()) {
      throw std::invalid_argument(
          fmt::format("pareto: a point has {} values for {} objectives", point.size(), goals.size()));
    }
    for (std::size_t m = 0; m < goals.size(); ++m) {
      if (goals[m] == Goal::maximize) point[m] = -point[m];
    }
  }
  return out;
}

// A point's total constraint violation: the sum of its constraint values above 0 (0: feasible).
inline double violation(std::span<const double> constraints) {
  double total = 0.0;
  for (const double c : constraints) total += c > 0.0 ? c : 0.0;
  return total;
}

// Whether a dominates b (minimized): no worse in every objective and better in one.
inline bool dominates(std::span<const double> a, std::span<const double> b) {
  bool better = false;
  for (std::size_t m = 0; m < a.size(); ++m) {
    if (a[m] > b[m]) return false;
    better = better || a[m] < b[m];
  }
  return better;
}

// Whether a dominates b under constraint domination (violations as violation() gives them).
inline bool constrained_dominates(std::span<const double> a, double a_violation, std::span<const double> b,
                                  double b_violation) {
  if (a_violation > 0.0 || b_violation > 0.0) return a_violation < b_violation;
  return dominates(a, b);
}

namespace detail {

inline void check_points(const Points& points, std::span<const double> violations) {
  if (!violations.empty() && violations.size() != points.size()) {
    throw std::invalid_argument(
        fmt::format("pareto: {} violations for {} points", violations.size(), points.size()));
  }
  for (const auto& point : points) {
    if (point.size() != points.front().size())
      throw std::invalid_argument("pareto: points with different numbers of objectives");
    for (const double value : point) {
      if (std::isnan(value)) throw std::invalid_argument("pareto: a point has a NaN objective value");
    }
  }
  for (const double v : violations) {
    if (!(v >= 0.0)) throw std::invalid_argument("pareto: a violation is negative or NaN (use violation())");
  }
}

// Fronts of the feasible points `members` by Pareto dominance, numbered from `first`, into rank.
inline void sort_two(const Points& points, std::vector<std::size_t> members, std::size_t first,
                     std::vector<std::size_t>& rank) {
  std::sort(members.begin(), members.end(), [&](std::size_t a, std::size_t b) {
    return points[a][0] != points[b][0] ? points[a][0] < points[b][0] : points[a][1] < points[b][1];
  });
  // last[f]: the last point placed on front f. In this order a point can only be dominated by one
  // placed before it; the fronts' last points have increasing second values, so the first front
  // whose last point does not dominate it is found by binary search.
  std::vector<std::size_t> last;
  for (const std::size_t i : members) {
    const auto lower = std::partition_point(last.begin(), last.end(), [&](std::size_t j) {
      return dominates(points[j], points[i]);
    });
    const auto front = static_cast<std::size_t>(lower - last.begin());
    if (front == last.size()) {
      last.push_back(i);
    } else {
      last[front] = i;
    }
    rank[i] = first + front;
  }
}

inline void sort_many(const Points& points, const std::vector<std::size_t>& members, std::size_t first,
                      std::vector<std::size_t>& rank) {
  const std::size_t n = members.size();
  std::vector<std::vector<std::size_t>> dominated(n);  // positions in `members` that member i dominates
  std::vector<std::size_t> count(n, 0);                // how many members dominate member i
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      if (dominates(points[members[i]], points[members[j]])) {
        dominated[i].push_back(j);
        ++count[j];
      } else if (dominates(points[members[j]], points[members[i]])) {
        dominated[j].push_back(i);
        ++count[i];
      }
    }
  }
  std::vector<std::size_t> current;
  for (std::size_t i = 0; i < n; ++i) {
    if (count[i] == 0) current.push_back(i);
  }
  for (std::size_t front = first; !current.empty(); ++front) {
    std::vector<std::size_t> next;
    for (const std::size_t i : current) {
      rank[members[i]] = front;
      for (const std::size_t j : dominated[i]) {
        if (--count[j] == 0) next.push_back(j);
      }
    }
    current = std::move(next);
  }
}

}  // namespace detail

// Each point's front under constraint domination (0: non-dominated), points minimized; no
// violations: all feasible. The feasible points take the first fronts; the infeasible ones follow,
// one front per violation level, the smallest first.
inline std::vector<std::size_t> nondominated_ranks(const Points& points, std::span<const double> violations = {}) {
  detail::check_points(points, violations);
  std::vector<std::size_t> rank(points.size(), 0);
  if (points.empty()) return rank;
  std::vector<std::size_t> feasible;
  std::vector<std::size_t> infeasible;
  for (std::size_t i = 0; i < points.size(); ++i) {
    (violations.empty() || violations[i] == 0.0 ? feasible : infeasible).push_back(i);
  }
  if (points.front().size() == 2) {
    detail::sort_two(points, feasible, 0, rank);
  } else {
    detail::sort_many(points, feasible, 0, rank);
  }
  std::size_t fronts = 0;
  for (const std::size_t i : feasible) fronts = std::max(fronts, rank[i] + 1);
  std::sort(infeasible.begin(), infeasible.end(),
            [&](std::size_t a, std::size_t b) { return violations[a] < violations[b]; });
  for (std::size_t k = 0; k < infeasible.size(); ++k) {
    if (k > 0 && violations[infeasible[k]] > violations[infeasible[k - 1]]) ++fronts;
    rank[infeasible[k]] = fronts;
  }
  return rank;
}

// The indices of the feasible non-dominated points (front 0), in increasing order: none when no
// point is feasible.
inline std::vector<std::size_t> pareto_front(const Points& points, std::span<const double> violations = {}) {
  const auto rank = nondominated_ranks(points, violations);
  std::vector<std::size_t> front;
  for (std::size_t i = 0; i < rank.size(); ++i) {
    if (rank[i] == 0 && (violations.empty() || violations[i] == 0.0)) front.push_back(i);
  }
  return front;
}

namespace detail {

// The area dominated by the 2-D points (x, y) and bounded by (rx, ry): a sweep along x.
inline double area(std::vector<std::pair<double, double>> points, double rx, double ry) {
  std::sort(points.begin(), points.end());
  double total = 0.0, floor = ry;  // floor: the lowest y seen so far
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (points[i].second >= floor) continue;
    total += (rx - points[i].first) * (floor - points[i].second);
    floor = points[i].second;
  }
  return total;
}

// A staircase of 2-D points no one of which dominates another, sorted by x (so y decreases), and
// the area it dominates up to the reference (rx, ry). Inserting a point adds the area it dominates
// and the staircase did not (walking over the steps it removes) in O(log N) plus those steps.
class Staircase {
 public:
  Staircase(double rx, double ry) : rx_(rx), ry_(ry) {}

  double area() const { return area_; }

  void insert(double x, double y) {
    auto next = steps_.lower_bound(x);  // the first step with x' >= x
    if (next != steps_.end() && next->first == x && next->second <= y) return;  // dominated or equal
    if (next != steps_.begin() && std::prev(next)->second <= y) return;          // dominated
    // Left of the first step it removes, the staircase's floor is the previous step's y (or ry);
    // right of a removed step, that step's y; from the first step it keeps on, below y already.
    double floor = next == steps_.begin() ? ry_ : std::prev(next)->second, from = x;
    while (next != steps_.end() && next->second >= y) {
      area_ += (next->first - from) * (floor - y);
      from = next->first;
      floor = next->second;
      next = steps_.erase(next);
    }
    area_ += ((next == steps_.end() ? rx_ : next->first) - from) * (floor - y);
    steps_.emplace_hint(next, x, y);
  }

 private:
  double rx_, ry_, area_ = 0.0;
  std::map<double, double> steps_;
};

}  // namespace detail

// The hypervolume of the points (minimized) up to `reference`, exact: 2 objectives by a sweep, 3 by
// slices along z, more by slicing along the last objective down to 3 (O(N^(M-2) log N): meant for
// the tens of points a multi-objective TPE weighs, not for thousands).
inline double hypervolume(const Points& points, std::span<const double> reference) {
  detail::check_points(points, {});
  const std::size_t m = reference.size();
  if (m < 2) {
    throw std::invalid_argument(
        fmt::format("pareto: hypervolume needs at least 2 objectives (a reference point of {} values)", m));
  }
  std::vector<const std::vector<double>*> inside;  // the points better than the reference in every objective
  for (const auto& point : points) {
    if (point.size() != m) {
      throw std::invalid_argument(
          fmt::format("pareto: a point has {} values, the reference point {}", point.size(), m));
    }
    bool better = true;
    for (std::size_t k = 0; k < m; ++k) better = better && point[k] < reference[k];
    if (better) inside.push_back(&point);
  }
  if (m > 3) {  // slices along the last objective, each the hypervolume of the points below it
    std::sort(inside.begin(), inside.end(), [&](const auto* a, const auto* b) { return (*a)[m - 1] < (*b)[m - 1]; });
    Points lower;
    double total = 0.0;
    for (std::size_t i = 0; i < inside.size(); ++i) {
      lower.emplace_back(inside[i]->begin(), inside[i]->end() - 1);
      const double next = i + 1 < inside.size() ? (*inside[i + 1])[m - 1] : reference[m - 1];
      const double depth = next - (*inside[i])[m - 1];
      if (depth > 0.0) total += hypervolume(lower, reference.first(m - 1)) * depth;
    }
    return total;
  }
  if (m == 2) {
    std::vector<std::pair<double, double>> xy;
    for (const auto* point : inside) xy.emplace_back((*point)[0], (*point)[1]);
    return detail::area(std::move(xy), reference[0], reference[1]);
  }
  // Three objectives: sweep along z; between consecutive z values the dominated region's cross
  // section is the area of the points seen so far.
  std::sort(inside.begin(), inside.end(), [](const auto* a, const auto* b) { return (*a)[2] < (*b)[2]; });
  detail::Staircase staircase(reference[0], reference[1]);
  double total = 0.0;
  for (std::size_t i = 0; i < inside.size(); ++i) {
    staircase.insert((*inside[i])[0], (*inside[i])[1]);
    const double next_z = i + 1 < inside.size() ? (*inside[i + 1])[2] : reference[2];
    total += staircase.area() * (next_z - (*inside[i])[2]);
  }
  return total;
}

}  // namespace mahpo::search::pareto
