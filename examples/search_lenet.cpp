// Runs any of mahpo's searchers by name on paper_lenet (the MAPPO paper's LeNet space) trained on
// MNIST or Fashion-MNIST, or on a synthetic problem, with a journal that a later run can resume.
//
//   search_lenet --searcher tpe --dataset mnist --epochs 1 --trials 50 --workers 2 --journal tpe.jsonl
//   search_lenet --searcher tpe --dataset mnist --epochs 1 --trials 50 --workers 2 --journal tpe.jsonl
//                --resume                                              # after a crash or Ctrl-C
//   mpirun -np 9 search_lenet --mpi --searcher tpe --dataset mnist --trials 200 --journal tpe.jsonl
//                # rank 0 coordinates, ranks 1-8 train (docs/guide.md, "Studies across machines")
//
// Multi-fidelity searchers (successive_halving, hyperband, bohb) give each trial between
// --min-epochs and --epochs, and a promoted config continues its training (--restart: from scratch);
// pbt trains its population --epochs per trial; the others give every trial --epochs.
//
//   search_lenet --searcher tpe --dataset mnist --epochs 3 --pruner asha --journal tpe.jsonl
//                # each epoch's validation accuracy reported; hopeless trials stopped early
#include <mahpo/mahpo.hpp>
#ifdef MAHPO_WITH_MPI
#include <mahpo/study/mpi.hpp>
#endif
#ifdef MAHPO_WITH_CUDA
#include <mahpo/cuda/trainer.hpp>
#endif

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace {

// A finite number above 0 (CLI::PositiveNumber lets NaN through: NaN <= 0 is false).
const CLI::Validator finite_positive(
    [](const std::string& text) {
      double value = 0.0;
      if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value) || !(value > 0.0)) {
        return "must be a finite number above 0, got " + text;
      }
      return std::string();
    },
    "FINITE > 0");

// A finite number at least 0.
const CLI::Validator finite_non_negative(
    [](const std::string& text) {
      double value = 0.0;
      if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value) || !(value >= 0.0)) {
        return "must be a finite number >= 0, got " + text;
      }
      return std::string();
    },
    "FINITE >= 0");

struct Settings {
  std::string searcher = "random", dataset = "mnist", problem = "lenet", journal, csv, report, device = "cpu";
  double epochs = 1.0, min_epochs = 1.0 / 9.0, seconds = 0.0;
  std::size_t trials = 20, workers = 1, train_images = 0, test_images = 0;
  std::uint64_t seed = 0;
  bool resume = false, progress = false, mpi = false;
  std::string pruner = "none";
  std::size_t reports_per_epoch = 0;
  bool restart = false;
};

#ifdef MAHPO_WITH_MPI
std::optional<mahpo::study::MpiSession> mpi_session;  // started by --mpi
#endif

// This process's rank in an MPI study (0 without --mpi): only rank 0 prints.
int rank() {
#ifdef MAHPO_WITH_MPI
  if (mpi_session) return mpi_session->rank();
#endif
  return 0;
}

// Runs the study on threads, or across MPI ranks with --mpi: the report on rank 0, nothing elsewhere.
template <typename T, typename O>
auto run(const Settings& settings, T& searcher, const O& objective, const mahpo::study::StudyOptions& options)
    -> std::optional<decltype(mahpo::study::run_study(searcher, objective, options))> {
#ifdef MAHPO_WITH_MPI
  if (settings.mpi) return mahpo::study::run_study(searcher, objective, options, mahpo::study::Mpi{});
#endif
  (void)settings;
  return mahpo::study::run_study(searcher, objective, options);
}

template <typename Objective>
int search(const Settings& settings, const Objective& objective, mahpo::Goal goal) {
  using S = typename Objective::space;
  // MAPPO's agents come from the space's groups: a layer each on paper_lenet, a parameter each on Branin.
  auto chosen = mahpo::search::make_searcher<S>(
      settings.searcher, {.search = {.seed = settings.seed, .goal = goal, .budget = {.epochs = settings.epochs}},
                          .min_budget = settings.min_epochs,
                          .max_budget = settings.epochs,
                          .trials = settings.trials,
                          .resume = !settings.restart});
  return std::visit(
      [&](auto& searcher) {
        mahpo::study::StudyOptions options{.trials = settings.trials,
                                           .seconds = settings.seconds,
                                           .workers = settings.workers,
                                           .journal = settings.journal,
                                           .resume = settings.resume};
        // Steps of a full trial: the epochs, times the reports per epoch (Hyperband pruner's maximum).
        const auto steps = static_cast<std::size_t>(
            std::ceil(settings.epochs * static_cast<double>(std::max<std::size_t>(1, settings.reports_per_epoch))));
        options.pruner = mahpo::study::make_pruner(settings.pruner, steps);
        if (settings.progress) options.progress = mahpo::study::Progress::always;
        // What the journal must match on --resume besides the searcher, its options and the budget.
        options.context = {{"problem", settings.problem}};
        if (settings.problem == "lenet") {
          options.context.update({{"dataset", settings.dataset},
                                  {"train_images", settings.train_images},
                                  {"test_images", settings.test_images}});
        }
        const auto ran = run(settings, searcher, objective, options);
        if (!ran) return 0;  // an evaluating rank of an MPI study
        const auto& report = *ran;
        fmt::print("{}", report.summary());
        if (!settings.csv.empty()) {
          report.write_csv(settings.csv);
          fmt::print("  trials written to {}\n", settings.csv);
        }
        if (!settings.report.empty()) {  // the pictures: plots and a page (mahpo-report does the same from journals)
          const std::string name = fmt::format("{} on {}", settings.searcher,
                                               settings.problem == "lenet" ? settings.dataset : settings.problem);
          const auto files = mahpo::report::write_report({mahpo::report::from_report(report, name)}, settings.report,
                                                         {.title = fmt::format("mahpo: {}", name)});
          fmt::print("  report: {}\n", files.index.string());
        }
        const auto failed = [](const auto& trial) {
          return trial.result.status == mahpo::Status::failed || trial.result.status == mahpo::Status::diverged;
        };
        if (!report.trials.empty() && std::all_of(report.trials.begin(), report.trials.end(), failed)) {
          fmt::print(stderr, "error: every trial failed; the first said: {}\n", report.trials.front().result.message);
          return 2;
        }
        return 0;
      },
      chosen);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mahpo: search the MAPPO paper's LeNet space (or a synthetic problem) with one searcher"};
  Settings settings;
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a later flag overrides
  app.add_option("--searcher", settings.searcher, "which searcher")
      ->check(CLI::IsMember(
          std::vector<std::string>(mahpo::search::searcher_names.begin(), mahpo::search::searcher_names.end())));
  app.add_option("--problem", settings.problem,
                 "lenet: train paper_lenet; or a synthetic problem, or a LeNet surrogate (seeded by --seed)")
      ->check(CLI::IsMember(
          {"lenet", "branin", "hartmann6", "lenet_quadratic", "lenet_surrogate_mnist", "lenet_surrogate_fashion"}));
  app.add_option("--device", settings.device,
                 "train --problem lenet's trials on the cpu, or on cuda: the GPU trainer (a build with the CUDA "
                 "backend, and a GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--dataset", settings.dataset, "data set for --problem lenet")
      ->check(CLI::IsMember({"mnist", "fashion-mnist"}));
  app.add_option("--epochs", settings.epochs, "epochs per trial (multi-fidelity: the largest budget)")
      ->check(finite_positive);
  app.add_option("--min-epochs", settings.min_epochs, "smallest budget of the multi-fidelity searchers")
      ->check(finite_positive);
  app.add_option("--trials", settings.trials, "trials to run (0: no limit, then give --seconds)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1000000000}));
  app.add_option("--seconds", settings.seconds, "wall-clock limit in seconds (0: none)")->check(finite_non_negative);
  app.add_option("--workers", settings.workers,
                 "trials evaluated at once, one thread each (with --mpi: on each evaluating rank)")
      ->check(CLI::Range(std::size_t{1}, mahpo::study::max_workers));
  app.add_option("--seed", settings.seed, "searcher seed");
  app.add_option("--journal", settings.journal, "append every trial to this JSON-lines file");
  app.add_flag("--resume", settings.resume, "continue the study in --journal");
  app.add_option("--pruner", settings.pruner, "stop trials early from their reported values")
      ->check(CLI::IsMember(
          std::vector<std::string>(mahpo::study::pruner_names.begin(), mahpo::study::pruner_names.end())));
  app.add_option("--reports-per-epoch", settings.reports_per_epoch,
                 "--problem lenet: validation reports (pruning decisions) per epoch (0: one per epoch)");
  app.add_flag("--restart", settings.restart,
               "multi-fidelity searchers: a promoted config trains from scratch instead of continuing its training");
  app.add_option("--csv", settings.csv, "write every trial to this CSV file");
  app.add_option("--report", settings.report, "write a report (plots and index.html) into this folder at the end");
  app.add_option("--train-images", settings.train_images, "use only the first N training images (0: all)");
  app.add_option("--test-images", settings.test_images, "use only the first N validation and test images (0: all)");
  app.add_flag("--progress", settings.progress, "print the progress line even when stderr is not a terminal");
  app.add_flag("--mpi", settings.mpi,
               "run across the ranks of an MPI job (under mpirun or srun): rank 0 coordinates and writes the "
               "journal, the others evaluate trials with --workers threads each");
  CLI11_PARSE(app, argc, argv);
  if (settings.mpi) {
#ifdef MAHPO_WITH_MPI
    mpi_session.emplace(argc, argv);
#else
    fmt::print(stderr,
               "error: --mpi: this search_lenet was built without MPI (install libopenmpi-dev and "
               "openmpi-bin, then build again)\n");
    return 1;
#endif
  }

  try {
    namespace problems = mahpo::problems;
    if (settings.problem == "branin") return search(settings, problems::Branin{}, problems::Branin::goal);
    if (settings.problem == "hartmann6") return search(settings, problems::Hartmann6{}, problems::Hartmann6::goal);
    if (settings.problem == "lenet_quadratic") {
      return search(settings, problems::LeNetQuadratic{}, problems::LeNetQuadratic::goal);
    }
    if (settings.problem == "lenet_surrogate_mnist") {
      return search(settings, problems::MnistSurrogate(settings.seed), problems::MnistSurrogate::goal);
    }
    if (settings.problem == "lenet_surrogate_fashion") {
      return search(settings, problems::FashionMnistSurrogate(settings.seed), problems::FashionMnistSurrogate::goal);
    }
    auto dataset = mahpo::data::load_dataset(settings.dataset);
    if (settings.train_images > 0 || settings.test_images > 0) {
      dataset = mahpo::data::take_first(dataset, settings.train_images, settings.test_images, settings.test_images);
    }
    if (rank() == 0) {
      fmt::print("{}: {} training, {} validation, {} test images\n", dataset.name, dataset.train.size(),
                 dataset.validation.size(), dataset.test.size());
    }
    auto data = std::make_shared<const mahpo::data::Dataset>(std::move(dataset));
    if (settings.device == "cuda") {
#ifdef MAHPO_WITH_CUDA
      if (mahpo::cuda::device_count() == 0) {
        throw std::runtime_error("--device cuda: mahpo::cuda: no CUDA device is visible to this process");
      }
      const mahpo::train::LeNetObjective<mahpo::nn::paper_lenet, mahpo::cuda::Trainer> objective(data);
      return search(settings, objective, mahpo::Goal::maximize);
#else
      throw std::runtime_error(
          "--device cuda: this search_lenet was built without the CUDA backend (CMake found no nvcc or no cuDNN)");
#endif
    }
    const mahpo::train::LeNetObjective<mahpo::nn::paper_lenet> objective(
        data, mahpo::train::ObjectiveOptions{.reports_per_epoch = settings.reports_per_epoch});
    return search(settings, objective, mahpo::Goal::maximize);
  } catch (const std::exception& error) {
#ifdef MAHPO_WITH_MPI
    if (mpi_session) {  // the other ranks may wait for this one: end the job
      fmt::print(stderr, "error (rank {}): {}\n", rank(), error.what());
      mpi_session->abort(1);
    }
#endif
    fmt::print(stderr, "error: {}\n", error.what());
    return 1;
  }
}
