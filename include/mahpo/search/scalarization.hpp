#pragma once
// Several objectives as one, for searchers that model a single loss (GP-BO, MAPPO): ParEGO's
// augmented Chebyshev scalarization (Knowles, "ParEGO: a hybrid algorithm with on-line landscape
// approximation for expensive multiobjective optimization problems", 2006). Each objective's loss is
// scaled to [0, 1] by the bounds observed so far; with weights lambda on the simplex,
//
//   s(f) = max_m lambda_m f_m + rho sum_m lambda_m f_m      (rho = 0.05)
//
// is minimized. A fresh lambda for each proposal (GP-BO) or episode (MAPPO) makes the searcher
// sweep the front: each lambda's minimizers lie on a different part of it. A trial's total
// constraint violation is added to its s (infeasible trials rank after feasible ones of equal s).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include <mahpo/search/history.hpp>

namespace mahpo::search {

inline constexpr double chebyshev_rho = 0.05;

// Weights drawn uniformly on the simplex (normalized exponentials).
template <typename Engine>
std::vector<double> simplex_weights(std::size_t objectives, Engine& rng) {
  std::exponential_distribution<double> draw(1.0);
  std::vector<double> weights(objectives);
  double total = 0.0;
  for (double& w : weights) total += w = draw(rng);
  for (double& w : weights) w /= total;
  return weights;
}

// Each objective's smallest and largest loss over the usable trials of a history.
struct LossBounds {
  std::vector<double> low, high;
};

template <typename S>
LossBounds loss_bounds(const History<S>& history) {
  const std::size_t m = history.goals().size();
  LossBounds bounds{std::vector<double>(m, std::numeric_limits<double>::infinity()),
                    std::vector<double>(m, -std::numeric_limits<double>::infinity())};
  for (const auto* entry : history.usable()) {
    if (entry->losses.size() != m) continue;
    for (std::size_t k = 0; k < m; ++k) {
      if (!std::isfinite(entry->losses[k])) continue;
      bounds.low[k] = std::min(bounds.low[k], entry->losses[k]);
      bounds.high[k] = std::max(bounds.high[k], entry->losses[k]);
    }
  }
  return bounds;
}

// s(f) of a trial's losses, plus its violation; NaN when a loss is not finite.
inline double augmented_chebyshev(std::span<const double> losses, double violation, std::span<const double> weights,
                                  const LossBounds& bounds) {
  double largest = -std::numeric_limits<double>::infinity(), sum = 0.0;
  for (std::size_t k = 0; k < losses.size(); ++k) {
    if (!std::isfinite(losses[k])) return std::numeric_limits<double>::quiet_NaN();
    const double range = bounds.high[k] - bounds.low[k];
    const double scaled = range > 0.0 ? (losses[k] - bounds.low[k]) / range : 0.0;
    largest = std::max(largest, weights[k] * scaled);
    sum += weights[k] * scaled;
  }
  return largest + chebyshev_rho * sum + violation;
}

}  // namespace mahpo::search
