#pragma once
// LeNet surrogate benchmarks: paper_lenet's objective (validation accuracy after 1 epoch on MNIST or
// Fashion-MNIST, 5,000 validation images) predicted by a model fitted on ~1,000 real trials per data
// set, so searchers can be compared on the real objective's shape with many seeds in seconds (the
// practice of HPOBench, Eggensperger et al. 2021, and YAHPO Gym, Pfisterer et al. 2022).
//
//   mahpo::problems::LeNetSurrogate<mahpo::problems::LeNetDataset::mnist> objective(/*seed=*/3);
//   auto result = objective(config);                  // noisy, like one real training run
//   double mean = objective.expected(config);         // noiseless
//
// The model (fitted by tools/fit_lenet_surrogate.py; data in lenet_surrogate_data.hpp):
//   * divergence: a real run whose learning rate is too high for its network predicts one class and
//     scores chance level (~0.1). The probability p(x) is the Gaussian-kernel-weighted share of
//     diverged real trials near x in the unit cube (Nadaraya-Watson, one bandwidth per coordinate).
//   * accuracy: m(x), Nadaraya-Watson regression on the real trials that did not diverge.
//   * expected(x) = (1 - p) m + p chance.
//   * one evaluation: with probability p a chance-level value (one of the real diverged values);
//     otherwise m plus Gaussian noise with the binomial sd of 5,000 validation images,
//     sqrt(m (1 - m) / 5000), and the training noise measured on nearly equal real configs; rounded
//     to a multiple of 1/5000 like a real accuracy.
//   * budgets below 1 epoch keep a share of (value - chance) measured on the configs Hyperband and
//     BOHB ran at several budgets (interpolated in log budget); budgets above 1 epoch count as 1.
//     A budget of E epochs on a fraction s of the training set counts as s E epochs (the same
//     number of iterations; our approximation: no real trial on a subset was measured for it).
//   * the noise is a fixed function of (seed, config): the same config gives the same value, as
//     the real objective does with its fixed training seed, whatever the order of the calls and the
//     number of workers; another seed is another draw of the training and validation noise.
//     SurrogateNoise::smooth (the default): the noise and the divergence draw are smooth random
//     functions of the unit-cube point (random Fourier features of a Gaussian kernel, lengthscale
//     0.05, standard normal at every point), so near-identical configs get near-identical values,
//     as neighbouring real trainings do, and a search that repeats near-copies of one config can't
//     collect the maxima of independent draws; the same at every budget. SurrogateNoise::independent
//     (before issue 38): a fresh draw for every distinct (config, budget), hashed.
//   * status is always ok, as in the real trials (a diverged run still reports its accuracy).
// Fidelity (rank correlation on held-out real trials, share of chance-level results) is measured by
// bench/surrogate_fidelity and quoted in docs/benchmarks.md.

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/objective.hpp>
#include <mahpo/problems/lenet_surrogate_data.hpp>
#include <mahpo/space/config.hpp>
#include <mahpo/space/error.hpp>

namespace mahpo::problems {

enum class LeNetDataset { mnist, fashion_mnist };
enum class SurrogateNoise { smooth, independent };

namespace surrogate_detail {

template <LeNetDataset D>
using data_for = std::conditional_t<D == LeNetDataset::mnist, surrogate_data::mnist, surrogate_data::fashion_mnist>;

using Point = std::array<double, 6>;

// splitmix64 (Steele, Lea & Flood 2014): a fast, well-mixed hash step for seeded noise.
inline std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A uniform in (0, 1) from 53 bits of a hash.
inline double unit_from(std::uint64_t bits) { return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53; }

// A smooth random function of the unit cube whose value at every point is standard normal:
// sqrt(2 / M) sum_m cos(w_m . x + b_m) with w_m ~ N(0, I / lengthscale^2) and b_m ~ U(0, 2 pi), the
// random Fourier features of a Gaussian kernel (Rahimi & Recht 2007): close to a draw of a GP whose
// correlation is exp(-|x - y|^2 / (2 lengthscale^2)). Drawn from hashes of `seed`.
class SmoothNoise {
 public:
  static constexpr std::size_t features = 256;

  SmoothNoise(std::uint64_t seed, double lengthscale) {
    std::uint64_t state = mix(seed ^ 0x536d6f6f7468ULL);
    const auto uniform = [&] { return unit_from(state = mix(state)); };
    for (std::size_t m = 0; m < features; ++m) {
      for (double& w : frequencies_[m]) {
        const double u1 = uniform(), u2 = uniform();  // Box-Muller
        w = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2) / lengthscale;
      }
      phases_[m] = 2.0 * std::numbers::pi * uniform();
    }
  }

  double operator()(const Point& x) const {
    double total = 0.0;
    for (std::size_t m = 0; m < features; ++m) {
      double argument = phases_[m];
      for (std::size_t k = 0; k < x.size(); ++k) argument += frequencies_[m][k] * x[k];
      total += std::cos(argument);
    }
    return total * std::sqrt(2.0 / static_cast<double>(features));
  }

 private:
  std::array<Point, features> frequencies_{};
  std::array<double, features> phases_{};
};

// One real trial in the unit cube.
struct Sample {
  Point point;
  double value;
  bool diverged;
};

inline Config<nn::paper_lenet::space> config_of(const surrogate_data::Trial& trial) {
  Config<nn::paper_lenet::space> config;
  config.set<"conv1.conv_size">(trial.conv1_size).set<"conv2.conv_size">(trial.conv2_size);
  config.set<"fc1.hidden_size">(trial.hidden_size).set<"fc1.dropout_rate">(trial.dropout_rate);
  config.set<"training.batch_size">(trial.batch_size).set<"training.learning_rate">(trial.learning_rate);
  return config;
}

template <typename Data>
const std::vector<Sample>& samples() {
  static const std::vector<Sample> all = [] {
    std::vector<Sample> out;
    out.reserve(Data::trials.size());
    for (const auto& trial : Data::trials) {
      out.push_back({nn::paper_lenet::space::to_unit_cube(config_of(trial)), trial.value,
                     trial.value < surrogate_data::diverged_below});
    }
    return out;
  }();
  return all;
}

// Nadaraya-Watson estimate at x of `target` over the samples `use` admits; a small prior weight on
// `fallback` keeps a point far from every trial finite.
template <typename Use, typename Target>
double kernel_average(const std::vector<Sample>& all, const Point& x, const std::array<double, 6>& bandwidths, Use use,
                      Target target, double fallback) {
  constexpr double prior_weight = 1e-3;  // the generator's KernelModel.prior_weight
  std::array<double, 6> scale{};
  for (std::size_t k = 0; k < 6; ++k) scale[k] = 0.5 / (bandwidths[k] * bandwidths[k]);
  double total_weight = prior_weight, total = prior_weight * fallback;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!use(i)) continue;
    double exponent = 0.0;
    for (std::size_t k = 0; k < 6 && exponent < 30.0; ++k) {
      exponent += (x[k] - all[i].point[k]) * (x[k] - all[i].point[k]) * scale[k];
    }
    if (exponent >= 30.0) continue;  // weight below 1e-13: skipped, as the generator does
    const double weight = std::exp(-exponent);
    total_weight += weight;
    total += weight * target(all[i]);
  }
  return total / total_weight;
}

}  // namespace surrogate_detail

template <LeNetDataset D>
class LeNetSurrogate {
  using data = surrogate_detail::data_for<D>;

 public:
  using space = nn::paper_lenet::space;
  static_assert(space::dimension == 6, "the surrogate's bandwidths are for paper_lenet's 6 free coordinates");
  static_assert(!data::budget_ratios.empty() && !data::chance_values.empty(), "regenerate lenet_surrogate_data.hpp");
  static constexpr Goal goal = Goal::maximize;
  // The best noiseless expected() the generator found (over the real configs and 4,000 random
  // ones), reached at best_config(); below the best real value, which includes lucky noise.
  static constexpr double optimum = data::best_expected;
  static constexpr double training_images = 55000.0;  // converts an iteration budget to epochs

  static constexpr double noise_lengthscale = 0.05;  // SurrogateNoise::smooth, in the unit cube

  explicit LeNetSurrogate(std::uint64_t seed = 0, SurrogateNoise noise = SurrogateNoise::smooth)
      : seed_(seed),
        noise_(noise),
        accuracy_noise_(surrogate_detail::mix(seed ^ 0x61636375ULL), noise_lengthscale),
        divergence_noise_(surrogate_detail::mix(seed ^ 0x64697665ULL), noise_lengthscale) {}

  std::uint64_t seed() const { return seed_; }
  SurrogateNoise noise() const { return noise_; }

  // One noisy evaluation (see the header comment); budget.iterations, when set, wins over epochs.
  Result operator()(const Config<space>& config, const Budget& budget = {}) const {
    const double epochs = epochs_of(config, budget);
    const auto x = space::to_unit_cube(config);
    std::uint64_t state = surrogate_detail::mix(seed_ ^ 0x4c654e6574ULL);
    for (double coordinate : x) state = surrogate_detail::mix(state ^ std::bit_cast<std::uint64_t>(coordinate));
    const std::uint64_t config_hash = state;
    const bool smooth = noise_ == SurrogateNoise::smooth;
    // The divergence draw ignores the budget: a run that diverges does so at every budget.
    const double divergence_draw = smooth ? 0.5 * std::erfc(-divergence_noise_(x) / std::numbers::sqrt2)
                                          : surrogate_detail::unit_from(surrogate_detail::mix(config_hash ^ 1));
    if (divergence_draw < divergence_probability(x)) {
      const auto pick = surrogate_detail::mix(config_hash ^ 2) % data::chance_values.size();
      return Result{.value = data::chance_values[pick]};
    }
    const double mean = scaled_to_budget(accuracy(x), epochs);
    double normal = 0.0;
    if (smooth) {
      normal = accuracy_noise_(x);
    } else {
      const std::uint64_t noise_hash = surrogate_detail::mix(config_hash ^ std::bit_cast<std::uint64_t>(epochs));
      // Box-Muller (Box & Muller 1958) from two hashed uniforms.
      const double u1 = surrogate_detail::unit_from(surrogate_detail::mix(noise_hash ^ 3));
      const double u2 = surrogate_detail::unit_from(surrogate_detail::mix(noise_hash ^ 4));
      normal = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    }
    const double value = std::clamp(mean + noise_sd(mean) * normal, 0.0, 1.0);
    return Result{.value = std::round(value * surrogate_data::validation_images) / surrogate_data::validation_images};
  }

  // The noiseless value: (1 - p) m + p chance, at 1 epoch or the given budget.
  static double expected(const Config<space>& config, const Budget& budget = {}) {
    const double epochs = epochs_of(config, budget);
    const auto x = space::to_unit_cube(config);
    const double p = divergence_probability(x);
    return (1.0 - p) * scaled_to_budget(accuracy(x), epochs) + p * data::chance;
  }

  // The mean validation accuracy of a run that does not diverge, at 1 epoch.
  static double accuracy(const Config<space>& config) { return accuracy(space::to_unit_cube(config)); }

  static double divergence_probability(const Config<space>& config) {
    return divergence_probability(space::to_unit_cube(config));
  }

  // The sd of one evaluation around a mean accuracy that did not diverge.
  static double noise_sd(double mean_accuracy) {
    const double binomial = mean_accuracy * (1.0 - mean_accuracy) / surrogate_data::validation_images;
    return std::sqrt(std::max(binomial, 0.0) + data::training_noise_sd * data::training_noise_sd);
  }

  static Config<space> best_config() {
    const auto& b = data::best_config;
    return surrogate_detail::config_of({static_cast<std::int32_t>(b[0]), static_cast<std::int32_t>(b[1]),
                                        static_cast<std::int32_t>(b[2]), b[3], static_cast<std::int32_t>(b[4]), b[5],
                                        0.0, 0});
  }

  // The real trials the model is fitted on (full budget, one per distinct config).
  static std::span<const surrogate_data::Trial> trials() { return data::trials; }
  static Config<space> config_of(const surrogate_data::Trial& trial) { return surrogate_detail::config_of(trial); }

  // expected() at 1 epoch fitted without the trials whose held_out[i] is true: for cross-validation.
  static double expected_without(const Config<space>& config, std::span<const bool> held_out) {
    if (held_out.size() != data::trials.size()) {
      throw std::invalid_argument(
          fmt::format("mahpo: LeNetSurrogate::expected_without needs one flag per trial ({}), got {}",
                      data::trials.size(), held_out.size()));
    }
    const auto x = space::to_unit_cube(config);
    const auto& all = surrogate_detail::samples<data>();
    const auto kept = [&](std::size_t i) { return !held_out[i]; };
    const double p = surrogate_detail::kernel_average(
        all, x, data::divergence_bandwidths, kept, [](const auto& s) { return s.diverged ? 1.0 : 0.0; },
        divergence_share());
    const double m = surrogate_detail::kernel_average(
        all, x, data::accuracy_bandwidths, [&](std::size_t i) { return kept(i) && !all[i].diverged; },
        [](const auto& s) { return s.value; }, mean_accuracy());
    return (1.0 - p) * m + p * data::chance;
  }

 private:
  static double accuracy(const surrogate_detail::Point& x) {
    const auto& all = surrogate_detail::samples<data>();
    return surrogate_detail::kernel_average(
        all, x, data::accuracy_bandwidths, [&](std::size_t i) { return !all[i].diverged; },
        [](const auto& s) { return s.value; }, mean_accuracy());
  }

  static double divergence_probability(const surrogate_detail::Point& x) {
    return surrogate_detail::kernel_average(
        surrogate_detail::samples<data>(), x, data::divergence_bandwidths, [](std::size_t) { return true; },
        [](const auto& s) { return s.diverged ? 1.0 : 0.0; }, divergence_share());
  }

  static double divergence_share() {
    static const double share = [] {
      double diverged = 0.0;
      for (const auto& s : surrogate_detail::samples<data>()) diverged += s.diverged ? 1.0 : 0.0;
      return diverged / static_cast<double>(data::trials.size());
    }();
    return share;
  }

  static double mean_accuracy() {
    static const double mean = [] {
      double total = 0.0, count = 0.0;
      for (const auto& s : surrogate_detail::samples<data>()) {
        if (!s.diverged) {
          total += s.value;
          count += 1.0;
        }
      }
      return total / count;
    }();
    return mean;
  }

  static double epochs_of(const Config<space>& config, const Budget& budget) {
    const double epochs = budget.iterations > 0
                              ? static_cast<double>(budget.iterations) *
                                    static_cast<double>(config.get<"training.batch_size">()) / training_images
                              : budget.epochs * budget.fraction;
    if (!valid_fraction(budget.fraction)) {
      throw std::invalid_argument(
          fmt::format("mahpo: LeNetSurrogate needs a budget fraction in (0, 1], got {}", budget.fraction));
    }
    if (!(epochs > 0.0)) {
      throw std::invalid_argument(fmt::format("mahpo: LeNetSurrogate needs a budget above 0 epochs, got {}", epochs));
    }
    return epochs;
  }

  // chance + (m - chance) r(epochs), r interpolated linearly in log epochs through the measured
  // ratios and (1 epoch, 1), extrapolated below the smallest budget, clamped to [0, 1].
  static double scaled_to_budget(double mean, double epochs) {
    if (epochs >= 1.0) return mean;
    std::array<surrogate_data::BudgetRatio, data::budget_ratios.size() + 1> knots{};
    std::copy(data::budget_ratios.begin(), data::budget_ratios.end(), knots.begin());
    knots.back() = {1.0, 1.0};
    std::size_t upper = 1;
    while (upper + 1 < knots.size() && knots[upper].epochs < epochs) ++upper;
    const auto& a = knots[upper - 1];
    const auto& b = knots[upper];
    const double t = (std::log(epochs) - std::log(a.epochs)) / (std::log(b.epochs) - std::log(a.epochs));
    const double ratio = std::clamp(a.ratio + t * (b.ratio - a.ratio), 0.0, 1.0);
    return data::chance + (mean - data::chance) * ratio;
  }

  std::uint64_t seed_ = 0;
  SurrogateNoise noise_ = SurrogateNoise::smooth;
  surrogate_detail::SmoothNoise accuracy_noise_, divergence_noise_;
};

using MnistSurrogate = LeNetSurrogate<LeNetDataset::mnist>;
using FashionMnistSurrogate = LeNetSurrogate<LeNetDataset::fashion_mnist>;

// Accuracy against size, two objectives on paper_lenet's space: the surrogate's noisy validation
// accuracy (maximized; fitted on real trials, whose journals record the parameter count beside it)
// and the network's exact parameter count (minimized; nn::parameter_count, what LeNetObjective
// reports). search_reference, in minimized form (-accuracy, parameters): accuracy 0 and 1.1 times
// the largest parameter count over the space's corners.
template <LeNetDataset D>
class LeNetAccuracyParameters {
 public:
  using space = nn::paper_lenet::space;
  static constexpr std::size_t objectives = 2;
  static constexpr std::array<Goal, objectives> goals{Goal::maximize, Goal::minimize};

  explicit LeNetAccuracyParameters(std::uint64_t seed = 0) : surrogate_(seed) {}

  std::array<double, objectives> evaluate(const Config<space>& config) const {
    return {surrogate_(config).value, static_cast<double>(parameters(config))};
  }
  static std::size_t parameters(const Config<space>& config) {
    return nn::parameter_count(nn::paper_lenet::network(config, nn::InputShape{1, 28, 28}));
  }
  static const std::array<double, objectives>& search_reference() {
    static const std::array<double, objectives> reference = [] {
      double largest = 0.0;
      for (std::size_t corner = 0; corner < (std::size_t{1} << space::dimension); ++corner) {
        std::array<double, space::dimension> point{};
        for (std::size_t k = 0; k < space::dimension; ++k) point[k] = (corner >> k) & 1 ? 1.0 : 0.0;
        try {
          largest = std::max(largest, static_cast<double>(parameters(space::from_unit_cube(point))));
        } catch (const ConfigError&) {  // a corner whose feature maps vanish
        }
      }
      return std::array<double, objectives>{0.0, 1.1 * largest};
    }();
    return reference;
  }

 private:
  LeNetSurrogate<D> surrogate_;
};

}  // namespace mahpo::problems
