#pragma once
// A stacked LSTM over whole sequences, with backpropagation through time (Werbos, 1990).
//
// Layer 0 reads the inputs, layer l reads layer l-1's hidden state; the outputs are the top
// layer's hidden states, one batch x hidden matrix per time step. `forward(inputs)` runs the whole
// sequence from a given (default: zero) state and caches every step; `backward(output_gradients)`
// takes d(loss)/d(output_t) for every step (zeros where the loss does not look), adds the
// parameter gradients and returns d(loss)/d(input_t) per step. `predict_step` advances a state by
// one step without caching, for acting one action at a time (feed the sampled action back in), and
// `forward` later replays the same sequence for the update.
// Cells are initialized as in mahpo/rl/lstm_cell.hpp, in layer order from one generator.

#include <cstddef>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <mahpo/rl/lstm_cell.hpp>
#include <mahpo/rl/module.hpp>
#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

struct LstmOptions {
  std::size_t inputs = 0;        // features per step
  std::size_t hidden_units = 0;  // per layer
  std::size_t layers = 1;
};

class Lstm {
 public:
  Lstm() = default;
  Lstm(const LstmOptions& options, std::mt19937_64& rng) : options_(options) {
    if (options.inputs == 0 || options.hidden_units == 0 || options.layers == 0)
      throw std::invalid_argument(
          fmt::format("mahpo::rl::Lstm: inputs ({}), hidden units ({}) and layers ({}) must be positive",
                      options.inputs, options.hidden_units, options.layers));
    for (std::size_t layer = 0; layer < options.layers; ++layer)
      cells_.emplace_back(layer == 0 ? options.inputs : options.hidden_units, options.hidden_units, rng);
  }

  const LstmOptions& options() const { return options_; }
  std::size_t inputs() const { return options_.inputs; }
  std::size_t outputs() const { return options_.hidden_units; }

  // Zero hidden and cell states, one per layer.
  std::vector<LstmState> initial_state(std::size_t batch) const {
    std::vector<LstmState> state;
    for (const auto& cell : cells_) state.push_back(cell.initial_state(batch));
    return state;
  }

  // One time step for acting: advances `state` (one per layer) and returns the top hidden state.
  Matrix predict_step(const Matrix& input, std::vector<LstmState>& state) const {
    check_state(state);
    Matrix x = input;
    for (std::size_t layer = 0; layer < cells_.size(); ++layer) {
      state[layer] = cells_[layer].predict(x, state[layer]);
      x = state[layer].hidden;
    }
    return x;
  }

  // The whole sequence from zero state; caches every step for backward.
  std::vector<Matrix> forward(const std::vector<Matrix>& inputs) {
    return forward(inputs, initial_state(inputs.empty() ? 0 : inputs.front().shape()[0]));
  }

  // The whole sequence from `state` (one per layer); caches every step for backward.
  std::vector<Matrix> forward(const std::vector<Matrix>& inputs, std::vector<LstmState> state) {
    check_state(state);
    caches_.resize(inputs.size());  // reused between calls: their matrices keep their storage
    for (auto& step_caches : caches_) step_caches.resize(cells_.size());
    std::vector<Matrix> outputs;
    for (std::size_t t = 0; t < inputs.size(); ++t) {
      Matrix x = inputs[t];
      for (std::size_t layer = 0; layer < cells_.size(); ++layer) {
        state[layer] = cells_[layer].step(x, state[layer], caches_[t][layer]);
        x = state[layer].hidden;
      }
      outputs.push_back(std::move(x));
    }
    return outputs;
  }

  // Backpropagation through time over the last forward's sequence.
  std::vector<Matrix> backward(const std::vector<Matrix>& output_gradients) {
    if (output_gradients.size() != caches_.size())
      throw std::invalid_argument(fmt::format("mahpo::rl::Lstm: backward got {} gradients for a sequence of {} steps",
                                              output_gradients.size(), caches_.size()));
    std::vector<Matrix> input_gradients(caches_.size());
    if (caches_.empty()) return input_gradients;
    const std::size_t batch = caches_.front().front().input.shape()[0];
    std::vector<LstmState> carried = initial_state(batch);  // d(loss)/d(state) flowing back from step t+1
    for (std::size_t t = caches_.size(); t-- > 0;) {
      Matrix from_above = output_gradients[t];
      for (std::size_t layer = cells_.size(); layer-- > 0;) {
        Matrix hidden_gradient = from_above + carried[layer].hidden;
        LstmStepGradient gradient = cells_[layer].backward(caches_[t][layer], hidden_gradient, carried[layer].cell);
        carried[layer] = std::move(gradient.before);
        from_above = std::move(gradient.input);
      }
      input_gradients[t] = std::move(from_above);
    }
    return input_gradients;
  }

  ParameterList parameters() {
    ParameterList list;
    for (auto& cell : cells_)
      for (Parameter* parameter : cell.parameters()) list.push_back(parameter);
    return list;
  }
  void zero_gradients() { rl::zero_gradients(parameters()); }

  const std::vector<LstmCell>& cells() const { return cells_; }

 private:
  LstmOptions options_;
  std::vector<LstmCell> cells_;
  std::vector<std::vector<LstmStepCache>> caches_;  // [time][layer]

  void check_state(const std::vector<LstmState>& state) const {
    if (cells_.empty()) throw std::logic_error("mahpo::rl::Lstm: used before construction with LstmOptions");
    if (state.size() != cells_.size())
      throw std::invalid_argument(
          fmt::format("mahpo::rl::Lstm: a state has one entry per layer ({}), got {}", cells_.size(), state.size()));
  }
};

}  // namespace mahpo::rl
