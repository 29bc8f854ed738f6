// Search quality with parallel workers (not timing): W workers each run one trial at a time; a trial
// takes a random time (exponential, mean 1, drawn from the seed), so results come back in another
// order than the trials were asked, and every ask but the first W sees W - 1 trials pending. The
// best value among the first 50, 100 and 200 told trials, for W = 1 and W = 4, over seeds
// F..F+SEEDS-1: TPE with the constant liar (pending trials join g as the worst losses, as Optuna
// 5; the default) and without it, and GP-BO with the Kriging believer (pending points join the GP
// at its posterior mean there; the default) and with the constant liar CL-min (at the best loss). Prints Markdown: per
// problem and searcher the medians for 1 and 4 workers, the distance of each median to the optimum, and Mann-Whitney's
// two-sided p for 1 against 4.
//
//   parallel_quality [--seeds 30] [--first-seed 0] [--workers 4] [problem...]
//     problems: branin hartmann6 quadratic (all by default)
#include <mahpo/mahpo.hpp>

#include "quality.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numbers>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace mahpo::search;

constexpr std::array<std::size_t, 3> counts{50, 100, 200};

// best[c][s]: the best value among the first counts[c] told trials of seed s.
using Best = std::array<std::vector<double>, counts.size()>;

// One study of `trials` trials run by `workers` simulated workers.
template <typename Problem, typename Searcher>
std::array<double, counts.size()> study(Searcher searcher, std::uint64_t seed, std::size_t workers) {
  constexpr bool maximize = Problem::goal == mahpo::Goal::maximize;
  const Problem problem = mahpo::bench::make_problem<Problem>(seed);
  std::mt19937_64 clock_rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::exponential_distribution<double> duration(1.0);
  using Running = std::pair<double, mahpo::search::Trial<typename Problem::space>>;  // finish time, trial
  const auto later = [](const Running& a, const Running& b) { return a.first > b.first; };
  std::priority_queue<Running, std::vector<Running>, decltype(later)> running(later);
  std::size_t asked = 0, told = 0, next = 0;
  double now = 0.0, top = maximize ? -1e300 : 1e300;
  std::array<double, counts.size()> best{};
  const std::size_t trials = counts.back();
  for (; asked < std::min(workers, trials); ++asked) running.emplace(duration(clock_rng), searcher.ask());
  while (!running.empty()) {
    auto [finish, trial] = running.top();
    running.pop();
    now = finish;
    const auto result = problem(trial.config, trial.budget);
    searcher.tell(trial.id, result);
    ++told;
    if (std::isfinite(result.value) && (maximize ? result.value > top : result.value < top)) top = result.value;
    if (next < counts.size() && told == counts[next]) best[next++] = top;
    if (asked < trials) {
      running.emplace(now + duration(clock_rng), searcher.ask());
      ++asked;
    }
  }
  return best;
}

// Mann-Whitney U, two-sided p by the normal approximation with the tie correction.
double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<std::pair<double, int>> all;
  for (double v : a) all.emplace_back(v, 0);
  for (double v : b) all.emplace_back(v, 1);
  std::sort(all.begin(), all.end());
  const double n1 = static_cast<double>(a.size()), n2 = static_cast<double>(b.size()), n = n1 + n2;
  double rank_a = 0.0, ties = 0.0;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double rank = (static_cast<double>(i + j) + 1.0) / 2.0, t = static_cast<double>(j - i);
    for (std::size_t k = i; k < j; ++k) {
      if (all[k].second == 0) rank_a += rank;
    }
    ties += t * t * t - t;
    i = j;
  }
  const double u = rank_a - n1 * (n1 + 1.0) / 2.0;
  const double variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
  if (variance <= 0.0) return 1.0;
  const double z = std::abs(u - n1 * n2 / 2.0) / std::sqrt(variance);
  return std::erfc(z / std::numbers::sqrt2);
}

template <typename Problem>
void compare(std::string_view problem, double optimum, std::size_t seeds, std::uint64_t first, std::size_t workers) {
  using S = typename Problem::space;
  using Run = std::function<std::array<double, counts.size()>(std::uint64_t, std::size_t)>;
  const auto tpe = [](TpeOptions options) -> Run {
    return [options](std::uint64_t seed, std::size_t w) {
      return study<Problem>(Tpe<S>({.seed = seed, .goal = Problem::goal}, options), seed, w);
    };
  };
  const auto gp_bo = [](GpBoOptions options) -> Run {
    return [options](std::uint64_t seed, std::size_t w) {
      return study<Problem>(GpBo<S>({.seed = seed, .goal = Problem::goal}, options), seed, w);
    };
  };
  const std::vector<std::pair<std::string, Run>> searchers{
      {"tpe (constant liar)", tpe({})},
      {"tpe (no liar)", tpe({.constant_liar = false})},
      {"gp_bo (Kriging believer)", gp_bo({})},
      {"gp_bo (constant liar)", gp_bo({.pending = GpPending::best})}};
  fmt::print("\n### {} (optimum {}), seeds {}-{}\n\n", problem, optimum, first, first + seeds - 1);
  fmt::print("| searcher | trials | median, 1 worker | median, {} workers | distance to the optimum, 1 / {} | p |\n",
             workers, workers);
  fmt::print("|---|---:|---:|---:|---:|---:|\n");
  for (const auto& [name, run] : searchers) {
    Best one, many;
    for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
      const auto a = run(seed, 1), b = run(seed, workers);
      for (std::size_t c = 0; c < counts.size(); ++c) {
        one[c].push_back(a[c]);
        many[c].push_back(b[c]);
      }
    }
    std::fprintf(stderr, "  %s %s done\n", std::string(problem).c_str(), name.c_str());
    for (std::size_t c = 0; c < counts.size(); ++c) {
      const double m1 = mahpo::bench::quantile(one[c], 0.5), m4 = mahpo::bench::quantile(many[c], 0.5);
      fmt::print("| {} | {} | {:.5g} | {:.5g} | {:.3g} / {:.3g} | {:.2f} |\n", name, counts[c], m1, m4,
                 std::abs(m1 - optimum), std::abs(m4 - optimum), mann_whitney_p(one[c], many[c]));
    }
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t seeds = 30, workers = 4;
  std::uint64_t first = 0;
  std::vector<std::string_view> problems;
  for (int a = 1; a < argc; ++a) {
    const std::string_view arg = argv[a];
    if (arg == "--seeds" && a + 1 < argc) {
      seeds = std::strtoul(argv[++a], nullptr, 10);
    } else if (arg == "--first-seed" && a + 1 < argc) {
      first = std::strtoull(argv[++a], nullptr, 10);
    } else if (arg == "--workers" && a + 1 < argc) {
      workers = std::strtoul(argv[++a], nullptr, 10);
    } else {
      problems.push_back(arg);
    }
  }
  if (seeds == 0 || workers < 2) {
    std::fprintf(stderr, "usage: parallel_quality [--seeds N] [--first-seed F] [--workers W >= 2] [problem...]\n");
    return 2;
  }
  if (problems.empty()) problems = {"branin", "hartmann6", "quadratic"};
  fmt::print("# Quality with {} parallel workers against 1 (parallel_quality)\n", workers);
  for (const std::string_view problem : problems) {
    if (problem == "branin") {
      compare<mahpo::problems::Branin>(problem, 0.397887357729739, seeds, first, workers);
    } else if (problem == "hartmann6") {
      compare<mahpo::problems::Hartmann6>(problem, -3.32236801141551, seeds, first, workers);
    } else if (problem == "quadratic") {
      compare<mahpo::problems::LeNetQuadratic>(problem, 0.99, seeds, first, workers);
    } else {
      std::fprintf(stderr, "parallel_quality: unknown problem '%s' (branin, hartmann6, quadratic)\n",
                   std::string(problem).c_str());
      return 2;
    }
  }
  return 0;
}
