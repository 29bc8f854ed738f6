// Finite-difference checks of every layer's and the loss's gradients. The probe loss is
// sum(output * weights) for fixed random weights, so d(loss)/d(output) = weights.
#include <catch2/catch.hpp>

#include <mahpo/train/cpu_layers.hpp>
#include <mahpo/train/loss.hpp>
#include <mahpo/train/network.hpp>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "seeds.hpp"

using namespace mahpo::train;

namespace {

std::vector<float> random_vector(std::size_t size, std::mt19937_64& rng, float spread = 1.0f) {
  std::uniform_real_distribution<float> uniform(-spread, spread);
  std::vector<float> v(size);
  for (auto& x : v) x = uniform(rng);
  return v;
}

double probe(const std::vector<float>& output, const std::vector<float>& weights) {
  double sum = 0.0;
  for (std::size_t i = 0; i < weights.size(); ++i) sum += static_cast<double>(output[i]) * weights[i];
  return sum;
}

// Compares an analytic gradient with central differences of `loss` over `values`. A ReLU or max
// kink inside the difference interval makes the estimate meaningless; such an entry shows itself
// by central estimates at steps h and h/2 that disagree or, for a kink at the point itself (where
// both central estimates average the two sides alike), by one-sided estimates that disagree; it is
// skipped. Every other entry must match.
struct Checked {
  std::size_t checked = 0, kinks = 0;
};

Checked check_gradient(std::span<float> values, const std::vector<float>& analytic, const std::function<double()>& loss,
                       const char* what, bool most_checked = true) {
  INFO(what);
  REQUIRE(analytic.size() >= values.size());
  struct Differences {
    double central, forward, backward;
  };
  const auto difference = [&](std::size_t i, float step) {
    const float kept = values[i];
    const double centre = loss();
    values[i] = kept + step;
    const double up = loss();
    values[i] = kept - step;
    const double down = loss();
    values[i] = kept;
    const double h = static_cast<double>(step);
    return Differences{(up - down) / (2.0 * h), (up - centre) / h, (centre - down) / h};
  };
  const auto relative = [](double a, double b) { return std::abs(a - b) / std::max(1e-2, std::abs(a) + std::abs(b)); };
  std::size_t checked = 0, kinks = 0;
  for (std::size_t i = 0; i < values.size(); i += std::max<std::size_t>(1, values.size() / 97)) {
    const Differences coarse_step = difference(i, 2e-3f), fine_step = difference(i, 1e-3f);
    const double coarse = coarse_step.central, fine = fine_step.central;
    if (relative(coarse, fine) > 1e-2 || relative(fine_step.forward, fine_step.backward) > 2e-2) {
      ++kinks;
      continue;
    }
    INFO("entry " << i << ": numeric " << fine << ", analytic " << analytic[i]);
    CHECK(relative(fine, analytic[i]) < 2e-2);
    ++checked;
  }
  if (most_checked) {
    CHECK(checked >= kinks);  // most entries are smooth enough to check
    CHECK(checked > 0);
  }
  return {checked, kinks};
}

template <typename L>
void check_layer(L& layer, const Shape& input_shape, std::uint64_t seed, bool training = false) {
  std::mt19937_64 rng(mahpo::testing::seed(seed));
  layer.initialize(rng);
  auto input = random_vector(input_shape.size(), rng);
  const Shape output_shape = layer.output_shape(input_shape);
  const auto weights = random_vector(output_shape.size(), rng);
  const auto loss = [&] { return probe(layer.forward(input, input_shape, training), weights); };
  loss();
  const std::vector<float> input_gradient = layer.backward(weights, true);
  std::vector<std::vector<float>> parameter_gradients;
  for (auto& p : layer.parameters()) parameter_gradients.emplace_back(p.gradients.begin(), p.gradients.end());
  check_gradient(input, input_gradient, loss, "input");
  auto parameters = layer.parameters();
  for (std::size_t k = 0; k < parameters.size(); ++k)
    check_gradient(parameters[k].values, parameter_gradients[k], loss, "parameter");
}

}  // namespace

TEST_CASE("convolution gradients match finite differences", "[seeded]") {
  ConvLayer linear(2, 3, 3, LayerActivation::none);
  check_layer(linear, Shape{2, 3, 7, 6}, 1);
  ConvLayer rectified(3, 4, 2, LayerActivation::relu);
  check_layer(rectified, Shape{3, 2, 5, 5}, 2);
}

TEST_CASE("zero-padded ('same') convolution gradients match finite differences", "[seeded]") {
  ConvLayer odd(2, 3, 3, LayerActivation::none, 1, 2);  // 3x3, one zero on each side
  CHECK(odd.output_shape(Shape{2, 3, 6, 5}).height == 6);
  check_layer(odd, Shape{2, 3, 6, 5}, 3);
  ConvLayer even(1, 2, 4, LayerActivation::relu, 1, 3);  // 4x4: one zero before, two after
  CHECK(even.output_shape(Shape{1, 2, 5, 7}).width == 7);
  check_layer(even, Shape{1, 2, 5, 7}, 4);
}

TEST_CASE("a zero-padded convolution sees zeros outside the map", "[seeded]") {
  ConvLayer box(1, 1, 3, LayerActivation::none, 1, 2);
  std::mt19937_64 rng(mahpo::testing::seed(0));
  box.initialize(rng);
  auto parameters = box.parameters();
  std::fill(parameters[0].values.begin(), parameters[0].values.end(), 1.0f);  // a 3x3 box sum
  parameters[1].values[0] = 0.0f;
  const std::vector<float> ones(3 * 3, 1.0f);
  const auto& output = box.forward(ones, Shape{1, 1, 3, 3}, false);
  CHECK(std::vector<float>(output.begin(), output.begin() + 9) == std::vector<float>{4, 6, 4, 6, 9, 6, 4, 6, 4});
}

TEST_CASE("max pooling gradients match finite differences", "[seeded]") {
  MaxPoolLayer pool(2);
  check_layer(pool, Shape{3, 2, 6, 7}, 3);
}

TEST_CASE("flatten gradients match finite differences", "[seeded]") {
  FlattenLayer flatten;
  check_layer(flatten, Shape{3, 4, 2, 3}, 4);
}

TEST_CASE("dense gradients match finite differences, with and without ReLU and dropout", "[seeded]") {
  DenseLayer linear(12, 5, LayerActivation::none, 0.0, 1);
  check_layer(linear, Shape{12, 4, 1, 1}, 5);
  DenseLayer rectified(12, 7, LayerActivation::relu, 0.0, 1);
  check_layer(rectified, Shape{12, 3, 1, 1}, 6);
}

TEST_CASE("dropout keeps about 1 - rate of the units and scales them", "[seeded]") {
  DenseLayer layer(1, 2000, LayerActivation::none, 0.75, 9);
  std::mt19937_64 rng(mahpo::testing::seed(1));
  layer.initialize(rng);
  const std::vector<float> input{1.0f};
  const auto& output = layer.forward(input, Shape{1, 1, 1, 1}, false);
  const std::vector<float> plain(output.begin(), output.begin() + 2000);
  const auto& dropped = layer.forward(input, Shape{1, 1, 1, 1}, true);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < 2000; ++i) {
    if (dropped[i] != 0.0f) {
      ++kept;
      REQUIRE(dropped[i] == Approx(plain[i] * 4.0f));
    }
  }
  CHECK(kept > 420);  // 500 expected
  CHECK(kept < 580);
}

TEST_CASE("softmax cross-entropy gradient matches finite differences", "[seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(7));
  auto logits = random_vector(5 * 4, rng, 3.0f);
  const std::vector<std::uint8_t> labels{0, 3, 1, 1, 2};
  std::vector<float> gradient, scratch;
  const double loss = softmax_cross_entropy(logits, labels, 4, gradient);
  CHECK(loss > 0.0);
  check_gradient(
      logits, gradient, [&] { return softmax_cross_entropy(logits, labels, 4, scratch); }, "logits");
  // Each row of the gradient sums to zero: softmax sums to one, the one-hot too.
  for (std::size_t n = 0; n < 5; ++n) {
    double row = 0.0;
    for (std::size_t k = 0; k < 4; ++k) row += gradient[n * 4 + k];
    CHECK(row == Approx(0.0).margin(1e-6));
  }
}

TEST_CASE("softmax cross-entropy of a confident right answer is near 0, of uniform logits log(K)") {
  std::vector<float> gradient;
  const std::vector<float> uniform(10, 0.0f);
  const std::vector<std::uint8_t> label{3};
  CHECK(softmax_cross_entropy(uniform, label, 10, gradient) == Approx(std::log(10.0)));
  std::vector<float> confident(10, 0.0f);
  confident[3] = 50.0f;
  CHECK(softmax_cross_entropy(confident, label, 10, gradient) < 1e-9);
}

TEST_CASE("a whole network's parameter gradients match finite differences", "[seeded]") {
  mahpo::nn::NetworkSpec spec{
      {2, 9, 9},
      {mahpo::nn::ConvSpec{3, 3}, mahpo::nn::PoolSpec{2}, mahpo::nn::DenseSpec{6, 0.0}, mahpo::nn::OutputSpec{3}}};
  Network network(spec, 11);
  std::mt19937_64 rng(mahpo::testing::seed(12));
  const auto input = random_vector(4 * 2 * 81, rng);
  const std::vector<std::uint8_t> labels{0, 1, 2, 1};
  std::vector<float> gradient, scratch;
  const auto loss = [&] {
    const auto& logits = network.forward(input, 4, false);
    return softmax_cross_entropy(std::span<const float>(logits.data(), 12), labels, 3, scratch);
  };
  const auto& logits = network.forward(input, 4, false);
  softmax_cross_entropy(std::span<const float>(logits.data(), 12), labels, 3, gradient);
  network.backward(gradient);
  auto parameters = network.parameters();
  REQUIRE(parameters.size() == 6);
  std::vector<std::vector<float>> analytic;
  for (auto& p : parameters) analytic.emplace_back(p.gradients.begin(), p.gradients.end());
  // A kink near one unit of the convolution reaches every weight of its filter (and a small bias vector
  // may lose all its entries to one): most entries are checked over the whole network, not each part.
  std::size_t checked = 0, kinks = 0;
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    const auto [part_checked, part_kinks] = check_gradient(parameters[k].values, analytic[k], loss, "network", false);
    checked += part_checked;
    kinks += part_kinks;
  }
  CAPTURE(checked, kinks);
  CHECK(checked >= kinks);
}
