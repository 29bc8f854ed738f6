#pragma once
// A multilayer perceptron: sizes {inputs, hidden..., outputs}; every hidden block is
// Linear -> activation (ReLU or tanh) -> optional LayerNorm, the last layer is Linear alone.
//
// Defaults and choices:
//   - The block order Linear -> activation -> LayerNorm is the MAPPO reference code's MLP layer
//     (Yu et al., 2022, onpolicy MLPLayer), which always has the LayerNorm; here it is optional
//     and off by default.
//   - Orthogonal weights (Saxe et al., 2014), zero biases: hidden gain sqrt(2) (as in the OpenAI
//     baselines PPO; the MAPPO code uses torch's calculate_gain, which is sqrt(2) for ReLU and 5/3
//     for tanh); the output gain is the caller's: 0.01 for policy logits, 1 for values.
//   - ReLU by default (MAPPO's use_ReLU = True).
// Follows the Module protocol of mahpo/rl/module.hpp.

#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <mahpo/rl/layer_norm.hpp>
#include <mahpo/rl/linear.hpp>
#include <mahpo/rl/module.hpp>
#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

enum class MlpActivation { relu, tanh };
NLOHMANN_JSON_SERIALIZE_ENUM(MlpActivation, {{MlpActivation::relu, "relu"}, {MlpActivation::tanh, "tanh"}})

struct MlpOptions {
  std::vector<std::size_t> sizes;                  // {inputs, hidden..., outputs}: at least two entries, all positive
  MlpActivation activation = MlpActivation::relu;  // of the hidden blocks
  bool layer_norm = false;                         // LayerNorm after each hidden block's activation
  double hidden_gain = std::sqrt(2.0);             // orthogonal-init gain of the hidden linears
  double output_gain = 1.0;                        // of the output linear: 0.01 for logits, 1 for values
};

class Mlp {
 public:
  Mlp() = default;
  Mlp(const MlpOptions& options, std::mt19937_64& rng) : options_(options) {
    const auto& sizes = options.sizes;
    if (sizes.size() < 2)
      throw std::invalid_argument(
          fmt::format("mahpo::rl::Mlp: sizes needs inputs and outputs at least, got {} entries", sizes.size()));
    for (std::size_t size : sizes)
      if (size == 0) throw std::invalid_argument("mahpo::rl::Mlp: every size must be positive");
    for (std::size_t layer = 0; layer + 1 < sizes.size(); ++layer) {
      const bool output_layer = layer + 2 == sizes.size();
      linears_.emplace_back(sizes[layer], sizes[layer + 1], output_layer ? options.output_gain : options.hidden_gain,
                            rng);
      if (!output_layer && options.layer_norm) norms_.emplace_back(sizes[layer + 1]);
    }
    activations_.resize(hidden_count());
  }

  std::size_t inputs() const { return options_.sizes.front(); }
  std::size_t outputs() const { return options_.sizes.back(); }
  const MlpOptions& options() const { return options_; }

  Matrix predict(const Matrix& input) const {
    require_layers();
    Matrix x = input;
    for (std::size_t layer = 0; layer < hidden_count(); ++layer) {
      x = linears_[layer].predict(x);
      activate(x);
      if (options_.layer_norm) x = norms_[layer].predict(x);
    }
    return linears_.back().predict(x);
  }

  Matrix forward(const Matrix& input) {
    require_layers();
    Matrix x = input;
    for (std::size_t layer = 0; layer < hidden_count(); ++layer) {
      x = linears_[layer].forward(x);
      activate(x);
      activations_[layer] = x;
      if (options_.layer_norm) x = norms_[layer].forward(x);
    }
    return linears_.back().forward(x);
  }

  Matrix backward(const Matrix& output_gradient) {
    require_layers();
    Matrix gradient = linears_.back().backward(output_gradient);
    for (std::size_t layer = hidden_count(); layer-- > 0;) {
      if (options_.layer_norm) gradient = norms_[layer].backward(gradient);
      const Matrix& activated = activations_[layer];
      if (gradient.shape() != activated.shape())
        throw std::invalid_argument("mahpo::rl::Mlp: backward's gradient does not match the last forward");
      if (options_.activation == MlpActivation::relu) {
        for (std::size_t k = 0; k < gradient.size(); ++k)
          if (activated.flat(k) <= 0.0) gradient.flat(k) = 0.0;
      } else {
        for (std::size_t k = 0; k < gradient.size(); ++k)
          gradient.flat(k) *= 1.0 - activated.flat(k) * activated.flat(k);  // tanh' = 1 - tanh^2
      }
      gradient = linears_[layer].backward(gradient);
    }
    return gradient;
  }

  ParameterList parameters() {
    ParameterList list;
    for (std::size_t layer = 0; layer < linears_.size(); ++layer) {
      list.push_back(&linears_[layer].weight);
      list.push_back(&linears_[layer].bias);
      if (layer < norms_.size()) {
        list.push_back(&norms_[layer].gain);
        list.push_back(&norms_[layer].shift);
      }
    }
    return list;
  }
  void zero_gradients() { rl::zero_gradients(parameters()); }

  // The layers, for inspection (tests, initialization checks).
  const std::vector<Linear>& linears() const { return linears_; }

 private:
  MlpOptions options_;
  std::vector<Linear> linears_;
  std::vector<LayerNorm> norms_;
  std::vector<Matrix> activations_;  // each hidden block's activation output, for backward

  std::size_t hidden_count() const { return linears_.empty() ? 0 : linears_.size() - 1; }

  void require_layers() const {
    if (linears_.empty()) throw std::logic_error("mahpo::rl::Mlp: used before construction with MlpOptions");
  }

  void activate(Matrix& x) const {
    if (options_.activation == MlpActivation::relu) {
      for (auto& v : x) v = v > 0.0 ? v : 0.0;
    } else {
      for (auto& v : x) v = std::tanh(v);
    }
  }
};

}  // namespace mahpo::rl
