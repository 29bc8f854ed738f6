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

#include <fmt/format.h>
#include <boost/hana/filter.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <mahpo/nn/layer_types.hpp>
#include <mahpo/nn/topology.hpp>
#include <mahpo/space/error.hpp>
#include <mahpo/space/space.hpp>

namespace mahpo::nn {

namespace hana = boost::hana;

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

static_assert(Topology<paper_lenet> && Topology<classic_lenet5>);

}  // namespace mahpo::nn
