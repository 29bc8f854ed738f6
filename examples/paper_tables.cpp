// The MAPPO paper's Tables 3 and 4 and its Figure 2: random search, anneal, TPE, Hyperband, BOHB
// and MAPPO (and beyond the paper: MAPPO's paper preset, GP-BO, PPO-LSTM) search paper_lenet on MNIST
// and Fashion-MNIST, 200 episodes each, over several seeds; then each run's chosen config is trained
// properly (--final-epochs) and tested. On request (--methods), two multi-fidelity searchers of
// issue 20 as well: hyperband_gp (Hyperband whose new configs come from a GP) and fabolas (FABOLAS:
// trials on fractions of the training set; it stops on whole-set epochs like Hyperband, and its
// chosen config is its incumbent, the config it predicts best on the whole set).
//
//   paper_tables                               # both data sets, 9 methods, 3 seeds, 200 episodes of 1 epoch
//   paper_tables --datasets mnist --seeds 1    # one data set, one seed
//   paper_tables --equal-seconds 300           # also every study as it stood 300 s in: the table at equal time
//   paper_tables --seconds 600 --output equal  # every search gets the same 600 s of wall clock instead
//   paper_tables --resume                      # after a crash or Ctrl-C: every finished trial is kept
//   paper_tables --resume --time-scale T.csv   # studies run on different machines: clocks in one machine's seconds
//   paper_tables --quick                       # 2,000 training and 500 test images, 10 episodes, 2 seeds
//   mpirun -np 9 paper_tables --mpi --resume   # rank 0 coordinates, 8 ranks train (docs/guide.md)
//
// Per method and data set it reports, as the paper does, the test accuracy and Cohen's kappa of the
// config with the best validation accuracy (mean ± sample sd over the seeds) and the search time in
// hours (wall clock of the whole study, training included); then the same config trained for
// --final-epochs epochs (the same recipe for every method: SGD with momentum 0.9, weight decay
// --final-weight-decay, the learning rate falling from the config's to 0 on a cosine, or Caffe's `inv`
// decay with --final-schedule inv; the config's batch size, the run's weights seed), its test accuracy
// and kappa and its hours; and each method paired with MAPPO on the same seeds. Every episode trains its
// config for --epochs epochs. Hyperband and BOHB give their trials between --min-epochs and
// --epochs; they get the same total training budget as the others instead of the same number of
// trials: they stop asking once the epochs they asked for reach episodes x --epochs (200 epochs by
// default). With --seconds, every search (Hyperband and BOHB too) stops asking after that much wall
// clock instead: the comparison at equal time. --equal-seconds T gets that comparison from the same
// runs: each study as it stood T seconds in, i.e. the trials it had asked by then, and the best of them
// trained as a final. A searcher never sees the study's limit (trials, epochs or seconds), only what it
// was told, so a search given --seconds T would have asked the same trials, timing noise aside.
// Studies resumed or run on different machines keep each machine's clock; --time-scale FILE brings
// them to one machine's seconds before the tables and the cut at --equal-seconds: a CSV with the
// header `study,scale` and a row per study (`mnist-mappo-seed0,1.25`: its clock times 1.25), the row
// `*` for the others and for the final trainings this run trains or reads. The trials/ CSVs keep the
// clock as it was.
//
// Writes to --output (default paper_tables/):
//   table.md                 the tables in the paper's format, beside the paper's numbers, and the pairing with MAPPO
//   summary.csv              dataset, method, seeds, then mean and sd of accuracy, kappa, hours, final accuracy ...
//   runs.csv                 one row per (dataset, method, seed): the best trial and its final training, with
//                            their test confusion matrices
//   trials/D-M-seedS.csv     every trial of every run (config, budget, times, metrics)
//   journals/D-M-seedS.jsonl the study journals that --resume continues
//   finals/D-M-seedS.json    each final training (kept: --resume does not train a final config again)
//   runs-at-Ts.csv, summary-at-Ts.csv, finals/D-M-seedS-at-Ts.json   the same at equal time (--equal-seconds T)
//   search_time.dat, curves/D/M.dat, curves/D/M.band.dat  what scripts/plot_paper_tables.sh draws
#include <mahpo/mahpo.hpp>
#ifdef MAHPO_WITH_MPI
#include <mahpo/study/mpi.hpp>
#endif

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <limits>
#include <mutex>

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
  std::vector<std::string> methods{"random", "anneal",      "tpe",   "hyperband", "bohb",
                                   "mappo",  "mappo_paper", "gp_bo", "ppo_lstm"};
  std::size_t seeds = 3, episodes = 200, workers = 2, train_images = 0, test_images = 0;
  std::uint64_t first_seed = 0;
  double epochs = 1.0, min_epochs = 0.0;  // 0: epochs / 9
  double final_epochs = 20.0;             // the chosen config's final training (0: none)
  std::string final_schedule = "cosine";  // the final training's learning-rate policy: cosine or inv
  double final_weight_decay = 5e-4;
  double seconds = 0.0;        // > 0: every search gets this much wall clock instead of episodes
  double equal_seconds = 0.0;  // > 0: also every study as it stood this many seconds in (the table at equal time)
  fs::path output = "paper_tables";
  fs::path time_scale;  // a CSV "study,scale": each study's clock in one machine's seconds (empty: 1 for all)
  std::map<std::string, double> time_scales;  // read from time_scale
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

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

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
    // Beyond the paper: no numbers to compare with.
    {"gp_bo", {"GP-BO", {nan, nan, nan}, {nan, nan, nan}}},
    {"ppo_lstm", {"PPO-LSTM", {nan, nan, nan}, {nan, nan, nan}}},
    {"hyperband_gp", {"Hyperband + GP sampler", {nan, nan, nan}, {nan, nan, nan}}},
    {"fabolas", {"FABOLAS", {nan, nan, nan}, {nan, nan, nan}}},
};

// The chosen config trained for --final-epochs epochs, and what it scored on the test set.
struct Final {
  double epochs = 0.0, seconds = 0.0, validation_accuracy = nan, test_accuracy = nan, test_kappa = nan;
  nlohmann::json confusion = nlohmann::json::array();
};

struct Run {
  std::string dataset, method;
  std::uint64_t seed = 0;
  Report report;
  std::optional<Final> final;
  bool ended_before_cut = false;  // at_time: the search ended before the cut, so the run is whole
  // FABOLAS: the trial of its incumbent, the config it predicts best on the whole training set (its
  // best observed trial may be on a fraction); the others: none, the best trial is chosen.
  std::optional<std::size_t> incumbent;
};

// --time-scale's file: study stem (or "*") -> the factor that brings its clock to the reference
// machine's seconds. Malformed lines, factors that are not positive and finite, and repeated studies
// are errors that name the line.
std::map<std::string, double> read_time_scales(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(fmt::format("--time-scale: cannot read {}", file.string()));
  std::map<std::string, double> scales;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#' || (number == 1 && line == "study,scale")) continue;
    const auto comma = line.find(',');
    double scale = nan;
    std::size_t used = 0;
    try {
      if (comma != std::string::npos) scale = std::stod(line.substr(comma + 1), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (comma == 0 || comma == std::string::npos || used == 0 || used != line.size() - comma - 1 ||
        !std::isfinite(scale) || scale <= 0.0) {
      throw std::runtime_error(
          fmt::format("--time-scale: {} line {}: expected `study,scale` with a positive factor, "
                      "got \"{}\"",
                      file.string(), number, line));
    }
    if (!scales.emplace(line.substr(0, comma), scale).second) {
      throw std::runtime_error(
          fmt::format("--time-scale: {} line {}: {} is listed twice", file.string(), number, line.substr(0, comma)));
    }
  }
  return scales;
}

double time_scale(const std::map<std::string, double>& scales, const std::string& stem) {
  if (const auto found = scales.find(stem); found != scales.end()) return found->second;
  const auto others = scales.find("*");
  return others != scales.end() ? others->second : 1.0;
}

// The report's clock (its seconds, each trial's start and end) times `scale`.
void scale_clock(Report& report, double scale) {
  report.seconds *= scale;
  for (auto& trial : report.trials) {
    trial.started *= scale;
    trial.ended *= scale;
  }
}

// The run's chosen trial: the searcher's incumbent where it names one, else the best trial.
const mahpo::study::TrialRecord<Space>* chosen(const Run& run) {
  if (run.incumbent) {
    for (const auto& trial : run.report.trials) {
      if (trial.id == *run.incumbent) return &trial;
    }
  }
  return run.report.best();
}

// FABOLAS's incumbent as a trial of `report`: of the trials that trained it, the one on the largest
// fraction (the latest of those); none when the searcher has no incumbent or names none.
template <typename Searcher>
std::optional<std::size_t> incumbent_trial(const Searcher& searcher, const Report& report) {
  if constexpr (requires { searcher.incumbent(); }) {
    const auto config = searcher.incumbent();
    if (!config) return std::nullopt;
    const mahpo::study::TrialRecord<Space>* found = nullptr;
    for (const auto& trial : report.trials) {
      if (!trial.finished || trial.result.status != mahpo::Status::ok || trial.config.to_json() != config->to_json()) {
        continue;
      }
      if (!found || trial.budget.fraction >= found->budget.fraction) found = &trial;
    }
    if (found) return found->id;
  }
  return std::nullopt;
}

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
  if (settings.seconds > 0.0) {
    options.seconds = settings.seconds;  // equal time: every method, however it spends it
  } else if (multi_fidelity) {
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
// The report (none on an evaluating MPI rank) and FABOLAS's incumbent trial.
std::optional<std::pair<Report, std::optional<std::size_t>>> search(
    const std::string& method, std::uint64_t seed, const mahpo::train::LeNetObjective<Topology>& objective,
    const Settings& settings, const fs::path& journal, const nlohmann::json& context) {
  // The paper's Hyperband and BOHB (HpBandSter's) train every promoted config from scratch: so do
  // these (and so the journals of earlier runs still resume).
  auto any_searcher = mahpo::search::make_searcher<Topology>(
      method, {.search = {.seed = seed, .goal = mahpo::Goal::maximize, .budget = {.epochs = settings.epochs}},
               .min_budget = settings.min_epochs,
               .max_budget = settings.epochs,
               .resume = false});
  // FABOLAS chooses each trial's fraction of the training set: like Hyperband's and BOHB's, its
  // search stops on the whole-set epochs it asked for (epochs x fraction).
  const bool multi_fidelity = mahpo::search::is_multi_fidelity(method) || method == "fabolas";
  return std::visit(
      [&](auto& searcher) -> std::optional<std::pair<Report, std::optional<std::size_t>>> {
        auto report = run_one(searcher, objective, settings, journal, multi_fidelity, context);
        if (!report) return std::nullopt;
        const auto incumbent = incumbent_trial(searcher, *report);
        return std::pair{std::move(*report), incumbent};
      },
      any_searcher);
}

double metric(const mahpo::Result& result, const char* key) {
  const auto found = result.metrics.find(key);
  return found != result.metrics.end() && found->is_number() ? found->get<double>() : nan;
}
double metric(const mahpo::study::TrialRecord<Space>& trial, const char* key) { return metric(trial.result, key); }

nlohmann::json to_json(const Final& final) {
  return {{"epochs", final.epochs},
          {"seconds", final.seconds},
          {"validation_accuracy", mahpo::study::number_or_null(final.validation_accuracy)},
          {"test_accuracy", mahpo::study::number_or_null(final.test_accuracy)},
          {"test_kappa", mahpo::study::number_or_null(final.test_kappa)},
          {"test_confusion", final.confusion}};
}

// How every final training trains (beside the config's batch size and learning rate), as the
// finals/ files record it.
nlohmann::json final_recipe(const Settings& settings) {
  return {{"epochs", settings.final_epochs},
          {"optimizer", "sgd"},
          {"momentum", mahpo::train::Sgd{}.momentum},
          {"weight_decay", settings.final_weight_decay},
          {"schedule", settings.final_schedule}};
}

mahpo::train::TrainerOptions final_trainer(const Settings& settings, std::uint64_t seed) {
  mahpo::train::TrainerOptions options{.seed = seed};
  options.optimizer = mahpo::train::Sgd{.weight_decay = settings.final_weight_decay};
  if (settings.final_schedule == "cosine") options.policy = mahpo::train::CosineDecay{};  // to 0 at the last iteration
  return options;
}

// A final training kept from an earlier run: used when it trained the same config with the same recipe.
std::optional<Final> saved_final(const fs::path& file, const nlohmann::json& config, const Settings& settings) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  const auto saved = nlohmann::json::parse(in, nullptr, false);
  if (saved.is_discarded() || !saved.is_object() || saved.value("config", nlohmann::json()) != config ||
      saved.value("recipe", nlohmann::json()) != final_recipe(settings) || !saved.contains("final")) {
    return std::nullopt;
  }
  const auto& json = saved["final"];
  const auto number = [&](const char* key) {
    return json.contains(key) && json[key].is_number() ? json[key].get<double>() : nan;
  };
  return Final{.epochs = settings.final_epochs,
               .seconds = number("seconds"),
               .validation_accuracy = number("validation_accuracy"),
               .test_accuracy = number("test_accuracy"),
               .test_kappa = number("test_kappa"),
               .confusion = json.value("test_confusion", nlohmann::json::array())};
}

// The run's best config trained for --final-epochs epochs with the final objective (the run's data
// and weights seed, the final recipe), or the training an earlier paper_tables kept in `file` (or in
// `shared`: the full run's, when the run at equal time chose the same config); written to `file` when new.
Final final_training(const Run& run, const mahpo::train::LeNetObjective<Topology>& objective, const Settings& settings,
                     const fs::path& file, const std::optional<fs::path>& shared) {
  const auto& best = *chosen(run);
  const nlohmann::json config = best.config.to_json();
  if (auto kept = saved_final(file, config, settings)) return *kept;
  if (shared) {
    if (auto kept = saved_final(*shared, config, settings)) {
      fs::copy_file(*shared, file, fs::copy_options::overwrite_existing);
      return *kept;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  const mahpo::Result result = objective(best.config, {.epochs = settings.final_epochs});
  Final final{.epochs = settings.final_epochs,
              .seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
              .validation_accuracy = metric(result, "validation_accuracy"),
              .test_accuracy = metric(result, "test_accuracy"),
              .test_kappa = metric(result, "test_kappa"),
              .confusion = result.metrics.value("test_confusion", nlohmann::json::array())};
  if (result.status != mahpo::Status::ok) final.test_accuracy = final.test_kappa = final.validation_accuracy = nan;
  const fs::path partial = fs::path(file).concat(".partial");
  {
    std::ofstream out(partial);
    out << nlohmann::json{{"dataset", run.dataset},
                          {"method", run.method},
                          {"seed", run.seed},
                          {"best_trial", best.id},
                          {"config", config},
                          {"recipe", final_recipe(settings)},
                          {"status", mahpo::to_string(result.status)},
                          {"message", result.message},
                          {"final", to_json(final)}}
               .dump()
        << "\n";
    if (!out) throw std::runtime_error("paper_tables: cannot write " + partial.string());
  }
  fs::rename(partial, file);  // a crash leaves the old file or none, never half a file
  return final;
}

// The final trainings of `pending`, `settings.workers` at a time (one thread each, like the trials);
// `suffix` names the runs at equal time ("-at-300s"), whose finals the full runs' may serve.
void train_finals(const std::vector<Run*>& pending, const mahpo::train::LeNetObjective<Topology>& objective,
                  const Settings& settings, const std::string& suffix = "") {
  std::atomic<std::size_t> next{0};
  std::mutex print;
  const auto work = [&] {
    for (std::size_t k; (k = next++) < pending.size();) {
      Run& run = *pending[k];
      const auto file = [&](const std::string& tail) {
        return settings.output / "finals" / fmt::format("{}-{}-seed{}{}.json", run.dataset, run.method, run.seed, tail);
      };
      run.final = final_training(run, objective, settings, file(suffix),
                                 suffix.empty() ? std::nullopt : std::optional<fs::path>(file("")));
      const double seconds = run.final->seconds;
      run.final->seconds *= time_scale(settings.time_scales, "*");  // the tables' clock (--time-scale)
      std::lock_guard guard(print);
      fmt::print("  final {} {} seed {}{}: {:g} epochs in {:.1f} s; validation {:.4f}, test {:.4f}, kappa {:.4f}\n",
                 run.dataset, run.method, run.seed, suffix, run.final->epochs, seconds, run.final->validation_accuracy,
                 run.final->test_accuracy, run.final->test_kappa);
      std::fflush(stdout);
    }
  };
  std::vector<std::future<void>> helpers;
  for (std::size_t w = 1; w < std::min(settings.workers, pending.size()); ++w) {
    helpers.push_back(std::async(std::launch::async, work));
  }
  work();
  for (auto& helper : helpers) helper.get();
}

// The run as it stood `seconds` into its search: the trials it had asked by then (those still
// training at that time count when they end, as under --seconds) and the time they took to end; a run
// that ended sooner, whole. A cut FABOLAS run is judged by its best trial: its incumbent then would
// need its model as it stood.
Run at_time(const Run& run, double seconds) {
  Run cut{run.dataset, run.method, run.seed, run.report, std::nullopt, run.report.seconds <= seconds};
  if (cut.ended_before_cut) {
    cut.incumbent = run.incumbent;
    return cut;
  }
  cut.report.trials.clear();
  cut.report.seconds = seconds;
  for (const auto& trial : run.report.trials) {
    if (trial.started >= seconds) continue;
    cut.report.trials.push_back(trial);
    cut.report.seconds = std::max(cut.report.seconds, trial.ended);
  }
  return cut;
}

std::string seconds_suffix(double seconds) { return fmt::format("-at-{:g}s", seconds); }

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
  std::size_t seeds = 0, finals = 0;
  Stats accuracy, kappa, hours, trials, epochs;
  Stats final_accuracy, final_kappa, final_hours, total_hours;  // over the runs with a final training
};

std::vector<Summary> summarize(const std::vector<Run>& runs, const Settings& settings) {
  std::vector<Summary> rows;
  for (const auto& dataset : settings.datasets) {
    for (const auto& method : settings.methods) {
      std::vector<double> accuracy, kappa, hours, trials, epochs, final_accuracy, final_kappa, final_hours, total_hours;
      for (const auto& run : runs) {
        if (run.dataset != dataset || run.method != method) continue;
        if (run.final) {
          final_accuracy.push_back(run.final->test_accuracy);
          final_kappa.push_back(run.final->test_kappa);
          final_hours.push_back(run.final->seconds / 3600.0);
          total_hours.push_back((run.report.seconds + run.final->seconds) / 3600.0);
        }
        const auto* best = chosen(run);
        accuracy.push_back(best ? metric(*best, "test_accuracy") : 0.0);
        kappa.push_back(best ? metric(*best, "test_kappa") : 0.0);
        hours.push_back(run.report.seconds / 3600.0);
        trials.push_back(static_cast<double>(run.report.trials.size()));
        double trained = 0.0;
        for (const auto& trial : run.report.trials) trained += mahpo::whole_set_epochs(trial.budget);
        epochs.push_back(trained);
      }
      if (accuracy.empty()) continue;
      rows.push_back({dataset, method, accuracy.size(), final_accuracy.size(), stats(accuracy), stats(kappa),
                      stats(hours), stats(trials), stats(epochs), stats(final_accuracy), stats(final_kappa),
                      stats(final_hours), stats(total_hours)});
    }
  }
  return rows;
}

// Each method against MAPPO on the same seeds: the difference of the final test accuracy (of the
// search's, without final trainings), its mean and sd over seeds, and in how many seeds MAPPO is ahead.
std::string paired_with_mappo(const std::vector<Run>& runs, const std::string& dataset, const Settings& settings) {
  const auto score = [](const Run& run) {
    if (run.final) return run.final->test_accuracy;
    const auto* best = chosen(run);
    return best ? metric(*best, "test_accuracy") : nan;
  };
  std::map<std::uint64_t, double> mappo;
  for (const auto& run : runs) {
    if (run.dataset == dataset && run.method == "mappo") mappo[run.seed] = score(run);
  }
  if (mappo.empty()) return "";
  std::string text = fmt::format(
      "\nPaired with MAPPO (same seeds), {} test accuracy: method minus MAPPO, in points (x 100)\n\n"
      "| Model | seeds | mean difference | sd | MAPPO ahead in |\n|---|---|---|---|---|\n",
      settings.final_epochs > 0.0 ? "final" : "search's");
  for (const auto& method : settings.methods) {
    if (method == "mappo") continue;
    std::vector<double> differences;
    std::size_t ahead = 0;
    for (const auto& run : runs) {
      if (run.dataset != dataset || run.method != method || !mappo.contains(run.seed)) continue;
      const double difference = 100.0 * (score(run) - mappo.at(run.seed));
      if (!std::isfinite(difference)) continue;
      differences.push_back(difference);
      ahead += difference < 0.0 ? 1 : 0;
    }
    if (differences.empty()) continue;
    const Stats d = stats(differences);
    text +=
        fmt::format("| {} | {} | {:+.2f} | {} | {} of {} |\n", paper.at(method).label, differences.size(), d.mean,
                    differences.size() > 1 ? fmt::format("{:.2f}", d.sd) : std::string("—"), ahead, differences.size());
  }
  return text;
}

// The tables of `rows`; `at_seconds` > 0: of the runs cut at that time (at_time), headed as such.
std::string table(const std::vector<Summary>& rows, const std::vector<Run>& runs, const Settings& settings,
                  double at_seconds = 0.0) {
  std::string text;
  for (const auto& dataset : settings.datasets) {
    const bool mnist = dataset == "mnist";
    text += at_seconds > 0.0
                ? fmt::format("\n### {} at equal time: every study as it stood {:g} s in\n\n",
                              mnist ? "MNIST" : "Fashion-MNIST", at_seconds)
                : fmt::format("\n### {} (Table {} of the paper)\n\n", mnist ? "MNIST" : "Fashion-MNIST", mnist ? 3 : 4);
    text +=
        "| Model | search acc | search kappa | final acc | final kappa | search h | final h | trials | epochs "
        "trained | paper acc | paper time(h) | paper kappa |\n";
    text += "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& row : rows) {
      if (row.dataset != dataset) continue;
      const auto& reference = paper.at(row.method);
      const double* numbers = mnist ? reference.mnist : reference.fashion;
      // One seed has no spread: print the value alone rather than a misleading "± 0".
      const auto cell = [](const Stats& s, std::size_t count, int digits) {
        if (count == 0 || !std::isfinite(s.mean)) return std::string("—");
        return count > 1 ? fmt::format("{:.{}f} ± {:.{}f}", s.mean, digits, s.sd, digits)
                         : fmt::format("{:.{}f}", s.mean, digits);
      };
      const auto paper_cell = [](double value, int digits) {
        return std::isfinite(value) ? fmt::format("{:.{}f}", value, digits) : std::string("—");
      };
      text +=
          fmt::format("| {} | {} | {} | {} | {} | {} | {} | {:.0f} | {:.1f} | {} | {} | {} |\n", reference.label,
                      cell(row.accuracy, row.seeds, 4), cell(row.kappa, row.seeds, 4),
                      cell(row.final_accuracy, row.finals, 4), cell(row.final_kappa, row.finals, 4),
                      cell(row.hours, row.seeds, 3), cell(row.final_hours, row.finals, 3), row.trials.mean,
                      row.epochs.mean, paper_cell(numbers[0], 4), paper_cell(numbers[1], 2), paper_cell(numbers[2], 4));
    }
    text += paired_with_mappo(runs, dataset, settings);
  }
  std::string budget =
      settings.seconds > 0.0
          ? fmt::format("every search stopped asking after {:g} s of wall clock (equal time)", settings.seconds)
          : fmt::format(
                "{} episodes of {:g} epoch(s) each, Hyperband and BOHB {:g} epochs in all (trials of {:.4g} "
                "to {:g} epochs){}",
                settings.episodes, settings.epochs, static_cast<double>(settings.episodes) * settings.epochs,
                settings.min_epochs, settings.epochs,
                std::ranges::find(settings.methods, "fabolas") != settings.methods.end()
                    ? fmt::format(", FABOLAS as many whole-set epochs (trials of {:g} epoch(s) on a fraction of the "
                                  "training set, counted as epochs x fraction)",
                                  settings.epochs)
                    : std::string());
  if (at_seconds > 0.0) {
    std::vector<std::string> whole;
    for (const auto& run : runs) {
      if (run.ended_before_cut) {
        whole.push_back(fmt::format("{} {} seed {}", run.dataset, run.method, run.seed));
      }
    }
    budget += fmt::format(
        "; then each study cut at {:g} s: the trials it had asked by then, the search time until they ended{}",
        at_seconds,
        whole.empty() ? std::string() : fmt::format(" (ended sooner, so whole: {})", fmt::join(whole, ", ")));
  }
  const std::string finals =
      settings.final_epochs > 0.0
          ? fmt::format(
                "the chosen config then trained for {:g} epochs (final: SGD, momentum 0.9, weight decay {:g}, "
                "{} learning rate)",
                settings.final_epochs, settings.final_weight_decay,
                settings.final_schedule == "cosine" ? "cosine" : "Caffe's inv")
          : std::string("no final training");
  const std::string clock =
      settings.time_scale.empty()
          ? std::string()
          : fmt::format(" Times (hours, the cut) are in one machine's seconds: each study's clock scaled by {}.",
                        settings.time_scale.filename().string());
  text += fmt::format("\n{} over {} seed(s) (first seed {}); {}; {}; {}.{}\n",
                      settings.seeds > 1 ? "Mean ± sample sd" : "One run", settings.seeds, settings.first_seed, budget,
                      finals, workers_text(settings), clock);
  return text;
}

// The mean and sd over seeds of step curves (time, best so far), on 200 times from the first end to
// the last: at each time, every seed that has a value by then contributes its last one.
void write_band(std::ostream& band, const std::vector<std::vector<std::pair<double, double>>>& seeds) {
  double first = std::numeric_limits<double>::infinity(), last = 0.0;
  for (const auto& points : seeds) {
    if (points.empty()) continue;
    first = std::min(first, points.front().first);
    last = std::max(last, points.back().first);
  }
  if (!(last >= first)) return;
  constexpr int steps = 200;
  for (int k = 0; k <= steps; ++k) {
    // The last point exactly at `last`: first + (last - first) can miss it by a rounding, and a seed
    // whose final trial ends there would then count with its previous best.
    const double time = k == steps ? last : first + (last - first) * k / steps;
    std::vector<double> values;
    for (const auto& points : seeds) {
      const auto after = std::upper_bound(points.begin(), points.end(), time,
                                          [](double t, const auto& point) { return t < point.first; });
      if (after != points.begin()) values.push_back(std::prev(after)->second);
    }
    if (values.empty()) continue;
    const Stats s = stats(values);
    band << time << ' ' << s.mean << ' ' << s.sd << ' ' << values.size() << '\n';
  }
}

void write_summary_csv(const std::vector<Summary>& rows, const fs::path& file) {
  std::ofstream summary(file);
  summary << "dataset,method,seeds,accuracy_mean,accuracy_sd,kappa_mean,kappa_sd,hours_mean,hours_sd,trials_mean,"
             "epochs_mean,finals,final_accuracy_mean,final_accuracy_sd,final_kappa_mean,final_kappa_sd,"
             "final_hours_mean,final_hours_sd,total_hours_mean,total_hours_sd\n";
  for (const auto& row : rows) {
    summary << fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", row.dataset, row.method,
                           row.seeds, row.accuracy.mean, row.accuracy.sd, row.kappa.mean, row.kappa.sd, row.hours.mean,
                           row.hours.sd, row.trials.mean, row.epochs.mean, row.finals, row.final_accuracy.mean,
                           row.final_accuracy.sd, row.final_kappa.mean, row.final_kappa.sd, row.final_hours.mean,
                           row.final_hours.sd, row.total_hours.mean, row.total_hours.sd);
  }
  if (!summary) throw std::runtime_error("paper_tables: writing " + file.string() + " failed");
}

// One row per run; the confusion matrix (rows by true class) lets a reader recompute kappa.
void write_runs_csv(const std::vector<Run>& runs, const fs::path& file) {
  std::ofstream runs_csv(file);
  runs_csv << "dataset,method,seed,trials,ok,search_seconds,best_trial,best_epochs,validation_accuracy,test_accuracy,"
              "test_kappa,test_confusion,config,final_epochs,final_seconds,final_validation_accuracy,"
              "final_test_accuracy,final_test_kappa,final_test_confusion\n";
  for (const auto& run : runs) {
    const auto* best = chosen(run);
    const auto confusion = best && best->result.metrics.contains("test_confusion")
                               ? best->result.metrics.at("test_confusion").dump()
                               : std::string("[]");
    const auto& final = run.final;
    const auto final_cell = [&](double value) { return final ? fmt::format("{}", value) : std::string(); };
    runs_csv << fmt::format("{},{},{},{},{},{:.3f},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", run.dataset, run.method,
                            run.seed, run.report.trials.size(), run.report.count(mahpo::Status::ok), run.report.seconds,
                            best ? std::to_string(best->id) : "", best ? best->budget.epochs : 0.0,
                            best ? best->result.value : 0.0, best ? metric(*best, "test_accuracy") : 0.0,
                            best ? metric(*best, "test_kappa") : 0.0, mahpo::study::csv_cell(confusion),
                            mahpo::study::csv_cell(best ? best->config.to_string() : std::string()),
                            final_cell(final ? final->epochs : 0.0), final_cell(final ? final->seconds : 0.0),
                            final_cell(final ? final->validation_accuracy : 0.0),
                            final_cell(final ? final->test_accuracy : 0.0), final_cell(final ? final->test_kappa : 0.0),
                            mahpo::study::csv_cell(final ? final->confusion.dump() : std::string()));
  }
  if (!runs_csv) throw std::runtime_error("paper_tables: writing " + file.string() + " failed");
}

// `equal`: the runs cut at --equal-seconds (empty without it), with their summary rows.
void write_outputs(const std::vector<Run>& runs, const std::vector<Summary>& rows, const std::vector<Run>& equal,
                   const std::vector<Summary>& equal_rows, const Settings& settings) {
  const auto& out = settings.output;
  write_summary_csv(rows, out / "summary.csv");
  write_runs_csv(runs, out / "runs.csv");
  if (settings.equal_seconds > 0.0) {
    const std::string suffix = seconds_suffix(settings.equal_seconds);
    write_summary_csv(equal_rows, out / ("summary" + suffix + ".csv"));
    write_runs_csv(equal, out / ("runs" + suffix + ".csv"));
  }

  // Figure 2: mean search hours per method, a mean and an sd column per data set; the label quoted,
  // as gnuplot splits columns at blanks ("MAPPO (paper preset)").
  std::ofstream figure(out / "search_time.dat");
  figure << "method";
  for (const auto& dataset : settings.datasets) figure << ' ' << dataset << " sd";
  figure << '\n';
  for (const auto& method : settings.methods) {
    figure << '"' << paper.at(method).label << '"';
    for (const auto& dataset : settings.datasets) {
      const auto row = std::find_if(rows.begin(), rows.end(),
                                    [&](const auto& r) { return r.dataset == dataset && r.method == method; });
      figure << ' ' << (row == rows.end() ? 0.0 : row->hours.mean) << ' ' << (row == rows.end() ? 0.0 : row->hours.sd);
    }
    figure << '\n';
  }

  // Best-so-far validation accuracy against wall-clock hours: a block per seed (M.dat), and its mean
  // and sd over the seeds on a grid of times (M.band.dat).
  for (const auto& dataset : settings.datasets) {
    fs::create_directories(out / "curves" / dataset);
    for (const auto& method : settings.methods) {
      std::ofstream curve(out / "curves" / dataset / (method + ".dat"));
      curve << "# hours best_validation_accuracy (" << dataset << ", " << method << "; a block per seed)\n";
      std::vector<std::vector<std::pair<double, double>>> seeds;
      for (const auto& run : runs) {
        if (run.dataset != dataset || run.method != method) continue;
        std::vector<const mahpo::study::TrialRecord<Space>*> done;
        for (const auto& trial : run.report.trials) {
          if (trial.finished && trial.result.status == mahpo::Status::ok) done.push_back(&trial);
        }
        std::sort(done.begin(), done.end(), [](auto* a, auto* b) { return a->ended < b->ended; });
        double best = 0.0;
        auto& points = seeds.emplace_back();
        for (const auto* trial : done) {
          best = std::max(best, trial->result.value);
          curve << trial->ended / 3600.0 << ' ' << best << '\n';
          points.emplace_back(trial->ended / 3600.0, best);
        }
        curve << "\n\n";
      }
      std::ofstream band(out / "curves" / dataset / (method + ".band.dat"));
      band << "# hours mean_best_validation_accuracy sd seeds (" << dataset << ", " << method
           << "; the seeds whose first trial has ended by then)\n";
      write_band(band, seeds);
      if (!curve || !band) throw std::runtime_error("paper_tables: writing the curves failed");
    }
  }
  std::ofstream markdown(out / "table.md");
  markdown << table(rows, runs, settings);
  if (settings.equal_seconds > 0.0) markdown << table(equal_rows, equal, settings, settings.equal_seconds);
  if (!figure || !markdown) throw std::runtime_error("paper_tables: writing to " + out.string() + " failed");
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
      ->check(CLI::IsMember({"random", "anneal", "tpe", "hyperband", "bohb", "mappo", "mappo_paper", "gp_bo",
                             "ppo_lstm", "hyperband_gp", "fabolas"}))
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
  app.add_option("--final-epochs", settings.final_epochs,
                 "train each run's chosen config for this many epochs and test it (0: no final training)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--final-schedule", settings.final_schedule,
                 "the final trainings' learning rate: cosine (from the config's to 0) or inv (Caffe's, as in the "
                 "search)")
      ->check(CLI::IsMember({"cosine", "inv"}));
  app.add_option("--final-weight-decay", settings.final_weight_decay, "the final trainings' weight decay (L2)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--equal-seconds", settings.equal_seconds,
                 "also report every study as it stood this many seconds in, with its best config then trained "
                 "as a final (the table at equal time; 0: none)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seconds", settings.seconds,
                 "give every search this much wall clock instead of --episodes (the comparison at equal time)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--time-scale", settings.time_scale,
                 "a CSV `study,scale` that brings each study's clock (and with `*`, the others' and the finals') to "
                 "one machine's seconds")
      ->check(CLI::ExistingFile);
  app.add_option("--workers", settings.workers, "trials trained at once, one thread each")->check(CLI::PositiveNumber);
  app.add_option("--train-images", settings.train_images, "use only the first N training images (0: all)");
  app.add_option("--test-images", settings.test_images, "use only the first N validation and test images (0: all)");
  app.add_option("--output", settings.output, "folder for the tables, CSVs, journals and plot data");
  app.add_flag("--resume", settings.resume,
               "continue the journals in --output (finished trials are not trained again)");
  app.add_flag("--quick", settings.quick,
               "a smoke run: 2,000 training and 500 test images, 10 episodes of 0.5 epoch, 2 seeds, final "
               "trainings of 1 epoch");
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
    if (app.count("--final-epochs") == 0) settings.final_epochs = 1.0;
  }
  if (settings.min_epochs <= 0.0) settings.min_epochs = settings.epochs / 9.0;
  if (!settings.time_scale.empty() && settings.seconds > 0.0) {
    fmt::print(stderr,
               "error: --time-scale rescales finished studies' clocks; --seconds stops searches on this "
               "machine's clock: give one of them\n");
    return 1;
  }
  if (settings.min_epochs > settings.epochs) {
    fmt::print(stderr, "error: --min-epochs {} is larger than --epochs {}\n", settings.min_epochs, settings.epochs);
    return 1;
  }

  try {
    if (!settings.time_scale.empty()) settings.time_scales = read_time_scales(settings.time_scale);
    fs::create_directories(settings.output / "trials");
    fs::create_directories(settings.output / "journals");
    fs::create_directories(settings.output / "finals");
    std::vector<Run> runs;
    std::deque<Run> equal;  // the runs at equal time: a deque, so that the pointers to them stay valid
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
        const mahpo::train::LeNetObjective<Topology> final_objective(data, {.trainer = final_trainer(settings, seed)});
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
          auto searched = search(method, seed, objective, settings, journal, context);
          if (!searched) continue;  // an evaluating rank of an MPI job
          Run run{name, method, seed, std::move(searched->first)};
          run.incumbent = searched->second;
          run.report.write_csv(settings.output / "trials" / (stem + ".csv"));  // the clock as it ran
          const double seconds = run.report.seconds, scale = time_scale(settings.time_scales, stem);
          scale_clock(run.report, scale);
          const auto* best = chosen(run);
          fmt::print(
              "[{}/{}] {} {} seed {}: {} trials in {:.1f} s{}; best validation {:.4f}, test {:.4f}, kappa {:.4f}\n",
              runs.size() + 1, total, name, method, seed, run.report.trials.size(), seconds,
              scale != 1.0 ? fmt::format(" (x {:g}: {:.1f} s)", scale, run.report.seconds) : std::string(),
              best ? best->result.value : 0.0, best ? metric(*best, "test_accuracy") : 0.0,
              best ? metric(*best, "test_kappa") : 0.0);
          std::fflush(stdout);
          runs.push_back(std::move(run));
        }
        // This seed's chosen configs, trained properly: on the coordinating rank under --mpi.
        if (settings.final_epochs > 0.0 && rank() == 0) {
          std::vector<Run*> pending;
          for (auto& run : runs) {
            if (run.dataset == name && run.seed == seed && chosen(run) && !run.final) pending.push_back(&run);
          }
          train_finals(pending, final_objective, settings);
        }
        // The same runs at equal time, and their finals (the full run's when it chose the same config).
        if (settings.equal_seconds > 0.0 && rank() == 0) {
          std::vector<Run*> pending;
          for (const auto& run : runs) {
            if (run.dataset != name || run.seed != seed) continue;
            equal.push_back(at_time(run, settings.equal_seconds));
            if (settings.final_epochs > 0.0 && chosen(equal.back())) pending.push_back(&equal.back());
          }
          train_finals(pending, final_objective, settings, seconds_suffix(settings.equal_seconds));
        }
      }
    }
    if (rank() != 0) return 0;
    const auto rows = summarize(runs, settings);
    const std::vector<Run> equal_runs(equal.begin(), equal.end());
    const auto equal_rows = summarize(equal_runs, settings);
    write_outputs(runs, rows, equal_runs, equal_rows, settings);
    fmt::print("{}{}\nwrote {}\n", table(rows, runs, settings),
               settings.equal_seconds > 0.0 ? table(equal_rows, equal_runs, settings, settings.equal_seconds) : "",
               (settings.output / "table.md").string());
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
