#pragma once
// The optimizers over the layers' parameters: SGD with momentum and Adam (their settings, Sgd and
// Adam, are in train/backend.hpp: every backend takes them).

#include <cmath>
#include <cstddef>
#include <variant>
#include <vector>

#include <mahpo/train/backend.hpp>
#include <mahpo/train/layers.hpp>

namespace mahpo::train {


class Optimizer {
 public:
  Optimizer(OptimizerKind kind, std::vector<ParameterView> parameters) : kind_(kind), parameters_(std::move(parameters)) {
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
        for (std::size_t j = 0; j < w.size(); ++j) {
          v[j] = mu * v[j] - lr * (g[j] + decay * w[j]);
          w[j] += v[j];
        }
      }
    } else {
      const auto& adam = std::get<Adam>(kind_);
      const double correction1 = 1.0 - std::pow(adam.beta1, static_cast<double>(steps_));
      const double correction2 = 1.0 - std::pow(adam.beta2, static_cast<double>(steps_));
      const auto step_size = static_cast<float>(learning_rate * std::sqrt(correction2) / correction1);
      const auto b1 = static_cast<float>(adam.beta1), b2 = static_cast<float>(adam.beta2);
      const auto eps = static_cast<float>(adam.epsilon * std::sqrt(correction2));
      for (std::size_t i = 0; i < parameters_.size(); ++i) {
        auto w = parameters_[i].values;
        auto g = parameters_[i].gradients;
        auto& m = first_[i];
        auto& v = second_[i];
        for (std::size_t j = 0; j < w.size(); ++j) {
          m[j] = b1 * m[j] + (1.0f - b1) * g[j];
          v[j] = b2 * v[j] + (1.0f - b2) * g[j] * g[j];
          w[j] -= step_size * m[j] / (std::sqrt(v[j]) + eps);
        }
      }
    }
  }

  std::size_t bytes() const {
    std::size_t total = 0;
    for (const auto& f : first_) total += f.capacity() * sizeof(float);
    for (const auto& s : second_) total += s.capacity() * sizeof(float);
    return total;
  }

 private:
  OptimizerKind kind_;
  std::vector<ParameterView> parameters_;
  std::vector<std::vector<float>> first_, second_;
  std::size_t steps_ = 0;
};

}  // namespace mahpo::train
