#pragma once
// Parameter importances by PED-ANOVA (S. Watanabe, A. Bansal, F. Hutter, "PED-ANOVA: Efficiently
// Quantifying Hyperparameter Importance in Arbitrary Subspaces", IJCAI 2023; Optuna's
// PedAnovaImportanceEvaluator does the same). A parameter matters as much as the trials that are
// good (the top `gamma` share by value) sit elsewhere along it than the trials overall: its
// importance is the Pearson divergence of the two marginal densities,
//
//   importance(d) = integral over x of p_all(x) * (p_top(x) / p_all(x) - 1)^2,
//
// each density a one-dimensional Parzen estimate over the parameter's unit interval (log scale in log
// space; a categorical parameter's values by their frequencies, with a pseudo-count). No model is
// fitted and the cost is linear in the trials; the importances are normalized to sum to 1. With
// fewer than 2 / gamma finished trials nothing is estimated.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <string>
#include <vector>

#include <mahpo/report/study_data.hpp>

namespace mahpo::report {

struct Importance {
  std::string parameter;
  double value = 0.0;  // share of the sum over parameters, in [0, 1]
};

namespace detail {

// A Gaussian Parzen density on [0, 1] (reflected at both ends, so no mass leaves the interval),
// Scott's bandwidth with a floor, evaluated at `grid` points.
inline std::vector<double> parzen_density(const std::vector<double>& points, const std::vector<double>& grid) {
  const double n = static_cast<double>(points.size());
  double mean = 0.0, squares = 0.0;
  for (double x : points) mean += x / n;
  for (double x : points) squares += (x - mean) * (x - mean);
  const double sd = n > 1 ? std::sqrt(squares / (n - 1)) : 0.0;
  const double bandwidth = std::max(0.05, 1.06 * sd * std::pow(n, -0.2));
  std::vector<double> density(grid.size(), 0.0);
  const double scale = 1.0 / (n * bandwidth * std::sqrt(2.0 * std::numbers::pi));
  for (std::size_t g = 0; g < grid.size(); ++g) {
    for (double x : points) {
      for (double mirror : {x, -x, 2.0 - x}) {
        const double z = (grid[g] - mirror) / bandwidth;
        density[g] += scale * std::exp(-0.5 * z * z);
      }
    }
  }
  return density;
}

}  // namespace detail

// PED-ANOVA importances of `study`'s parameters, largest first; empty when too few trials finished.
inline std::vector<Importance> ped_anova(const StudyData& study, double gamma = 0.1) {
  auto done = study.finished_ok();
  const auto minimum = static_cast<std::size_t>(std::ceil(2.0 / gamma));
  if (done.size() < minimum || study.parameters.empty()) return {};
  std::sort(done.begin(), done.end(), [&](const auto* a, const auto* b) { return study.better(a->value, b->value); });
  const auto top =
      std::max<std::size_t>(2, static_cast<std::size_t>(std::ceil(gamma * static_cast<double>(done.size()))));
  std::vector<Importance> importances;
  double total = 0.0;
  for (const auto& info : study.parameters) {
    std::vector<double> all, best;
    for (std::size_t k = 0; k < done.size(); ++k) {
      const double x = unit_value(info, done[k]->config);
      if (!std::isfinite(x)) continue;
      all.push_back(std::clamp(x, 0.0, 1.0));
      if (k < top) best.push_back(all.back());
    }
    double divergence = 0.0;
    if (info.kind == ParameterInfo::Kind::categorical) {
      const std::size_t levels = std::max<std::size_t>(1, info.values.size());
      std::vector<double> p_all(levels, 1.0), p_best(levels, 1.0);  // a pseudo-count each
      for (double x : all)
        p_all[std::min(levels - 1, static_cast<std::size_t>(x * static_cast<double>(levels)))] += 1.0;
      for (double x : best)
        p_best[std::min(levels - 1, static_cast<std::size_t>(x * static_cast<double>(levels)))] += 1.0;
      const double n_all = static_cast<double>(all.size() + levels), n_best = static_cast<double>(best.size() + levels);
      for (std::size_t level = 0; level < levels; ++level) {
        const double a = p_all[level] / n_all, b = p_best[level] / n_best;
        divergence += a * (b / a - 1.0) * (b / a - 1.0);
      }
    } else if (!best.empty()) {
      constexpr std::size_t points = 201;
      std::vector<double> grid(points);
      for (std::size_t g = 0; g < points; ++g) grid[g] = static_cast<double>(g) / static_cast<double>(points - 1);
      const auto p_all = detail::parzen_density(all, grid), p_best = detail::parzen_density(best, grid);
      for (std::size_t g = 0; g < points; ++g) {  // trapezoid rule
        const double a = std::max(p_all[g], 1e-12), ratio = p_best[g] / a - 1.0;
        divergence += (g == 0 || g + 1 == points ? 0.5 : 1.0) * a * ratio * ratio / static_cast<double>(points - 1);
      }
    }
    importances.push_back({info.name, divergence});
    total += divergence;
  }
  for (auto& importance : importances) importance.value = total > 0.0 ? importance.value / total : 0.0;
  std::sort(importances.begin(), importances.end(), [](const auto& a, const auto& b) { return a.value > b.value; });
  return importances;
}

}  // namespace mahpo::report
