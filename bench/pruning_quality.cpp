// Every single-fidelity searcher with and without each pruner, the multi-fidelity searchers (Hyperband
// continued and from scratch), and PBT, at equal total epochs on the learning-curve benchmark
// (problems/learning_curves.hpp: real per-epoch curves of paper_lenet on MNIST and Fashion-MNIST,
// replayed). Not timing: search quality per epoch spent.
//
//   pruning_quality                                  # both data sets, 30 seeds from 10000, 180 and 540 epochs
//   pruning_quality --seeds 10 --epochs 90 --rows tpe,tpe+asha -- bench/data/learning_curves_mnist.csv
//
// Every trial is 9 epochs (the searchers' budget; Hyperband's brackets run 1 to 9 epochs, eta 3); a
// pruned trial costs the epochs it trained, a continued one the epochs its parent had not. A run
// stops asking once it has spent the epochs given. Its result: the best 9-epoch validation accuracy
// among its trials that trained 9 epochs (0 when none did). Each cell: the median over the seeds
// (mean in brackets) and the mean regret against the best 9-epoch accuracy recorded.
#include <mahpo/mahpo.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace {

using namespace mahpo;
using Curves = problems::LearningCurves;
using S = Curves::space;
constexpr double full_epochs = 9.0;

// A trial run by this bench's sequential executor: the pruner is asked at each report, states live
// in a map (the study runner's semantics, with the epochs trained counted exactly).
struct LocalContext : TrialContext {
  study::Pruner* pruner = nullptr;
  std::size_t id = 0;
  std::optional<std::size_t> from;
  std::unordered_map<std::size_t, std::string>* states = nullptr;
  bool keep = false;
  bool report(std::size_t step, double value) override { return pruner && pruner->report(id, step, value); }
  std::string resume_state() override {
    if (const auto own = states->find(id); own != states->end()) return own->second;
    if (from) {
      if (const auto parent = states->find(*from); parent != states->end()) return parent->second;
    }
    return {};
  }
  bool wants_state() const override { return keep; }
  void save_state(std::string bytes) override { (*states)[id] = std::move(bytes); }
};

struct Outcome {
  double best = 0.0;  // the best 9-epoch accuracy among trials that trained 9 epochs
  std::size_t trials = 0, full = 0, pruned = 0;
};

template <typename Searcher>
Outcome run(Searcher& searcher, const Curves& curves, std::shared_ptr<study::Pruner> pruner, double epochs) {
  if (pruner) pruner->set_goal(Goal::maximize);
  std::unordered_map<std::size_t, std::string> states;
  Outcome outcome;
  double spent = 0.0;
  while (spent < epochs) {
    const auto trial = searcher.ask();
    LocalContext context;
    context.pruner = pruner.get();
    context.id = trial.id;
    context.from = trial.resume_from;
    context.states = &states;
    if constexpr (search::ContinuesTrials<Searcher>) context.keep = searcher.continues_trials();
    const Result result = curves(trial.config, trial.budget, context);
    searcher.tell(trial.id, result);
    if (pruner) pruner->finish(trial.id, result.status);
    if constexpr (search::ContinuesTrials<Searcher>) {
      for (const auto dropped : searcher.drop_states()) states.erase(dropped);
    }
    spent += result.metrics.at("epochs_trained").get<double>();
    ++outcome.trials;
    if (result.status == Status::pruned) ++outcome.pruned;
    if (result.status == Status::ok && trial.budget.epochs >= full_epochs - 1e-9) {
      ++outcome.full;
      outcome.best = std::max(outcome.best, result.value);
    }
  }
  return outcome;
}

using Runner = std::function<Outcome(std::uint64_t seed, const Curves&, double epochs)>;

// The single-fidelity searchers, each with and without each pruner (fabolas is left out: it trains on
// fractions of the training set, which the curves did not record).
constexpr std::array<std::string_view, 9> single_fidelity{
    "random", "grid", "anneal", "tpe", "tpe_hyperopt", "gp_bo", "regularized_evolution", "mappo", "ppo_lstm"};

std::vector<std::pair<std::string, Runner>> methods() {
  const search::SearchOptions base{.goal = Goal::maximize, .budget = {.epochs = full_epochs}};
  const auto settings = [base](std::uint64_t seed, bool resume = true) {
    search::SearcherSettings chosen{.search = base, .min_budget = 1.0, .max_budget = full_epochs, .resume = resume};
    chosen.search.seed = seed;
    return chosen;
  };
  using Make = std::function<std::shared_ptr<study::Pruner>()>;
  const std::vector<std::pair<std::string, Make>> pruners{
      {"", [] { return std::shared_ptr<study::Pruner>(); }},
      {"+median", [] { return std::make_shared<study::MedianPruner>(); }},
      {"+asha", [] { return std::make_shared<study::SuccessiveHalvingPruner>(); }},
      {"+hyperband",
       [] { return std::make_shared<study::HyperbandPruner>(study::HyperbandPrunerOptions{.max_resource = 9}); }},
      {"+patient", [] { return std::make_shared<study::PatientPruner>(std::make_shared<study::MedianPruner>()); }},
  };
  std::vector<std::pair<std::string, Runner>> all;
  for (const auto name : single_fidelity) {
    for (const auto& [suffix, make] : pruners) {
      all.emplace_back(std::string(name) + suffix, [=](std::uint64_t seed, const Curves& curves, double epochs) {
        auto searcher = search::make_searcher<S>(name, settings(seed));
        return std::visit([&](auto& chosen) { return run(chosen, curves, make(), epochs); }, searcher);
      });
    }
  }
  // The multi-fidelity searchers (brackets of 1 to 9 epochs, eta 3), continuing their promotions, and
  // Hyperband retraining them from scratch.
  for (const std::string name : {"successive_halving", "hyperband", "hyperband_gp", "bohb", "hyperband_scratch"}) {
    all.emplace_back(name, [=](std::uint64_t seed, const Curves& curves, double epochs) {
      const bool scratch = name == "hyperband_scratch";
      auto searcher = search::make_searcher<S>(scratch ? "hyperband" : name, settings(seed, !scratch));
      return std::visit([&](auto& chosen) { return run(chosen, curves, nullptr, epochs); }, searcher);
    });
  }
  all.emplace_back("pbt", [=](std::uint64_t seed, const Curves& curves, double epochs) {
    auto options = base;
    options.seed = seed;
    options.budget.epochs = 1.0;
    search::Pbt<S> searcher(options, {.population = 8,
                                      .step_epochs = 1.0,
                                      .max_epochs = full_epochs,
                                      .explore = search::pbt_explore<nn::paper_lenet>()});
    return run(searcher, curves, nullptr, epochs);
  });
  return all;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Searchers with and without pruners, Hyperband continued and from scratch, and PBT at equal epochs"};
  std::vector<std::string> files{"bench/data/learning_curves_mnist.csv", "bench/data/learning_curves_fashion.csv"};
  std::size_t seeds = 30;
  std::uint64_t first_seed = 10000;
  std::vector<double> budgets{180.0, 540.0};
  std::vector<std::string> rows;
  app.add_option("curves", files, "learning-curve CSV files (tools/learning_curves_csv.py)");
  app.add_option("--seeds", seeds, "seeds per cell")->check(CLI::PositiveNumber);
  app.add_option("--first-seed", first_seed, "the first seed (held out from every choice: 10000)");
  app.add_option("--epochs", budgets, "the total epochs of each run")->delimiter(',');
  app.add_option("--rows", rows, "only these methods")->delimiter(',');
  CLI11_PARSE(app, argc, argv);

  auto all = methods();
  if (!rows.empty()) {
    for (const auto& row : rows) {
      if (std::none_of(all.begin(), all.end(), [&](const auto& method) { return method.first == row; })) {
        fmt::print(stderr, "pruning_quality: no method '{}'\n", row);
        return 2;
      }
    }
    std::erase_if(all,
                  [&](const auto& method) { return std::find(rows.begin(), rows.end(), method.first) == rows.end(); });
  }
  try {
    for (const auto& file : files) {
      const auto curves = Curves::load(file);
      fmt::print("\n## {}: {} recorded configs, {} epochs; best 9-epoch accuracy recorded {:.4f}\n", file,
                 curves.size(), curves.epochs(), curves.best_final());
      fmt::print(
          "seeds {}-{}; each cell: median best 9-epoch accuracy (mean), mean regret, mean trials / full / pruned\n\n",
          first_seed, first_seed + seeds - 1);
      fmt::print("| method |");
      for (const double epochs : budgets) fmt::print(" {:g} epochs | regret | trials (full, pruned) |", epochs);
      fmt::print("\n|---|");
      for (std::size_t b = 0; b < budgets.size(); ++b) fmt::print("---|---|---|");
      fmt::print("\n");
      for (const auto& [name, runner] : all) {
        fmt::print("| {} |", name);
        for (const double epochs : budgets) {
          std::vector<double> best;
          double trials = 0, full = 0, pruned = 0;
          for (std::uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
            const Outcome outcome = runner(seed, curves, epochs);
            best.push_back(outcome.best);
            trials += static_cast<double>(outcome.trials);
            full += static_cast<double>(outcome.full);
            pruned += static_cast<double>(outcome.pruned);
          }
          const double n = static_cast<double>(seeds);
          const double mean = std::accumulate(best.begin(), best.end(), 0.0) / n;
          fmt::print(" {:.4f} ({:.4f}) | {:.4f} | {:.1f} ({:.1f}, {:.1f}) |", median(best), mean,
                     curves.best_final() - mean, trials / n, full / n, pruned / n);
        }
        fmt::print("\n");
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& error) {
    fmt::print(stderr, "pruning_quality: {}\n", error.what());
    return 1;
  }
  return 0;
}
