#pragma once
// What a topology is: a type that carries a search space and turns each config of it into a network
// to train (NetworkSpec, checked by check_network), a batch size and a learning rate. LeNet<...>
// (nn/lenet.hpp) is one; MAPPO makes one agent per layer of a topology's space, and LeNetObjective
// trains the networks it describes.
//
//   template <typename T> concept Topology = requires {
//     typename T::space;  typename T::config_type;                   // Config<space>
//     T::network(config, InputShape) -> NetworkSpec;                   // throws ConfigError when it cannot fit
//     T::batch_size(config) -> std::size_t;  T::learning_rate(config) -> double;
//   };

#include <concepts>
#include <cstddef>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <mahpo/nn/layer_types.hpp>
#include <mahpo/space/config.hpp>
#include <mahpo/space/error.hpp>
#include <mahpo/space/space.hpp>

namespace mahpo::nn {

struct InputShape {
  std::size_t channels = 1;
  std::size_t height = 28;
  std::size_t width = 28;
};

// A network to build and train: the input's shape and the layers in order.
struct NetworkSpec {
  InputShape input;
  std::vector<LayerSpec> layers;

  std::string describe() const {
    std::string text = fmt::format("input {}x{}x{}", input.channels, input.height, input.width);
    for (const auto& layer : layers) {
      std::visit(
          [&](const auto& spec) {
            using T = std::decay_t<decltype(spec)>;
            if constexpr (std::is_same_v<T, ConvSpec>) {
              text += fmt::format(" > conv {}x{}x{}{}", spec.filters, spec.kernel_size, spec.kernel_size,
                                  spec.padding == Padding::same ? " same" : "");
            } else if constexpr (std::is_same_v<T, PoolSpec>) {
              text += fmt::format(" > maxpool {}", spec.size);
            } else if constexpr (std::is_same_v<T, DenseSpec>) {
              text += fmt::format(" > dense {} (dropout {})", spec.units, spec.dropout_rate);
            } else {
              text += fmt::format(" > output {}", spec.classes);
            }
          },
          layer);
    }
    return text;
  }
};

// Checks that every feature map stays at least 1x1 and that the network ends in one Output layer;
// throws ConfigError naming the layer otherwise.
inline void check_network(const NetworkSpec& network) {
  std::size_t height = network.input.height, width = network.input.width;
  bool flat = false;
  for (std::size_t i = 0; i < network.layers.size(); ++i) {
    const auto& layer = network.layers[i];
    if (const auto* conv = std::get_if<ConvSpec>(&layer)) {
      if (flat) throw ConfigError(fmt::format("mahpo: layer {} is a convolution after a dense layer", i + 1));
      if (conv->kernel_size == 0 || conv->filters == 0) {
        throw ConfigError(fmt::format("mahpo: layer {}: kernel size and filters must be at least 1", i + 1));
      }
      const std::size_t padded_height = height + conv->padding_total(), padded_width = width + conv->padding_total();
      if (conv->kernel_size > padded_height || conv->kernel_size > padded_width) {
        throw ConfigError(fmt::format("mahpo: layer {}: a {}x{} convolution does not fit a {}x{} feature map", i + 1,
                                      conv->kernel_size, conv->kernel_size, height, width));
      }
      height = padded_height - (conv->kernel_size - 1);
      width = padded_width - (conv->kernel_size - 1);
    } else if (const auto* pool = std::get_if<PoolSpec>(&layer)) {
      if (flat) throw ConfigError(fmt::format("mahpo: layer {} is a pooling after a dense layer", i + 1));
      if (pool->size > height || pool->size > width) {
        throw ConfigError(fmt::format("mahpo: layer {}: a {}x{} pooling shrinks a {}x{} feature map below 1x1", i + 1,
                                      pool->size, pool->size, height, width));
      }
      height /= pool->size;
      width /= pool->size;
    } else if (const auto* dense = std::get_if<DenseSpec>(&layer)) {
      flat = true;
      if (dense->units == 0) throw ConfigError(fmt::format("mahpo: layer {}: a dense layer needs units", i + 1));
      if (!(dense->dropout_rate >= 0.0 && dense->dropout_rate < 1.0)) {
        throw ConfigError(fmt::format("mahpo: layer {}: dropout rate {} is not in [0, 1)", i + 1, dense->dropout_rate));
      }
    } else if (i + 1 != network.layers.size()) {
      throw ConfigError("mahpo: the output layer must come last");
    }
  }
  if (network.layers.empty() || !std::holds_alternative<OutputSpec>(network.layers.back())) {
    throw ConfigError("mahpo: a network must end with an Output layer");
  }
}

// What a network costs: its weights and biases (each convolution's filters x (taps x input
// channels + 1), each dense or output layer's (inputs + 1) x units) and the multiply-accumulates to
// classify one image (each convolution's output pixels x filters x taps x input channels, each dense
// or output layer's inputs x units; pooling, biases and activations not counted). The network must
// pass check_network.
struct NetworkCost {
  std::size_t parameters = 0;
  std::size_t multiply_accumulates = 0;
};

inline NetworkCost network_cost(const NetworkSpec& network) {
  std::size_t height = network.input.height, width = network.input.width, channels = network.input.channels;
  NetworkCost cost;
  for (const auto& layer : network.layers) {
    if (const auto* conv = std::get_if<ConvSpec>(&layer)) {
      height = height + conv->padding_total() - (conv->kernel_size - 1);
      width = width + conv->padding_total() - (conv->kernel_size - 1);
      const std::size_t taps = conv->kernel_size * conv->kernel_size * channels;
      cost.parameters += conv->filters * (taps + 1);
      cost.multiply_accumulates += height * width * conv->filters * taps;
      channels = conv->filters;
    } else if (const auto* pool = std::get_if<PoolSpec>(&layer)) {
      height /= pool->size;
      width /= pool->size;
    } else {
      const std::size_t units = std::holds_alternative<DenseSpec>(layer) ? std::get<DenseSpec>(layer).units
                                                                          : std::get<OutputSpec>(layer).classes;
      const std::size_t inputs = height * width * channels;
      cost.parameters += (inputs + 1) * units;
      cost.multiply_accumulates += inputs * units;
      height = width = 1;
      channels = units;
    }
  }
  return cost;
}

inline std::size_t parameter_count(const NetworkSpec& network) { return network_cost(network).parameters; }
inline std::size_t multiply_accumulates(const NetworkSpec& network) {
  return network_cost(network).multiply_accumulates;
}

template <typename T>
concept Topology = SearchSpace<typename T::space> && std::same_as<typename T::config_type, Config<typename T::space>> &&
    requires(const typename T::config_type& config, InputShape input) {
  { T::network(config, input) } -> std::same_as<NetworkSpec>;
  { T::batch_size(config) } -> std::convertible_to<std::size_t>;
  { T::learning_rate(config) } -> std::convertible_to<double>;
};

// The space a searcher of T works on: a topology's space, or T itself (a space).
template <typename T>
struct space_of {
  using type = T;
};
template <Topology T>
struct space_of<T> {
  using type = typename T::space;
};
template <typename T>
using space_of_t = typename space_of<T>::type;

}  // namespace mahpo::nn
