#pragma once
// A fully connected layer: output = input * weight + bias, for a batch x inputs input.
//
// Weight is inputs x outputs, orthogonally initialized with a gain (mahpo/rl/initialization.hpp);
// bias starts at zero (MAPPO reference code). Follows the Module protocol of mahpo/rl/module.hpp;
// `predict` is the forward pass without the cache, for acting.

#include <cstddef>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

#include <mahpo/rl/initialization.hpp>
#include <mahpo/rl/module.hpp>
#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

class Linear {
 public:
  Parameter weight;  // inputs x outputs
  Parameter bias;    // 1 x outputs

  Linear() = default;
  Linear(std::size_t inputs, std::size_t outputs, double gain, std::mt19937_64& rng)
      : weight(orthogonal(inputs, outputs, gain, rng)), bias(xt::zeros<double>({std::size_t{1}, outputs})) {}

  std::size_t inputs() const { return weight.value.shape()[0]; }
  std::size_t outputs() const { return weight.value.shape()[1]; }

  Matrix predict(const Matrix& input) const {
    check_input(input);
    Matrix output = multiply(input, weight.value);
    output += bias.value;  // broadcast over the batch
    return output;
  }

  Matrix forward(const Matrix& input) {
    input_ = input;
    return predict(input);
  }

  Matrix backward(const Matrix& output_gradient) {
    if (output_gradient.shape()[0] != input_.shape()[0] || output_gradient.shape()[1] != outputs())
      throw std::invalid_argument(
          fmt::format("mahpo::rl::Linear: backward got a {}x{} gradient after a forward of {}x{}",
                      output_gradient.shape()[0], output_gradient.shape()[1], input_.shape()[0], outputs()));
    multiply_into(input_, Transpose::yes, output_gradient, Transpose::no, weight.gradient, 1.0);
    for (std::size_t i = 0; i < output_gradient.shape()[0]; ++i)
      for (std::size_t j = 0; j < outputs(); ++j) bias.gradient(0, j) += output_gradient(i, j);
    return multiply(output_gradient, Transpose::no, weight.value, Transpose::yes);
  }

  ParameterList parameters() { return {&weight, &bias}; }
  void zero_gradients() { rl::zero_gradients(parameters()); }

 private:
  Matrix input_;

  void check_input(const Matrix& input) const {
    if (input.shape()[1] != inputs())
      throw std::invalid_argument(
          fmt::format("mahpo::rl::Linear: input has {} features, the layer takes {}", input.shape()[1], inputs()));
  }
};

}  // namespace mahpo::rl
