// The GPU trainer on a GPU (scripts/gpu_check.sh runs it there): training throughput in images per
// second (forward, backward and the update: the report's training_seconds, the step's CUDA graph
// launched once per step, the host synchronizing once per 2,000 steps) for classic_lenet5 and the
// paper space's largest config at batch 32 and 256; and the wall-clock seconds of one paper trial
// (one epoch of 55,000 MNIST-sized images at the paper space's centre config and at its largest,
// then the 5,000 validation and 10,000 test images evaluated), as a study pays for it. Random
// images: the rate does not depend on what they show. Without a CUDA device every benchmark says so
// and skips.
#include <mahpo/cuda/trainer.hpp>
#include <mahpo/mahpo.hpp>

#include "trainer_fixtures.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

namespace {

using namespace mahpo;

data::Dataset random_dataset(std::size_t train, std::size_t validation, std::size_t test) {
  data::Dataset dataset;
  dataset.name = "random";
  dataset.classes = 10;
  dataset.train = bench::random_images(train);
  dataset.validation = bench::random_images(validation);
  dataset.test = bench::random_images(test);
  return dataset;
}

bool have_device(benchmark::State& state) {
  if (cuda::device_count() > 0) return true;
  state.SkipWithError("no CUDA device is visible");
  return false;
}

void train_rate(benchmark::State& state, nn::NetworkSpec (*network)()) {
  if (!have_device(state)) return;
  static const auto dataset = random_dataset(8192, 256, 256);
  const auto batch = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t steps = 2000;
  cuda::Trainer trainer(network(), {.batch_size = batch, .history_every = steps, .evaluate_test = false});
  trainer.train(dataset, Budget{.iterations = 200});  // the graph captured, cuDNN's algorithms chosen
  for (auto _ : state) {
    const auto report = trainer.train(dataset, Budget{.iterations = steps});
    state.SetIterationTime(report.training_seconds);
  }
  state.counters["images_per_second"] =
      benchmark::Counter(static_cast<double>(steps * batch), benchmark::Counter::kIsIterationInvariantRate);
}

nn::NetworkSpec paper_centre() { return nn::paper_lenet::network(nn::paper_lenet::config_type{}); }

void paper_trial(benchmark::State& state, nn::NetworkSpec (*network)()) {
  if (!have_device(state)) return;
  static const auto dataset = random_dataset(55000, 5000, 10000);
  const std::size_t batch = 24;  // the middle of the space's batch sizes, 16 to 32
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    cuda::Trainer trainer(network(), {.batch_size = batch});
    const auto report = trainer.train(dataset, Budget{.epochs = 1});
    benchmark::DoNotOptimize(report.validation.accuracy);
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
}

nn::NetworkSpec classic() { return bench::classic_lenet5(); }
nn::NetworkSpec largest() { return bench::paper_lenet_largest(); }

BENCHMARK_CAPTURE(train_rate, classic_lenet5, classic)
    ->ArgName("batch")
    ->Arg(32)
    ->Arg(256)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_rate, paper_lenet_largest, largest)
    ->ArgName("batch")
    ->Arg(32)
    ->Arg(256)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(paper_trial, centre, paper_centre)->UseManualTime()->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK_CAPTURE(paper_trial, largest, largest)->UseManualTime()->Unit(benchmark::kSecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
