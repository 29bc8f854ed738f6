#pragma once
// Learning-rate policies, as functions of the iteration (counted from 0).

#include <cmath>
#include <cstddef>
#include <numbers>
#include <string>
#include <variant>

#include <fmt/format.h>

namespace mahpo::train {

struct FixedRate {};

// base_lr * gamma^floor(iter / step_size)
struct StepDecay {
  std::size_t step_size = 1000;
  double gamma = 0.1;
};

// Caffe's "inv" policy: base_lr * (1 + gamma * iter)^(-power) (Jia et al., Caffe, 2014).
struct InvDecay {
  double gamma = 0.001;
  double power = 0.75;
};

// base_lr * (1 + cos(pi * iter / total)) / 2 (Loshchilov & Hutter, SGDR, 2017), without restarts.
struct CosineDecay {
  std::size_t total_iterations = 0;  // 0: the trainer's iteration budget
};

using LearningRatePolicy = std::variant<FixedRate, StepDecay, InvDecay, CosineDecay>;

inline double learning_rate_at(const LearningRatePolicy& policy, double base, std::size_t iteration,
                               std::size_t total_iterations) {
  const double iter = static_cast<double>(iteration);
  if (const auto* step = std::get_if<StepDecay>(&policy)) {
    return base * std::pow(step->gamma, std::floor(iter / static_cast<double>(step->step_size)));
  }
  if (const auto* inv = std::get_if<InvDecay>(&policy)) return base * std::pow(1.0 + inv->gamma * iter, -inv->power);
  if (const auto* cosine = std::get_if<CosineDecay>(&policy)) {
    const double total = static_cast<double>(cosine->total_iterations ? cosine->total_iterations : total_iterations);
    return total > 0 ? base * 0.5 * (1.0 + std::cos(std::numbers::pi * std::min(iter / total, 1.0))) : base;
  }
  return base;
}

inline std::string describe(const LearningRatePolicy& policy) {
  if (const auto* step = std::get_if<StepDecay>(&policy)) {
    return fmt::format("step (every {} iterations x{})", step->step_size, step->gamma);
  }
  if (const auto* inv = std::get_if<InvDecay>(&policy))
    return fmt::format("inv (gamma {}, power {})", inv->gamma, inv->power);
  if (std::holds_alternative<CosineDecay>(policy)) return "cosine";
  return "fixed";
}

}  // namespace mahpo::train
