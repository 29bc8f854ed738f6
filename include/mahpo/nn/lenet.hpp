#pragma once
// LeNet<Layers...>: a CNN topology as a type.
//
// Its `space` is the concatenation of its layers' subspaces (names qualified by layer) and of the
// training subspace; `tunable_layers` lists, at compile time, the layers that carry at least one
// free hyperparameter (MAPPO makes one agent for each). `network(config)` derives the runtime
// network from a config and rejects, with a ConfigError, one whose feature maps would shrink
// below 1x1 on the given input.

#include <cstddef>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <boost/hana/filter.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <fmt/format.h>

#include <mahpo/nn/layers.hpp>
#include <mahpo/space/error.hpp>
#include <mahpo/space/space.hpp>

namespace mahpo::nn {

namespace hana = boost::hana;

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

namespace detail {
template <typename T>
inline constexpr bool is_training = false;
template <typename B, typename L>
inline constexpr bool is_training<Training<B, L>> = true;
template <typename T>
inline constexpr bool is_output = false;
template <std::size_t C>
inline constexpr bool is_output<Output<C>> = true;
}  // namespace detail

template <typename... Layers>
struct LeNet {
  static_assert((std::size_t{detail::is_training<Layers>} + ... + 0) == 1,
                "mahpo::nn::LeNet: give exactly one Training<BatchSize, LearningRate> element");
  static_assert((std::size_t{detail::is_output<Layers>} + ... + 0) == 1,
                "mahpo::nn::LeNet: give exactly one Output<Classes> layer");

  using space = Concat<typename Layers::space...>;
  using config_type = Config<space>;
  static constexpr auto layers = hana::tuple_t<Layers...>;
  // The layers with at least one free hyperparameter, the training element included.
  static constexpr auto tunable_layers =
      hana::filter(layers, [](auto layer) { return hana::bool_c<(decltype(layer)::type::space::dimension > 0)>; });
  static constexpr std::size_t tunable_count = decltype(hana::length(tunable_layers))::value;

  static NetworkSpec network(const config_type& config, InputShape input = {}) {
    NetworkSpec network{input, {}};
    (add_layer<Layers>(network, config), ...);
    check_network(network);
    return network;
  }

  static std::size_t batch_size(const config_type& config) { return training_type::batch_size(config); }
  static double learning_rate(const config_type& config) { return training_type::learning_rate(config); }

  static std::size_t classes() { return output_classes<Layers...>(); }

 private:
  template <typename First, typename... Rest>
  static constexpr auto find_training() {
    if constexpr (detail::is_training<First>) {
      return hana::type_c<First>;
    } else {
      return find_training<Rest...>();
    }
  }
  using training_type = typename decltype(find_training<Layers...>())::type;

  template <typename First, typename... Rest>
  static constexpr std::size_t output_classes() {
    if constexpr (detail::is_output<First>) {
      return First::classes;
    } else {
      return output_classes<Rest...>();
    }
  }

  template <typename Layer>
  static void add_layer(NetworkSpec& network, const config_type& config) {
    if constexpr (!detail::is_training<Layer>) network.layers.push_back(Layer::spec(config));
  }
};

// The search space of Table 2 of the MAPPO paper (Ma & Joe): conv_size in [2, 7] for each of the
// two convolutions, hidden_size in [124, 1024] and dropout_rate in [0.5, 0.9] for the hidden dense
// layer, batch_size in [16, 32] and learning_rate in [1e-4, 0.1] (log scale). The paper does not
// give filter counts or layer order; we keep LeNet-5's: 6 and 16 filters, each convolution followed
// by 2x2 max pooling, one hidden dense layer, valid convolutions on 28x28. Every config fits: the
// smallest map (two 7x7 convolutions) is 2x2.
using paper_lenet = LeNet<Conv<"conv1", Int<"conv_size", 2, 7>, Fixed<"filters", 6>>, MaxPool<2>,
                          Conv<"conv2", Int<"conv_size", 2, 7>, Fixed<"filters", 16>>, MaxPool<2>,
                          Dense<"fc1", Int<"hidden_size", 124, 1024>, Real<"dropout_rate", 0.5, 0.9>>, Output<10>,
                          Training<Int<"batch_size", 16, 32>, LogReal<"learning_rate", 1e-4, 0.1>>>;

// LeNet-5 with ReLU and max pooling, all fixed (the benchmark network): 6 and 16 filters of 5x5,
// dense 120 and 84, batch 32, learning rate 0.01.
using classic_lenet5 = LeNet<Conv<"conv1", Fixed<"kernel_size", 5>, Fixed<"filters", 6>>, MaxPool<2>,
                             Conv<"conv2", Fixed<"kernel_size", 5>, Fixed<"filters", 16>>, MaxPool<2>,
                             Dense<"fc1", Fixed<"units", 120>, Fixed<"dropout_rate", 0.0>>,
                             Dense<"fc2", Fixed<"units", 84>, Fixed<"dropout_rate", 0.0>>, Output<10>,
                             Training<Fixed<"batch_size", 32>, Fixed<"learning_rate", 0.01>>>;

}  // namespace mahpo::nn
