// A synthetic study (Branin) on the MPI executor, for the tests under tests/mpi/ (run with mpirun).
//
//   mpirun -np 3 mpi_study --searcher random --trials 30 --compare-threads
//       the coordinating rank also runs the same study on the thread runner with one worker and
//       checks that both evaluated the same set of configs with the same values and the same best
//   mpirun -np 3 mpi_study --trials 40 --sleep 0.05 --journal j.jsonl --pid-dir D --evaluations E
//       each rank writes D/rank-R.pid; each evaluation appends its config to E (for kill_and_resume.py)
//
// The coordinating rank prints the report's summary and, with --trials-out, every trial as a JSON line.
#include <mahpo/mahpo.hpp>
#include <mahpo/study/mpi.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <variant>

#include <fcntl.h>
#include <unistd.h>

namespace {

using Branin = mahpo::problems::Branin;
using S = Branin::space;

struct Settings {
  std::string searcher = "random", journal, pid_dir, evaluations, trials_out, pruner = "none";
  std::size_t steps = 0;  // > 0: trials are learning curves of this many epochs (SlowBranin::curve)
  std::size_t trials = 30, workers = 1;
  double sleep = 0.0;
  std::uint64_t seed = 0;
  bool resume = false, compare_threads = false;
};

// Branin, slowed down by `sleep` seconds, logging every evaluation's config (one write(2) per line
// on an O_APPEND file, so lines of several ranks never interleave). With `steps`, a learning curve:
// Branin plus a gap that closes over the budget's epochs, each reported (a pruner may stop it), the
// epochs reached saved as its state and a state it is given continued ("started_at" in its metrics).
struct SlowBranin {
  double sleep = 0.0;
  int log = -1;
  bool curve = false;

  mahpo::Result operator()(const mahpo::Config<S>& config, const mahpo::Budget& budget) const {
    mahpo::TrialContext none;
    return (*this)(config, budget, none);
  }

  mahpo::Result operator()(const mahpo::Config<S>& config, const mahpo::Budget& budget,
                           mahpo::TrialContext& context) const {
    if (sleep > 0.0) std::this_thread::sleep_for(std::chrono::duration<double>(sleep));
    if (log >= 0) {
      const std::string line = config.to_json().dump() + "\n";
      if (::write(log, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        throw std::runtime_error("could not log the evaluation");
      }
    }
    if (!curve) return Branin{}(config, budget);
    const double optimum_gap = Branin{}(config, budget).value;
    std::size_t start = 0;
    if (const auto state = context.resume_state(); !state.empty()) start = std::stoul(state);
    mahpo::Result result;
    result.metrics["started_at"] = start;
    const auto steps = static_cast<std::size_t>(std::llround(budget.epochs));
    for (std::size_t step = start + 1; step <= steps; ++step) {
      result.value = optimum_gap + 20.0 * std::exp(-static_cast<double>(step) / 2.0);
      result.intermediate.push_back(result.value);
      if (context.report(step, result.value)) {
        result.status = mahpo::Status::pruned;
        return result;
      }
      if (context.wants_state()) context.save_state(std::to_string(step));
    }
    return result;
  }
};

// The configs and values of a report's finished trials, and its best value.
template <typename Report>
std::pair<std::map<std::string, double>, double> outcome(const Report& report) {
  std::map<std::string, double> values;
  for (const auto& trial : report.trials) {
    if (trial.finished) values[trial.config.to_json().dump()] = trial.result.value;
  }
  const auto* best = report.best();
  return {values, best ? best->result.value : 0.0};
}

int run(const Settings& settings, const mahpo::study::MpiSession& mpi) {
  if (!settings.pid_dir.empty()) {
    std::ofstream(fmt::format("{}/rank-{}.pid", settings.pid_dir, mpi.rank())) << ::getpid() << "\n";
  }
  SlowBranin objective{.sleep = settings.sleep, .curve = settings.steps > 0};
  if (!settings.evaluations.empty()) {
    objective.log = ::open(settings.evaluations.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (objective.log < 0) throw std::runtime_error("cannot open " + settings.evaluations);
  }
  const double epochs = settings.steps > 0 ? static_cast<double>(settings.steps) : 1.0;
  const mahpo::search::SearcherSettings searcher_settings{
      .search = {.seed = settings.seed, .goal = Branin::goal, .budget = {.epochs = epochs}},
      .min_budget = settings.steps > 0 ? 1.0 : 1.0 / 9.0,
      .max_budget = epochs,
      .trials = settings.trials};
  auto chosen = mahpo::search::make_searcher<S>(settings.searcher, searcher_settings);
  mahpo::study::StudyOptions options{.trials = settings.trials,
                                     .workers = settings.workers,
                                     .journal = settings.journal,
                                     .resume = settings.resume,
                                     .context = {{"problem", "branin"}, {"sleep", settings.sleep}}};
  options.pruner = mahpo::study::make_pruner(settings.pruner, settings.steps);
  return std::visit(
      [&](auto& searcher) {
        const auto report = mahpo::study::run_study(searcher, objective, options, mahpo::study::Mpi{});
        if (!report) return 0;  // an evaluating rank
        fmt::print("{}", report->summary());
        std::size_t replayed = 0;
        for (const auto& trial : report->trials) replayed += trial.replayed ? 1 : 0;
        std::size_t pruned = 0, continued = 0;
        for (const auto& trial : report->trials) {
          pruned += trial.result.status == mahpo::Status::pruned ? 1 : 0;
          continued += trial.result.metrics.value("started_at", 0) > 0 ? 1 : 0;
        }
        fmt::print("mpi_study: {} ranks, {} trials, {} replayed, {} rerun, {} pruned, {} continued\n", mpi.size(),
                   report->trials.size(), replayed, report->rerun, pruned, continued);
        if (!settings.trials_out.empty()) {
          std::ofstream out(settings.trials_out);
          for (const auto& trial : report->trials) {
            out << nlohmann::json{{"id", trial.id},
                                  {"config", trial.config.to_json()},
                                  {"finished", trial.finished},
                                  {"value", trial.result.value},
                                  {"replayed", trial.replayed},
                                  {"worker", trial.worker}}
                       .dump()
                << "\n";
          }
        }
        if (settings.compare_threads) {
          auto alone = mahpo::search::make_searcher<S>(settings.searcher, searcher_settings);
          const auto threads = std::visit(
              [&](auto& same) {
                mahpo::study::StudyOptions alone_options{.trials = settings.trials, .workers = 1};
                alone_options.pruner = mahpo::study::make_pruner(settings.pruner, settings.steps);
                return outcome(mahpo::study::run_study(same, SlowBranin{.curve = settings.steps > 0}, alone_options));
              },
              alone);
          const auto mpi_outcome = outcome(*report);
          if (mpi_outcome != threads) {
            fmt::print(
                "mpi_study: MISMATCH: the MPI study evaluated {} configs (best {}), the thread runner {} (best {})\n",
                mpi_outcome.first.size(), mpi_outcome.second, threads.first.size(), threads.second);
            return 1;
          }
          fmt::print("mpi_study: same {} trials and best {} as the thread runner with one worker\n",
                     threads.first.size(), threads.second);
        }
        return 0;
      },
      chosen);
}

}  // namespace

int main(int argc, char** argv) {
  mahpo::study::MpiSession mpi(argc, argv);
  CLI::App app{"mahpo: a synthetic study on the MPI executor (run under mpirun)"};
  Settings settings;
  app.add_option("--searcher", settings.searcher, "random or tpe");
  app.add_option("--trials", settings.trials, "trials");
  app.add_option("--workers", settings.workers, "threads per evaluating rank");
  app.add_option("--sleep", settings.sleep, "seconds each evaluation sleeps");
  app.add_option("--seed", settings.seed, "searcher seed");
  app.add_option("--journal", settings.journal, "journal path");
  app.add_flag("--resume", settings.resume, "resume the journal");
  app.add_option("--pid-dir", settings.pid_dir, "each rank writes its pid to DIR/rank-R.pid");
  app.add_option("--evaluations", settings.evaluations, "each evaluation appends its config to this file");
  app.add_option("--trials-out", settings.trials_out, "the coordinating rank writes every trial here");
  app.add_flag("--compare-threads", settings.compare_threads, "compare with the thread runner (one worker)");
  app.add_option("--steps", settings.steps, "trials are learning curves of this many epochs, each reported");
  app.add_option("--pruner", settings.pruner, "a pruner by name (mahpo::study::make_pruner)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (mpi.rank() == 0) return app.exit(error);
    return error.get_exit_code();
  }
  try {
    return run(settings, mpi);
  } catch (const std::exception& error) {
    fmt::print(stderr, "mpi_study: rank {}: error: {}\n", mpi.rank(), error.what());
    mpi.abort(1);
  }
}
