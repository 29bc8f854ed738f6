#pragma once
// What bench/search_quality and bench/mappo_ablation share: run a searcher over seeds on a problem,
// record after 25, 50, 100 and 200 trials the best value observed and the noiseless value of the
// config the searcher hands over (its `recommended_config()` where it has one: the model's best
// estimate; the best observed config otherwise), and print Markdown tables of the median with
// quartiles and of the paired win rates against reference rows.
#include <mahpo/problems/lenet_surrogate.hpp>
#include <mahpo/problems/off_centre.hpp>
#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/space/config.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace mahpo::bench {

using namespace mahpo::search;

constexpr std::array<std::size_t, 4> checkpoints{25, 50, 100, 200};

// best[c][seed]: the best value after checkpoints[c] trials.
using BestValues = std::array<std::vector<double>, checkpoints.size()>;

struct Row {
  std::string searcher;
  BestValues best;
  BestValues chosen;  // the noiseless value, at full budget, of the config the searcher hands over
  double seconds = 0.0;
};

// A problem whose values are noisy draws around a known expected value (the LeNet surrogates).
template <typename Problem>
concept NoisyProblem = requires(const Problem& problem, const Config<typename Problem::space>& config) {
  { problem.expected(config) } -> std::convertible_to<double>;
};

inline double quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const auto low = static_cast<std::size_t>(position);
  const std::size_t high = std::min(low + 1, values.size() - 1);
  return values[low] + (position - static_cast<double>(low)) * (values[high] - values[low]);
}

// The share of seeds where `a` found a better best than `b` (ties count half).
inline double win_rate(const std::vector<double>& a, const std::vector<double>& b, bool maximize) {
  double wins = 0.0;
  for (std::size_t seed = 0; seed < a.size(); ++seed) {
    if (a[seed] == b[seed])
      wins += 0.5;
    else if ((a[seed] > b[seed]) == maximize)
      wins += 1.0;
  }
  return wins / static_cast<double>(a.size());
}

// The noiseless value of a config at full budget: expected() for a noisy problem, else its value.
template <typename Problem>
double noiseless(const Problem& problem, const Config<typename Problem::space>& config) {
  if constexpr (NoisyProblem<Problem>)
    return problem.expected(config);
  else
    return problem(config).value;
}

// The config a searcher hands over: its recommendation where it has one, else `best_observed`.
template <typename Searcher, typename Config>
Config handed_over(Searcher& searcher, const Config& best_observed) {
  if constexpr (requires { searcher.recommended_config(); })
    return searcher.recommended_config();
  else
    return best_observed;
}

// A problem with noise of its own (the LeNet surrogates) draws it from the run's seed.
template <typename Problem>
Problem make_problem(std::uint64_t seed) {
  if constexpr (std::is_constructible_v<Problem, std::uint64_t>)
    return Problem(seed);
  else
    return Problem{};
}

// Runs make(SearchOptions) -> searcher on `Problem` for seeds first_seed..first_seed+seeds-1, trials
// asked and told one at a time.
template <typename Problem, typename Make>
Row run(std::string name, std::size_t seeds, Make&& make, std::uint64_t first_seed = 0) {
  constexpr bool maximize = Problem::goal == mahpo::Goal::maximize;
  Row row{std::move(name), {}, {}, 0.0};
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    auto searcher = make(SearchOptions{.seed = seed, .goal = Problem::goal});
    const Problem problem = make_problem<Problem>(seed);
    double top = maximize ? -1e300 : 1e300;
    Config<typename Problem::space> top_config;
    std::size_t next = 0;
    for (std::size_t trial_count = 1; trial_count <= checkpoints.back(); ++trial_count) {
      const auto trial = searcher.ask();
      const auto result = problem(trial.config, trial.budget);
      searcher.tell(trial.id, result);
      if (std::isfinite(result.value) && (maximize ? result.value > top : result.value < top)) {
        top = result.value;
        top_config = trial.config;
      }
      if (trial_count == checkpoints[next]) {
        row.chosen[next].push_back(noiseless(problem, handed_over(searcher, top_config)));
        row.best[next++].push_back(top);
      }
    }
  }
  row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "  %s done in %.1f s\n", row.searcher.c_str(), row.seconds);
  return row;
}

// A Markdown table's head: "| searcher | 25 trials | ... |", then an extra column if given.
inline void print_head(std::string_view extra = {}) {
  fmt::print("| searcher |");
  for (std::size_t c : checkpoints) fmt::print(" {} trials |", c);
  if (!extra.empty()) fmt::print(" {} |", extra);
  fmt::print("\n|---|");
  for (std::size_t c = 0; c < checkpoints.size() + (extra.empty() ? 0 : 1); ++c) fmt::print("---:|");
  fmt::print("\n");
}

// One row of medians [quartiles], one cell per checkpoint.
inline void print_medians(const std::string& searcher, const BestValues& values) {
  fmt::print("| {} |", searcher);
  for (const auto& value : values)
    fmt::print(" {:.4f} [{:.4f}, {:.4f}] |", quantile(value, 0.5), quantile(value, 0.25), quantile(value, 0.75));
}

// The paired win rates of every row against each reference row, on `values` (best or chosen).
inline void print_win_rates(const std::vector<Row>& rows, bool maximize, const std::vector<std::size_t>& references,
                            BestValues Row::*values) {
  std::string against;
  for (std::size_t r : references) against += (against.empty() ? "" : " / ") + rows[r].searcher;
  fmt::print("Paired win rate against {} (same seed, ties count half):\n\n", against);
  print_head();
  for (const Row& row : rows) {
    fmt::print("| {} |", row.searcher);
    for (std::size_t c = 0; c < checkpoints.size(); ++c) {
      std::string cell;
      for (std::size_t r : references)
        cell += fmt::format("{}{:.2f}", cell.empty() ? "" : " / ",
                            win_rate((row.*values)[c], (rows[r].*values)[c], maximize));
      fmt::print(" {} |", cell);
    }
    fmt::print("\n");
  }
}

// The tables: median [quartiles] of the best observed per checkpoint, of the noiseless value of the
// config handed over, and the win rates of both against the reference rows.
inline void print_tables(std::string_view title, std::size_t seeds, bool maximize, const std::vector<Row>& rows,
                         const std::vector<std::size_t>& references, std::string_view seed_note = {}) {
  fmt::print("\n### {} ({} seeds{}; {})\n\n", title, seeds, seed_note,
             maximize ? "higher is better" : "lower is better");
  fmt::print("Median best value observed [lower quartile, upper quartile]:\n\n");
  print_head("seconds (all seeds)");
  for (const Row& row : rows) {
    print_medians(row.searcher, row.best);
    fmt::print(" {:.1f} |\n", row.seconds);
  }
  fmt::print(
      "\nThe noiseless value at full budget of the config each searcher hands over (its model's best estimate "
      "where it has a model, else its best observed config), median [quartiles]:\n\n");
  print_head();
  for (const Row& row : rows) {
    print_medians(row.searcher, row.chosen);
    fmt::print("\n");
  }
  fmt::print("\nBest value observed. ");
  print_win_rates(rows, maximize, references, &Row::best);
  fmt::print("\nConfig handed over (noiseless). ");
  print_win_rates(rows, maximize, references, &Row::chosen);
  std::fflush(stdout);
}

inline void print_tables(std::string_view title, std::size_t seeds, bool maximize, const std::vector<Row>& rows,
                         std::size_t first, std::size_t second) {
  print_tables(title, seeds, maximize, rows, std::vector<std::size_t>{first, second});
}

// What a quality bench is asked to run: how many seeds, which seed sets, which problems, which rows.
struct Selection {
  static constexpr std::uint64_t held_out_first_seed = 10000;  // no default was tuned on these
  std::size_t seeds = 30;
  std::vector<std::string> seed_sets{"held-out", "tuning"};
  std::vector<std::string> rows;      // empty: all
  std::vector<std::string> problems;  // empty: all

  static std::vector<std::string> split(std::string_view list) {
    std::vector<std::string> items;
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      items.emplace_back(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    }
    return items;
  }
  bool wanted_row(std::string_view name) const {
    return rows.empty() || std::find(rows.begin(), rows.end(), name) != rows.end();
  }
  bool wanted_problem(std::string_view name) const {
    return problems.empty() || std::find(problems.begin(), problems.end(), name) != problems.end();
  }
  static std::uint64_t first_seed(std::string_view set) { return set == "held-out" ? held_out_first_seed : 0; }
  std::string seed_note(std::uint64_t first) const {
    return fmt::format(", {} seeds {}-{}", first == 0 ? "tuning" : "held-out", first, first + seeds - 1);
  }
};

// The problems a quality bench knows, by name.
inline const std::vector<std::string>& problem_names() {
  static const std::vector<std::string> names{"branin",
                                              "hartmann6",
                                              "quadratic",
                                              "quadratic-off-centre",
                                              "cliff",
                                              "surrogate-mnist",
                                              "surrogate-fashion",
                                              "surrogate-mnist-mirrored",
                                              "surrogate-fashion-mirrored"};
  return names;
}

// Says on stderr which table starts (the progress of a long run).
inline void announce(std::string_view title, std::uint64_t first_seed) {
  std::fprintf(stderr, "%s, seeds from %llu\n", std::string(title).c_str(), static_cast<unsigned long long>(first_seed));
}

// Reads `[seeds] [--seed-sets held-out,tuning] [--rows NAME,...] [problem...]`; `extra(argument, next)`
// may take an option of the bench's own (returns the arguments it used: 0, 1 or 2). Returns false
// (after a message) on a bad command line.
template <typename Extra>
bool parse_selection(int argc, char** argv, Selection& selection, Extra&& extra) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    if ((argument == "--seed-sets" || argument == "--rows") && next != nullptr) {
      (argument == "--rows" ? selection.rows : selection.seed_sets) = Selection::split(next);
      ++i;
    } else if (i == 1 && std::isdigit(static_cast<unsigned char>(argument[0]))) {
      selection.seeds = std::strtoul(argv[i], nullptr, 10);
    } else if (std::find(problem_names().begin(), problem_names().end(), argument) != problem_names().end()) {
      selection.problems.emplace_back(argument);
    } else if (const int used = extra(argument, next); used > 0) {
      i += used - 1;
    } else {
      fmt::print(stderr, "unknown argument '{}'\n", argument);
      return false;
    }
  }
  for (const std::string& set : selection.seed_sets) {
    if (set != "held-out" && set != "tuning") {
      fmt::print(stderr, "unknown seed set '{}' (held-out or tuning)\n", set);
      return false;
    }
  }
  return selection.seeds > 0;
}

// Calls table.template operator()<Problem>(title, first_seed) for every problem and seed set chosen.
template <typename Table>
void for_each_problem(const Selection& selection, Table&& table) {
  using namespace mahpo::problems;
  for (const std::string& set : selection.seed_sets) {
    const std::uint64_t first = Selection::first_seed(set);
    fmt::print("\n## {} seeds {}-{}\n", set == "held-out" ? "Held-out" : "Tuning", first, first + selection.seeds - 1);
    const auto chosen = [&](std::string_view problem) { return selection.wanted_problem(problem); };
    if (chosen("branin")) table.template operator()<Branin>("Branin", first);
    if (chosen("hartmann6")) table.template operator()<Hartmann6>("Hartmann-6", first);
    if (chosen("quadratic")) table.template operator()<LeNetQuadratic>("LeNet quadratic", first);
    if (chosen("quadratic-off-centre"))
      table.template operator()<OffCentreLeNetQuadratic>("LeNet quadratic, optimum off the centre", first);
    if (chosen("cliff"))
      table.template operator()<LeNetCliff>("LeNet quadratic off the centre, learning-rate cliff", first);
    if (chosen("surrogate-mnist")) table.template operator()<MnistSurrogate>("LeNet surrogate, MNIST", first);
    if (chosen("surrogate-fashion"))
      table.template operator()<FashionMnistSurrogate>("LeNet surrogate, Fashion-MNIST", first);
    if (chosen("surrogate-mnist-mirrored"))
      table.template operator()<Mirrored<MnistSurrogate>>("LeNet surrogate, MNIST, mirrored", first);
    if (chosen("surrogate-fashion-mirrored"))
      table.template operator()<Mirrored<FashionMnistSurrogate>>("LeNet surrogate, Fashion-MNIST, mirrored", first);
  }
}

}  // namespace mahpo::bench
