// Multi-fidelity searchers at equal total cost (issue 20): every searcher gets the same sum of
// budgets, counted in epochs of the whole training set (Budget: epochs x fraction; a trial of one
// epoch on all the data costs 1), and reports the best value it found among its full-budget trials
// (1 epoch on the whole set: what a user would keep) after 25, 50, 100 and 200 such epochs, over
// many seeds; FABOLAS, which trains one epoch on fractions of the set, by its incumbent (the config
// it predicts best on the whole set) evaluated once at the full budget, outside its cost. Random
// search and TPE (one epoch per trial) stand beside them as references.
//
//   multi_fidelity_quality [seeds=30] [problem...] [only=searcher,searcher...] [from=0]
//     problems: quadratic surrogate-mnist surrogate-fashion (all by default)
//     searchers: bohb (always: the reference) random tpe hyperband, hyperband_gp (the GP sampler's
//                defaults), hyperband_gp_paper (Bertrand et al.'s) and variants (the table `samplers`
//                below), fabolas (all by default); random and TPE: 1 epoch per trial
//     from=F: seeds F .. F + seeds - 1 (default 0): fresh seeds to check a choice made on others
//
// The LeNet quadratic scores budgets below one epoch lower (its budget term); the LeNet surrogates
// keep the share of (value - chance) measured on real trials at smaller budgets. For the noisy
// surrogates a second table gives the noiseless value of the config chosen (the best observed at
// full budget). A searcher judged by its incumbent (FABOLAS) also gets the best full-budget value it
// observed, the statistic the others are judged by, in a last table. Prints Markdown: median
// [quartiles], a bootstrap standard error of the median, and the paired win rate against BOHB (same
// seed, ties count half).
#include <mahpo/mahpo.hpp>

#include "quality.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace mahpo::search;
using mahpo::bench::NoisyProblem;
using mahpo::bench::quantile;
using mahpo::bench::win_rate;

constexpr std::array<double, 4> costs{25.0, 50.0, 100.0, 200.0};  // whole-set epochs summed over trials

struct Row {
  std::string searcher;
  std::array<std::vector<double>, costs.size()> best, chosen, seen;  // seen: the best full-budget value observed
  double seconds = 0.0;
  bool names_incumbent = false;  // judged by its incumbent (FABOLAS): `best` is one evaluation of it
};

std::size_t first_seed = 0;  // from=F

// Runs make(SearchOptions) -> searcher for seeds first_seed .. first_seed + seeds - 1 until its trials' budgets sum to
// the largest cost, trials asked and told one at a time; the best full-budget value at each cost.
template <typename Problem, typename Make>
Row run(std::string name, std::size_t seeds, Make&& make) {
  constexpr bool maximize = Problem::goal == mahpo::Goal::maximize;
  Row row{std::move(name), {}, {}, {}, 0.0, false};
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    auto searcher = make(SearchOptions{.seed = seed, .goal = Problem::goal});
    const Problem problem = mahpo::bench::make_problem<Problem>(seed);
    double top = maximize ? -1e300 : 1e300, top_expected = top, seen = top, spent = 0.0;
    std::size_t next = 0;
    while (next < costs.size()) {
      const auto trial = searcher.ask();
      const auto result = problem(trial.config, trial.budget);
      searcher.tell(trial.id, result);
      spent += mahpo::whole_set_epochs(trial.budget);
      const bool full = trial.budget.iterations == 0 && trial.budget.epochs >= 1.0 && trial.budget.fraction == 1.0;
      if (full && std::isfinite(result.value) && (maximize ? result.value > seen : result.value < seen)) {
        seen = result.value;
      }
      if (full && std::isfinite(result.value) && (maximize ? result.value > top : result.value < top)) {
        top = result.value;
        if constexpr (NoisyProblem<Problem>) top_expected = problem.expected(trial.config);
      }
      while (next < costs.size() && spent >= costs[next] - 1e-9) {
        if constexpr (requires { searcher.incumbent(); }) {
          // A searcher that names its incumbent (FABOLAS: the config predicted best at s = 1) is
          // judged by it, evaluated once at the full budget outside its cost (the paper's protocol).
          row.names_incumbent = true;
          if (const auto incumbent = searcher.incumbent()) {
            top = problem(*incumbent, mahpo::Budget{.epochs = 1.0}).value;
            if constexpr (NoisyProblem<Problem>) top_expected = problem.expected(*incumbent);
          }
        }
        row.chosen[next].push_back(top_expected);
        row.seen[next].push_back(seen);
        row.best[next++].push_back(top);
      }
    }
  }
  row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "  %s done in %.1f s\n", row.searcher.c_str(), row.seconds);
  return row;
}

// The standard error of the median by bootstrap (2,000 resamples, a fixed seed).
double median_error(const std::vector<double>& values) {
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<std::size_t> pick(0, values.size() - 1);
  std::vector<double> medians, sample(values.size());
  for (int round = 0; round < 2000; ++round) {
    for (double& value : sample) value = values[pick(rng)];
    medians.push_back(quantile(sample, 0.5));
  }
  double mean = 0.0, squares = 0.0;
  for (double m : medians) mean += m;
  mean /= static_cast<double>(medians.size());
  for (double m : medians) squares += (m - mean) * (m - mean);
  return std::sqrt(squares / static_cast<double>(medians.size() - 1));
}

enum class Measure { best, chosen, seen };

void print_table(const std::vector<Row>& rows, Measure measure, bool maximize, std::size_t reference) {
  fmt::print("| searcher |");
  for (double cost : costs) fmt::print(" {:g} epochs |", cost);
  fmt::print("\n|---|");
  for (std::size_t c = 0; c < costs.size(); ++c) fmt::print("---:|");
  fmt::print("\n");
  for (const Row& row : rows) {
    fmt::print("| {} |", row.searcher);
    const auto pick = [&](const Row& r) -> const auto& {
      return measure == Measure::chosen ? r.chosen : measure == Measure::seen ? r.seen : r.best;
    };
    const auto& values = pick(row);
    const auto& against = pick(rows[reference]);
    for (std::size_t c = 0; c < costs.size(); ++c) {
      // Seeds with no value yet (no full-budget trial, or no incumbent) hold the worst value, +-1e300:
      // they count as worst in the median; the bootstrap SE is then undefined, and they are counted.
      const auto missing =
          std::count_if(values[c].begin(), values[c].end(), [](double v) { return std::abs(v) >= 1e299; });
      const double error = median_error(values[c]);
      const auto number = [](double v) {
        return std::abs(v) >= 1e299 ? std::string("none") : fmt::format("{:.4f}", v);
      };
      fmt::print(" {} [{}, {}] ±{}, {:.2f}{} |", number(quantile(values[c], 0.5)), number(quantile(values[c], 0.25)),
                 number(quantile(values[c], 0.75)),
                 std::isfinite(error) ? fmt::format("{:.4f}", error) : std::string("n/a"),
                 win_rate(values[c], against[c], maximize),
                 missing > 0 ? fmt::format(" ({} seeds with none)", missing) : std::string());
    }
    fmt::print("\n");
  }
}

// The rows to run: all, or those named by only=NAME,NAME,... (BOHB, the reference, always runs).
std::vector<std::string> only;

bool wanted_row(std::string_view name) {
  return only.empty() || name == "bohb" || std::find(only.begin(), only.end(), name) != only.end();
}

template <typename Problem>
void table(std::string_view title, std::size_t seeds) {
  using S = typename Problem::space;
  std::fprintf(stderr, "%s\n", std::string(title).c_str());
  const auto plain = [](auto type) {
    return [](SearchOptions options) { return typename decltype(type)::type(options); };
  };
  std::vector<Row> rows;
  const auto add = [&](std::string name, auto make) {
    if (wanted_row(name)) rows.push_back(run<Problem>(std::move(name), seeds, make));
  };
  add("bohb", plain(std::type_identity<Bohb<S>>{}));
  add("random", plain(std::type_identity<Random<S>>{}));
  add("tpe", plain(std::type_identity<Tpe<S>>{}));
  add("hyperband", plain(std::type_identity<Hyperband<S>>{}));
  // Hyperband with the GP sampler: its defaults, the paper's (Bertrand et al.: EI-proportional draws
  // on standardized losses, the lowest loss as incumbent), then variants named by what they change:
  // normal_scores, eiP (ei_power P), rf3 (a third prior draws), plug_in (the plug-in incumbent).
  // Perturbations around the 5 best results instead of the best were tried and dropped
  // (docs/multi_fidelity_quality.md).
  using hyperband::GpSamplerOptions;
  const auto draw = [](double power, bool normal_scores, bool plug_in, double random_fraction = 0.0) {
    return GpSamplerOptions{
        .random_fraction = random_fraction, .ei_power = power, .normal_scores = normal_scores, .plug_in = plug_in};
  };
  const std::vector<std::pair<std::string, GpSamplerOptions>> samplers{
      {"hyperband_gp", {}},
      {"hyperband_gp_paper", GpSamplerOptions::paper()},
      {"hyperband_gp_normal_scores", draw(1.0, true, false)},
      {"hyperband_gp_ei4", draw(4.0, false, false)},
      {"hyperband_gp_normal_scores_ei4", draw(4.0, true, false)},
      {"hyperband_gp_ei16", draw(16.0, false, false)},
      {"hyperband_gp_normal_scores_ei16", draw(16.0, true, false)},
      {"hyperband_gp_ei16_rf3", draw(16.0, false, false, 1.0 / 3.0)},
      {"hyperband_gp_normal_scores_ei16_rf3", draw(16.0, true, false, 1.0 / 3.0)},
      {"hyperband_gp_plug_in", draw(1.0, false, true)},
      {"hyperband_gp_ei16_plug_in", draw(16.0, false, true)},
      {"hyperband_gp_normal_scores_plug_in", draw(1.0, true, true)},
      {"hyperband_gp_normal_scores_ei4_plug_in", draw(4.0, true, true)},
      {"hyperband_gp_normal_scores_ei16_plug_in", draw(16.0, true, true)},
      {"hyperband_gp_normal_scores_ei64_plug_in", draw(64.0, true, true)},
  };
  for (const auto& [name, sampler] : samplers) {
    add(name, [sampler](SearchOptions options) {
      return Hyperband<S, hyperband::GpSampler>(options, HyperbandOptions{}, hyperband::GpSampler(sampler));
    });
  }
  add("fabolas", [](SearchOptions options) {
    options.budget = mahpo::Budget{.epochs = 1.0};
    return Fabolas<S>(options);
  });
  constexpr bool maximize = Problem::goal == mahpo::Goal::maximize;
  constexpr std::size_t reference = 0;  // BOHB
  fmt::print("\n### {} ({} seeds; {})\n\n", title, seeds, maximize ? "higher is better" : "lower is better");
  fmt::print(
      "Best value among full-budget trials once the budgets sum to the cost: median [quartiles] ±bootstrap SE of "
      "the median, paired win rate against BOHB:\n\n");
  print_table(rows, Measure::best, maximize, reference);
  if constexpr (NoisyProblem<Problem>) {
    fmt::print("\nThe noiseless value of the config chosen (the best observed at full budget), as above:\n\n");
    print_table(rows, Measure::chosen, maximize, reference);
  }
  if (std::any_of(rows.begin(), rows.end(), [](const Row& row) { return row.names_incumbent; })) {
    fmt::print(
        "\nThe best value observed among full-budget trials, for every searcher (a searcher judged by its incumbent "
        "above: what it saw, not what it chose), as above:\n\n");
    print_table(rows, Measure::seen, maximize, reference);
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t seeds = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 30;
  if (seeds < 2) {
    fmt::print(stderr,
               "usage: multi_fidelity_quality [seeds >= 2] [quadratic|surrogate-mnist|surrogate-fashion ...] "
               "[only=searcher,...] [from=first seed]\n");
    return 1;
  }
  std::vector<std::string_view> wanted;
  for (int k = 2; k < argc; ++k) {
    const std::string_view argument = argv[k];
    if (argument.starts_with("from=")) {
      first_seed = std::strtoul(argv[k] + 5, nullptr, 10);
      continue;
    }
    if (!argument.starts_with("only=")) {
      wanted.push_back(argument);
      continue;
    }
    std::string names(argument.substr(5));
    for (std::size_t at = 0; at <= names.size();) {
      const std::size_t comma = std::min(names.find(',', at), names.size());
      only.push_back(names.substr(at, comma - at));
      at = comma + 1;
    }
  }
  const auto chosen = [&](std::string_view problem) {
    return wanted.empty() || std::find(wanted.begin(), wanted.end(), problem) != wanted.end();
  };
  fmt::print("Multi-fidelity searchers at equal total cost, over seeds {}-{}\n", first_seed, first_seed + seeds - 1);
  if (chosen("quadratic")) table<mahpo::problems::LeNetQuadratic>("LeNet quadratic", seeds);
  using mahpo::problems::LeNetDataset;
  using mahpo::problems::LeNetSurrogate;
  if (chosen("surrogate-mnist")) table<LeNetSurrogate<LeNetDataset::mnist>>("LeNet surrogate, MNIST", seeds);
  if (chosen("surrogate-fashion"))
    table<LeNetSurrogate<LeNetDataset::fashion_mnist>>("LeNet surrogate, Fashion-MNIST", seeds);
}
