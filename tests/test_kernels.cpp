// mahpo's matrix and im2col kernels, and the layers built on them, against plain reference
// implementations written for clarity (direct loops in double precision), for every instruction set
// this CPU runs, on odd shapes: batch 1, 7x7 kernels, 1x1 maps, padding, widths that leave every
// kind of tail, and depths on both sides of the dot-product switch.
#include <catch2/catch.hpp>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/train/cpu_layers.hpp>
#include <mahpo/train/kernels.hpp>
#include <mahpo/train/network.hpp>
#include <mahpo/train/trainer.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "seeds.hpp"

using namespace mahpo::train;

namespace {

std::vector<float> random_vector(std::size_t size, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> v(size);
  for (auto& x : v) x = uniform(rng);
  return v;
}

// Relative-to-scale agreement: float sums of up to a few thousand terms of size ~1.
void require_close(const std::vector<float>& actual, const std::vector<double>& expected, const char* what) {
  INFO(what);
  REQUIRE(actual.size() >= expected.size());
  double scale = 1.0;
  for (const double e : expected) scale = std::max(scale, std::fabs(e));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("element " << i);
    REQUIRE(std::fabs(actual[i] - expected[i]) <= 1e-5 * scale + 1e-4);
  }
}

// The instruction sets this CPU runs, narrowest first; the test restores the best one at the end.
std::vector<kernels::Isa> isas() {
  std::vector<kernels::Isa> all;
  for (const auto isa : {kernels::Isa::sse2, kernels::Isa::avx2, kernels::Isa::avx512}) {
    if (isa <= kernels::best_isa()) all.push_back(isa);
  }
  return all;
}

struct RestoreIsa {
  ~RestoreIsa() { kernels::use_isa(kernels::best_isa()); }
};

}  // namespace

TEST_CASE("the matrix kernels agree with a plain product, for every ISA and shape", "[kernels][seeded]") {
  RestoreIsa restore;
  std::mt19937_64 rng(mahpo::testing::seed(7));
  for (const auto isa : isas()) {
    INFO("ISA " << kernels::isa_name(isa));
    REQUIRE(kernels::use_isa(isa) == isa);
    for (int trial = 0; trial < 120; ++trial) {
      // Small shapes, and now and then a deep one (the dot-product path of A * B^T).
      const std::size_t m = 1 + rng() % 37, n = 1 + rng() % 75,
                        k = trial % 10 == 0 ? 300 + rng() % 900 : 1 + rng() % 40;
      const bool transposed_a = rng() % 2, accumulate = rng() % 2;
      const auto a = random_vector(m * k, rng), b = random_vector(k * n, rng), c0 = random_vector(m * n, rng);
      std::vector<float> b_transposed(n * k);
      for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t t = 0; t < k; ++t) b_transposed[j * k + t] = b[t * n + j];
      }
      std::vector<double> expected(m * n);
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          double sum = accumulate ? c0[i * n + j] : 0.0;
          for (std::size_t t = 0; t < k; ++t) sum += double{transposed_a ? a[t * m + i] : a[i * k + t]} * b[t * n + j];
          expected[i * n + j] = sum;
        }
      }
      auto c = c0;
      if (transposed_a) {
        kernels::multiply(m, n, k, a.data(), 1, m, b.data(), n, c.data(), n, accumulate);
      } else {
        kernels::multiply(m, n, k, a.data(), k, 1, b.data(), n, c.data(), n, accumulate);
      }
      require_close(c, expected, "multiply");
      if (!transposed_a) {
        c = c0;
        kernels::multiply_transposed(m, n, k, a.data(), k, b_transposed.data(), k, c.data(), n, accumulate);
        require_close(c, expected, "multiply_transposed");
      }
    }
  }
}

TEST_CASE("the kernels respect leading dimensions wider than the matrices", "[kernels][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(3));
  const std::size_t m = 9, n = 21, k = 13, lda = 17, ldb = 40, ldc = 30;
  const auto a = random_vector(m * lda, rng), b = random_vector(k * ldb, rng);
  std::vector<float> c(m * ldc, 42.0f);
  kernels::multiply(m, n, k, a.data(), lda, 1, b.data(), ldb, c.data(), ldc, false);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < ldc; ++j) {
      if (j >= n) {
        REQUIRE(c[i * ldc + j] == 42.0f);  // outside C: untouched
        continue;
      }
      double sum = 0.0;
      for (std::size_t t = 0; t < k; ++t) sum += double{a[i * lda + t]} * b[t * ldb + j];
      REQUIRE(std::fabs(c[i * ldc + j] - sum) <= 1e-4);
    }
  }
}

namespace {

struct ConvCase {
  std::size_t channels, filters, kernel, height, width, batch, pad_before, pad_total;
};

// The convolution layer's forward and backward against direct loops, for one case.
void check_convolution(const ConvCase& cc, std::mt19937_64& rng) {
  INFO("conv " << cc.channels << "->" << cc.filters << " k" << cc.kernel << " on " << cc.height << "x" << cc.width
               << " batch " << cc.batch << " pad " << cc.pad_before << "/" << cc.pad_total);
  ConvLayer layer(cc.channels, cc.filters, cc.kernel, LayerActivation::relu, cc.pad_before, cc.pad_total);
  layer.initialize(rng);
  auto params = layer.parameters();
  const std::vector<float> weights(params[0].values.begin(), params[0].values.end());
  auto bias_values = random_vector(cc.filters, rng);
  std::copy(bias_values.begin(), bias_values.end(), params[1].values.begin());
  const Shape in{cc.channels, cc.batch, cc.height, cc.width};
  const Shape out = layer.output_shape(in);
  const auto input = random_vector(in.size(), rng);
  const auto& output = layer.forward(input, in, true);

  // Forward: out[f][n][y][x] = relu(b[f] + sum w[f][c][ky][kx] * in[c][n][y + ky - pad][x + kx - pad]).
  const auto at_input = [&](std::size_t c, std::size_t n, std::ptrdiff_t y, std::ptrdiff_t x) -> std::ptrdiff_t {
    if (y < 0 || x < 0 || y >= static_cast<std::ptrdiff_t>(cc.height) || x >= static_cast<std::ptrdiff_t>(cc.width)) {
      return -1;
    }
    return static_cast<std::ptrdiff_t>(((c * cc.batch + n) * cc.height + static_cast<std::size_t>(y)) * cc.width +
                                       static_cast<std::size_t>(x));
  };
  std::vector<double> pre(out.size()), expected(out.size());
  for (std::size_t f = 0; f < cc.filters; ++f) {
    for (std::size_t n = 0; n < cc.batch; ++n) {
      for (std::size_t y = 0; y < out.height; ++y) {
        for (std::size_t x = 0; x < out.width; ++x) {
          double sum = bias_values[f];
          for (std::size_t c = 0; c < cc.channels; ++c) {
            for (std::size_t ky = 0; ky < cc.kernel; ++ky) {
              for (std::size_t kx = 0; kx < cc.kernel; ++kx) {
                const auto i =
                    at_input(c, n, static_cast<std::ptrdiff_t>(y + ky) - static_cast<std::ptrdiff_t>(cc.pad_before),
                             static_cast<std::ptrdiff_t>(x + kx) - static_cast<std::ptrdiff_t>(cc.pad_before));
                if (i >= 0)
                  sum += double{weights[((f * cc.channels + c) * cc.kernel + ky) * cc.kernel + kx]} *
                         input[static_cast<std::size_t>(i)];
              }
            }
          }
          const std::size_t o = ((f * cc.batch + n) * out.height + y) * out.width + x;
          pre[o] = sum;
          expected[o] = std::max(sum, 0.0);
        }
      }
    }
  }
  require_close(output, expected, "forward");

  // Backward: delta = g where the pre-activation is positive.
  const auto gradient = random_vector(out.size(), rng);
  const auto& input_gradient = layer.backward(gradient, true);
  std::vector<double> weight_gradient(weights.size()), bias_gradient(cc.filters), expected_input(in.size());
  for (std::size_t f = 0; f < cc.filters; ++f) {
    for (std::size_t n = 0; n < cc.batch; ++n) {
      for (std::size_t y = 0; y < out.height; ++y) {
        for (std::size_t x = 0; x < out.width; ++x) {
          const std::size_t o = ((f * cc.batch + n) * out.height + y) * out.width + x;
          const double delta = pre[o] > 0.0 ? gradient[o] : 0.0;
          bias_gradient[f] += delta;
          for (std::size_t c = 0; c < cc.channels; ++c) {
            for (std::size_t ky = 0; ky < cc.kernel; ++ky) {
              for (std::size_t kx = 0; kx < cc.kernel; ++kx) {
                const auto i =
                    at_input(c, n, static_cast<std::ptrdiff_t>(y + ky) - static_cast<std::ptrdiff_t>(cc.pad_before),
                             static_cast<std::ptrdiff_t>(x + kx) - static_cast<std::ptrdiff_t>(cc.pad_before));
                if (i < 0) continue;
                const std::size_t w = ((f * cc.channels + c) * cc.kernel + ky) * cc.kernel + kx;
                weight_gradient[w] += delta * input[static_cast<std::size_t>(i)];
                expected_input[static_cast<std::size_t>(i)] += delta * weights[w];
              }
            }
          }
        }
      }
    }
  }
  params = layer.parameters();
  require_close(std::vector<float>(params[0].gradients.begin(), params[0].gradients.end()), weight_gradient,
                "weight gradient");
  require_close(std::vector<float>(params[1].gradients.begin(), params[1].gradients.end()), bias_gradient,
                "bias gradient");
  require_close(input_gradient, expected_input, "input gradient");
}

}  // namespace

TEST_CASE("convolution forward and backward agree with direct loops, odd shapes included", "[kernels][seeded]") {
  RestoreIsa restore;
  std::mt19937_64 rng(mahpo::testing::seed(11));
  const ConvCase cases[] = {
      {1, 6, 5, 28, 28, 3, 0, 0},   // LeNet's first layer
      {6, 16, 5, 12, 12, 5, 0, 0},  // LeNet's second layer
      {1, 6, 5, 28, 28, 1, 2, 4},   // batch 1, 'same' padding
      {2, 3, 7, 7, 7, 2, 0, 0},     // a 7x7 kernel on a 7x7 map: 1x1 output maps
      {3, 4, 7, 9, 11, 1, 3, 6},    // 7x7 'same' on a non-square map
      {4, 5, 1, 1, 1, 6, 0, 0},     // 1x1 kernel, 1x1 maps
      {2, 2, 3, 13, 5, 40, 1, 2},   // many images: several im2col groups
      {3, 7, 2, 6, 6, 2, 0, 1},     // an even kernel with padding after only
      {1, 4, 7, 22, 22, 2, 0, 0},   // one channel, direct path: rows of exactly 16
      {1, 8, 3, 20, 20, 3, 0, 0},   // one channel, direct path: 18-float rows (an overlapping last vector)
      {1, 7, 2, 13, 30, 2, 0, 0},   // one channel, direct path: 29-float rows, 7 filters (6 + 1)
      {6, 16, 7, 11, 11, 3, 0, 0},  // shifted copies: a 25-float plane (an overlapping last vector)
      {3, 5, 3, 14, 10, 2, 0, 0},   // shifted copies: 5 filters (4 + 1), 8-float rows over 14 rows
      {2, 9, 2, 13, 13, 5, 0, 0},   // shifted copies: a 2x2 kernel, 144-float planes, 5 images
      {7, 6, 4, 9, 23, 1, 0, 0},    // shifted copies: 7 channels, 20-float rows
      // Batch in lanes (batch >= the vector width): paper_lenet's largest conv2, whole groups and a part;
      {6, 16, 7, 11, 11, 37, 0, 0},
      {6, 16, 5, 12, 12, 20, 0, 0},  // LeNet's second layer (AVX-512; AVX2 and SSE2: shifted copies)
      {5, 11, 3, 8, 9, 20, 0, 0},    // 11 filters (8 + 3), a 6x7 plane, 45 taps (6 x 7 + 3)
      {3, 6, 4, 6, 6, 16, 0, 0},     // a 3x3 plane (no whole block to transpose), one group of 16
  };
  for (const auto isa : isas()) {
    INFO("ISA " << kernels::isa_name(isa));
    kernels::use_isa(isa);
    for (const auto& c : cases) check_convolution(c, rng);
  }
}

TEST_CASE("dense forward and backward agree with direct loops", "[kernels][seeded]") {
  RestoreIsa restore;
  std::mt19937_64 rng(mahpo::testing::seed(5));
  for (const auto isa : isas()) {
    INFO("ISA " << kernels::isa_name(isa));
    kernels::use_isa(isa);
    for (const auto [inputs, units, batch] :
         {std::array<std::size_t, 3>{256, 120, 32}, {1, 1, 1}, {7, 33, 3}, {120, 84, 1}, {64, 1024, 17}}) {
      INFO("dense " << inputs << "->" << units << " batch " << batch);
      DenseLayer layer(inputs, units, LayerActivation::relu, 0.0, 1);
      layer.initialize(rng);
      auto params = layer.parameters();
      const std::vector<float> weights(params[0].values.begin(), params[0].values.end());
      const auto bias = random_vector(units, rng);
      std::copy(bias.begin(), bias.end(), params[1].values.begin());
      const auto input = random_vector(batch * inputs, rng);
      const auto& output = layer.forward(input, Shape{inputs, batch, 1, 1}, true);
      std::vector<double> pre(batch * units), expected(batch * units);
      for (std::size_t n = 0; n < batch; ++n) {
        for (std::size_t u = 0; u < units; ++u) {
          double sum = bias[u];
          for (std::size_t i = 0; i < inputs; ++i) sum += double{input[n * inputs + i]} * weights[i * units + u];
          pre[n * units + u] = sum;
          expected[n * units + u] = std::max(sum, 0.0);
        }
      }
      require_close(output, expected, "forward");
      const auto gradient = random_vector(batch * units, rng);
      const auto& input_gradient = layer.backward(gradient, true);
      std::vector<double> weight_gradient(inputs * units), bias_gradient(units), expected_input(batch * inputs);
      for (std::size_t n = 0; n < batch; ++n) {
        for (std::size_t u = 0; u < units; ++u) {
          const double delta = pre[n * units + u] > 0.0 ? gradient[n * units + u] : 0.0;
          bias_gradient[u] += delta;
          for (std::size_t i = 0; i < inputs; ++i) {
            weight_gradient[i * units + u] += delta * input[n * inputs + i];
            expected_input[n * inputs + i] += delta * weights[i * units + u];
          }
        }
      }
      params = layer.parameters();
      require_close(std::vector<float>(params[0].gradients.begin(), params[0].gradients.end()), weight_gradient,
                    "weight gradient");
      require_close(std::vector<float>(params[1].gradients.begin(), params[1].gradients.end()), bias_gradient,
                    "bias gradient");
      require_close(input_gradient, expected_input, "input gradient");
    }
  }
}

TEST_CASE("max pooling forward and backward agree with direct loops, odd map sizes included", "[kernels][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(9));
  for (const auto [size, height, width, planes] :
       {std::array<std::size_t, 4>{2, 24, 24, 3}, {2, 5, 7, 2}, {3, 7, 7, 1}, {2, 2, 2, 4}}) {
    INFO("pool " << size << " on " << height << "x" << width);
    MaxPoolLayer layer(size);
    const Shape in{planes, 1, height, width};
    const auto input = random_vector(in.size(), rng);
    const auto& output = layer.forward(input, in, true);
    const Shape out = layer.output_shape(in);
    const auto gradient = random_vector(out.size(), rng);
    std::vector<double> expected(out.size()), expected_input(in.size());
    for (std::size_t p = 0; p < planes; ++p) {
      for (std::size_t y = 0; y < out.height; ++y) {
        for (std::size_t x = 0; x < out.width; ++x) {
          std::size_t best = (p * height + y * size) * width + x * size;
          for (std::size_t dy = 0; dy < size; ++dy) {
            for (std::size_t dx = 0; dx < size; ++dx) {
              const std::size_t i = (p * height + y * size + dy) * width + x * size + dx;
              if (input[i] > input[best]) best = i;
            }
          }
          const std::size_t o = (p * out.height + y) * out.width + x;
          expected[o] = input[best];
          expected_input[best] += gradient[o];
        }
      }
    }
    require_close(output, expected, "forward");
    require_close(layer.backward(gradient, true), expected_input, "input gradient");
  }
}

TEST_CASE("evaluation in chunks of images gives the logits of the whole batch at once", "[kernels][seeded]") {
  const auto spec = mahpo::nn::classic_lenet5::network({});
  Network chunked(spec, 3), whole(spec, 3);
  std::mt19937_64 rng(mahpo::testing::seed(13));
  const std::size_t batch = Network::inference_chunk * 2 + 7;  // two whole chunks and a part
  const auto input = random_vector(batch * chunked.input_size(), rng);
  const auto logits = chunked.forward(input, batch, false);  // a copy: the next forward reuses buffers
  REQUIRE(logits.size() >= batch * chunked.classes());
  // Training mode goes through the layers in one pass (no dropout in classic_lenet5).
  const auto& reference = whole.forward(input, batch, true);
  for (std::size_t i = 0; i < batch * chunked.classes(); ++i) REQUIRE(logits[i] == Approx(reference[i]).margin(1e-5));
}

TEST_CASE("flatten moves CNHW to N x features and back, batch 1 and 1x1 maps included", "[kernels][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(17));
  for (const auto [channels, batch, height, width] :
       {std::array<std::size_t, 4>{16, 5, 4, 4}, {3, 1, 1, 1}, {1, 2, 3, 7}}) {
    FlattenLayer layer;
    const Shape in{channels, batch, height, width};
    const auto input = random_vector(in.size(), rng);
    const auto output = layer.forward(input, in, true);
    std::vector<double> expected(in.size());
    for (std::size_t c = 0; c < channels; ++c) {
      for (std::size_t n = 0; n < batch; ++n) {
        for (std::size_t p = 0; p < height * width; ++p) {
          expected[n * channels * height * width + c * height * width + p] =
              input[(c * batch + n) * height * width + p];
        }
      }
    }
    require_close(output, expected, "forward");
    // Flatten is a permutation: its backward is the inverse one.
    std::vector<double> back(input.begin(), input.end());
    require_close(layer.backward(output, true), back, "backward");
  }
}

TEST_CASE("a batch trained in micro-batches takes the step of the whole batch at once", "[kernels][seeded]") {
  mahpo::data::ImageSet images;
  const std::size_t count = 150, batch = 70;  // two whole micro-batches of 32 and a part
  images.images = xt::xtensor<std::uint8_t, 3>::from_shape({count, 28, 28});
  std::mt19937_64 rng(mahpo::testing::seed(19));
  std::uniform_int_distribution<int> pixel(0, 255), label(0, 9);
  for (auto& p : images.images) p = static_cast<std::uint8_t>(pixel(rng));
  for (std::size_t i = 0; i < count; ++i) images.labels.push_back(static_cast<std::uint8_t>(label(rng)));
  const auto spec = mahpo::nn::classic_lenet5::network({});
  Trainer micro(spec, TrainerOptions{.batch_size = batch, .seed = 5, .micro_batch = 32});
  Trainer whole(spec, TrainerOptions{.batch_size = batch, .seed = 5, .micro_batch = 0});
  Optimizer micro_optimizer(Sgd{}, micro.network().parameters()), whole_optimizer(Sgd{}, whole.network().parameters());
  std::vector<std::size_t> indices(batch);
  for (int step = 0; step < 3; ++step) {
    for (std::size_t i = 0; i < batch; ++i) indices[i] = (static_cast<std::size_t>(step) * batch + i) % count;
    const double a = micro.step(micro_optimizer, images, indices, 0.05);
    const double b = whole.step(whole_optimizer, images, indices, 0.05);
    REQUIRE(a == Approx(b).epsilon(1e-5));
  }
  const auto p = micro.network().parameters(), q = whole.network().parameters();
  REQUIRE(p.size() == q.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    for (std::size_t j = 0; j < p[i].values.size(); ++j) REQUIRE(p[i].values[j] == Approx(q[i].values[j]).margin(1e-5));
  }
}
