// The cost of the space operations every searcher leans on: sampling, the unit-cube maps, JSON.
#include <mahpo/mahpo.hpp>

#include <benchmark/benchmark.h>

#include <random>

namespace {

using Paper = mahpo::Space<mahpo::Int<"conv_size", 2, 7>, mahpo::Int<"hidden_size", 124, 1024>,
                           mahpo::Real<"dropout_rate", 0.5, 0.9>, mahpo::Int<"batch_size", 16, 32>,
                           mahpo::LogReal<"learning_rate", 1e-4, 0.1>>;

void sample(benchmark::State& state) {
  std::mt19937_64 rng(1);
  for (auto _ : state) benchmark::DoNotOptimize(Paper::sample(rng));
}
BENCHMARK(sample);

void unit_cube_round_trip(benchmark::State& state) {
  std::mt19937_64 rng(1);
  const auto config = Paper::sample(rng);
  for (auto _ : state) {
    const auto point = Paper::to_unit_cube(config);
    benchmark::DoNotOptimize(Paper::from_unit_cube(point));
  }
}
BENCHMARK(unit_cube_round_trip);

void json_round_trip(benchmark::State& state) {
  std::mt19937_64 rng(1);
  const auto config = Paper::sample(rng);
  for (auto _ : state) benchmark::DoNotOptimize(Paper::config_type::from_json(config.to_json()));
}
BENCHMARK(json_round_trip);

void discretized_action(benchmark::State& state) {
  const auto cut = Paper::discretize(8);
  std::array<std::size_t, Paper::dimension> actions{3, 5, 1, 7, 2};
  for (auto _ : state) benchmark::DoNotOptimize(cut.at(std::span<const std::size_t>(actions)));
}
BENCHMARK(discretized_action);

}  // namespace

BENCHMARK_MAIN();
