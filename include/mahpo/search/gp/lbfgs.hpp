#pragma once
// A small box-constrained L-BFGS (projected gradient, backtracking Armijo search along the clamped
// path): what GP-BO fits its hyperparameters and refines its acquisition with.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

namespace mahpo::search::gp::detail {

inline double dot(std::span<const double> a, std::span<const double> b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

struct Minimum {
  std::vector<double> x;
  double value = std::numeric_limits<double>::infinity();
  std::size_t evaluations = 0;
};

// Minimizes f(x, gradient) -> value over the box [lower, upper] by L-BFGS (Nocedal & Wright 2006,
// alg. 7.4) on the projected gradient, with a backtracking Armijo search along the clamped path.
// A non-finite value makes the search step back. The first step moves at most `first_step` in any
// coordinate.
template <typename F>
Minimum minimize_in_box(F&& f, std::vector<double> x, std::span<const double> lower, std::span<const double> upper,
                        std::size_t max_evaluations, double first_step, std::size_t memory = 8) {
  const std::size_t n = x.size();
  for (std::size_t i = 0; i < n; ++i) x[i] = std::clamp(x[i], lower[i], upper[i]);
  std::vector<double> gradient(n), trial(n), trial_gradient(n), direction(n), projected(n);
  Minimum best{x, f(std::span<const double>(x), std::span<double>(gradient)), 1};
  if (!std::isfinite(best.value)) return best;
  double value = best.value;
  std::vector<std::vector<double>> steps, changes;
  std::vector<double> rho, alpha;
  while (best.evaluations < max_evaluations) {
    double largest = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const bool blocked = (x[i] <= lower[i] && gradient[i] > 0.0) || (x[i] >= upper[i] && gradient[i] < 0.0);
      projected[i] = blocked ? 0.0 : gradient[i];
      largest = std::max(largest, std::abs(projected[i]));
    }
    if (largest <= 1e-9) break;
    // Two-loop recursion: direction = -H projected.
    direction = projected;
    alpha.assign(steps.size(), 0.0);
    for (std::size_t k = steps.size(); k-- > 0;) {
      alpha[k] = rho[k] * dot(steps[k], direction);
      for (std::size_t i = 0; i < n; ++i) direction[i] -= alpha[k] * changes[k][i];
    }
    if (!steps.empty()) {
      const double gamma = dot(steps.back(), changes.back()) / dot(changes.back(), changes.back());
      for (double& component : direction) component *= gamma;
    }
    for (std::size_t k = 0; k < steps.size(); ++k) {
      const double beta = rho[k] * dot(changes[k], direction);
      for (std::size_t i = 0; i < n; ++i) direction[i] += steps[k][i] * (alpha[k] - beta);
    }
    for (std::size_t i = 0; i < n; ++i) direction[i] = projected[i] == 0.0 ? 0.0 : -direction[i];
    if (!(dot(direction, projected) < 0.0)) {  // not a descent direction: start the memory again
      steps.clear();
      changes.clear();
      rho.clear();
      for (std::size_t i = 0; i < n; ++i) direction[i] = -projected[i];
    }
    double step = 1.0;
    if (steps.empty()) {
      double longest = 0.0;
      for (double component : direction) longest = std::max(longest, std::abs(component));
      step = first_step / longest;
    }
    bool accepted = false;
    double trial_value = value;
    while (best.evaluations < max_evaluations) {
      bool moved = false;
      for (std::size_t i = 0; i < n; ++i) {
        trial[i] = std::clamp(x[i] + step * direction[i], lower[i], upper[i]);
        moved = moved || trial[i] != x[i];
      }
      if (!moved) break;
      trial_value = f(std::span<const double>(trial), std::span<double>(trial_gradient));
      ++best.evaluations;
      double decrease = 0.0;
      for (std::size_t i = 0; i < n; ++i) decrease += gradient[i] * (trial[i] - x[i]);
      if (std::isfinite(trial_value) && trial_value <= value + 1e-4 * std::min(decrease, 0.0)) {
        accepted = true;
        break;
      }
      step *= std::isfinite(trial_value) ? 0.5 : 0.1;
    }
    if (!accepted) break;
    std::vector<double> s(n), y(n);
    for (std::size_t i = 0; i < n; ++i) {
      s[i] = trial[i] - x[i];
      y[i] = trial_gradient[i] - gradient[i];
    }
    const double curvature = dot(s, y);
    if (curvature > 1e-12 * dot(y, y)) {
      steps.push_back(std::move(s));
      changes.push_back(std::move(y));
      rho.push_back(1.0 / curvature);
      if (steps.size() > memory) {
        steps.erase(steps.begin());
        changes.erase(changes.begin());
        rho.erase(rho.begin());
      }
    }
    const bool stalled = value - trial_value <= 1e-10 * (1.0 + std::abs(value));
    x = trial;
    gradient = trial_gradient;
    value = trial_value;
    best.x = x;
    best.value = value;
    if (stalled) break;
  }
  return best;
}

}  // namespace mahpo::search::gp::detail
