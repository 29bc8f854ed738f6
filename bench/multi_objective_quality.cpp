// Several objectives (not timing): the hypervolume mahpo's multi-objective searchers reach on ZDT1,
// ZDT2, ZDT3, DTLZ2 and the LeNet accuracy-against-parameters surrogate (problems/lenet_surrogate.hpp;
// mahpo's searchers only) after 50, 100 and 200 trials, over held-out seeds, beside Optuna's samplers'
// on the same problems (their trials' values from bench/mo_vs_optuna.py's CSV, scored here with the
// same hypervolume and reference point). Prints Markdown: per problem, the median hypervolume with
// its quartiles and its share of the true front's; then, per budget and problem, mahpo's best
// median against Optuna's best.
//
//   ./build/bench/multi_objective_quality [--seeds 30] [--first-seed 100] [--trials 200]
//       [--optuna optuna31.csv --optuna optuna_new.csv] [--searchers random,nsga2,tpe,...]
//
// Hypervolumes use each problem's search_reference (problems/multi_objective.hpp): 1.1 times each
// objective's largest value over the space, so that every trial counts.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include <mahpo/problems/lenet_surrogate.hpp>
#include <mahpo/problems/multi_objective.hpp>
#include <mahpo/search/gp/gp_bo.hpp>
#include <mahpo/search/nsga2.hpp>
#include <mahpo/search/pareto.hpp>
#include <mahpo/search/ppo/mappo.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/tpe/tpe.hpp>

#include "quality.hpp"

namespace {

using namespace mahpo;
using search::pareto::Points;

constexpr std::array<std::size_t, 3> budgets{50, 100, 200};

// hypervolume[b][seed] after budgets[b] trials.
using Curves = std::array<std::vector<double>, budgets.size()>;

struct Row {
  std::string name;
  Curves hypervolume;
};

double hypervolume_after(const Points& values, std::size_t trials, std::span<const double> reference) {
  const Points first(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(std::min(trials, values.size())));
  return search::pareto::hypervolume(first, reference);
}

// Problem P's values at a config: its static evaluate, or that of P(seed) (a noisy surrogate).
template <typename P>
std::vector<double> evaluate(const Config<typename P::space>& config, std::uint64_t seed) {
  if constexpr (requires { P::evaluate(config); }) {
    const auto f = P::evaluate(config);
    return {f.begin(), f.end()};
  } else {
    const auto f = P(seed).evaluate(config);
    return {f.begin(), f.end()};
  }
}

// One searcher asked and told `trials` times on problem P; the values in order, minimized.
template <typename P, typename T>
Points run(T searcher, std::size_t trials, std::uint64_t seed) {
  Points values;
  for (std::size_t t = 0; t < trials; ++t) {
    const auto trial = searcher.ask();
    Result result;
    result.values = evaluate<P>(trial.config, seed);
    result.value = result.values.front();
    searcher.tell(trial.id, result);
    values.push_back(result.values);
  }
  return search::pareto::to_minimized(values, P::goals);
}

template <typename P>
using Maker = std::function<Points(std::uint64_t seed, std::size_t trials)>;

template <typename P>
std::vector<std::pair<std::string, Maker<P>>> searchers() {
  using S = typename P::space;
  const std::vector<Goal> goals(P::goals.begin(), P::goals.end());
  const auto options = [goals](std::uint64_t seed) { return search::SearchOptions{.seed = seed, .goals = goals}; };
  return {
      {"random", [=](std::uint64_t seed, std::size_t n) { return run<P>(search::Random<S>(options(seed)), n, seed); }},
      {"nsga2", [=](std::uint64_t seed, std::size_t n) { return run<P>(search::Nsga2<S>(options(seed)), n, seed); }},
      {"nsga2 (population 20)",
       [=](std::uint64_t seed, std::size_t n) {
         return run<P>(search::Nsga2<S>(options(seed), {.population_size = 20}), n, seed);
       }},
      {"nsga2 (Optuna's operators)",
       [=](std::uint64_t seed, std::size_t n) {
         return run<P>(search::Nsga2<S>(options(seed), {.crossover = search::NsgaCrossover::uniform,
                                                        .mutation = search::NsgaMutation::resample}),
                       n, seed);
       }},
      {"gp_bo (ParEGO)",
       [=](std::uint64_t seed, std::size_t n) { return run<P>(search::GpBo<S>(options(seed)), n, seed); }},
      {"mappo (Chebyshev)",
       [=](std::uint64_t seed, std::size_t n) { return run<P>(search::Mappo<S>(options(seed)), n, seed); }},
      {"tpe (MOTPE)",
       [=](std::uint64_t seed, std::size_t n) { return run<P>(search::Tpe<S>(options(seed)), n, seed); }},
      {"tpe (MOTPE, univariate)",
       [=](std::uint64_t seed, std::size_t n) {
         return run<P>(search::Tpe<S>(options(seed), {.multivariate = false}), n, seed);
       }},
  };
}

struct Arguments {
  std::size_t seeds = 30, first_seed = 100, trials = 200;
  std::vector<std::string> optuna;
  std::vector<std::string> only;  // searcher names to run (empty: all)
};

Arguments parse(int argc, char** argv) {
  Arguments arguments;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", flag));
    const std::string value = argv[++i];
    if (flag == "--seeds") {
      arguments.seeds = std::stoul(value);
    } else if (flag == "--first-seed") {
      arguments.first_seed = std::stoul(value);
    } else if (flag == "--trials") {
      arguments.trials = std::stoul(value);
    } else if (flag == "--optuna") {
      arguments.optuna.push_back(value);
    } else if (flag == "--searchers") {
      std::stringstream list(value);
      for (std::string name; std::getline(list, name, ',');) arguments.only.push_back(name);
    } else {
      throw std::invalid_argument(fmt::format("unknown option {}", flag));
    }
  }
  if (arguments.trials < budgets.back())
    throw std::invalid_argument(fmt::format("--trials must be at least {}", budgets.back()));
  return arguments;
}

// Optuna's runs: (problem, "optuna <version> <sampler>") -> seed -> values in trial order.
using OptunaRuns = std::map<std::pair<std::string, std::string>, std::map<std::uint64_t, Points>>;

OptunaRuns read_optuna(const std::vector<std::string>& files) {
  OptunaRuns runs;
  for (const auto& file : files) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error(fmt::format("cannot read {}", file));
    std::string line;
    std::getline(in, line);  // header: version,commit,problem,sampler,seed,trial,f1,f2,f3,seconds
    while (std::getline(in, line)) {
      std::vector<std::string> cells;
      std::stringstream row(line);
      for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
      if (cells.size() < 9) continue;
      const std::string name = fmt::format("optuna {} {}", cells[0], cells[3]);
      auto& values = runs[{cells[2], name}][std::stoull(cells[4])];
      std::vector<double> point{std::stod(cells[6]), std::stod(cells[7])};
      if (!cells[8].empty()) point.push_back(std::stod(cells[8]));
      if (std::stoul(cells[5]) != values.size())
        throw std::runtime_error(fmt::format("{}: trials out of order in {}", file, line));
      values.push_back(std::move(point));
    }
  }
  return runs;
}

double median(const std::vector<double>& values) { return bench::quantile(values, 0.5); }

// (budget index, problem) -> (mahpo's best median and its row, Optuna's best median and its row)
using Summary = std::map<std::pair<std::size_t, std::string>, std::tuple<double, std::string, double, std::string>>;
// (budget index, problem, row) -> median
using Medians = std::map<std::tuple<std::size_t, std::string, std::string>, double>;
Medians medians;

template <typename P>
void problem(const std::string& name, const Arguments& arguments, const OptunaRuns& optuna, Summary& summary) {
  const std::span<const double> reference = [] {
    if constexpr (requires { P::search_reference(); }) {
      return std::span<const double>(P::search_reference());
    } else {
      return std::span<const double>(P::search_reference);
    }
  }();
  double optimum = std::nan("");  // the true front's hypervolume, where it is known
  if constexpr (requires { P::true_front(); }) {
    const auto front = P::true_front();
    Points points;
    for (const auto& point : front) points.emplace_back(point.begin(), point.end());
    optimum = search::pareto::hypervolume(points, reference);
  }
  std::vector<Row> rows;
  for (const auto& [searcher, make] : searchers<P>()) {
    if (!arguments.only.empty() &&
        std::find(arguments.only.begin(), arguments.only.end(), searcher) == arguments.only.end())
      continue;
    Row row{searcher, {}};
    for (std::size_t k = 0; k < arguments.seeds; ++k) {
      const auto values = make(arguments.first_seed + k, arguments.trials);
      for (std::size_t b = 0; b < budgets.size(); ++b)
        row.hypervolume[b].push_back(hypervolume_after(values, budgets[b], reference));
    }
    rows.push_back(std::move(row));
  }
  const std::size_t mahpo_rows = rows.size();
  for (const auto& [key, by_seed] : optuna) {
    if (key.first != name) continue;
    Row row{key.second, {}};
    for (std::size_t k = 0; k < arguments.seeds; ++k) {
      const auto found = by_seed.find(arguments.first_seed + k);
      if (found == by_seed.end() || found->second.size() < budgets.back()) continue;
      for (std::size_t b = 0; b < budgets.size(); ++b)
        row.hypervolume[b].push_back(hypervolume_after(found->second, budgets[b], reference));
    }
    if (!row.hypervolume[0].empty()) rows.push_back(std::move(row));
  }

  fmt::print("\n### {} (reference ({:g}), minimized; the true front's hypervolume {:.4f})\n\n", name,
             fmt::join(reference, ", "), optimum);
  fmt::print("| searcher | seeds |");
  for (const std::size_t b : budgets) fmt::print(" {} trials: median [quartiles] (% of the front's) |", b);
  fmt::print("\n|---|---|");
  for (std::size_t b = 0; b < budgets.size(); ++b) fmt::print("---|");
  fmt::print("\n");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto& row = rows[r];
    fmt::print("| {} | {} |", row.name, row.hypervolume[0].size());
    for (std::size_t b = 0; b < budgets.size(); ++b) {
      const double m = median(row.hypervolume[b]);
      medians[{b, name, row.name}] = m;
      fmt::print(" {:.6g} [{:.6g}, {:.6g}] ({}) |", m, bench::quantile(row.hypervolume[b], 0.25),
                 bench::quantile(row.hypervolume[b], 0.75),
                 std::isnan(optimum) ? std::string("–") : fmt::format("{:.1f} %", 100.0 * m / optimum));
      auto& [mahpo_best, mahpo_row, optuna_best, optuna_row] = summary[{b, name}];
      if (r < mahpo_rows && (mahpo_row.empty() || m > mahpo_best))
        std::tie(mahpo_best, mahpo_row) = std::tie(m, row.name);
      if (r >= mahpo_rows && (optuna_row.empty() || m > optuna_best))
        std::tie(optuna_best, optuna_row) = std::tie(m, row.name);
    }
    fmt::print("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Arguments arguments = parse(argc, argv);
    const OptunaRuns optuna = read_optuna(arguments.optuna);
    fmt::print("## Several objectives: hypervolume after 50 / 100 / 200 trials, seeds {}..{}\n", arguments.first_seed,
               arguments.first_seed + arguments.seeds - 1);
    Summary summary;
    problem<problems::Zdt1>("zdt1", arguments, optuna, summary);
    problem<problems::Zdt2>("zdt2", arguments, optuna, summary);
    problem<problems::Zdt3>("zdt3", arguments, optuna, summary);
    problem<problems::Dtlz2>("dtlz2", arguments, optuna, summary);
    problem<problems::LeNetAccuracyParameters<problems::LeNetDataset::mnist>>("lenet_accuracy_parameters", arguments,
                                                                              optuna, summary);
    fmt::print(
        "\n### MAPPO against random search (median hypervolume)\n\n| trials | problem | mappo | random | "
        "mappo / random |\n|---|---|---|---|---|\n");
    for (const auto& [key, random] : medians) {
      const auto& [b, problem_name, row] = key;
      if (row != "random" || !medians.contains({b, problem_name, "mappo (Chebyshev)"})) continue;
      const double mappo = medians.at({b, problem_name, "mappo (Chebyshev)"});
      fmt::print("| {} | {} | {:.4f} | {:.4f} | {:.4f} |\n", budgets[b], problem_name, mappo, random, mappo / random);
    }
    if (optuna.empty()) return 0;
    fmt::print(
        "\n### mahpo's best median against Optuna's best\n\n| trials | problem | mahpo's best | Optuna's best | "
        "mahpo / Optuna | met |\n|---|---|---|---|---|---|\n");
    for (const auto& [key, best] : summary) {
      const auto& [mahpo_best, mahpo_row, optuna_best, optuna_row] = best;
      if (optuna_row.empty()) continue;  // a problem Optuna did not run
      fmt::print("| {} | {} | {:.4f} ({}) | {:.4f} ({}) | {:.4f} | {} |\n", budgets[key.first], key.second, mahpo_best,
                 mahpo_row, optuna_best, optuna_row, mahpo_best / optuna_best,
                 mahpo_best >= optuna_best ? "yes" : "**no**");
    }
  } catch (const std::exception& error) {
    fmt::print(stderr, "multi_objective_quality: {}\n", error.what());
    return 1;
  }
}
