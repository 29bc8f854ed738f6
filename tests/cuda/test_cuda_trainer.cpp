// The GPU trainer against the CPU trainer, on a GPU. Where no CUDA device is visible the program says
// so and exits 77 (ctest: skipped); tests/cuda/check_skip.py checks that it does skip there, and that
// it runs every test where a device is found. scripts/gpu_check.sh runs it on a GPU machine.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <mahpo/cuda/trainer.hpp>
#include <mahpo/data/dataset.hpp>
#include <mahpo/nn/lenet.hpp>
#include <mahpo/train/trainer.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <vector>

using namespace mahpo;

namespace {

// A synthetic 28 x 28 data set with learnable classes (a bright bar whose position is the label).
data::Dataset bars(std::size_t train, std::size_t test, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> noise(0, 60), label(0, 9);
  const auto make = [&](std::size_t count) {
    data::ImageSet set;
    set.images = xt::xtensor<std::uint8_t, 3>::from_shape({count, 28, 28});
    set.labels.resize(count);
    for (std::size_t n = 0; n < count; ++n) {
      const int k = label(rng);
      set.labels[n] = static_cast<std::uint8_t>(k);
      for (std::size_t y = 0; y < 28; ++y) {
        for (std::size_t x = 0; x < 28; ++x) {
          const bool bar = x >= static_cast<std::size_t>(2 + 2 * k) && x < static_cast<std::size_t>(4 + 2 * k);
          set.images(n, y, x) = static_cast<std::uint8_t>(bar ? 200 + noise(rng) / 2 : noise(rng));
        }
      }
    }
    return set;
  };
  data::Dataset dataset;
  dataset.name = "bars";
  dataset.classes = 10;
  dataset.train = make(train);
  dataset.validation = make(test);
  dataset.test = make(test);
  return dataset;
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double largest = 0.0, difference = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    largest = std::max(largest, std::abs(static_cast<double>(a[i])));
    difference = std::max(difference, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return largest > 0.0 ? difference / largest : difference;
}

std::vector<float> flat(const std::vector<train::WeightsView>& views, bool gradients) {
  std::vector<float> all;
  for (const auto& view : views) {
    const auto& span = gradients ? view.gradients : view.values;
    all.insert(all.end(), span.begin(), span.end());
  }
  return all;
}

// Networks with every kind of layer: paper_lenet's smallest and largest kernels (and an even one),
// classic LeNet-5, and a "same"-padded even kernel (asymmetric padding).
std::vector<nn::NetworkSpec> networks() {
  using Config = nn::paper_lenet::config_type;
  std::vector<nn::NetworkSpec> specs;
  for (const auto& [k1, k2, hidden, dropout] :
       {std::tuple{2, 7, 124, 0.5}, std::tuple{7, 2, 1024, 0.9}, std::tuple{5, 4, 617, 0.7}}) {
    Config config;
    config.set<"conv1.conv_size">(k1);
    config.set<"conv2.conv_size">(k2);
    config.set<"fc1.hidden_size">(hidden);
    config.set<"fc1.dropout_rate">(dropout);
    specs.push_back(nn::paper_lenet::network(config, nn::InputShape{1, 28, 28}));
  }
  specs.push_back(nn::classic_lenet5::network(nn::classic_lenet5::config_type{}, nn::InputShape{1, 28, 28}));
  nn::NetworkSpec same = specs.back();
  std::get<nn::ConvSpec>(same.layers[0]) = nn::ConvSpec{4, 6, nn::Padding::same};
  specs.push_back(same);
  return specs;
}

}  // namespace

TEST_CASE("on the same weights and batch, the GPU's gradients are the CPU's to float rounding") {
  const auto data = bars(256, 64, 1);
  std::vector<std::size_t> indices(32);
  std::iota(indices.begin(), indices.end(), std::size_t{7});
  for (const auto& spec : networks()) {
    INFO(spec.describe());
    const train::TrainerOptions options{.batch_size = 32, .learning_rate = 0.01, .seed = 3, .micro_batch = 0};
    train::Trainer cpu(spec, options);
    cuda::Trainer gpu(spec, options);
    REQUIRE(flat(cpu.network().parameters(), false) == gpu.parameters());  // the same initial weights
    train::Optimizer idle(train::Sgd{}, cpu.network().parameters());
    const double cpu_loss = cpu.step(idle, data.train, indices, 0.0);  // rate 0: gradients, no change
    const double gpu_loss = gpu.train_step(data.train, indices, 0.0);
    CHECK(gpu_loss == Approx(cpu_loss).epsilon(1e-5));
    CHECK(relative_difference(flat(cpu.network().parameters(), true), gpu.gradients()) < 1e-4);
  }
}

TEST_CASE("after 100 steps (momentum, dropout, the inv schedule) the GPU's weights are still the CPU's") {
  const auto data = bars(2048, 256, 2);
  for (const auto& spec : {networks()[0], networks()[3]}) {
    INFO(spec.describe());
    const train::TrainerOptions options{.batch_size = 32, .learning_rate = 0.01, .seed = 5, .micro_batch = 0};
    train::Trainer cpu(spec, options);
    cuda::Trainer gpu(spec, options);
    const auto cpu_report = cpu.train(data, Budget{.iterations = 100});
    const auto gpu_report = gpu.train(data, Budget{.iterations = 100});
    REQUIRE(gpu_report.status == Status::ok);
    CHECK(gpu_report.iterations == 100);
    CHECK(relative_difference(flat(cpu.network().parameters(), false), gpu.parameters()) < 1e-3);
    CHECK(std::abs(gpu_report.validation.accuracy - cpu_report.validation.accuracy) <= 0.01);
  }
}

TEST_CASE("one epoch on the GPU reaches the CPU's accuracy (MNIST when installed, else synthetic bars)") {
  data::Dataset dataset;
  try {
    dataset = data::load_dataset("mnist");
  } catch (const std::exception& error) {
    WARN("MNIST not found (" << error.what() << "): synthetic bars instead");
    dataset = bars(20000, 2000, 3);
  }
  const auto spec = nn::classic_lenet5::network(nn::classic_lenet5::config_type{}, nn::InputShape{1, 28, 28});
  const train::TrainerOptions options{.batch_size = 32, .learning_rate = 0.01, .seed = 7};
  train::Trainer cpu(spec, options);
  cuda::Trainer gpu(spec, options);
  const auto cpu_report = cpu.train(dataset, Budget{.epochs = 1});
  const auto gpu_report = gpu.train(dataset, Budget{.epochs = 1});
  REQUIRE(gpu_report.status == Status::ok);
  REQUIRE(gpu_report.test);
  WARN("one epoch: CPU validation " << cpu_report.validation.accuracy << " in " << cpu_report.training_seconds
                                    << " s, GPU " << gpu_report.validation.accuracy << " in "
                                    << gpu_report.training_seconds << " s");
  CHECK(gpu_report.validation.accuracy >= cpu_report.validation.accuracy - 0.005);
  CHECK(gpu_report.history.size() == 1);
  CHECK(gpu_report.test->confusion.total() == dataset.test.size());
}

TEST_CASE("the GPU trainer is deterministic for a seed") {
  const auto data = bars(1024, 128, 4);
  const auto spec = networks()[1];
  const train::TrainerOptions options{.batch_size = 24, .learning_rate = 0.02, .seed = 9};
  cuda::Trainer first(spec, options), second(spec, options);
  first.train(data, Budget{.iterations = 50});
  second.train(data, Budget{.iterations = 50});
  CHECK(first.parameters() == second.parameters());
}

TEST_CASE("Adam on the GPU follows Adam on the CPU") {
  const auto data = bars(1024, 128, 5);
  const auto spec = networks()[3];
  const train::TrainerOptions options{
      .batch_size = 16, .learning_rate = 1e-3, .optimizer = train::Adam{}, .seed = 2, .micro_batch = 0};
  train::Trainer cpu(spec, options);
  cuda::Trainer gpu(spec, options);
  cpu.train(data, Budget{.iterations = 40});
  gpu.train(data, Budget{.iterations = 40});
  CHECK(relative_difference(flat(cpu.network().parameters(), false), gpu.parameters()) < 1e-3);
}

TEST_CASE("a diverging GPU run stops with status diverged and no NaN") {
  const auto data = bars(512, 64, 6);
  const auto spec = networks()[3];
  cuda::Trainer gpu(spec, {.batch_size = 32, .learning_rate = 1e6, .seed = 1});
  const auto report = gpu.train(data, Budget{.epochs = 2});
  CHECK(report.status == Status::diverged);
  CHECK(std::isfinite(report.validation.accuracy));
  CHECK(report.iterations < 32);
}

TEST_CASE("bad settings and data are refused with the CPU trainer's errors") {
  const auto spec = networks()[3];
  CHECK_THROWS_AS(cuda::Trainer(spec, {.batch_size = 0}), std::invalid_argument);
  CHECK_THROWS_AS(cuda::Trainer(spec, {.learning_rate = -1.0}), std::invalid_argument);
  CHECK_THROWS_AS(cuda::Trainer(spec, {.evaluation_batch = 0}), std::invalid_argument);
  cuda::Trainer gpu(spec, {});
  const auto data = bars(64, 16, 7);
  CHECK_THROWS_AS(gpu.train(data, Budget{.epochs = 0.0}), std::invalid_argument);
  CHECK_THROWS_AS(gpu.train(data, Budget{.epochs = std::nan("")}), std::invalid_argument);
  auto small = data;
  small.train.images = xt::xtensor<std::uint8_t, 3>::from_shape({64, 14, 14});
  CHECK_THROWS_AS(gpu.train(small, Budget{.epochs = 1}), std::invalid_argument);
  nn::NetworkSpec too_deep = spec;
  for (int i = 0; i < 4; ++i) too_deep.layers.insert(too_deep.layers.begin(), nn::ConvSpec{7, 6});
  CHECK_THROWS(cuda::Trainer(too_deep, {}));
}

int main(int argc, char** argv) {
  const int devices = cuda::device_count();
  std::printf("CUDA devices visible: %d\n", devices);
  if (devices == 0) {
    std::printf(
        "skipped: no CUDA device is visible, so the GPU tests cannot run here (scripts/gpu_check.sh runs them "
        "on a GPU machine)\n");
    return 77;
  }
  cudaDeviceProp properties{};
  if (cudaGetDeviceProperties(&properties, 0) == cudaSuccess) std::printf("device 0: %s\n", properties.name);
  return Catch::Session().run(argc, argv);
}
