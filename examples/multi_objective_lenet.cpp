// Several objectives on a real network: paper_lenet on MNIST (or Fashion-MNIST), maximize the
// validation accuracy, minimize the parameters, with the inference time per image bounded. Prints
// the Pareto front with its configs; the journal resumes an interrupted study, and --report draws
// the front (pareto.png) beside the other plots.
//
//   multi_objective_lenet --searcher nsga2 --trials 100 --epochs 1 --journal front.jsonl --report front
//   multi_objective_lenet ... --resume          # continues the journal where it stopped
#include <mahpo/mahpo.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace {

using mahpo::nn::paper_lenet;
using Space = paper_lenet::space;
// The latency bound is a run-time setting (the CPU decides what is fast), so the constraint is the
// metric itself against 0 after subtracting the bound: LatencyObjective reports that difference.
using Goals = mahpo::Objectives<mahpo::Maximize<"validation_accuracy">, mahpo::Minimize<"parameters">,
                                mahpo::Constraint<"latency_over_bound">>;

// LeNetObjective's result with one more metric: the inference seconds per image above the bound.
struct LatencyObjective {
  using LeNet = mahpo::train::LeNetObjective<paper_lenet>;
  // LeNet's metrics and this one: what with_objectives checks Goals against at compile time.
  static constexpr auto metric_names = [] {
    std::array<std::string_view, LeNet::metric_names.size() + 1> all{};
    std::copy(LeNet::metric_names.begin(), LeNet::metric_names.end(), all.begin());
    all.back() = "latency_over_bound";
    return all;
  }();
  LeNet lenet;
  double bound = 0.0;
  mahpo::Result operator()(const paper_lenet::config_type& config, const mahpo::Budget& budget) const {
    mahpo::Result result = lenet(config, budget);
    if (result.metrics.contains("inference_seconds_per_image")) {
      result.metrics["latency_over_bound"] = result.metrics["inference_seconds_per_image"].get<double>() - bound;
    }
    return result;
  }
};

struct Settings {
  std::string searcher = "nsga2", dataset = "mnist", journal, report, csv;
  std::size_t trials = 100, workers = 1, train_images = 0, test_images = 0, population = 20;
  double epochs = 1.0, latency_microseconds = 6.0;
  std::uint64_t seed = 1;
  bool resume = false;
};

template <typename T>
int run(T& searcher, const LatencyObjective& objective, const Settings& settings) {
  mahpo::study::StudyOptions options{.trials = settings.trials,
                                     .workers = settings.workers,
                                     .journal = settings.journal,
                                     .resume = settings.resume,
                                     .progress = mahpo::study::Progress::always};
  options.context = {{"dataset", settings.dataset},
                     {"train_images", settings.train_images},
                     {"test_images", settings.test_images},
                     {"latency_microseconds", settings.latency_microseconds}};
  const auto report = mahpo::study::run_study(searcher, mahpo::with_objectives<Goals>(objective), options);
  fmt::print("{}", report.summary());
  if (!settings.csv.empty()) report.write_csv(settings.csv);
  if (!settings.report.empty()) {
    const auto files = mahpo::report::write_report({mahpo::report::from_report(report, report.searcher)},
                                                   settings.report, {.title = "paper_lenet: accuracy against size"});
    fmt::print("report: {}\n", files.index.string());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"paper_lenet with several objectives: accuracy up, parameters down, latency bounded"};
  Settings settings;
  app.add_option("--searcher", settings.searcher, "nsga2, gp_bo (ParEGO), tpe (multi-objective TPE) or random")
      ->check(CLI::IsMember({"nsga2", "gp_bo", "tpe", "random"}));
  app.add_option("--dataset", settings.dataset, "mnist or fashion-mnist");
  app.add_option("--trials", settings.trials, "trials to run")->check(CLI::PositiveNumber);
  app.add_option("--epochs", settings.epochs, "epochs per trial")->check(CLI::PositiveNumber);
  app.add_option("--latency", settings.latency_microseconds,
                 "the bound on inference microseconds per image (batched, this CPU)")
      ->check(CLI::PositiveNumber);
  app.add_option("--population", settings.population, "NSGA-II's population")->check(CLI::Range(2, 100000));
  app.add_option("--workers", settings.workers, "trials at once")->check(CLI::Range(1, 1024));
  app.add_option("--seed", settings.seed, "the searcher's seed");
  app.add_option("--journal", settings.journal, "append every trial to this JSON-lines file");
  app.add_flag("--resume", settings.resume, "continue the journal");
  app.add_option("--csv", settings.csv, "write every trial to this CSV file");
  app.add_option("--report", settings.report, "write a report (the front's plot and list) into this folder");
  app.add_option("--train-images", settings.train_images, "use only the first N training images (0: all)");
  app.add_option("--test-images", settings.test_images, "use only the first N validation and test images (0: all)");
  CLI11_PARSE(app, argc, argv);
  try {
    auto data = mahpo::data::load_dataset(settings.dataset);
    if (settings.train_images > 0 || settings.test_images > 0)
      data = mahpo::data::take_first(data, settings.train_images, settings.test_images, settings.test_images);
    const auto dataset = std::make_shared<const mahpo::data::Dataset>(std::move(data));
    const LatencyObjective objective{
        mahpo::train::LeNetObjective<paper_lenet>(dataset, {.trainer = {.seed = 1, .evaluate_test = true}}),
        settings.latency_microseconds * 1e-6};
    const mahpo::search::SearchOptions search{
        .seed = settings.seed, .budget = {.epochs = settings.epochs}, .goals = Goals::goals()};
    if (settings.searcher == "tpe") {
      mahpo::search::Tpe<Space> tpe(search);
      return run(tpe, objective, settings);
    }
    if (settings.searcher == "gp_bo") {
      mahpo::search::GpBo<Space> gp_bo(search);
      return run(gp_bo, objective, settings);
    }
    if (settings.searcher == "random") {
      mahpo::search::Random<Space> random(search);
      return run(random, objective, settings);
    }
    mahpo::search::Nsga2<Space> nsga2(search, {.population_size = settings.population});
    return run(nsga2, objective, settings);
  } catch (const std::exception& error) {
    fmt::print(stderr, "multi_objective_lenet: {}\n", error.what());
    return 1;
  }
}
