// The MAPPO paper's Tables 3 and 4 and its Figure 2: random search, anneal, TPE, Hyperband, BOHB
// and MAPPO search paper_lenet on MNIST and Fashion-MNIST, 200 episodes each, over several seeds.
//
//   paper_tables                               # both data sets, 6 methods, 3 seeds, 200 episodes of 1 epoch
//   paper_tables --datasets mnist --seeds 1    # what fits in an afternoon on 2 cores
//   paper_tables --resume                      # after a crash or Ctrl-C: every finished trial is kept
//   paper_tables --quick                       # 2,000 training images, 10 episodes, 2 seeds: a minute
//   mpirun -np 9 paper_tables --mpi --resume   # rank 0 coordinates, 8 ranks train (docs/guide.md)
//
// Per method and data set it reports, as the paper does, the test accuracy and Cohen's kappa of the
// config with the best validation accuracy (mean ± sample sd over the seeds) and the search time in
// hours (wall clock of the whole study, training included). Every episode trains the config for
// --epochs epochs. Hyperband and BOHB give their trials between --min-epochs and --epochs; they get
// the same total training budget as the others instead of the same number of trials: they stop
// asking once the epochs they asked for reach episodes x --epochs (200 epochs by default).
//
// Writes to --output (default paper_tables/):
//   table.md                 the tables in the paper's format, beside the paper's numbers
//   summary.csv              dataset, method, seeds, then mean and sd of accuracy, kappa, hours
//   runs.csv                 one row per (dataset, method, seed): the best trial, its test confusion matrix
//   trials/D-M-seedS.csv     every trial of every run (config, budget, times, metrics)
//   journals/D-M-seedS.jsonl the study journals that --resume continues
//   search_time.dat, curves/D/M.dat  what scripts/plot_paper_tables.sh draws with gnuplot
#include <mahpo/mahpo.hpp>
#ifdef MAHPO_WITH_MPI
#include <mahpo/study/mpi.hpp>
#endif

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Topology = mahpo::nn::paper_lenet;
using Space = Topology::space;
using Report = mahpo::study::StudyReport<Space>;

struct Settings {
  std::vector<std::string> datasets{"mnist", "fashion-mnist"};
  std::vector<std::string> methods{"random", "anneal", "tpe", "hyperband", "bohb", "mappo"};
  std::size_t seeds = 3, episodes = 200, workers = 2, train_images = 0, test_images = 0;
  std::uint64_t first_seed = 0;
  double epochs = 1.0, min_epochs = 0.0;  // 0: epochs / 9
  fs::path output = "paper_tables";
  bool quick = false, resume = false, progress = false, mpi = false;
};

#ifdef MAHPO_WITH_MPI
std::optional<mahpo::study::MpiSession> mpi_session;  // started by --mpi
#endif

// This process's rank in an MPI job (0 without --mpi): only rank 0 prints and writes the outputs.
int rank() {
#ifdef MAHPO_WITH_MPI
  if (mpi_session) return mpi_session->rank();
#endif
  return 0;
}

// The paper's names and numbers (Tables 3 and 4: test accuracy, search hours, kappa).
struct PaperRow {
  const char* label;
  double mnist[3];
  double fashion[3];
};
const std::map<std::string, PaperRow> paper{
    {"random", {"RS", {0.9923, 2.32, 0.9914}, {0.9099, 2.31, 0.8999}}},
    {"anneal", {"Anneal", {0.9931, 2.58, 0.9923}, {0.9203, 2.00, 0.9114}}},
    {"tpe", {"TPE", {0.9925, 2.14, 0.9917}, {0.9170, 2.27, 0.9078}}},
    {"hyperband", {"Hyperband", {0.9942, 2.40, 0.9936}, {0.9191, 2.35, 0.9101}}},
    {"bohb", {"BOHB", {0.9928, 2.13, 0.9920}, {0.9178, 2.08, 0.9087}}},
    {"mappo", {"MAPPO", {0.9942, 0.96, 0.9941}, {0.9222, 1.23, 0.9137}}},
    {"mappo_paper", {"MAPPO (paper preset)", {0.9942, 0.96, 0.9941}, {0.9222, 1.23, 0.9137}}},
};

struct Run {
  std::string dataset, method;
  std::uint64_t seed = 0;
  Report report;
};

// How the trials were trained: "2 worker(s)", or "2 worker(s) on each of 8 MPI ranks".
std::string workers_text(const Settings& settings) {
  std::string text = fmt::format("{} worker(s)", settings.workers);
#ifdef MAHPO_WITH_MPI
  if (mpi_session) text += fmt::format(" on each of {} evaluating MPI ranks", mpi_session->size() - 1);
#endif
  return text;
}

// One study, on threads or (--mpi) across the job's ranks; the report on rank 0, nothing elsewhere.
template <typename Searcher>
std::optional<Report> run_one(Searcher& searcher, const mahpo::train::LeNetObjective<Topology>& objective,
                              const Settings& settings, const fs::path& journal, bool multi_fidelity,
                              const nlohmann::json& context) {
  mahpo::study::StudyOptions options{.workers = settings.workers,
                                     .journal = journal,
                                     .resume = settings.resume && fs::exists(journal),
                                     .context = context};
  if (multi_fidelity) {
    options.epochs = static_cast<double>(settings.episodes) * settings.epochs;  // the same training budget
  } else {
    options.trials = settings.episodes;
  }
  if (settings.progress) options.progress = mahpo::study::Progress::always;
#ifdef MAHPO_WITH_MPI
  if (settings.mpi) return mahpo::study::run_study(searcher, objective, options, mahpo::study::Mpi{});
#endif
  return mahpo::study::run_study(searcher, objective, options);
}

// `context`: the data the journal must match on --resume (the searcher and its budget are in its header anyway).
std::optional<Report> search(const std::string& method, std::uint64_t seed,
                             const mahpo::train::LeNetObjective<Topology>& objective, const Settings& settings,
                             const fs::path& journal, const nlohmann::json& context) {
  auto chosen = mahpo::search::make_searcher<Topology>(
      method, {.search = {.seed = seed, .goal = mahpo::Goal::maximize, .budget = {.epochs = settings.epochs}},
               .min_budget = settings.min_epochs,
               .max_budget = settings.epochs});
  const bool multi_fidelity = mahpo::search::is_multi_fidelity(method);
  return std::visit(
      [&](auto& searcher) { return run_one(searcher, objective, settings, journal, multi_fidelity, context); }, chosen);
}

double metric(const mahpo::study::TrialRecord<Space>& trial, const char* key) {
  return trial.result.metrics.contains(key) ? trial.result.metrics.at(key).get<double>() : std::nan("");
}

struct Stats {
  double mean = 0.0, sd = 0.0;
};
Stats stats(const std::vector<double>& values) {
  Stats s;
  if (values.empty()) return {std::nan(""), std::nan("")};
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  if (values.size() > 1) {
    double squares = 0.0;
    for (double v : values) squares += (v - s.mean) * (v - s.mean);
    s.sd = std::sqrt(squares / static_cast<double>(values.size() - 1));
  }
  return s;
}

struct Summary {
  std::string dataset, method;
  std::size_t seeds = 0;
  Stats accuracy, kappa, hours, trials, epochs;
};

std::vector<Summary> summarize(const std::vector<Run>& runs, const Settings& settings) {
  std::vector<Summary> rows;
  for (const auto& dataset : settings.datasets) {
    for (const auto& method : settings.methods) {
      std::vector<double> accuracy, kappa, hours, trials, epochs;
      for (const auto& run : runs) {
        if (run.dataset != dataset || run.method != method) continue;
        const auto* best = run.report.best();
        accuracy.push_back(best ? metric(*best, "test_accuracy") : 0.0);
        kappa.push_back(best ? metric(*best, "test_kappa") : 0.0);
        hours.push_back(run.report.seconds / 3600.0);
        trials.push_back(static_cast<double>(run.report.trials.size()));
        double trained = 0.0;
        for (const auto& trial : run.report.trials) trained += trial.budget.epochs;
        epochs.push_back(trained);
      }
      if (accuracy.empty()) continue;
      rows.push_back({dataset, method, accuracy.size(), stats(accuracy), stats(kappa), stats(hours), stats(trials),
                      stats(epochs)});
    }
  }
  return rows;
}

std::string table(const std::vector<Summary>& rows, const Settings& settings) {
  std::string text;
  for (const auto& dataset : settings.datasets) {
    const bool mnist = dataset == "mnist";
    text += fmt::format("\n### {} (Table {} of the paper)\n\n", mnist ? "MNIST" : "Fashion-MNIST", mnist ? 3 : 4);
    text += "| Model | acc | time(h) | kappa | trials | epochs trained | paper acc | paper time(h) | paper kappa |\n";
    text += "|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& row : rows) {
      if (row.dataset != dataset) continue;
      const auto& reference = paper.at(row.method);
      const double* numbers = mnist ? reference.mnist : reference.fashion;
      // One seed has no spread: print the value alone rather than a misleading "± 0".
      const auto cell = [&](const Stats& s, int digits) {
        return row.seeds > 1 ? fmt::format("{:.{}f} ± {:.{}f}", s.mean, digits, s.sd, digits)
                             : fmt::format("{:.{}f}", s.mean, digits);
      };
      text += fmt::format("| {} | {} | {} | {} | {:.0f} | {:.1f} | {:.4f} | {:.2f} | {:.4f} |\n", reference.label,
                          cell(row.accuracy, 4), cell(row.hours, 3), cell(row.kappa, 4), row.trials.mean,
                          row.epochs.mean, numbers[0], numbers[1], numbers[2]);
    }
  }
  text += fmt::format(
      "\n{} over {} seed(s) (first seed {}); {} episodes of {:g} epoch(s) each, Hyperband and "
      "BOHB {:g} epochs in all (trials of {:.4g} to {:g} epochs); {}.\n",
      settings.seeds > 1 ? "Mean ± sample sd" : "One run", settings.seeds, settings.first_seed, settings.episodes,
      settings.epochs, static_cast<double>(settings.episodes) * settings.epochs, settings.min_epochs, settings.epochs,
      workers_text(settings));
  return text;
}

void write_outputs(const std::vector<Run>& runs, const std::vector<Summary>& rows, const Settings& settings) {
  const auto& out = settings.output;
  std::ofstream summary(out / "summary.csv");
  summary << "dataset,method,seeds,accuracy_mean,accuracy_sd,kappa_mean,kappa_sd,hours_mean,hours_sd,trials_mean,"
             "epochs_mean\n";
  for (const auto& row : rows) {
    summary << fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", row.dataset, row.method, row.seeds, row.accuracy.mean,
                           row.accuracy.sd, row.kappa.mean, row.kappa.sd, row.hours.mean, row.hours.sd, row.trials.mean,
                           row.epochs.mean);
  }

  // One row per run; the confusion matrix (rows by true class) lets a reader recompute kappa.
  std::ofstream runs_csv(out / "runs.csv");
  runs_csv << "dataset,method,seed,trials,ok,search_seconds,best_trial,best_epochs,validation_accuracy,test_accuracy,"
              "test_kappa,test_confusion,config\n";
  for (const auto& run : runs) {
    const auto* best = run.report.best();
    const auto confusion = best && best->result.metrics.contains("test_confusion")
                               ? best->result.metrics.at("test_confusion").dump()
                               : std::string("[]");
    runs_csv << fmt::format("{},{},{},{},{},{:.3f},{},{},{},{},{},{},{}\n", run.dataset, run.method, run.seed,
                            run.report.trials.size(), run.report.count(mahpo::Status::ok), run.report.seconds,
                            best ? std::to_string(best->id) : "", best ? best->budget.epochs : 0.0,
                            best ? best->result.value : 0.0, best ? metric(*best, "test_accuracy") : 0.0,
                            best ? metric(*best, "test_kappa") : 0.0, mahpo::study::csv_cell(confusion),
                            mahpo::study::csv_cell(best ? best->config.to_string() : std::string()));
  }

  // Figure 2: mean search hours per method, a mean and an sd column per data set.
  std::ofstream figure(out / "search_time.dat");
  figure << "method";
  for (const auto& dataset : settings.datasets) figure << ' ' << dataset << " sd";
  figure << '\n';
  for (const auto& method : settings.methods) {
    figure << paper.at(method).label;
    for (const auto& dataset : settings.datasets) {
      const auto row = std::find_if(rows.begin(), rows.end(),
                                    [&](const auto& r) { return r.dataset == dataset && r.method == method; });
      figure << ' ' << (row == rows.end() ? 0.0 : row->hours.mean) << ' ' << (row == rows.end() ? 0.0 : row->hours.sd);
    }
    figure << '\n';
  }

  // Best-so-far validation accuracy against wall-clock hours, a block per seed.
  for (const auto& dataset : settings.datasets) {
    fs::create_directories(out / "curves" / dataset);
    for (const auto& method : settings.methods) {
      std::ofstream curve(out / "curves" / dataset / (method + ".dat"));
      curve << "# hours best_validation_accuracy (" << dataset << ", " << method << "; a block per seed)\n";
      for (const auto& run : runs) {
        if (run.dataset != dataset || run.method != method) continue;
        std::vector<const mahpo::study::TrialRecord<Space>*> done;
        for (const auto& trial : run.report.trials) {
          if (trial.finished && trial.result.status == mahpo::Status::ok) done.push_back(&trial);
        }
        std::sort(done.begin(), done.end(), [](auto* a, auto* b) { return a->ended < b->ended; });
        double best = 0.0;
        for (const auto* trial : done) {
          best = std::max(best, trial->result.value);
          curve << trial->ended / 3600.0 << ' ' << best << '\n';
        }
        curve << "\n\n";
      }
    }
  }
  std::ofstream markdown(out / "table.md");
  markdown << table(rows, settings);
  if (!summary || !runs_csv || !figure || !markdown)
    throw std::runtime_error("paper_tables: writing to " + out.string() + " failed");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "mahpo: the MAPPO paper's Tables 3-4 and Figure 2 (RS, Anneal, TPE, Hyperband, BOHB, MAPPO on paper_lenet)"};
  Settings settings;
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--datasets", settings.datasets, "data sets, in this order")
      ->check(CLI::IsMember({"mnist", "fashion-mnist"}))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->delimiter(',');
  app.add_option("--methods", settings.methods, "searchers, in this order")
      ->check(CLI::IsMember({"random", "anneal", "tpe", "hyperband", "bohb", "mappo", "mappo_paper"}))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->delimiter(',');
  app.add_option("--seeds", settings.seeds, "seeds per method and data set")->check(CLI::PositiveNumber);
  app.add_option("--first-seed", settings.first_seed, "the first seed (the others follow it)");
  app.add_option("--episodes", settings.episodes, "trials per search (Hyperband, BOHB: episodes x --epochs epochs)")
      ->check(CLI::PositiveNumber);
  app.add_option("--epochs", settings.epochs, "epochs per episode (Hyperband, BOHB: the largest budget)")
      ->check(CLI::PositiveNumber);
  app.add_option("--min-epochs", settings.min_epochs, "Hyperband's and BOHB's smallest budget (default: --epochs / 9)")
      ->check(CLI::PositiveNumber);
  app.add_option("--workers", settings.workers, "trials trained at once, one thread each")->check(CLI::PositiveNumber);
  app.add_option("--train-images", settings.train_images, "use only the first N training images (0: all)");
  app.add_option("--test-images", settings.test_images, "use only the first N validation and test images (0: all)");
  app.add_option("--output", settings.output, "folder for the tables, CSVs, journals and plot data");
  app.add_flag("--resume", settings.resume,
               "continue the journals in --output (finished trials are not trained again)");
  app.add_flag("--quick", settings.quick,
               "a smoke run: 2,000 training and 500 test images, 10 episodes of 0.5 epoch, 2 seeds");
  app.add_flag("--progress", settings.progress, "print the progress line even when stderr is not a terminal");
  app.add_flag("--mpi", settings.mpi,
               "run every study across the ranks of an MPI job: rank 0 coordinates and writes the outputs, the "
               "others train with --workers threads each");
  CLI11_PARSE(app, argc, argv);
  if (settings.mpi) {
#ifdef MAHPO_WITH_MPI
    mpi_session.emplace(argc, argv);
#else
    fmt::print(stderr,
               "error: --mpi: this paper_tables was built without MPI (install libopenmpi-dev and "
               "openmpi-bin, then build again)\n");
    return 1;
#endif
  }

  if (settings.quick) {  // flags given explicitly win
    if (app.count("--train-images") == 0) settings.train_images = 2000;
    if (app.count("--test-images") == 0) settings.test_images = 500;
    if (app.count("--episodes") == 0) settings.episodes = 10;
    if (app.count("--epochs") == 0) settings.epochs = 0.5;
    if (app.count("--seeds") == 0) settings.seeds = 2;
  }
  if (settings.min_epochs <= 0.0) settings.min_epochs = settings.epochs / 9.0;
  if (settings.min_epochs > settings.epochs) {
    fmt::print(stderr, "error: --min-epochs {} is larger than --epochs {}\n", settings.min_epochs, settings.epochs);
    return 1;
  }

  try {
    fs::create_directories(settings.output / "trials");
    fs::create_directories(settings.output / "journals");
    std::vector<Run> runs;
    const std::size_t total = settings.datasets.size() * settings.seeds * settings.methods.size();
    for (const auto& name : settings.datasets) {
      auto dataset = mahpo::data::load_dataset(name);
      if (settings.train_images > 0 || settings.test_images > 0) {
        dataset = mahpo::data::take_first(dataset, settings.train_images, settings.test_images, settings.test_images);
      }
      if (rank() == 0) {
        fmt::print("{}: {} training, {} validation, {} test images\n", dataset.name, dataset.train.size(),
                   dataset.validation.size(), dataset.test.size());
      }
      const auto data = std::make_shared<const mahpo::data::Dataset>(std::move(dataset));
      for (std::uint64_t seed = settings.first_seed; seed < settings.first_seed + settings.seeds; ++seed) {
        // The weights' seed follows the study's, so seeds differ in initializations as well as in searches.
        const mahpo::train::LeNetObjective<Topology> objective(data, {.trainer = {.seed = seed}});
        for (const auto& method : settings.methods) {
          const std::string stem = fmt::format("{}-{}-seed{}", name, method, seed);
          const fs::path journal = settings.output / "journals" / (stem + ".jsonl");
          if (rank() == 0 && fs::exists(journal) && !settings.resume) {
            throw std::runtime_error(
                fmt::format("{} exists: give --resume to continue it, or another --output", journal.string()));
          }
          const nlohmann::json context{{"dataset", name},
                                       {"train_images", settings.train_images},
                                       {"test_images", settings.test_images},
                                       {"weights_seed", seed}};
          auto report = search(method, seed, objective, settings, journal, context);
          if (!report) continue;  // an evaluating rank of an MPI job
          Run run{name, method, seed, std::move(*report)};
          run.report.write_csv(settings.output / "trials" / (stem + ".csv"));
          const auto* best = run.report.best();
          fmt::print(
              "[{}/{}] {} {} seed {}: {} trials in {:.1f} s; best validation {:.4f}, test {:.4f}, kappa {:.4f}\n",
              runs.size() + 1, total, name, method, seed, run.report.trials.size(), run.report.seconds,
              best ? best->result.value : 0.0, best ? metric(*best, "test_accuracy") : 0.0,
              best ? metric(*best, "test_kappa") : 0.0);
          std::fflush(stdout);
          runs.push_back(std::move(run));
        }
      }
    }
    if (rank() != 0) return 0;
    const auto rows = summarize(runs, settings);
    write_outputs(runs, rows, settings);
    fmt::print("{}\nwrote {}\n", table(rows, settings), (settings.output / "table.md").string());
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
  return 0;
}
