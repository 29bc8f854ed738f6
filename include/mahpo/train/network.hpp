#pragma once
// A runtime network built from an nn::NetworkSpec: conv/pool layers on CNHW tensors, a flatten,
// then dense layers and the output layer, with softmax cross-entropy on top.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <variant>
#include <vector>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/train/cpu_layers.hpp>

namespace mahpo::train {

class Network {
 public:
  // Checks the spec (nn::check_network) and initializes the weights from `seed`.
  Network(const nn::NetworkSpec& spec, std::uint64_t seed) : input_(spec.input) {
    nn::check_network(spec);
    std::mt19937_64 rng(seed);
    Shape shape{spec.input.channels, 1, spec.input.height, spec.input.width};
    bool flat = false;
    for (const auto& layer : spec.layers) {
      std::unique_ptr<Layer> built;
      if (const auto* conv = std::get_if<nn::ConvSpec>(&layer)) {
        built = std::make_unique<ConvLayer>(shape.channels, conv->filters, conv->kernel_size, LayerActivation::relu,
                                            conv->padding_before(), conv->padding_total());
      } else if (const auto* pool = std::get_if<nn::PoolSpec>(&layer)) {
        built = std::make_unique<MaxPoolLayer>(pool->size);
      } else {
        if (!flat) {
          layers_.push_back(std::make_unique<FlattenLayer>());
          shape = layers_.back()->output_shape(shape);
          flat = true;
        }
        if (const auto* dense = std::get_if<nn::DenseSpec>(&layer)) {
          built = std::make_unique<DenseLayer>(shape.channels, dense->units, LayerActivation::relu, dense->dropout_rate,
                                               rng());
        } else {
          classes_ = std::get<nn::OutputSpec>(layer).classes;
          built = std::make_unique<DenseLayer>(shape.channels, classes_, LayerActivation::none, 0.0, rng());
        }
      }
      built->initialize(rng);
      shape = built->output_shape(shape);
      layers_.push_back(std::move(built));
    }
  }

  std::size_t classes() const { return classes_; }
  std::size_t input_size() const { return input_.channels * input_.height * input_.width; }

  // Evaluation goes through the layers this many images at a time: a whole 256-image batch's
  // activations spill out of the L2 cache (measured in bench/bench_trainer.cpp, evaluate/*).
  static constexpr std::size_t inference_chunk = 32;

  // `input` holds `batch` images (batch x channels x height x width, which is CNHW for one channel).
  const std::vector<float>& forward(const std::vector<float>& input, std::size_t batch, bool training) {
    if (training || batch <= inference_chunk) return forward_layers(input, batch, training);
    const std::size_t pixels = input_size();
    all_logits_.resize(batch * classes_);
    for (std::size_t first = 0; first < batch; first += inference_chunk) {
      const std::size_t count = std::min(inference_chunk, batch - first);
      chunk_.assign(input.begin() + static_cast<std::ptrdiff_t>(first * pixels),
                    input.begin() + static_cast<std::ptrdiff_t>((first + count) * pixels));
      const auto& logits = forward_layers(chunk_, count, false);
      std::copy_n(logits.begin(), count * classes_,
                  all_logits_.begin() + static_cast<std::ptrdiff_t>(first * classes_));
    }
    logits_ = &all_logits_;
    return all_logits_;
  }

 private:
  const std::vector<float>& forward_layers(const std::vector<float>& input, std::size_t batch, bool training) {
    Shape shape{input_.channels, batch, input_.height, input_.width};
    const std::vector<float>* current = &input;
    if (input_.channels > 1) {  // NCHW -> CNHW
      const std::size_t plane = input_.height * input_.width;
      reordered_.resize(input.size());
      for (std::size_t n = 0; n < batch; ++n) {
        for (std::size_t c = 0; c < input_.channels; ++c) {
          std::copy_n(input.data() + (n * input_.channels + c) * plane, plane,
                      reordered_.data() + (c * batch + n) * plane);
        }
      }
      current = &reordered_;
    }
    for (auto& layer : layers_) {
      current = &layer->forward(*current, shape, training);
      shape = layer->output_shape(shape);
    }
    logits_ = current;
    return *current;
  }

 public:
  // The logits of the last forward pass (batch x classes).
  const std::vector<float>& logits() const { return *logits_; }

  // Back-propagates d(loss)/d(logits) through every layer (the first layer's input gradient is skipped).
  // It follows a training forward pass, or an evaluation pass of at most inference_chunk images.
  void backward(const std::vector<float>& logit_gradient) {
    const std::vector<float>* gradient = &logit_gradient;
    for (std::size_t i = layers_.size(); i-- > 0;) gradient = &layers_[i]->backward(*gradient, i > 0);
  }

  // The gradient with respect to the input, for gradient checks: backward with every input gradient.
  const std::vector<float>& backward_to_input(const std::vector<float>& logit_gradient) {
    const std::vector<float>* gradient = &logit_gradient;
    for (std::size_t i = layers_.size(); i-- > 0;) gradient = &layers_[i]->backward(*gradient, true);
    return *gradient;
  }

  std::vector<WeightsView> parameters() {
    std::vector<WeightsView> all;
    for (auto& layer : layers_) {
      for (auto& p : layer->parameters()) all.push_back(p);
    }
    return all;
  }

  // The dropout seed of each dense layer (the output layer's included), in order: a backend that
  // trains the same network elsewhere draws the same masks from them.
  std::vector<std::uint64_t> dropout_seeds() const {
    std::vector<std::uint64_t> seeds;
    for (const auto& layer : layers_) {
      if (const auto* dense = dynamic_cast<const DenseLayer*>(layer.get())) seeds.push_back(dense->dropout_seed());
    }
    return seeds;
  }

  // Where each dense layer's dropout stream stands (in the order of dropout_seeds()), and its restore.
  std::vector<std::uint64_t> dropout_draws() const {
    std::vector<std::uint64_t> draws;
    for (const auto& layer : layers_) {
      if (const auto* dense = dynamic_cast<const DenseLayer*>(layer.get())) draws.push_back(dense->dropout_draws());
    }
    return draws;
  }
  void set_dropout_draws(const std::vector<std::uint64_t>& draws) {
    std::size_t k = 0;
    for (auto& layer : layers_) {
      if (auto* dense = dynamic_cast<DenseLayer*>(layer.get())) dense->set_dropout_draws(draws.at(k++));
    }
  }

  std::size_t parameter_count() {
    std::size_t count = 0;
    for (const auto& p : parameters()) count += p.values.size();
    return count;
  }

  std::size_t bytes() const {
    std::size_t total = (reordered_.capacity() + chunk_.capacity() + all_logits_.capacity()) * sizeof(float);
    for (const auto& layer : layers_) total += layer->bytes();
    return total;
  }

 private:
  nn::InputShape input_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<float> reordered_, chunk_, all_logits_;
  const std::vector<float>* logits_ = nullptr;
  std::size_t classes_ = 0;
};

}  // namespace mahpo::train
