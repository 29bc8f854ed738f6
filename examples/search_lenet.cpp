// Runs any of mahpo's searchers by name on paper_lenet (the MAPPO paper's LeNet space) trained on
// MNIST or Fashion-MNIST, or on a synthetic problem, with a journal that a later run can resume.
//
//   search_lenet --searcher tpe --dataset mnist --epochs 1 --trials 50 --workers 2 --journal tpe.jsonl
//   search_lenet --searcher tpe --dataset mnist --epochs 1 --trials 50 --workers 2 --journal tpe.jsonl
//                --resume                                              # after a crash or Ctrl-C
//
// Multi-fidelity searchers (successive_halving, hyperband, bohb) give each trial between
// --min-epochs and --epochs; the others give every trial --epochs.
#include <mahpo/mahpo.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <exception>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <string>

namespace {

struct Settings {
  std::string searcher = "random", dataset = "mnist", problem = "lenet", journal, csv;
  double epochs = 1.0, min_epochs = 1.0 / 9.0, seconds = 0.0;
  std::size_t trials = 20, workers = 1, train_images = 0, test_images = 0;
  std::uint64_t seed = 0;
  bool resume = false, progress = false;
};

template <typename S>
auto make_searcher(const Settings& settings, mahpo::Goal goal, auto&& run) {
  namespace search = mahpo::search;
  const search::SearchOptions common{.seed = settings.seed, .goal = goal, .budget = {.epochs = settings.epochs}};
  const auto& name = settings.searcher;
  if (name == "random") return run(search::Random<S>(common));
  if (name == "grid") return run(search::Grid<S>(common));
  if (name == "anneal") return run(search::Anneal<S>(common));
  if (name == "tpe") return run(search::Tpe<S>(common));
  if (name == "gp_bo") return run(search::GpBo<S>(common));
  if (name == "ppo_lstm") return run(search::PpoLstm<S>(common));
  // MAPPO's agents come from the space's groups: a layer each on paper_lenet, a parameter each on Branin.
  if (name == "mappo") return run(search::Mappo<S>(common));
  if (name == "mappo_paper") return run(search::Mappo<S>(common, search::MappoOptions::paper()));
  if (name == "regularized_evolution") {
    return run(search::RegularizedEvolution<S>(common, search::EvolutionOptions::for_budget(settings.trials)));
  }
  const auto fidelity = [&](auto options) {
    options.min_budget = settings.min_epochs;
    options.max_budget = settings.epochs;
    return options;
  };
  if (name == "successive_halving") return run(search::SuccessiveHalving<S>(common, fidelity(search::SuccessiveHalvingOptions{})));
  if (name == "hyperband") return run(search::Hyperband<S>(common, fidelity(search::HyperbandOptions{})));
  return run(search::Bohb<S>(common, fidelity(search::BohbOptions{})));
}

template <typename Objective>
int search(const Settings& settings, const Objective& objective, mahpo::Goal goal) {
  using S = typename Objective::space;
  return make_searcher<S>(settings, goal, [&](auto searcher) {
    mahpo::study::StudyOptions options{.trials = settings.trials, .seconds = settings.seconds,
                                       .workers = settings.workers, .journal = settings.journal,
                                       .resume = settings.resume};
    if (settings.progress) options.progress = mahpo::study::Progress::always;
    const auto report = mahpo::study::run_study(searcher, objective, options);
    fmt::print("{}", report.summary());
    if (!settings.csv.empty()) {
      report.write_csv(settings.csv);
      fmt::print("  trials written to {}\n", settings.csv);
    }
    return 0;
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mahpo: search the MAPPO paper's LeNet space (or a synthetic problem) with one searcher"};
  Settings settings;
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a later flag overrides
  app.add_option("--searcher", settings.searcher, "which searcher")
      ->check(CLI::IsMember({"random", "grid", "anneal", "tpe", "gp_bo", "successive_halving", "hyperband", "bohb",
                             "regularized_evolution", "mappo", "mappo_paper", "ppo_lstm"}));
  app.add_option("--problem", settings.problem,
                 "lenet: train paper_lenet; or a synthetic problem, or a LeNet surrogate (seeded by --seed)")
      ->check(CLI::IsMember(
          {"lenet", "branin", "hartmann6", "lenet_quadratic", "lenet_surrogate_mnist", "lenet_surrogate_fashion"}));
  app.add_option("--dataset", settings.dataset, "data set for --problem lenet")
      ->check(CLI::IsMember({"mnist", "fashion-mnist"}));
  app.add_option("--epochs", settings.epochs, "epochs per trial (multi-fidelity: the largest budget)")
      ->check(CLI::PositiveNumber);
  app.add_option("--min-epochs", settings.min_epochs, "smallest budget of the multi-fidelity searchers")
      ->check(CLI::PositiveNumber);
  app.add_option("--trials", settings.trials, "trials to run (0: no limit, then give --seconds)");
  app.add_option("--seconds", settings.seconds, "wall-clock limit in seconds (0: none)");
  app.add_option("--workers", settings.workers, "trials evaluated at once (one thread each)")->check(CLI::PositiveNumber);
  app.add_option("--seed", settings.seed, "searcher seed");
  app.add_option("--journal", settings.journal, "append every trial to this JSON-lines file");
  app.add_flag("--resume", settings.resume, "continue the study in --journal");
  app.add_option("--csv", settings.csv, "write every trial to this CSV file");
  app.add_option("--train-images", settings.train_images, "use only the first N training images (0: all)");
  app.add_option("--test-images", settings.test_images, "use only the first N validation and test images (0: all)");
  app.add_flag("--progress", settings.progress, "print the progress line even when stderr is not a terminal");
  CLI11_PARSE(app, argc, argv);

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
    fmt::print("{}: {} training, {} validation, {} test images\n", dataset.name, dataset.train.size(),
               dataset.validation.size(), dataset.test.size());
    const mahpo::train::LeNetObjective<mahpo::nn::paper_lenet> objective(
        std::make_shared<const mahpo::data::Dataset>(std::move(dataset)));
    return search(settings, objective, mahpo::Goal::maximize);
  } catch (const std::exception& error) {
    fmt::print(stderr, "error: {}\n", error.what());
    return 1;
  }
}
