// How faithful the LeNet surrogates are to the real paper_lenet trials they are fitted on:
//   * Spearman rank correlation between the surrogate's noiseless prediction and the real value on
//     held-out real trials (5-fold cross-validation, and each proposing method held out in turn);
//   * the share of chance-level results (value < 0.2) under uniform random sampling, real vs surrogate;
//   * the best real value vs the surrogate's, and the best of 200 random trials, real vs surrogate.
//
//   surrogate_fidelity            # prints a Markdown table per data set (a few seconds)
//
// The bandwidths are fitted on all trials, so cross-validation refits only the kernel sums: optimistic
// (tools/fit_lenet_surrogate.py --holdout refits everything; docs/surrogate/README.md). Quoted in
// docs/benchmarks.md, "LeNet surrogates".
#include <mahpo/problems/lenet_surrogate.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace {

using mahpo::problems::surrogate_data::sources;
using Space = mahpo::nn::paper_lenet::space;
using mahpo::Config;

// Ranks from 1, ties sharing their mean rank.
std::vector<double> ranks(const std::vector<double>& values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return values[a] < values[b]; });
  std::vector<double> rank(values.size());
  for (std::size_t start = 0; start < order.size();) {
    std::size_t end = start;
    while (end + 1 < order.size() && values[order[end + 1]] == values[order[start]]) ++end;
    for (std::size_t k = start; k <= end; ++k) rank[order[k]] = 0.5 * static_cast<double>(start + end) + 1.0;
    start = end + 1;
  }
  return rank;
}

// Spearman's rho: Pearson's correlation of the ranks (Spearman 1904).
double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  const auto rx = ranks(x), ry = ranks(y);
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / n, my = std::accumulate(ry.begin(), ry.end(), 0.0) / n;
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (std::size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

bool uniform_random(const mahpo::problems::surrogate_data::Trial& trial) {
  return trial.source == 0 || trial.source == sources.size() - 1;
}

template <typename Surrogate>
void report(const char* name) {
  const auto trials = Surrogate::trials();
  const std::size_t n = trials.size();
  std::size_t diverged = 0;
  for (const auto& t : trials) diverged += t.value < mahpo::problems::surrogate_data::diverged_below ? 1 : 0;
  fmt::print("## {}: {} real full-budget trials ({} diverged)\n\n", name, n, diverged);

  // Predictions of the trials where held_out(i), fitted on the rest.
  const auto held_out_predictions = [&](auto held_out, std::vector<double>& predicted, std::vector<double>& real) {
    std::unique_ptr<bool[]> mask(new bool[n]);
    for (std::size_t i = 0; i < n; ++i) mask[i] = held_out(i);
    for (std::size_t i = 0; i < n; ++i) {
      if (!mask[i]) continue;
      predicted.push_back(
          Surrogate::expected_without(Surrogate::config_of(trials[i]), std::span<const bool>(mask.get(), n)));
      real.push_back(trials[i].value);
    }
  };
  fmt::print("| held out | trials | Spearman rho |\n|---|---:|---:|\n");
  std::vector<double> predicted, real;
  for (std::size_t fold = 0; fold < 5; ++fold) {
    held_out_predictions([&](std::size_t i) { return i % 5 == fold; }, predicted, real);
  }
  fmt::print("| 5-fold cross-validation | {} | {:.3f} |\n", real.size(), spearman(predicted, real));
  for (std::size_t source = 0; source < sources.size(); ++source) {
    std::vector<double> p, r;
    held_out_predictions([&](std::size_t i) { return trials[i].source == source; }, p, r);
    if (r.size() >= 10) fmt::print("| every {} trial | {} | {:.3f} |\n", sources[source], r.size(), spearman(p, r));
  }

  // Chance-level share under uniform random sampling.
  double real_low = 0.0, real_count = 0.0, real_best = 0.0, paper_random_best = 0.0;
  for (const auto& t : trials) {
    real_best = std::max(real_best, t.value);
    if (t.source == 0) paper_random_best = std::max(paper_random_best, t.value);
    if (!uniform_random(t)) continue;
    real_count += 1.0;
    real_low += t.value < 0.2 ? 1.0 : 0.0;
  }
  std::mt19937_64 rng(0);
  const Surrogate problem(0);
  constexpr std::size_t samples = 10000;
  std::vector<Config<Space>> configs;
  for (std::size_t i = 0; i < samples; ++i) configs.push_back(Space::sample(rng));
  double low = 0.0, probability = 0.0;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& config : configs) low += problem(config).value < 0.2 ? 1.0 : 0.0;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& config : configs) probability += Surrogate::divergence_probability(config);
  fmt::print("\n| uniform random sampling | real | surrogate |\n|---|---:|---:|\n");
  fmt::print("| configs | {:.0f} | {} |\n", real_count, samples);
  fmt::print("| share of values < 0.2 | {:.3f} | {:.3f} (mean divergence probability {:.3f}) |\n",
             real_low / real_count, low / static_cast<double>(samples), probability / static_cast<double>(samples));

  // Best of 200 random trials, the paper's budget: the real seed-0 run vs 101 surrogate seeds.
  std::vector<double> bests;
  for (std::uint64_t seed = 0; seed <= 100; ++seed) {
    const Surrogate seeded(seed);
    std::mt19937_64 draws(1000 + seed);
    double best = 0.0;
    for (int trial = 0; trial < 200; ++trial) best = std::max(best, seeded(Space::sample(draws)).value);
    bests.push_back(best);
  }
  std::sort(bests.begin(), bests.end());
  fmt::print("| best of 200 trials | {:.4f} (seed 0) | {:.4f} median, {:.4f} to {:.4f} over 101 seeds |\n",
             paper_random_best, bests[50], bests.front(), bests.back());
  fmt::print("| best value | {:.4f} (all {} trials) | {:.4f} (noiseless optimum) |\n", real_best, n,
             Surrogate::optimum);
  fmt::print("\n{:.1f} microseconds per noisy evaluation (mean over the 10,000).\n\n",
             1e6 * seconds / static_cast<double>(samples));
}

}  // namespace

int main() {
  report<mahpo::problems::MnistSurrogate>("MNIST");
  report<mahpo::problems::FashionMnistSurrogate>("Fashion-MNIST");
}
