// Ask+tell cost of every searcher after 10, 100, 200 and 1,000 finished trials, on a flat
// 5-parameter stand-in for the paper's space: paper_lenet's ranges with one conv_size for both
// convolutions (paper_lenet::space itself has 6 free parameters in layer groups; the cost of a
// searcher grows with the dimension, so its figures would be a little higher).
//
// Each benchmark fills a searcher with N told trials (untimed), then times ask() + tell() pairs.
// To keep the history at about N, the timed searcher is reset to a copy of the filled one (untimed)
// every N/10 + 5 pairs. At the end: one pruner decision after 100 and 1,000 complete trials, and
// the results of a study of several objectives: non-dominated sorting and the hypervolume of N
// trials (search/pareto.hpp).
#include <mahpo/mahpo.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <random>
#include <string_view>

namespace {

using PaperStandIn = mahpo::Space<mahpo::Int<"conv_size", 2, 7>, mahpo::Int<"hidden_size", 124, 1024>,
                                  mahpo::Real<"dropout_rate", 0.5, 0.9>, mahpo::Int<"batch_size", 16, 32>,
                                  mahpo::LogReal<"learning_rate", 1e-4, 0.1>>;

// A smooth "accuracy" with its peak inside the space.
mahpo::Result score(const mahpo::search::Trial<PaperStandIn>& trial) {
  const auto x = PaperStandIn::to_unit_cube(trial.config);
  double value = 0.99;
  for (std::size_t k = 0; k < x.size(); ++k) value -= 0.2 * (x[k] - 0.4) * (x[k] - 0.4) * static_cast<double>(k + 1);
  return mahpo::Result{.value = value - 0.05 * (1.0 - std::min(trial.budget.epochs, 1.0))};
}

template <typename Searcher>
void ask_tell(benchmark::State& state) {
  const auto finished = static_cast<std::size_t>(state.range(0));
  Searcher filled(mahpo::search::SearchOptions{.seed = 1});
  for (std::size_t k = 0; k < finished; ++k) {
    const auto trial = filled.ask();
    filled.tell(trial.id, score(trial));
  }
  Searcher searcher = filled;
  const std::size_t reset_every = finished / 10 + 5;
  std::size_t since_reset = 0;
  for (auto _ : state) {
    if (since_reset == reset_every) {
      state.PauseTiming();
      searcher = filled;
      since_reset = 0;
      state.ResumeTiming();
    }
    const auto trial = searcher.ask();
    searcher.tell(trial.id, score(trial));
    ++since_reset;
  }
  state.SetLabel(std::string(Searcher::name));
}

using namespace mahpo::search;

// TPE drawing Optuna's random numbers (TpeOptions::optuna_stream, Optuna 5's multivariate TPE):
// numpy's streams and inverse-CDF truncated normals in place of rejection draws.
template <typename S>
struct TpeOptunaStream : Tpe<S> {
  static constexpr std::string_view name = "tpe (optuna_stream)";
  explicit TpeOptunaStream(SearchOptions options) : Tpe<S>(options, TpeOptions{.optuna_stream = true}) {}
};

// The univariate TPE (Optuna's independent sampling) and Optuna 3.1's rules.
template <typename S>
struct TpeIndependent : Tpe<S> {
  static constexpr std::string_view name = "tpe (independent)";
  explicit TpeIndependent(SearchOptions options) : Tpe<S>(options, TpeOptions{.multivariate = false}) {}
};
template <typename S>
using TpeOptuna3 = Tpe<S, tpe::Optuna3>;

#define MAHPO_SEARCHER_BENCHMARK(Searcher)             \
  BENCHMARK_TEMPLATE(ask_tell, Searcher<PaperStandIn>) \
      ->Arg(10)                                        \
      ->Arg(100)                                       \
      ->Arg(200)                                       \
      ->Arg(1000)                                      \
      ->Unit(benchmark::kMicrosecond)

MAHPO_SEARCHER_BENCHMARK(Random);
MAHPO_SEARCHER_BENCHMARK(Grid);
MAHPO_SEARCHER_BENCHMARK(Anneal);
// TPE's growth with the history: up to 10,000 told trials (filling that takes about a minute).
BENCHMARK_TEMPLATE(ask_tell, Tpe<PaperStandIn>)
    ->Arg(10)
    ->Arg(100)
    ->Arg(200)
    ->Arg(1000)
    ->Arg(3000)
    ->Arg(10000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(ask_tell, TpeOptunaStream<PaperStandIn>)->Arg(200)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(ask_tell, TpeIndependent<PaperStandIn>)->Arg(200)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(ask_tell, TpeOptuna3<PaperStandIn>)->Arg(200)->Arg(1000)->Unit(benchmark::kMicrosecond);
// GP-BO's fit is cubic in the trials: at 1,000 the filling alone would take many minutes.
BENCHMARK_TEMPLATE(ask_tell, GpBo<PaperStandIn>)->Arg(10)->Arg(100)->Arg(200)->Unit(benchmark::kMicrosecond);
MAHPO_SEARCHER_BENCHMARK(SuccessiveHalving);
MAHPO_SEARCHER_BENCHMARK(Hyperband);
MAHPO_SEARCHER_BENCHMARK(Bohb);
MAHPO_SEARCHER_BENCHMARK(RegularizedEvolution);
MAHPO_SEARCHER_BENCHMARK(PpoLstm);

}  // namespace

// Before the first benchmark: a note on stderr when OpenBLAS runs kernels older than the CPU's.
[[maybe_unused]] const bool blas_checked = (mahpo::warn_if_blas_is_slow(), true);

// One pruner decision (report of a running trial's value at a step) after N complete trials of 9
// steps each (untimed); the timed trials end pruned after their 9 steps (their finish is timed too),
// and 9,000 decisions are timed, so that ASHA's rungs grow by at most 1,000 values.
template <typename Make>
void pruner_decision(benchmark::State& state, Make make) {
  const auto trials = static_cast<std::size_t>(state.range(0));
  auto pruner = make();
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> accuracy(0.8, 0.99);
  for (std::size_t id = 0; id < trials; ++id) {
    for (std::size_t step = 1; step <= 9; ++step) pruner->report(id, step, accuracy(rng));
    pruner->finish(id, mahpo::Status::ok);
  }
  std::size_t id = trials, step = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(pruner->report(id, step, accuracy(rng)));
    if (++step > 9) {
      pruner->finish(id, mahpo::Status::pruned);
      step = 1;
      ++id;
    }
  }
}
BENCHMARK_CAPTURE(pruner_decision, median, [] { return std::make_shared<mahpo::study::MedianPruner>(); })
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(9000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(pruner_decision, asha, [] { return std::make_shared<mahpo::study::SuccessiveHalvingPruner>(); })
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(9000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(pruner_decision, hyperband,
                  [] {
                    return std::make_shared<mahpo::study::HyperbandPruner>(mahpo::study::HyperbandPrunerOptions{});
                  })
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(9000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(pruner_decision, patient_median,
                  [] {
                    return std::make_shared<mahpo::study::PatientPruner>(
                        std::make_shared<mahpo::study::MedianPruner>());
                  })
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(9000)
    ->Unit(benchmark::kMicrosecond);

// Non-dominated sorting of N trials and the hypervolume of their front, M objectives: the points
// scattered around a concave front (a ZDT2-like shape), a tenth of them infeasible.
void pareto_results(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  const auto objectives = static_cast<std::size_t>(state.range(1));
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  mahpo::search::pareto::Points points(count, std::vector<double>(objectives));
  std::vector<double> violations(count, 0.0);
  for (std::size_t i = 0; i < count; ++i) {
    double rest = 1.0;
    for (std::size_t m = 0; m + 1 < objectives; ++m) {
      points[i][m] = unit(rng);
      rest -= points[i][m] * points[i][m] / static_cast<double>(objectives - 1);
    }
    points[i][objectives - 1] = rest + 0.3 * unit(rng);
    if (unit(rng) < 0.1) violations[i] = unit(rng);
  }
  const std::vector<double> reference(objectives, 1.5);
  for (auto _ : state) {
    const auto front = mahpo::search::pareto::pareto_front(points, violations);
    mahpo::search::pareto::Points members;
    members.reserve(front.size());
    for (const std::size_t i : front) members.push_back(points[i]);
    benchmark::DoNotOptimize(mahpo::search::pareto::hypervolume(members, reference));
  }
}
BENCHMARK(pareto_results)
    ->ArgsProduct({{100, 1000}, {2, 3}})
    ->ArgNames({"trials", "objectives"})
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
