#pragma once
// Typed layers of a LeNet-style topology. Each layer type exposes its own subspace (`space`, names
// qualified by the layer's name) and turns a config of that subspace into a runtime layer spec.
//
//   Conv<"conv1", KernelSize, Filters, Padding::valid>
//                                        a stride-1 convolution + ReLU; KernelSize and Filters are Int,
//                                        Categorical or Fixed params; Padding::valid (the default) does
//                                        not pad, Padding::same zero-pads so the map keeps its size
//   MaxPool<Size>                        non-overlapping max pooling (no hyperparameters)
//   Dense<"fc1", Units, DropoutRate>     a fully connected layer + ReLU + inverted dropout
//                                        (DropoutRate is the probability of dropping a unit)
//   Output<Classes>                      the fully connected output layer, softmax cross-entropy
//   Training<BatchSize, LearningRate>    the training subspace, under the name "training"
// Any parameter may be Fixed; a layer whose parameters are all fixed has no agent in MAPPO.

#include <cstddef>
#include <cstdint>
#include <variant>

#include <mahpo/space/fixed_string.hpp>
#include <mahpo/space/parameters.hpp>
#include <mahpo/space/space.hpp>

namespace mahpo::nn {

// `same` pads (k - 1) / 2 zeros before and k / 2 after each spatial dimension (k odd: (k - 1) / 2
// on both sides), so the output has the input's size; `valid` pads nothing.
enum class Padding { valid, same };

struct ConvSpec {
  std::size_t kernel_size = 5;
  std::size_t filters = 6;
  Padding padding = Padding::valid;

  std::size_t padding_before() const { return padding == Padding::same ? (kernel_size - 1) / 2 : 0; }
  std::size_t padding_total() const { return padding == Padding::same ? kernel_size - 1 : 0; }
};
struct PoolSpec {
  std::size_t size = 2;
};
struct DenseSpec {
  std::size_t units = 120;
  double dropout_rate = 0.0;
};
struct OutputSpec {
  std::size_t classes = 10;
};
using LayerSpec = std::variant<ConvSpec, PoolSpec, DenseSpec, OutputSpec>;

namespace detail {
template <typename P>
concept IntegralHyperparameter = Hyperparameter<P> && std::same_as<typename P::value_type, std::int64_t>;
template <typename P>
concept RealHyperparameter = Hyperparameter<P> &&
    (std::same_as<typename P::value_type, double> || std::same_as<typename P::value_type, std::int64_t>);

// The value of parameter P of layer `Layer`, read under its qualified name "Layer.name".
template <FixedString Layer, typename P, typename Config>
auto layer_value(const Config& config) {
  return config.template get<join<Layer, ".", P::name>()>();
}
}  // namespace detail

template <FixedString Name, typename KernelSize, typename Filters, Padding Pad = Padding::valid>
struct Conv {
  static_assert(detail::IntegralHyperparameter<KernelSize>,
                "mahpo::nn::Conv: the kernel size must be an integer parameter");
  static_assert(detail::IntegralHyperparameter<Filters>,
                "mahpo::nn::Conv: the filter count must be an integer parameter");
  static constexpr auto name = Name;
  using space = Prefixed<Name, Space<KernelSize, Filters>>;

  template <typename Config>
  static LayerSpec spec(const Config& config) {
    return ConvSpec{static_cast<std::size_t>(detail::layer_value<Name, KernelSize>(config)),
                    static_cast<std::size_t>(detail::layer_value<Name, Filters>(config)), Pad};
  }
};

template <std::size_t Size>
struct MaxPool {
  static_assert(Size >= 1, "mahpo::nn::MaxPool: the pool size must be at least 1");
  static constexpr auto name = FixedString("pool");
  using space = Space<>;
  template <typename Config>
  static LayerSpec spec(const Config&) {
    return PoolSpec{Size};
  }
};

template <FixedString Name, typename Units, typename DropoutRate>
struct Dense {
  static_assert(detail::IntegralHyperparameter<Units>, "mahpo::nn::Dense: the unit count must be an integer parameter");
  static_assert(detail::RealHyperparameter<DropoutRate>, "mahpo::nn::Dense: the dropout rate must be a real parameter");
  static constexpr auto name = Name;
  using space = Prefixed<Name, Space<Units, DropoutRate>>;

  template <typename Config>
  static LayerSpec spec(const Config& config) {
    return DenseSpec{static_cast<std::size_t>(detail::layer_value<Name, Units>(config)),
                     static_cast<double>(detail::layer_value<Name, DropoutRate>(config))};
  }
};

template <std::size_t Classes>
struct Output {
  static_assert(Classes >= 2, "mahpo::nn::Output: a classifier needs at least 2 classes");
  static constexpr auto name = FixedString("output");
  static constexpr std::size_t classes = Classes;
  using space = Space<>;
  template <typename Config>
  static LayerSpec spec(const Config&) {
    return OutputSpec{Classes};
  }
};

template <typename BatchSize, typename LearningRate>
struct Training {
  static_assert(detail::IntegralHyperparameter<BatchSize>,
                "mahpo::nn::Training: the batch size must be an integer parameter");
  static_assert(detail::RealHyperparameter<LearningRate>,
                "mahpo::nn::Training: the learning rate must be a real parameter");
  static constexpr auto name = FixedString("training");
  using space = Prefixed<"training", Space<BatchSize, LearningRate>>;

  template <typename Config>
  static std::size_t batch_size(const Config& config) {
    return static_cast<std::size_t>(detail::layer_value<"training", BatchSize>(config));
  }
  template <typename Config>
  static double learning_rate(const Config& config) {
    return static_cast<double>(detail::layer_value<"training", LearningRate>(config));
  }
};

}  // namespace mahpo::nn
