#pragma once
// Adam (Kingma & Ba, 2015) over a ParameterList: the update of mahpo/optim/adam.hpp (the same as
// the CNN trainer's, in double), PyTorch's form.
// Defaults are the MAPPO reference code's (Yu et al., 2022): learning rate 5e-4, betas 0.9/0.999,
// epsilon 1e-5 (the PPO-LSTM searcher sets its own learning rate, 0.007).
//
// The optimizer holds the moments only; `step` takes the parameter list each time, so modules may
// move between steps. The first step sizes the moments; later lists must have the same shapes
// in the same order (an actor and a critic get one Adam each, or one over join(actor, critic)).
// `step` does not zero the gradients.

#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include <mahpo/optim/adam.hpp>
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
    const auto step =
        optim::AdamStep<double>::at(steps_, options_.learning_rate, options_.beta1, options_.beta2, options_.epsilon);
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      Parameter& p = *parameters[i];
      Matrix& m = first_[i];
      Matrix& v = second_[i];
      if (p.value.shape() != m.shape() || p.gradient.shape() != m.shape())
        throw std::invalid_argument(fmt::format("mahpo::rl::Adam: parameter {} changed shape since the first step", i));
      step(std::span<double>(p.value.data(), p.value.size()),
           std::span<const double>(p.gradient.data(), p.gradient.size()), std::span<double>(m.data(), m.size()),
           std::span<double>(v.data(), v.size()));
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
