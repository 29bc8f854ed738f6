// What the MPI executor of studies costs per trial: random search on Branin, 1,000 trials a study,
// the same study on the thread runner (one worker) and across MPI ranks (rank 0 coordinates, the
// others evaluate), with an objective that returns at once (the coordination cost alone) and one
// that sleeps 1 ms (how throughput grows with evaluating ranks). Run under mpirun:
//
//   mpirun -np 3 bench_mpi_study --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   scripts/bench_mpi.sh    # 1, 2 and 4 evaluating ranks, for docs/benchmarks.md
//
// Coordination overhead per trial = us_per_trial of BM_Mpi/0 minus that of BM_Threads/0: both
// include the searcher's ask and tell and the coordinator's bookkeeping (no journal); the
// difference is the messages (JSON text each way) and the waiting on them.
#include <mahpo/mahpo.hpp>
#include <mahpo/study/mpi.hpp>

#include <benchmark/benchmark.h>
#include <mpi.h>

#include <chrono>
#include <thread>

namespace {

using Branin = mahpo::problems::Branin;
using S = Branin::space;
constexpr std::size_t trials_per_study = 1000;

// Branin, after sleeping `microseconds`.
struct SleepyBranin {
  int microseconds = 0;
  mahpo::Result operator()(const mahpo::Config<S>& config, const mahpo::Budget& budget) const {
    if (microseconds > 0) std::this_thread::sleep_for(std::chrono::microseconds(microseconds));
    return Branin{}(config, budget);
  }
};

mahpo::study::StudyOptions study_options() {
  return {.trials = trials_per_study, .workers = 1, .progress = mahpo::study::Progress::never};
}

// Trials per second and microseconds per trial, from the wall-clock seconds the studies took.
void report(benchmark::State& state, double seconds) {
  const auto trials = static_cast<double>(state.iterations() * trials_per_study);
  state.counters["trials_per_s"] = trials / seconds;
  state.counters["us_per_trial"] = 1e6 * seconds / trials;
}

using clock = std::chrono::steady_clock;

// The thread runner with one worker: the searcher and the coordinator without messages.
void BM_Threads(benchmark::State& state) {
  const SleepyBranin objective{static_cast<int>(state.range(0))};
  const auto start = clock::now();
  for (auto _ : state) {
    mahpo::search::Random<S> searcher({.seed = 1, .goal = Branin::goal});
    benchmark::DoNotOptimize(mahpo::study::run_study(searcher, objective, study_options()));
  }
  report(state, std::chrono::duration<double>(clock::now() - start).count());
}

// The same study across the job's ranks: rank 0 (this one) tells the others to join, then coordinates.
void BM_Mpi(benchmark::State& state) {
  int microseconds = static_cast<int>(state.range(0)), size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const SleepyBranin objective{microseconds};
  const auto start = clock::now();
  for (auto _ : state) {
    MPI_Bcast(&microseconds, 1, MPI_INT, 0, MPI_COMM_WORLD);
    mahpo::search::Random<S> searcher({.seed = 1, .goal = Branin::goal});
    benchmark::DoNotOptimize(mahpo::study::run_study(searcher, objective, study_options(), mahpo::study::Mpi{}));
  }
  report(state, std::chrono::duration<double>(clock::now() - start).count());
  state.counters["evaluating_ranks"] = size - 1;
}

BENCHMARK(BM_Threads)->Arg(0)->Arg(1000)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Mpi)->Arg(0)->Arg(1000)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  mahpo::study::MpiSession mpi(argc, argv);
  if (mpi.size() < 2) {
    std::fprintf(stderr, "bench_mpi_study: run it under mpirun with at least 2 ranks (mpirun -np 3 ...)\n");
    return 2;
  }
  if (mpi.rank() == 0) {
    mahpo::warn_if_blas_is_slow();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    int done = -1;  // the other ranks leave their loop
    MPI_Bcast(&done, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return 0;
  }
  while (true) {  // an evaluating rank: one study per broadcast, until told -1
    int microseconds = 0;
    MPI_Bcast(&microseconds, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (microseconds < 0) return 0;
    mahpo::search::Random<S> searcher({.seed = 1, .goal = Branin::goal});
    mahpo::study::run_study(searcher, SleepyBranin{microseconds}, study_options(), mahpo::study::Mpi{});
  }
}
