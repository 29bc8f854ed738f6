#pragma once
// One step of a long short-term memory cell (Hochreiter & Schmidhuber, 1997, with the forget gate
// of Gers et al., 2000), for a batch:
//   z = input * input_weight + hidden * recurrent_weight + bias      (batch x 4H, gates i|f|g|o)
//   i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_g), o = sigmoid(z_o)
//   cell' = f * cell + i * g,  hidden' = o * tanh(cell')
//
// Initialization: orthogonal weights with gain 1 (as the MAPPO reference code does for its
// recurrent layer), zero bias except the forget gate's, which starts at 1 (Jozefowicz et al., 2015).
//
// Two ways to use it: `forward`/`backward` keep the last step's cache (the Module protocol of
// mahpo/rl/module.hpp, for a single step), while `step`/`backward(cache, ...)` take the cache
// explicitly, which is what backpropagation through time needs (mahpo/rl/lstm.hpp).
// Backward adds the parameter gradients and returns the gradients with respect to the step's
// input and previous state.

#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

#include <mahpo/rl/initialization.hpp>
#include <mahpo/rl/module.hpp>
#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

struct LstmState {
  Matrix hidden;  // batch x hidden units
  Matrix cell;    // batch x hidden units
};

// What one step keeps for its backward pass.
struct LstmStepCache {
  Matrix input;      // batch x inputs
  LstmState before;  // the state the step started from
  Matrix gates;      // batch x 4H: i, f, g, o after their nonlinearities
  Matrix cell_tanh;  // batch x H: tanh(cell')
};

// d(loss)/d(input) and d(loss)/d(previous state) of one step.
struct LstmStepGradient {
  Matrix input;
  LstmState before;
};

class LstmCell {
 public:
  Parameter input_weight;      // inputs x 4H
  Parameter recurrent_weight;  // H x 4H
  Parameter bias;              // 1 x 4H

  LstmCell() = default;
  LstmCell(std::size_t inputs, std::size_t hidden_units, std::mt19937_64& rng)
      : input_weight(orthogonal(inputs, 4 * hidden_units, 1.0, rng)),
        recurrent_weight(orthogonal(hidden_units, 4 * hidden_units, 1.0, rng)),
        bias(xt::zeros<double>({std::size_t{1}, 4 * hidden_units})) {
    if (inputs == 0 || hidden_units == 0)
      throw std::invalid_argument("mahpo::rl::LstmCell: inputs and hidden units must be positive");
    for (std::size_t j = hidden_units; j < 2 * hidden_units; ++j) bias.value(0, j) = 1.0;  // forget gate
  }

  std::size_t inputs() const { return input_weight.value.shape()[0]; }
  std::size_t hidden_units() const { return recurrent_weight.value.shape()[0]; }

  LstmState initial_state(std::size_t batch) const {
    return {xt::zeros<double>({batch, hidden_units()}), xt::zeros<double>({batch, hidden_units()})};
  }

  // One step with its cache filled for backward(cache, ...).
  LstmState step(const Matrix& input, const LstmState& state, LstmStepCache& cache) const {
    const std::size_t batch = input.shape()[0], h = hidden_units();
    if (input.shape()[1] != inputs())
      throw std::invalid_argument(
          fmt::format("mahpo::rl::LstmCell: input has {} features, the cell takes {}", input.shape()[1], inputs()));
    if (state.hidden.shape()[0] != batch || state.hidden.shape()[1] != h || state.cell.shape() != state.hidden.shape())
      throw std::invalid_argument(fmt::format("mahpo::rl::LstmCell: the state must be two {}x{} matrices", batch, h));
    cache.input = input;
    cache.before = state;
    Matrix& z = cache.gates;
    multiply_into(input, Transpose::no, input_weight.value, Transpose::no, z);
    multiply_into(state.hidden, Transpose::no, recurrent_weight.value, Transpose::no, z, 1.0);
    LstmState after{Matrix::from_shape({batch, h}), Matrix::from_shape({batch, h})};
    cache.cell_tanh.resize({batch, h});  // keeps the storage of a reused cache
    for (std::size_t b = 0; b < batch; ++b) {
      for (std::size_t j = 0; j < 4 * h; ++j) {
        const double x = z(b, j) + bias.value(0, j);
        z(b, j) = (j >= 2 * h && j < 3 * h) ? std::tanh(x) : sigmoid(x);
      }
      for (std::size_t j = 0; j < h; ++j) {
        const double i = z(b, j), f = z(b, h + j), g = z(b, 2 * h + j), o = z(b, 3 * h + j);
        after.cell(b, j) = f * state.cell(b, j) + i * g;
        cache.cell_tanh(b, j) = std::tanh(after.cell(b, j));
        after.hidden(b, j) = o * cache.cell_tanh(b, j);
      }
    }
    return after;
  }

  // Adds the parameter gradients of the step `cache` recorded, given d(loss)/d(hidden') and
  // d(loss)/d(cell') (the latter from later steps; zero for the last one).
  LstmStepGradient backward(const LstmStepCache& cache, const Matrix& hidden_gradient, const Matrix& cell_gradient) {
    const std::size_t batch = cache.input.shape()[0], h = hidden_units();
    if (hidden_gradient.shape() != cache.before.hidden.shape() || cell_gradient.shape() != cache.before.cell.shape())
      throw std::invalid_argument(fmt::format("mahpo::rl::LstmCell: backward needs two {}x{} gradients", batch, h));
    Matrix gate_gradient = Matrix::from_shape({batch, 4 * h});  // d(loss)/dz
    LstmStepGradient result;
    result.before.cell = Matrix::from_shape({batch, h});
    for (std::size_t b = 0; b < batch; ++b) {
      for (std::size_t j = 0; j < h; ++j) {
        const double i = cache.gates(b, j), f = cache.gates(b, h + j), g = cache.gates(b, 2 * h + j),
                     o = cache.gates(b, 3 * h + j), tanh_cell = cache.cell_tanh(b, j);
        const double dh = hidden_gradient(b, j);
        const double dc = cell_gradient(b, j) + dh * o * (1.0 - tanh_cell * tanh_cell);
        gate_gradient(b, j) = dc * g * i * (1.0 - i);
        gate_gradient(b, h + j) = dc * cache.before.cell(b, j) * f * (1.0 - f);
        gate_gradient(b, 2 * h + j) = dc * i * (1.0 - g * g);
        gate_gradient(b, 3 * h + j) = dh * tanh_cell * o * (1.0 - o);
        result.before.cell(b, j) = dc * f;
      }
    }
    multiply_into(cache.input, Transpose::yes, gate_gradient, Transpose::no, input_weight.gradient, 1.0);
    multiply_into(cache.before.hidden, Transpose::yes, gate_gradient, Transpose::no, recurrent_weight.gradient, 1.0);
    for (std::size_t b = 0; b < batch; ++b)
      for (std::size_t j = 0; j < 4 * h; ++j) bias.gradient(0, j) += gate_gradient(b, j);
    result.input = multiply(gate_gradient, Transpose::no, input_weight.value, Transpose::yes);
    result.before.hidden = multiply(gate_gradient, Transpose::no, recurrent_weight.value, Transpose::yes);
    return result;
  }

  // One step without a cache, for acting.
  LstmState predict(const Matrix& input, const LstmState& state) const {
    LstmStepCache scratch;
    return step(input, state, scratch);
  }

  // One step, cached for the next backward(hidden_gradient, cell_gradient).
  LstmState forward(const Matrix& input, const LstmState& state) { return step(input, state, cache_); }

  LstmStepGradient backward(const Matrix& hidden_gradient, const Matrix& cell_gradient) {
    return backward(cache_, hidden_gradient, cell_gradient);
  }

  ParameterList parameters() { return {&input_weight, &recurrent_weight, &bias}; }
  void zero_gradients() { rl::zero_gradients(parameters()); }

 private:
  LstmStepCache cache_;

  static double sigmoid(double x) {
    return x >= 0.0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));  // no overflow either way
  }
};

}  // namespace mahpo::rl
