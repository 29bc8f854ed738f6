#pragma once
// Adam (Kingma & Ba, 2015) over a ParameterList, in PyTorch's form:
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2,
//   w -= learning_rate * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon).
// Defaults are the MAPPO reference code's (Yu et al., 2022): learning rate 5e-4, betas 0.9/0.999,
// epsilon 1e-5 (the PPO-LSTM searcher sets its own learning rate, 0.007).
//
// The optimizer holds the moments only; `step` takes the parameter list each time, so modules may
// move between steps. The first step sizes the moments; later lists must have the same shapes
// in the same order (an actor and a critic get one Adam each, or one over join(actor, critic)).
// `step` does not zero the gradients.

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include <mahpo/rl/module.hpp>
#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

struct AdamOptions {
  double learning_rate = 5e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-5;
};

class Adam {
 public:
  explicit Adam(AdamOptions options = {}) : options_(options) {
    if (!(options.learning_rate >= 0.0))
      throw std::invalid_argument(fmt::format("mahpo::rl::Adam: learning rate {} must be >= 0", options.learning_rate));
    if (!(options.beta1 >= 0.0 && options.beta1 < 1.0) || !(options.beta2 >= 0.0 && options.beta2 < 1.0))
      throw std::invalid_argument(
          fmt::format("mahpo::rl::Adam: betas {} and {} must be in [0, 1)", options.beta1, options.beta2));
    if (!(options.epsilon > 0.0))
      throw std::invalid_argument(fmt::format("mahpo::rl::Adam: epsilon {} must be > 0", options.epsilon));
  }

  const AdamOptions& options() const { return options_; }
  double learning_rate() const { return options_.learning_rate; }
  void set_learning_rate(double learning_rate) { options_.learning_rate = learning_rate; }
  std::size_t steps() const { return steps_; }

  void step(const ParameterList& parameters) {
    if (steps_ == 0) {
      first_.clear();
      second_.clear();
      for (const Parameter* p : parameters) {
        first_.push_back(xt::zeros<double>(p->value.shape()));
        second_.push_back(xt::zeros<double>(p->value.shape()));
      }
    } else if (parameters.size() != first_.size()) {
      throw std::invalid_argument(fmt::format("mahpo::rl::Adam: step got {} parameters, the first step had {}",
                                              parameters.size(), first_.size()));
    }
    ++steps_;
    const double t = static_cast<double>(steps_);
    const double correction1 = 1.0 - std::pow(options_.beta1, t), correction2 = 1.0 - std::pow(options_.beta2, t);
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      Parameter& p = *parameters[i];
      Matrix& m = first_[i];
      Matrix& v = second_[i];
      if (p.value.shape() != m.shape() || p.gradient.shape() != m.shape())
        throw std::invalid_argument(fmt::format("mahpo::rl::Adam: parameter {} changed shape since the first step", i));
      for (std::size_t k = 0; k < m.size(); ++k) {
        const double g = p.gradient.flat(k);
        m.flat(k) = options_.beta1 * m.flat(k) + (1.0 - options_.beta1) * g;
        v.flat(k) = options_.beta2 * v.flat(k) + (1.0 - options_.beta2) * g * g;
        p.value.flat(k) -= options_.learning_rate * (m.flat(k) / correction1) /
                           (std::sqrt(v.flat(k) / correction2) + options_.epsilon);
      }
    }
  }

  // Forgets the moments and the step count.
  void reset() {
    steps_ = 0;
    first_.clear();
    second_.clear();
  }

 private:
  AdamOptions options_;
  std::size_t steps_ = 0;
  std::vector<Matrix> first_, second_;  // m and v, one per parameter
};

}  // namespace mahpo::rl
