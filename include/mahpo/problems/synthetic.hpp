#pragma once
// Cheap test problems with known optima, shaped like mahpo's objectives: a callable
// (config, budget) -> Result, a `space`, a `goal`, and the optimum.
//
//   Branin       2-d, minimize; minimum 0.397887 at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475)
//   Hartmann6    6-d on [0, 1]^6, minimize; minimum -3.32237 at
//                (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
//   LeNetQuadratic  paper_lenet's space (6 free parameters, qualified names: conv1.conv_size, ...),
//                maximize; an
//                "accuracy" of 0.99 minus a weighted squared distance, in the unit cube, to a known
//                best config, minus 0.05 * (1 - epochs) below 1 epoch (so low budgets rank configs
//                the same way, with lower values, as multi-fidelity searchers assume); E epochs on
//                a fraction s of the training set count as s E
//
// Branin and Hartmann-6: the standard definitions (Dixon & Szegő, 1978; Surjanovic & Bingham's
// Virtual Library of Simulation Experiments).

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/objective.hpp>
#include <mahpo/space/parameters.hpp>
#include <mahpo/space/space.hpp>

namespace mahpo::problems {

struct Branin {
  using space = Space<Real<"x1", -5.0, 10.0>, Real<"x2", 0.0, 15.0>>;
  static constexpr Goal goal = Goal::minimize;
  static constexpr double optimum = 0.397887357729739;

  static double evaluate(double x1, double x2) {
    constexpr double pi = std::numbers::pi;
    const double b = 5.1 / (4.0 * pi * pi), c = 5.0 / pi, t = 1.0 / (8.0 * pi);
    const double inner = x2 - b * x1 * x1 + c * x1 - 6.0;
    return inner * inner + 10.0 * (1.0 - t) * std::cos(x1) + 10.0;
  }

  Result operator()(const Config<space>& config, const Budget& = {}) const {
    return Result{.value = evaluate(config.get<"x1">(), config.get<"x2">())};
  }
};

struct Hartmann6 {
  using space = Space<Real<"x1", 0.0, 1.0>, Real<"x2", 0.0, 1.0>, Real<"x3", 0.0, 1.0>, Real<"x4", 0.0, 1.0>,
                      Real<"x5", 0.0, 1.0>, Real<"x6", 0.0, 1.0>>;
  static constexpr Goal goal = Goal::minimize;
  static constexpr double optimum = -3.32236801141551;
  static constexpr std::array<double, 6> minimizer{0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573};

  static double evaluate(const std::array<double, 6>& x) {
    static constexpr std::array<double, 4> alpha{1.0, 1.2, 3.0, 3.2};
    static constexpr double a[4][6] = {
        {10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14}, {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}};
    static constexpr double p[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                       {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                       {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                       {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
    double total = 0.0;
    for (std::size_t i = 0; i < 4; ++i) {
      double exponent = 0.0;
      for (std::size_t j = 0; j < 6; ++j) exponent += a[i][j] * (x[j] - p[i][j]) * (x[j] - p[i][j]);
      total -= alpha[i] * std::exp(-exponent);
    }
    return total;
  }

  Result operator()(const Config<space>& config, const Budget& = {}) const {
    return Result{.value = evaluate(space::to_unit_cube(config))};
  }
};

// The paper_lenet space's six free hyperparameters, scored without training.
struct LeNetQuadratic {
  using space = nn::paper_lenet::space;
  static constexpr Goal goal = Goal::maximize;
  static constexpr double optimum = 0.99;  // reached at best_config() with a budget of 1 epoch or more

  // conv1 5, conv2 3, hidden 600, dropout 0.6, batch 24, learning rate 0.003.
  static Config<space> best_config() {
    Config<space> config;
    config.set<"conv1.conv_size">(5).set<"conv2.conv_size">(3).set<"fc1.hidden_size">(600);
    config.set<"fc1.dropout_rate">(0.6).set<"training.batch_size">(24).set<"training.learning_rate">(0.003);
    return config;
  }

  // Weights per unit-cube coordinate: the learning rate matters most, the batch size least.
  static constexpr std::array<double, 6> weights{0.3, 0.3, 0.2, 0.2, 0.1, 0.8};

  static double evaluate(const Config<space>& config, double epochs) {
    const auto x = space::to_unit_cube(config);
    const auto best = space::to_unit_cube(best_config());
    double distance = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k) distance += weights[k] * (x[k] - best[k]) * (x[k] - best[k]);
    return optimum - distance - 0.05 * (1.0 - std::clamp(epochs, 0.0, 1.0));
  }

  Result operator()(const Config<space>& config, const Budget& budget = {}) const {
    const double epochs =
        budget.iterations > 0 ? static_cast<double>(budget.iterations) / 1000.0 : budget.epochs * budget.fraction;
    return Result{.value = evaluate(config, epochs)};
  }
};

}  // namespace mahpo::problems
