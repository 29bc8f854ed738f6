// Training throughput of the CPU trainer (images per second through forward, backward and the SGD
// update), for classic_lenet5 at several batch sizes and for the largest config of the paper's
// space, with 1 and 2 OpenBLAS threads; and two single-threaded trials at once against one
// two-threaded trial (the question of issue 3, point 6).
#include <mahpo/mahpo.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

namespace {

using namespace mahpo;

// Random 28x28 images: throughput does not depend on what the pixels show.
const data::ImageSet& random_images() {
  static const data::ImageSet images = [] {
    data::ImageSet set;
    constexpr std::size_t count = 4096;
    set.images = xt::xtensor<std::uint8_t, 3>::from_shape({count, 28, 28});
    std::mt19937_64 rng(1);
    std::uniform_int_distribution<int> pixel(0, 255), label(0, 9);
    for (auto& p : set.images) p = static_cast<std::uint8_t>(pixel(rng));
    for (std::size_t i = 0; i < count; ++i) set.labels.push_back(static_cast<std::uint8_t>(label(rng)));
    return set;
  }();
  return images;
}

nn::NetworkSpec classic() { return nn::classic_lenet5::network({}); }

// The paper space's most expensive config: 7x7 kernels in both convolutions, 1024 hidden units.
nn::NetworkSpec paper_largest() {
  nn::paper_lenet::config_type config;
  config.set<"conv1.conv_size">(7).set<"conv2.conv_size">(7).set<"fc1.hidden_size">(1024);
  return nn::paper_lenet::network(config);
}

// One trainer and its optimizer, stepping through the random images a batch at a time.
struct Run {
  train::Trainer trainer;
  train::Optimizer optimizer;
  std::vector<std::size_t> indices;
  std::size_t cursor = 0;

  Run(const nn::NetworkSpec& spec, std::size_t batch)
      : trainer(spec, train::TrainerOptions{.batch_size = batch}), optimizer(train::Sgd{}, trainer.network().parameters()),
        indices(batch) {}

  void step() {
    const auto& images = random_images();
    for (auto& index : indices) index = cursor++ % images.size();
    benchmark::DoNotOptimize(trainer.step(optimizer, images, indices, 0.01));
  }
};

void train_step(benchmark::State& state, nn::NetworkSpec (*network)()) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  train::set_blas_threads(static_cast<std::size_t>(state.range(1)));
  Run run(network(), batch);
  run.step();  // buffers grow on the first step
  for (auto _ : state) run.step();
  state.counters["images_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch), benchmark::Counter::kIsRate);
}

void classic_lenet5(benchmark::State& state) { train_step(state, classic); }
void paper_lenet_largest(benchmark::State& state) { train_step(state, paper_largest); }

BENCHMARK(classic_lenet5)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{16, 32, 64, 256}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(paper_lenet_largest)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{16, 32}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Two trials side by side, each with one thread, against the same work done by one trial with two
// BLAS threads. Each benchmark iteration is 2 x 20 steps of classic_lenet5 at the given batch.
void two_trials_one_thread_each(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  train::set_blas_threads(1);
  Run first(classic(), batch), second(classic(), batch);
  first.step();
  second.step();
  for (auto _ : state) {
    std::thread other([&] {
      for (int i = 0; i < 20; ++i) second.step();
    });
    for (int i = 0; i < 20; ++i) first.step();
    other.join();
  }
  state.counters["images_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 40 * batch), benchmark::Counter::kIsRate);
}

void one_trial_two_threads(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  train::set_blas_threads(2);
  Run run(classic(), batch);
  run.step();
  for (auto _ : state) {
    for (int i = 0; i < 40; ++i) run.step();
  }
  state.counters["images_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 40 * batch), benchmark::Counter::kIsRate);
}

BENCHMARK(two_trials_one_thread_each)->ArgName("batch")->Arg(32)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(one_trial_two_threads)->ArgName("batch")->Arg(32)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
