#pragma once
// What bench/search_quality and bench/mappo_ablation share: run a searcher over seeds on a problem,
// record the best value after 25, 50, 100 and 200 trials, and print Markdown tables of the median
// with quartiles and of the paired win rates against two reference rows.
#include <mahpo/search/searcher.hpp>
#include <mahpo/space/config.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
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
  BestValues chosen;  // noisy problems: the noiseless value of the config with the best observed value
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
    double top = maximize ? -1e300 : 1e300, top_expected = top;
    std::size_t next = 0;
    for (std::size_t trial_count = 1; trial_count <= checkpoints.back(); ++trial_count) {
      const auto trial = searcher.ask();
      const auto result = problem(trial.config, trial.budget);
      searcher.tell(trial.id, result);
      if (std::isfinite(result.value) && (maximize ? result.value > top : result.value < top)) {
        top = result.value;
        if constexpr (NoisyProblem<Problem>) top_expected = problem.expected(trial.config);
      }
      if (trial_count == checkpoints[next]) {
        if constexpr (NoisyProblem<Problem>) row.chosen[next].push_back(top_expected);
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

// The tables: median [quartiles] of the best per checkpoint; for noisy problems the noiseless value
// of the chosen config; the win rates against rows[first] and rows[second].
inline void print_tables(std::string_view title, std::size_t seeds, bool maximize, const std::vector<Row>& rows,
                         std::size_t first, std::size_t second) {
  fmt::print("\n### {} ({} seeds; {})\n\n", title, seeds, maximize ? "higher is better" : "lower is better");
  fmt::print("Median best value [lower quartile, upper quartile]:\n\n");
  print_head("seconds (all seeds)");
  for (const Row& row : rows) {
    print_medians(row.searcher, row.best);
    fmt::print(" {:.1f} |\n", row.seconds);
  }
  if (!rows[first].chosen[0].empty()) {
    fmt::print(
        "\nThe noiseless value of the config with the best observed value (what the search hands its user), "
        "median [quartiles]:\n\n");
    print_head();
    for (const Row& row : rows) {
      print_medians(row.searcher, row.chosen);
      fmt::print("\n");
    }
  }
  fmt::print("\nPaired win rate against {} / against {} (same seed, ties count half):\n\n", rows[first].searcher,
             rows[second].searcher);
  print_head();
  for (const Row& row : rows) {
    fmt::print("| {} |", row.searcher);
    for (std::size_t c = 0; c < checkpoints.size(); ++c)
      fmt::print(" {:.2f} / {:.2f} |", win_rate(row.best[c], rows[first].best[c], maximize),
                 win_rate(row.best[c], rows[second].best[c], maximize));
    fmt::print("\n");
  }
  std::fflush(stdout);
}

}  // namespace mahpo::bench
