#pragma once
// The optimizers over the layers' parameters: SGD with momentum and Adam (their settings, Sgd and
// Adam, are in train/backend.hpp: every backend takes them).

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <utility>
#include <variant>
#include <vector>

#include <mahpo/optim/adam.hpp>
#include <mahpo/train/backend.hpp>
#include <mahpo/train/cpu_layers.hpp>
#include <mahpo/train/formulas.hpp>

namespace mahpo::train {

class Optimizer {
 public:
  Optimizer(OptimizerKind kind, std::vector<WeightsView> parameters) : kind_(kind), parameters_(std::move(parameters)) {
    for (const auto& p : parameters_) {
      first_.emplace_back(p.values.size(), 0.0f);
      if (std::holds_alternative<Adam>(kind_)) second_.emplace_back(p.values.size(), 0.0f);
    }
  }

  void step(double learning_rate) {
    ++steps_;
    if (const auto* sgd = std::get_if<Sgd>(&kind_)) {
      const auto lr = static_cast<float>(learning_rate), mu = static_cast<float>(sgd->momentum);
      const auto decay = static_cast<float>(sgd->weight_decay);
      for (std::size_t i = 0; i < parameters_.size(); ++i) {
        auto w = parameters_[i].values;
        auto g = parameters_[i].gradients;
        auto& v = first_[i];
        for (std::size_t j = 0; j < w.size(); ++j) formulas::sgd_momentum_update(w[j], g[j], v[j], lr, mu, decay);
      }
    } else {
      const auto& adam = std::get<Adam>(kind_);
      const auto step = optim::AdamStep<float>::at(steps_, learning_rate, adam.beta1, adam.beta2, adam.epsilon);
      for (std::size_t i = 0; i < parameters_.size(); ++i) {
        step(parameters_[i].values, parameters_[i].gradients, first_[i], second_[i]);
      }
    }
  }

  // The state a checkpoint keeps: the step count and the moments (SGD: the velocities in first).
  std::size_t steps() const { return steps_; }
  const std::vector<std::vector<float>>& first() const { return first_; }
  const std::vector<std::vector<float>>& second() const { return second_; }
  bool is_adam() const { return std::holds_alternative<Adam>(kind_); }
  // Restores a checkpoint's state; std::invalid_argument when its moments do not fit these parameters.
  void restore(std::size_t steps, std::vector<std::vector<float>> first, std::vector<std::vector<float>> second) {
    const auto fits = [&](const std::vector<std::vector<float>>& moments) {
      if (moments.size() != parameters_.size()) return false;
      for (std::size_t i = 0; i < moments.size(); ++i) {
        if (moments[i].size() != parameters_[i].values.size()) return false;
      }
      return true;
    };
    if (!fits(first) || (is_adam() && !fits(second)) || (!is_adam() && !second.empty())) {
      throw std::invalid_argument("mahpo: the checkpoint's optimizer state does not fit this optimizer and network");
    }
    steps_ = steps;
    first_ = std::move(first);
    second_ = std::move(second);
  }

  std::size_t bytes() const {
    std::size_t total = 0;
    for (const auto& f : first_) total += f.capacity() * sizeof(float);
    for (const auto& s : second_) total += s.capacity() * sizeof(float);
    return total;
  }

 private:
  OptimizerKind kind_;
  std::vector<WeightsView> parameters_;
  std::vector<std::vector<float>> first_, second_;
  std::size_t steps_ = 0;
};

}  // namespace mahpo::train
