#pragma once
// TPE with several objectives (Ozaki, Tanigaki, Watanabe and Onishi, "Multiobjective tree-structured
// Parzen estimator for computationally expensive optimization problems", 2020; as Optuna's
// TPESampler does it): which trials form the "below" group, and their weights in l(x).
//
// - The split: the usable trials by constrained non-dominated sorting (search/pareto.hpp; feasible
//   fronts first); whole fronts join "below" while they fit in gamma(n); the front that does not fit
//   is cut by greedy hypervolume subset selection (each step keeps the trial that adds the most
//   hypervolume to those kept; ties: the first), with the reference point of that front.
// - The weights: each feasible below trial's hypervolume contribution (what the below group's front
//   loses without it) over the largest, at least EPS = 1e-12; dominated and infeasible trials EPS;
//   with one feasible below trial or none, 1 for feasible and EPS for infeasible ones.
// - A reference point: the worst value of each objective w, moved out by a tenth of its size
//   (max(1.1 w, 0.9 w)), EPS where that is 0.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

#include <mahpo/search/pareto.hpp>

namespace mahpo::search::tpe::detail {

inline constexpr double hypervolume_eps = 1e-12;

inline std::vector<double> reference_point(const pareto::Points& points) {
  std::vector<double> reference(points.front().size(), -std::numeric_limits<double>::infinity());
  for (const auto& point : points)
    for (std::size_t m = 0; m < point.size(); ++m) reference[m] = std::max(reference[m], point[m]);
  for (double& r : reference) {
    r = std::max(1.1 * r, 0.9 * r);
    if (r == 0.0) r = hypervolume_eps;
  }
  return reference;
}

// Greedy hypervolume subset selection: `count` of `points` (indices into them), in the order kept.
inline std::vector<std::size_t> greedy_subset(const pareto::Points& points, std::size_t count) {
  const auto reference = reference_point(points);
  std::vector<std::size_t> kept, left(points.size());
  std::iota(left.begin(), left.end(), std::size_t{0});
  pareto::Points chosen;
  while (kept.size() < count && !left.empty()) {
    std::size_t best = 0;
    double best_volume = -std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < left.size(); ++k) {
      chosen.push_back(points[left[k]]);
      const double with = pareto::hypervolume(chosen, reference);
      chosen.pop_back();
      if (with > best_volume) {
        best_volume = with;
        best = k;
      }
    }
    chosen.push_back(points[left[best]]);
    kept.push_back(left[best]);
    left.erase(left.begin() + static_cast<std::ptrdiff_t>(best));
  }
  return kept;
}

// The indices of the `below_count` trials of the below group (losses minimized, total violations).
inline std::vector<std::size_t> split_below(const pareto::Points& losses, std::span<const double> violations,
                                            std::size_t below_count) {
  std::vector<std::size_t> below;
  if (losses.empty() || below_count == 0) return below;
  const auto rank = pareto::nondominated_ranks(losses, violations);
  const std::size_t fronts = *std::max_element(rank.begin(), rank.end()) + 1;
  for (std::size_t front = 0; front < fronts && below.size() < below_count; ++front) {
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < rank.size(); ++i)
      if (rank[i] == front) members.push_back(i);
    if (below.size() + members.size() <= below_count) {
      below.insert(below.end(), members.begin(), members.end());
      continue;
    }
    pareto::Points points;
    for (const std::size_t i : members) points.push_back(losses[i]);
    for (const std::size_t k : greedy_subset(points, below_count - below.size())) below.push_back(members[k]);
  }
  return below;
}

// The below group's weights in l(x), in the order of `losses` (see the top of this file).
inline std::vector<double> below_weights(const pareto::Points& losses, std::span<const double> violations) {
  std::vector<double> weights(losses.size(), 1.0);
  std::vector<std::size_t> feasible;
  for (std::size_t i = 0; i < losses.size(); ++i) {
    if (!violations.empty() && violations[i] > 0.0) {
      weights[i] = hypervolume_eps;
    } else {
      feasible.push_back(i);
    }
  }
  if (feasible.size() <= 1) return weights;
  pareto::Points points;
  for (const std::size_t i : feasible) points.push_back(losses[i]);
  const auto reference = reference_point(points);
  const auto front = pareto::pareto_front(points);
  pareto::Points front_points;
  for (const std::size_t k : front) front_points.push_back(points[k]);
  const double whole = pareto::hypervolume(front_points, reference);
  if (!std::isfinite(whole)) return weights;
  std::vector<double> contribution(feasible.size(), 0.0);
  for (std::size_t j = 0; j < front.size(); ++j) {
    pareto::Points without = front_points;
    without.erase(without.begin() + static_cast<std::ptrdiff_t>(j));
    contribution[front[j]] = whole - pareto::hypervolume(without, reference);
  }
  const double largest = std::max(*std::max_element(contribution.begin(), contribution.end()), hypervolume_eps);
  for (std::size_t k = 0; k < feasible.size(); ++k)
    weights[feasible[k]] = std::max(contribution[k] / largest, hypervolume_eps);
  return weights;
}

}  // namespace mahpo::search::tpe::detail
