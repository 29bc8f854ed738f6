// The GPU trainer's kernel bodies (device_bodies.hpp) and shared formulas (formulas.hpp), run on the
// host and compared with the CPU trainer's layers, loss and optimizer: the code a GPU runs, checked
// without one. Shapes are odd on purpose (remainders in pooling, odd unit counts for dropout's
// two-units-per-draw, counts just past a block).
#include <catch2/catch.hpp>

#include <mahpo/optim/adam.hpp>
#include <mahpo/train/cpu_layers.hpp>
#include <mahpo/train/device_bodies.hpp>
#include <mahpo/train/formulas.hpp>
#include <mahpo/train/loss.hpp>
#include <mahpo/train/optimizer.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "seeds.hpp"

using namespace mahpo::train;
namespace body = mahpo::train::device;

namespace {

std::vector<float> random_floats(std::size_t size, std::uint64_t seed, float spread = 1.0f) {
  std::mt19937_64 rng(mahpo::testing::seed(seed));
  std::uniform_real_distribution<float> uniform(-spread, spread);
  std::vector<float> v(size);
  for (auto& x : v) x = uniform(rng);
  return v;
}

}  // namespace

TEST_CASE("a linear launch with a grid-stride loop visits every index once, past the block limit too") {
  for (const std::size_t count : {std::size_t{1}, std::size_t{31}, std::size_t{32}, std::size_t{33}, std::size_t{1000},
                                  std::size_t{body::max_blocks} + 3}) {
    for (const std::uint32_t threads : {1u, 32u, 256u}) {
      if (count > 100000 && threads != 1) continue;  // one thread per block already reaches the cap
      const auto launch = body::linear_launch(count, threads);
      INFO("count " << count << ", threads " << threads);
      REQUIRE(launch.blocks >= 1);
      REQUIRE(launch.blocks <= body::max_blocks);
      REQUIRE(launch.threads == threads);
      const std::size_t stride = std::size_t{launch.blocks} * launch.threads;
      std::vector<std::uint8_t> seen(count, 0);
      for (std::size_t thread = 0; thread < stride; ++thread) {
        body::grid_stride(thread, stride, count, [&](std::size_t i) { ++seen[i]; });
      }
      CHECK(std::count(seen.begin(), seen.end(), std::uint8_t{1}) == static_cast<std::ptrdiff_t>(count));
    }
  }
  CHECK(body::linear_launch(0).blocks == 0);
}

TEST_CASE("channel_element walks exactly one channel's elements of an NCHW tensor") {
  const std::size_t batch = 3, channels = 5, plane = 7;
  std::vector<int> owner(batch * channels * plane, -1);
  for (std::size_t c = 0; c < channels; ++c) {
    for (std::size_t j = 0; j < batch * plane; ++j) {
      const std::size_t at = body::channel_element(c, j, plane, channels);
      REQUIRE(at < owner.size());
      CHECK(owner[at] == -1);
      owner[at] = static_cast<int>(c);
      CHECK(body::channel_of(at, plane, channels) == c);
    }
  }
  CHECK(std::count(owner.begin(), owner.end(), -1) == 0);
}

TEST_CASE("the gather body standardizes row r of a chunk of batches") {
  const std::size_t pixels = 35, images = 6, batch = 3;
  std::vector<std::uint8_t> data(images * pixels);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>((i * 37) % 256);
  const std::vector<std::uint32_t> indices{5, 0, 3, 1, 4, 2};  // two rows
  const unsigned long long row = 1;
  std::vector<float> out(batch * pixels);
  body::run_on_host(body::GatherBody{data.data(), indices.data(), &row, batch, pixels, 0.5f, -3.0f, out.data()},
                    out.size());
  for (std::size_t n = 0; n < batch; ++n) {
    for (std::size_t p = 0; p < pixels; ++p) {
      CHECK(out[n * pixels + p] == static_cast<float>(data[indices[batch + n] * pixels + p]) * 0.5f - 3.0f);
    }
  }
}

TEST_CASE("the pooling bodies compute what the CPU pooling layer does, remainders and ties included", "[seeded]") {
  for (const std::size_t size : {std::size_t{2}, std::size_t{3}}) {
    const std::size_t channels = 3, height = 7, width = 9;  // one image: CNHW and NCHW coincide
    auto input = random_floats(channels * height * width, 11 + size);
    for (std::size_t i = 0; i < input.size(); i += 5) input[i] = 0.25f;  // ties
    MaxPoolLayer layer(size);
    const Shape shape{channels, 1, height, width};
    const auto& expected = layer.forward(input, shape, true);
    const std::size_t out_height = height / size, out_width = width / size, outputs = channels * out_height * out_width;
    std::vector<float> output(outputs);
    std::vector<std::uint8_t> winner(outputs);
    body::run_on_host(
        body::PoolForwardBody{input.data(), output.data(), winner.data(), height, width, out_height, out_width, size},
        outputs);
    INFO("window " << size);
    for (std::size_t i = 0; i < outputs; ++i) CHECK(output[i] == expected[i]);

    const auto gradient = random_floats(outputs, 21 + size);
    const auto& expected_gradient = layer.backward(gradient, true);
    std::vector<float> input_gradient(input.size(), 0.0f);  // the remainder stays 0, as the trainer zeroes it
    body::run_on_host(body::PoolBackwardBody{gradient.data(), winner.data(), input_gradient.data(), height, width,
                                             out_height, out_width, size},
                      outputs);
    for (std::size_t i = 0; i < input.size(); ++i) CHECK(input_gradient[i] == expected_gradient[i]);
  }
}

TEST_CASE("the dense bodies draw the CPU dense layer's dropout masks, pass after pass, for odd unit counts") {
  const std::size_t inputs = 4, units = 7, batch = 3;  // 21 units a pass: an odd count, a half draw left over
  const std::uint64_t seed = 0x5eed;
  const float rate = 0.4f, keep = 1.0f - rate;
  // Weights 0 and bias 1, no ReLU: the CPU layer's output is its mask.
  DenseLayer layer(inputs, units, LayerActivation::none, rate, seed);
  auto parameters = layer.parameters();
  std::fill(parameters[0].values.begin(), parameters[0].values.end(), 0.0f);
  std::fill(parameters[1].values.begin(), parameters[1].values.end(), 1.0f);
  const std::vector<float> input(batch * inputs, 1.0f), ones(units, 1.0f);
  unsigned long long draws = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const auto& expected = layer.forward(input, Shape{inputs, batch, 1, 1}, true);
    std::vector<float> output(batch * units, 0.0f), mask(batch * units);
    body::run_on_host(body::DenseBiasActivationBody{output.data(), ones.data(), units, false, mask.data(), seed, &draws,
                                                    formulas::dropout_threshold(keep), 1.0f / keep},
                      output.size());
    INFO("pass " << pass);
    for (std::size_t i = 0; i < output.size(); ++i) {
      CHECK(output[i] == expected[i]);
      CHECK(mask[i] == expected[i]);
    }
    draws += formulas::dropout_draws(batch * units);
  }
}

TEST_CASE("the dense backward bodies give the CPU dense layer's bias gradient", "[seeded]") {
  const std::size_t inputs = 5, units = 9, batch = 7;
  DenseLayer layer(inputs, units, LayerActivation::relu, 0.3, 99);
  std::mt19937_64 rng(mahpo::testing::seed(3));
  layer.initialize(rng);
  const auto input = random_floats(batch * inputs, 4);
  const auto& output = layer.forward(input, Shape{inputs, batch, 1, 1}, true);
  const std::vector<float> y(output.begin(), output.begin() + static_cast<std::ptrdiff_t>(batch * units));
  const auto dy = random_floats(batch * units, 5);
  layer.backward(dy, false);
  const auto expected = layer.parameters()[1].gradients;
  // The mask the layer used is recoverable: y is 0 where it dropped or ReLU zeroed, and both give 0.
  std::vector<float> mask(batch * units);
  const unsigned long long draws = 0;
  const std::vector<float> zero(batch * units, 0.0f), bias(units, 0.0f);
  std::vector<float> scratch(zero);
  body::run_on_host(body::DenseBiasActivationBody{scratch.data(), bias.data(), units, false, mask.data(), 99, &draws,
                                                  formulas::dropout_threshold(0.7f), 1.0f / 0.7f},
                    scratch.size());
  std::vector<float> delta(batch * units), gradient(units);
  body::run_on_host(body::ActivationBackwardBody{y.data(), dy.data(), mask.data(), true, delta.data()}, delta.size());
  body::run_on_host(body::DenseBiasGradientBody{delta.data(), batch, units, gradient.data()}, units);
  for (std::size_t u = 0; u < units; ++u) CHECK(gradient[u] == expected[u]);
}

TEST_CASE("the convolution bias and ReLU body adds each channel's bias (NCHW)", "[seeded]") {
  const std::size_t batch = 2, channels = 3, plane = 5;
  auto y = random_floats(batch * channels * plane, 6);
  const auto before = y;
  const std::vector<float> bias{0.5f, -0.25f, 2.0f};
  body::run_on_host(body::ConvBiasReluBody{y.data(), bias.data(), plane, channels, true}, y.size());
  for (std::size_t n = 0; n < batch; ++n) {
    for (std::size_t c = 0; c < channels; ++c) {
      for (std::size_t p = 0; p < plane; ++p) {
        const std::size_t i = (n * channels + c) * plane + p;
        CHECK(y[i] == std::max(before[i] + bias[c], 0.0f));
      }
    }
  }
}

TEST_CASE("padding and cropping are adjoint, and padding puts the map inside zeros", "[seeded]") {
  const std::size_t planes = 4, height = 5, width = 3, before = 1, total = 3;  // asymmetric: 1 before, 2 after
  const std::size_t ph = height + total, pw = width + total;
  const auto x = random_floats(planes * height * width, 7);
  const auto y = random_floats(planes * ph * pw, 8);
  std::vector<float> padded(y.size()), cropped(x.size());
  body::run_on_host(body::PadBody{x.data(), padded.data(), height, width, ph, pw, before}, padded.size());
  body::run_on_host(body::CropBody{y.data(), cropped.data(), height, width, ph, pw, before}, cropped.size());
  double left = 0.0, right = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) left += static_cast<double>(padded[i]) * y[i];
  for (std::size_t i = 0; i < x.size(); ++i) right += static_cast<double>(x[i]) * cropped[i];
  CHECK(left == Approx(right).epsilon(1e-12));
  CHECK(padded[0] == 0.0f);                       // above and left
  CHECK(padded[pw + 1] == x[0]);                  // the map's first pixel
  CHECK(padded[(ph - 1) * pw + pw - 1] == 0.0f);  // below and right
  CHECK(padded[(1 + height - 1) * pw + 1 + width - 1] == x[height * width - 1]);
}

TEST_CASE("the softmax cross-entropy and predict bodies are the CPU loss, image by image", "[seeded]") {
  const std::size_t batch = 5, classes = 10;
  auto logits = random_floats(batch * classes, 9, 4.0f);
  logits[3] = 80.0f;  // a confident logit: the max shift must hold
  const std::vector<std::uint8_t> labels{3, 0, 9, 9, 1};
  std::vector<float> expected_gradient;
  const double expected = softmax_cross_entropy(logits, labels, classes, expected_gradient);
  std::vector<float> gradient(batch * classes);
  std::vector<double> losses(batch);
  body::run_on_host(body::SoftmaxCrossEntropyBody{logits.data(), labels.data(), static_cast<int>(classes),
                                                  1.0f / static_cast<float>(batch), gradient.data(), losses.data()},
                    batch);
  double total = 0.0;
  for (const double loss : losses) total += loss;
  CHECK(total / static_cast<double>(batch) == expected);
  for (std::size_t i = 0; i < gradient.size(); ++i) CHECK(gradient[i] == expected_gradient[i]);
  std::vector<std::uint8_t> predicted(batch);
  body::run_on_host(body::PredictBody{logits.data(), static_cast<int>(classes), predicted.data()}, batch);
  CHECK(predicted[0] == 3);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* z = logits.data() + n * classes;
    CHECK(predicted[n] == std::max_element(z, z + classes) - z);
  }
}

TEST_CASE("the update bodies are the CPU optimizer's SGD-momentum and Adam, step after step", "[seeded]") {
  const std::size_t size = 37;
  for (const bool adam : {false, true}) {
    auto cpu_weights = random_floats(size, 10), gradients = random_floats(size, 11);
    auto device_weights = cpu_weights;
    const OptimizerKind kind = adam ? OptimizerKind{Adam{}} : OptimizerKind{Sgd{.momentum = 0.9, .weight_decay = 5e-4}};
    Optimizer optimizer(kind, {WeightsView{cpu_weights, gradients}});
    std::vector<float> first(size, 0.0f), second(size, 0.0f);
    const int skip = 0;
    for (std::size_t t = 1; t <= 4; ++t) {
      const double rate = 0.01 / static_cast<double>(t);
      optimizer.step(rate);
      const unsigned long long row = 0;
      if (adam) {
        const auto step = mahpo::optim::AdamStep<float>::at(t, rate, 0.9, 0.999, 1e-8);
        const std::vector<float> rates{step.learning_rate, step.correction1, step.correction2};
        body::run_on_host(body::AdamBody{device_weights.data(), gradients.data(), first.data(), second.data(),
                                         rates.data(), &row, &skip, 0.9f, 0.999f, 1e-8f},
                          size);
      } else {
        const std::vector<float> rates{static_cast<float>(rate)};
        body::run_on_host(body::SgdBody{device_weights.data(), gradients.data(), first.data(), rates.data(), &row,
                                        &skip, 0.9f, 5e-4f},
                          size);
      }
      INFO((adam ? "Adam" : "SGD") << ", step " << t);
      for (std::size_t i = 0; i < size; ++i) CHECK(device_weights[i] == cpu_weights[i]);
    }
    const int skipping = 1;  // a step whose loss was not finite changes nothing
    const auto kept = device_weights;
    const std::vector<float> rates{1.0f, 1.0f, 1.0f};
    const unsigned long long row = 0;
    body::run_on_host(
        body::SgdBody{device_weights.data(), gradients.data(), first.data(), rates.data(), &row, &skipping, 0.9f, 0.0f},
        size);
    CHECK(device_weights == kept);
  }
}

TEST_CASE(
    "the shared formulas: ReLU keeps NaN, dropout's draws are SplitMix64's stream, windows take the first maximum") {
  CHECK(std::isnan(formulas::relu(std::numeric_limits<float>::quiet_NaN())));
  CHECK(formulas::relu(-2.0f) == 0.0f);
  CHECK(formulas::relu(3.0f) == 3.0f);
  CHECK(formulas::relu_gradient(0.0f, 5.0f) == 0.0f);
  CHECK(formulas::relu_gradient(1e-30f, 5.0f) == 5.0f);

  // SplitMix64 (Steele, Lea & Flood 2014), its published first output for seed 0: 0xe220a8397b1dcdaf.
  CHECK(formulas::dropout_bits(0, 0) == 0xe220a8397b1dcdafULL);
  std::uint64_t state = 1234;  // the sequential generator the counter form replaces
  for (std::uint64_t k = 0; k < 5; ++k) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    CHECK(formulas::dropout_bits(1234, k) == (z ^ (z >> 31)));
  }
  CHECK(formulas::dropout_draws(21) == 11);
  CHECK(formulas::dropout_draws(20) == 10);

  const float window[] = {1.0f, 3.0f, 0.0f, 3.0f, 2.0f, 3.0f};  // 2 x 3 map; tie of 3s
  CHECK(formulas::pool_window_2x2(window, 3).position == 1);
  CHECK(formulas::pool_window(window, 3, 2).position == 1);
  const float nine[] = {0, 0, 0, 0, 9, 0, 0, 0, 9};
  CHECK(formulas::pool_window(nine, 3, 3).position == 4);
}
