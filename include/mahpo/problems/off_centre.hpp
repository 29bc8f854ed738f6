#pragma once
// Problems whose optimum sits away from the centre of the space, drawn per seed, so that a searcher
// whose first guesses are central (an untrained policy's mean, a prior's mode) gains nothing from
// it, and no default can be tuned to one optimum's place:
//
//   OffCentreLeNetQuadratic(seed)  LeNetQuadratic's bowl (same weights, same budget penalty) around
//                                  a best config drawn per seed: each unit-cube coordinate in
//                                  [0.05, 0.3] or [0.7, 0.95], each side with probability 1/2
//   LeNetCliff(seed)               the same bowl with a learning-rate cliff next to its optimum:
//                                  a learning-rate coordinate more than `cliff_gap` above the best
//                                  one diverges (chance level, 0.1), as a real training does
//   Mirrored<Problem>(seed)        Problem(seed) with each unit-cube coordinate mirrored
//                                  (u -> 1 - u) with probability 1/2 per seed (at least one is):
//                                  the LeNet surrogates' real shape with its optimum moved
//
// All three are maximized; the draws are hashes of the seed (splitmix64), so a seed is one problem.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/objective.hpp>
#include <mahpo/problems/lenet_surrogate.hpp>
#include <mahpo/problems/synthetic.hpp>
#include <mahpo/space/config.hpp>

namespace mahpo::problems {

class OffCentreLeNetQuadratic {
 public:
  using space = LeNetQuadratic::space;
  static constexpr Goal goal = Goal::maximize;
  static constexpr double optimum = LeNetQuadratic::optimum;  // at best_config(), 1 epoch or more

  explicit OffCentreLeNetQuadratic(std::uint64_t seed = 0) : seed_(seed) {
    std::uint64_t state = surrogate_detail::mix(seed ^ 0x4f6666436eULL);
    std::array<double, space::dimension> point{};
    for (double& u : point) {
      const double inward = 0.05 + 0.25 * surrogate_detail::unit_from(state = surrogate_detail::mix(state));
      u = (surrogate_detail::mix(state ^ 1) & 1) != 0 ? 1.0 - inward : inward;
    }
    best_ = space::from_unit_cube(std::span<const double>(point));
    best_point_ = space::to_unit_cube(best_);
  }

  std::uint64_t seed() const { return seed_; }
  const Config<space>& best_config() const { return best_; }
  const std::array<double, space::dimension>& best_point() const { return best_point_; }

  double evaluate(const Config<space>& config, double epochs) const {
    const auto x = space::to_unit_cube(config);
    double distance = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k)
      distance += LeNetQuadratic::weights[k] * (x[k] - best_point_[k]) * (x[k] - best_point_[k]);
    return optimum - distance - 0.05 * (1.0 - std::clamp(epochs, 0.0, 1.0));
  }

  Result operator()(const Config<space>& config, const Budget& budget = {}) const {
    return Result{.value = evaluate(config, epochs_of(budget))};
  }

  static double epochs_of(const Budget& budget) {
    return budget.iterations > 0 ? static_cast<double>(budget.iterations) / 1000.0 : budget.epochs * budget.fraction;
  }

 private:
  std::uint64_t seed_;
  Config<space> best_;
  std::array<double, space::dimension> best_point_{};
};

class LeNetCliff {
 public:
  using space = OffCentreLeNetQuadratic::space;
  static constexpr Goal goal = Goal::maximize;
  static constexpr double optimum = OffCentreLeNetQuadratic::optimum;
  static constexpr double chance = 0.1;      // what a diverged training scores
  static constexpr double cliff_gap = 0.03;  // in the learning rate's unit coordinate, above the best one
  static constexpr std::size_t learning_rate = space::dimension - 1;  // its unit-cube coordinate

  explicit LeNetCliff(std::uint64_t seed = 0) : bowl_(seed) {}

  const Config<space>& best_config() const { return bowl_.best_config(); }
  bool diverges(const Config<space>& config) const {
    return space::to_unit_cube(config)[learning_rate] > bowl_.best_point()[learning_rate] + cliff_gap;
  }

  Result operator()(const Config<space>& config, const Budget& budget = {}) const {
    if (diverges(config)) return Result{.value = chance};
    return bowl_(config, budget);
  }

 private:
  OffCentreLeNetQuadratic bowl_;
};

template <typename Problem>
class Mirrored {
 public:
  using space = typename Problem::space;
  static constexpr Goal goal = Problem::goal;
  static constexpr double optimum = Problem::optimum;

  explicit Mirrored(std::uint64_t seed = 0) : problem_(seed) {
    std::uint64_t state = surrogate_detail::mix(seed ^ 0x4d6972726f72ULL);
    bool any = false;
    for (bool& flip : mirrored_) any = (flip = ((state = surrogate_detail::mix(state)) & 1) != 0) || any;
    if (!any) mirrored_[surrogate_detail::mix(state) % mirrored_.size()] = true;
  }

  const std::array<bool, space::dimension>& mirrored_coordinates() const { return mirrored_; }

  // The config of the inner problem that `config` stands for (mirroring is its own inverse).
  Config<space> inner(const Config<space>& config) const {
    auto x = space::to_unit_cube(config);
    for (std::size_t k = 0; k < x.size(); ++k)
      if (mirrored_[k]) x[k] = 1.0 - x[k];
    return space::from_unit_cube(std::span<const double>(x));
  }

  Result operator()(const Config<space>& config, const Budget& budget = {}) const {
    return problem_(inner(config), budget);
  }

  double expected(const Config<space>& config, const Budget& budget = {}) const
    requires requires(const Problem& p, const Config<space>& c, const Budget& b) { p.expected(c, b); }
  {
    return problem_.expected(inner(config), budget);
  }

  Config<space> best_config() const { return inner(problem_.best_config()); }

 private:
  Problem problem_;
  std::array<bool, space::dimension> mirrored_{};
};

}  // namespace mahpo::problems
