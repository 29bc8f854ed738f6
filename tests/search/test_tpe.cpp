// TPE: Optuna's gamma and weights, its bandwidths and densities, the startup, options, and that it
// beats random search on Branin and the LeNet quadratic.
#include <catch2/catch.hpp>

#include <mahpo/isa.hpp>
#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/tpe/joint_terms.hpp>
#include <mahpo/search/tpe/tpe.hpp>

#include "../spaces.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

#include "../seeds.hpp"

using namespace mahpo;
using namespace mahpo::search;

namespace {

// Runs `trials` ask/tell rounds of `problem` and returns the best value found.
template <typename Searcher, typename Problem>
double best_after(Searcher searcher, const Problem& problem, std::size_t trials) {
  for (std::size_t k = 0; k < trials; ++k) {
    const auto trial = searcher.ask();
    searcher.tell(trial.id, Result{.value = problem(trial.config).value});
  }
  return searcher.history().best()->result.value;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The density of N(mu, sigma) truncated to [0, 1], written out.
double truncated_density(double x, double mu, double sigma) {
  const auto phi = [](double t) { return 0.5 * std::erfc(-t / std::numbers::sqrt2); };
  const double z = (x - mu) / sigma;
  const double mass = phi((1.0 - mu) / sigma) - phi(-mu / sigma);
  return std::exp(-0.5 * z * z) / (sigma * std::sqrt(2.0 * std::numbers::pi) * mass);
}

// Fits a Parzen estimator to points given as rows.
template <typename Rules = tpe::Optuna>
struct Fitted {
  std::vector<std::vector<double>> rows;
  std::vector<const double*> points;
  std::vector<std::uint32_t> sorted;
  tpe::detail::ParzenEstimator<Rules> parzen;

  Fitted(std::span<const Dimension> dims, std::vector<std::vector<double>> given, const TpeOptions& options)
      : rows(std::move(given)) {
    for (const auto& row : rows) points.push_back(row.data());
    for (std::size_t k = 0; k < dims.size(); ++k) {
      std::vector<std::uint32_t> order(rows.size());
      for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return rows[a][k] < rows[b][k]; });
      sorted.insert(sorted.end(), order.begin(), order.end());
    }
    parzen.fit(dims, points, sorted, options);
  }
};

}  // namespace

TEST_CASE("tpe's gamma is Optuna's ceil(n / 10) capped at 25, hyperopt's ceil(sqrt(n) / 4)") {
  CHECK(tpe::Optuna::gamma(1) == 1);
  CHECK(tpe::Optuna::gamma(10) == 1);
  CHECK(tpe::Optuna::gamma(11) == 2);
  CHECK(tpe::Optuna::gamma(30) == 3);
  CHECK(tpe::Optuna::gamma(250) == 25);
  CHECK(tpe::Optuna::gamma(1000) == 25);
  CHECK(tpe::Hyperopt::gamma(1) == 1);
  CHECK(tpe::Hyperopt::gamma(16) == 1);
  CHECK(tpe::Hyperopt::gamma(17) == 2);
  CHECK(tpe::Hyperopt::gamma(64) == 2);
  CHECK(tpe::Hyperopt::gamma(65) == 3);
  CHECK(tpe::Hyperopt::gamma(100000) == 25);
}

TEST_CASE("tpe's weights are flat for the newest 25 and ramp from 1/n for the older ones") {
  CHECK(tpe::weights<tpe::Optuna>(0).empty());
  for (std::size_t n : {1, 24, 25}) {
    const auto weights = tpe::weights<tpe::Optuna>(n);
    REQUIRE(weights.size() == n);
    CHECK(std::all_of(weights.begin(), weights.end(), [](double w) { return w == 1.0; }));
  }
  const auto weights = tpe::weights<tpe::Optuna>(30);  // linspace(1/30, 1, 5), then 25 ones
  REQUIRE(weights.size() == 30);
  for (std::size_t i = 0; i < 5; ++i)
    CHECK(weights[i] == Approx(1.0 / 30 + (1.0 - 1.0 / 30) * static_cast<double>(i) / 4.0));
  CHECK(weights[0] == Approx(1.0 / 30));
  CHECK(std::all_of(weights.begin() + 5, weights.end(), [](double w) { return w == 1.0; }));
  CHECK(tpe::weights<tpe::Optuna>(26)[0] == Approx(1.0 / 26));
}

TEST_CASE("tpe refuses bad options") {
  using S = problems::Branin::space;
  const auto make = [](TpeOptions options) { Tpe<S> searcher({}, options); };
  CHECK_NOTHROW(make({}));
  CHECK_THROWS_AS(make({.candidates = 0}), std::invalid_argument);
  CHECK_THROWS_AS(make({.prior_weight = 0.0}), std::invalid_argument);
  CHECK_THROWS_AS(make({.prior_weight = -1.0}), std::invalid_argument);
  CHECK_THROWS_AS(make({.prior_weight = std::nan("")}), std::invalid_argument);
  CHECK_THROWS_AS(make({.prior_weight = HUGE_VAL}), std::invalid_argument);
  const auto make_hyperopt = [](TpeOptions options) { Tpe<S, tpe::Hyperopt> searcher({}, options); };
  CHECK_NOTHROW(make_hyperopt({}));
  CHECK_THROWS_AS(make_hyperopt({.multivariate = true}), std::invalid_argument);
  CHECK_THROWS_AS(make_hyperopt({.consider_endpoints = true}), std::invalid_argument);
  CHECK_THROWS_AS(make_hyperopt({.consider_magic_clip = false}), std::invalid_argument);
  CHECK_THROWS_WITH(make_hyperopt({.multivariate = true}), Catch::Contains("mahpo::tpe_hyperopt"));
  CHECK_THROWS_WITH(make({.candidates = 0}), Catch::Contains("mahpo::tpe"));
  CHECK_NOTHROW(make({.multivariate = true, .optuna_stream = true}));  // Optuna 5's multivariate draws
  const auto make_optuna3 = [](TpeOptions options) { Tpe<S, tpe::Optuna3> searcher({}, options); };
  CHECK_NOTHROW(make_optuna3({.optuna_stream = true}));
  CHECK_THROWS_WITH(make_optuna3({.multivariate = true, .optuna_stream = true}),
                    Catch::Contains("mahpo::tpe_optuna3") && Catch::Contains("multivariate = false"));
  CHECK_THROWS_AS(make_hyperopt({.optuna_stream = true}), std::invalid_argument);
  CHECK_THROWS_AS((Tpe<S>({.seed = std::uint64_t{1} << 32}, {.optuna_stream = true})), std::invalid_argument);
  CHECK_NOTHROW(Tpe<S>({.seed = std::uint64_t{1} << 32}, {}));
}

TEST_CASE("tpe's startup trials are Random's draws, failed trials don't end the startup") {
  using S = problems::LeNetQuadratic::space;
  const problems::LeNetQuadratic problem;
  Tpe<S> tpe({.seed = 7});
  Random<S> random({.seed = 7});
  for (std::size_t k = 0; k < 25; ++k) {
    const auto a = tpe.ask();
    const auto b = random.ask();
    CHECK(a.config == b.config);
    // 15 failures first, then 10 usable trials: all 25 are startup trials.
    Result result = k < 15 ? Result{} : Result{.value = problem(a.config).value};
    if (k < 15) result.status = Status::failed;
    tpe.tell(a.id, result);
    random.tell(b.id, result);
  }
  CHECK_FALSE(tpe.ask().config == random.ask().config);  // the model's first proposal
}

TEST_CASE("tpe's bandwidths follow Optuna 5's neighbour rule among the observations, univariate and joint") {
  const std::array<Dimension, 1> dims{Dimension{"x", Kind::continuous, 0}};
  const std::vector<std::vector<double>> rows{{0.15}, {0.1}, {0.6}};  // sorted: 0.1, 0.15, 0.6 (no prior)
  for (const bool multivariate : {false, true}) {
    CAPTURE(multivariate);
    Fitted<> plain(dims, rows, {.consider_magic_clip = false, .multivariate = multivariate});
    REQUIRE(plain.parzen.components() == 4);
    CHECK(plain.parzen.sigma(0, 1) == Approx(0.05));  // first: its inner gap only
    CHECK(plain.parzen.sigma(0, 0) == Approx(0.45));  // max(0.05, 0.45)
    CHECK(plain.parzen.sigma(0, 2) == Approx(0.45));  // last: its inner gap only
    CHECK(plain.parzen.sigma(0, 3) == 1.0);           // the prior
    Fitted<> endpoints(dims, rows,
                       {.consider_magic_clip = false, .consider_endpoints = true, .multivariate = multivariate});
    CHECK(endpoints.parzen.sigma(0, 1) == Approx(0.1));  // max(0.1 - 0, 0.05)
    CHECK(endpoints.parzen.sigma(0, 2) == Approx(0.45));
    Fitted<> clipped(dims, rows, {.multivariate = multivariate});
    CHECK(clipped.parzen.sigma(0, 1) == Approx(0.2));  // at least 1 / min(100, 3 + 2)
    // One observation: the domain's ends are its neighbours, whatever consider_endpoints says.
    Fitted<> lone(dims, {{0.2}}, {.consider_magic_clip = false, .multivariate = multivariate});
    CHECK(lone.parzen.sigma(0, 0) == Approx(0.8));
  }
}

TEST_CASE("tpe_optuna3's bandwidths follow Optuna 3.1's neighbour rule and magic clip") {
  const std::array<Dimension, 1> dims{Dimension{"x", Kind::continuous, 0}};
  const std::vector<std::vector<double>> rows{{0.15}, {0.1}};  // sorted with the prior: 0.1, 0.15, 0.5

  Fitted<tpe::Optuna3> plain(dims, rows, {.consider_magic_clip = false});
  REQUIRE(plain.parzen.components() == 3);
  CHECK(plain.parzen.sigma(0, 1) == Approx(0.05));  // first: its inner gap only
  CHECK(plain.parzen.sigma(0, 0) == Approx(0.35));  // max(0.05, 0.35)
  CHECK(plain.parzen.mu(0, 2) == 0.5);
  CHECK(plain.parzen.sigma(0, 2) == 1.0);  // the prior
  CHECK(plain.parzen.weight(0) == Approx(1.0 / 3));
  CHECK(plain.parzen.weight(2) == Approx(1.0 / 3));

  Fitted<tpe::Optuna3> endpoints(dims, rows, {.consider_magic_clip = false, .consider_endpoints = true});
  CHECK(endpoints.parzen.sigma(0, 1) == Approx(0.1));  // max(0.1 - 0, 0.05)

  Fitted<tpe::Optuna3> clipped(dims, rows, {});
  CHECK(clipped.parzen.sigma(0, 1) == Approx(0.25));  // at least 1 / min(100, 2 + 2)
  CHECK(clipped.parzen.sigma(0, 0) == Approx(0.35));

  Fitted<tpe::Hyperopt> lone(dims, {{0.2}}, {});
  CHECK(lone.parzen.sigma(0, 0) == Approx(0.5));  // hyperopt: half the prior's sigma

  Fitted<tpe::Optuna3> joint(dims, rows, {.consider_magic_clip = false, .multivariate = true});
  CHECK(joint.parzen.sigma(0, 0) == Approx(0.2 * std::pow(2.0, -1.0 / 5.0)));  // 0.2 n^(-1/(d+4))

  Fitted<tpe::Optuna3> weighted(dims, std::vector<std::vector<double>>(30, {0.3}), {});
  const double total = 5 * (1.0 / 30 + 1.0) / 2 + 25 + 1;  // the ramp, 25 ones, the prior
  CHECK(weighted.parzen.weight(0) == Approx(1.0 / 30 / total));
  CHECK(weighted.parzen.weight(29) == Approx(1.0 / total));
  CHECK(weighted.parzen.weight(30) == Approx(1.0 / total));
}

TEST_CASE("tpe's densities are the written-out mixtures, and integrate to 1, unscaled kernels drop 1 / sigma") {
  const std::array<Dimension, 2> dims{Dimension{"x", Kind::continuous, 0}, Dimension{"c", Kind::categorical, 3}};
  // Repeated values (as integers give) and points near the ends.
  std::vector<std::vector<double>> rows;
  for (double x : {0.02, 0.3, 0.3, 0.3, 0.31, 0.7, 0.99, 0.5}) rows.push_back({x, x < 0.5 ? 0.5 / 3 : 2.5 / 3});

  for (const auto& [multivariate, height] :
       {std::pair{false, KernelHeight::density}, std::pair{true, KernelHeight::density},
        std::pair{false, KernelHeight::unscaled}, std::pair{true, KernelHeight::unscaled}}) {
    CAPTURE(multivariate, height);
    const bool unscaled = height == KernelHeight::unscaled;
    Fitted<> fitted(dims, rows, {.multivariate = multivariate, .kernel_height = height});
    auto& parzen = fitted.parzen;
    const std::size_t count = parzen.components();
    // The categorical kernel of Optuna: (1[c = observed] + a) / (1 + 3a), a = 1 / count.
    const double a = 1.0 / static_cast<double>(count);
    const auto kernel = [&](std::size_t i, std::size_t c) {
      if (i + 1 == count) return 1.0 / 3.0;
      const std::size_t observed = rows[i][1] < 0.5 ? 0 : 2;
      return ((observed == c ? 1.0 : 0.0) + a) / (1.0 + 3.0 * a);
    };
    double integral = 0.0;
    const int steps = 2000;
    for (int s = 0; s < steps; ++s) {
      const double x = (s + 0.5) / steps;
      for (std::size_t c = 0; c < 3; ++c) {
        const std::array<double, 2> point{x, (static_cast<double>(c) + 0.5) / 3.0};
        double expected = 0.0, numeric = 0.0, categorical = 0.0;
        for (std::size_t i = 0; i < count; ++i) {
          const double sigma = parzen.sigma(0, i);
          const double density = truncated_density(x, parzen.mu(0, i), sigma) * (unscaled ? sigma : 1.0);
          expected += parzen.weight(i) * density * kernel(i, c);
          numeric += parzen.weight(i) * density;
          categorical += parzen.weight(i) * kernel(i, c);
        }
        if (multivariate) {
          REQUIRE(parzen.log_density(point) == Approx(std::log(expected)).margin(1e-9));
          integral += std::exp(parzen.log_density(point)) / steps;
        } else {
          REQUIRE(parzen.log_density_coordinate(0, x) == Approx(std::log(numeric)).margin(1e-9));
          REQUIRE(parzen.log_density_coordinate(1, point[1]) == Approx(std::log(categorical)).margin(1e-12));
          integral +=
              std::exp(parzen.log_density_coordinate(0, x) + parzen.log_density_coordinate(1, point[1])) / steps;
        }
      }
    }
    if (!unscaled) CHECK(integral == Approx(1.0).epsilon(1e-3));
  }
  // tpe::Optuna's own: the density (Optuna 5); tpe::Optuna3's unscaled (Optuna 3.1 to 3.4); hyperopt's: the density.
  CHECK_FALSE(tpe::unscaled_kernels<tpe::Optuna>({}));
  CHECK(tpe::unscaled_kernels<tpe::Optuna3>({}));
  CHECK_FALSE(tpe::unscaled_kernels<tpe::Hyperopt>({}));
  CHECK_FALSE(tpe::unscaled_kernels<tpe::Optuna3>({.kernel_height = KernelHeight::density}));
  CHECK(tpe::unscaled_kernels<tpe::Optuna>({.kernel_height = KernelHeight::unscaled}));
  CHECK(tpe::unscaled_kernels<tpe::Hyperopt>({.kernel_height = KernelHeight::unscaled}));
}

TEST_CASE("tpe's draws from l stay in [0, 1] and follow l", "[seeded]") {
  const std::array<Dimension, 1> dims{Dimension{"x", Kind::continuous, 0}};
  Fitted<> fitted(dims, {{0.05}, {0.1}, {0.08}}, {});
  const auto& parzen = fitted.parzen;
  const auto phi = [](double t) { return 0.5 * std::erfc(-t / std::numbers::sqrt2); };
  double expected = 0.0;  // P(x < 0.3) under the mixture of truncated Gaussians
  for (std::size_t i = 0; i < parzen.components(); ++i) {
    const double mu = parzen.mu(0, i), sigma = parzen.sigma(0, i);
    expected +=
        parzen.weight(i) * (phi((0.3 - mu) / sigma) - phi(-mu / sigma)) / (phi((1.0 - mu) / sigma) - phi(-mu / sigma));
  }
  std::mt19937_64 rng(mahpo::testing::seed(3));
  std::size_t below = 0;
  const std::size_t draws = 4000;
  for (std::size_t k = 0; k < draws; ++k) {
    const double x = parzen.sample_coordinate(0, rng);
    REQUIRE(x >= 0.0);
    REQUIRE(x <= 1.0);
    if (x < 0.3) ++below;
  }
  CHECK(static_cast<double>(below) / draws == Approx(expected).margin(0.03));  // 4 standard deviations
}

TEST_CASE("tpe beats random search on Branin (60 trials, median of 9 seeds)", "[seeded]") {
  using S = problems::Branin::space;
  const problems::Branin problem;
  std::vector<double> tpe, random;
  for (std::uint64_t seed = 1; seed <= 9; ++seed) {
    const SearchOptions options{.seed = mahpo::testing::seed(seed), .goal = Goal::minimize, .budget = {}};
    tpe.push_back(best_after(Tpe<S>(options), problem, 60));
    random.push_back(best_after(Random<S>(options), problem, 60));
  }
  CHECK(median(tpe) < median(random));
  CHECK(median(tpe) < 1.0);
}

TEST_CASE("tpe beats random search on the LeNet quadratic, in every mode", "[seeded]") {
  using S = problems::LeNetQuadratic::space;
  const problems::LeNetQuadratic problem;
  std::vector<double> random;
  for (std::uint64_t seed = 1; seed <= 5; ++seed)
    random.push_back(best_after(Random<S>({.seed = mahpo::testing::seed(seed)}), problem, 80));
  const auto check_mode = [&]<typename Rules>(Rules, const TpeOptions& tpe_options) {
    std::vector<double> tpe;
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      tpe.push_back(best_after(Tpe<S, Rules>({.seed = mahpo::testing::seed(seed)}, tpe_options), problem, 80));
    }
    CAPTURE(Rules::searcher_name, tpe_options.multivariate, tpe_options.constant_liar);
    CHECK(median(tpe) > median(random));
  };
  for (const TpeOptions& tpe_options :
       {TpeOptions{}, TpeOptions{.multivariate = true}, TpeOptions{.constant_liar = false}}) {
    check_mode(tpe::Optuna{}, tpe_options);
  }
  check_mode(tpe::Hyperopt{}, {});
}

TEST_CASE("tpe stays inside a mixed space in every mode, with many pending trials, and repeats itself") {
  using S = test_spaces::Mixed;  // integers, log reals, a categorical, a fixed value, a log integer
  const auto value = [](const Config<S>& config) {
    const auto x = S::to_unit_cube(config);
    double total = config.get<"activation">() == "tanh" ? 0.5 : 0.0;
    for (double coordinate : x) total -= (coordinate - 0.3) * (coordinate - 0.3);
    return total;
  };
  const auto check_mode = [&]<typename Rules>(Rules, const TpeOptions& tpe_options) {
    CAPTURE(Rules::searcher_name, tpe_options.multivariate, tpe_options.constant_liar);
    const auto run = [&](std::uint64_t seed) {
      Tpe<S, Rules> searcher({.seed = seed}, tpe_options);
      std::vector<Trial<S>> trials;
      for (std::size_t round = 0; round < 8; ++round) {
        const std::size_t first = trials.size();
        for (std::size_t k = 0; k < 8; ++k) trials.push_back(searcher.ask());  // 8 pending at once
        for (std::size_t k = first; k < trials.size(); ++k) {
          REQUIRE_NOTHROW(Config<S>(trials[k].config.values()));
          searcher.tell(trials[k].id, Result{.value = value(trials[k].config)});
        }
      }
      return trials;
    };
    const auto first = run(21), again = run(21);
    bool same = true;
    for (std::size_t k = 0; k < first.size(); ++k) same = same && first[k].config == again[k].config;
    CHECK(same);
    double best = -1e9;
    for (const auto& trial : first) best = std::max(best, value(trial.config));
    CHECK(best > 0.25);  // found "tanh" and a point near 0.3 in every coordinate
  };
  for (const TpeOptions& tpe_options :
       {TpeOptions{}, TpeOptions{.consider_endpoints = true}, TpeOptions{.multivariate = true},
        TpeOptions{.consider_magic_clip = false, .constant_liar = false}}) {
    check_mode(tpe::Optuna{}, tpe_options);
  }
  check_mode(tpe::Hyperopt{}, {});
}

TEST_CASE("tpe with the constant liar avoids what is already pending", "[seeded]") {
  // One real dimension; after 10 told trials, ask 6 more without telling. The liar puts each
  // pending point in g, so the pending points spread out more than without it.
  using S = mahpo::Space<mahpo::Real<"x", 0.0, 1.0>>;
  const auto spread = [](bool liar) {
    double total = 0.0;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      Tpe<S> searcher({.seed = mahpo::testing::seed(seed), .goal = Goal::minimize, .budget = {}},
                      {.constant_liar = liar});
      for (std::size_t k = 0; k < 10; ++k) {
        const auto trial = searcher.ask();
        const double x = trial.config.get<"x">();
        searcher.tell(trial.id, Result{.value = (x - 0.4) * (x - 0.4)});
      }
      std::vector<double> pending;
      for (std::size_t k = 0; k < 6; ++k) pending.push_back(searcher.ask().config.get<"x">());
      std::sort(pending.begin(), pending.end());
      total += pending.back() - pending.front();
    }
    return total;
  };
  CHECK(spread(true) > spread(false));
}

TEST_CASE("tpe scores a linear integer by its cell's mass, a log-scale integer by its density") {
  // Optuna's IntDistribution (step 1): each kernel a truncated Gaussian, an integer's score the mass
  // of its cell [c, c + 1) / count; a log-scale int has no step there and is scored by the density.
  const std::size_t count = 6;
  const std::array<Dimension, 1> cells{Dimension{"i", Kind::integer, count}};
  const std::array<Dimension, 1> logged{Dimension{"j", Kind::integer, count, true}};
  std::vector<std::vector<double>> rows;
  for (std::size_t c : {0, 1, 1, 1, 4, 5, 2}) rows.push_back({(static_cast<double>(c) + 0.5) / count});
  const auto phi = [](double t) { return 0.5 * std::erfc(-t / std::numbers::sqrt2); };

  for (const bool multivariate : {false, true}) {
    CAPTURE(multivariate);
    Fitted<> fitted(cells, rows, {.multivariate = multivariate});
    const auto& parzen = fitted.parzen;
    double total = 0.0;
    for (std::size_t c = 0; c < count; ++c) {
      const double lo = static_cast<double>(c) / count, hi = static_cast<double>(c + 1) / count;
      double expected = 0.0;
      for (std::size_t i = 0; i < parzen.components(); ++i) {
        const double mu = parzen.mu(0, i), sigma = parzen.sigma(0, i);
        const double inside = phi((1.0 - mu) / sigma) - phi(-mu / sigma);
        expected += parzen.weight(i) * (phi((hi - mu) / sigma) - phi((lo - mu) / sigma)) / inside;
      }
      const double at = (static_cast<double>(c) + 0.5) / count, off = lo + 0.01;  // anywhere in the cell
      const std::array<double, 1> point{off};
      const double score = multivariate ? fitted.parzen.log_density(point) : parzen.log_density_coordinate(0, at);
      CHECK(score == Approx(std::log(expected)).margin(1e-12));
      if (!multivariate) CHECK(parzen.log_density_coordinate(0, off) == score);
      total += std::exp(score);
    }
    CHECK(total == Approx(1.0).margin(1e-12));  // the cells' masses: a distribution over the values

    Fitted<> log_scale(logged, rows, {.multivariate = multivariate, .kernel_height = KernelHeight::density});
    const double x = 2.5 / count;
    double density = 0.0;
    for (std::size_t i = 0; i < log_scale.parzen.components(); ++i) {
      density +=
          log_scale.parzen.weight(i) * truncated_density(x, log_scale.parzen.mu(0, i), log_scale.parzen.sigma(0, i));
    }
    const std::array<double, 1> point{x};
    const double score =
        multivariate ? log_scale.parzen.log_density(point) : log_scale.parzen.log_density_coordinate(0, x);
    CHECK(score == Approx(std::log(density)).margin(1e-9));
  }
}

TEST_CASE("tpe's bandwidths follow the configs a replace gave, not the ones it asked", "[seeded]") {
  // The neighbour rule needs each coordinate's observations in order; replace moves a point.
  using S = problems::Branin::space;
  const problems::Branin problem;
  Tpe<S> tpe({.seed = 5, .goal = Goal::minimize});
  std::mt19937_64 rng(mahpo::testing::seed(17));
  for (std::size_t k = 0; k < 40; ++k) {
    const auto trial = tpe.ask();
    Config<S> config = S::sample(rng);
    tpe.replace(trial.id, config);
    tpe.tell(trial.id, problem(config));
  }
  const auto [below, above] = tpe.estimators();
  const auto check_rule = [](const auto& parzen, std::size_t k) {
    const std::size_t n = parzen.components() - 1;
    std::vector<double> sorted;  // the observations' centres (Optuna 5: not the prior's)
    for (std::size_t i = 0; i < n; ++i) sorted.push_back(parzen.mu(k, i));
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < n; ++i) {
      const double mu = parzen.mu(k, i);
      const auto at = static_cast<std::size_t>(std::lower_bound(sorted.begin(), sorted.end(), mu) - sorted.begin());
      double width =
          std::max(at == 0 ? mu : mu - sorted[at - 1], at + 1 == sorted.size() ? 1.0 - mu : sorted[at + 1] - mu);
      if (at == 0) width = sorted[1] - mu;
      if (at + 1 == sorted.size()) width = mu - sorted[at - 1];
      const double clipped = std::clamp(width, 1.0 / std::min(100.0, static_cast<double>(n + 2)), 1.0);
      CAPTURE(k, i, mu);
      CHECK(parzen.sigma(k, i) == Approx(clipped).margin(1e-15));
    }
  };
  REQUIRE(below.components() == 5);  // gamma(40) = 4, and the prior
  REQUIRE(above.components() == 37);
  for (std::size_t k = 0; k < 2; ++k) {
    check_rule(below, k);
    check_rule(above, k);
  }
}

TEST_CASE("tpe's options as JSON: kernel_height only when set, multivariate resolved, the rules' revision") {
  const nlohmann::json plain = TpeOptions{};
  CHECK_FALSE(plain.contains("kernel_height"));
  CHECK(plain.size() == 7);  // the keys journals written before kernel_height have
  const nlohmann::json density = TpeOptions{.kernel_height = KernelHeight::density};
  CHECK(density.at("kernel_height") == "density");
  const auto back = density.get<TpeOptions>();
  CHECK(back.kernel_height == KernelHeight::density);
  const auto empty = nlohmann::json::object().get<TpeOptions>();  // missing keys: the defaults
  CHECK(empty.candidates == TpeOptions{}.candidates);
  CHECK(empty.kernel_height == KernelHeight::rules);
  CHECK(nlohmann::json(Tpe<problems::Branin::space>({}, {.kernel_height = KernelHeight::unscaled}).options_json())
            .at("kernel_height") == "unscaled");
  // Unset, multivariate is null and reads back unset; a searcher records the rules' choice, and
  // tpe::Optuna its revision, so a journal of Optuna 3.1's TPE (no "rules") is not resumed by it.
  CHECK(plain.at("multivariate").is_null());
  CHECK_FALSE(plain.get<TpeOptions>().multivariate.has_value());
  CHECK(nlohmann::json(TpeOptions{.multivariate = false}).get<TpeOptions>().multivariate == false);
  const auto today = Tpe<problems::Branin::space>(SearchOptions{}).options_json();
  CHECK(today.at("multivariate") == true);
  CHECK(today.at("rules") == "optuna-5");
  const auto old = Tpe<problems::Branin::space, tpe::Optuna3>(SearchOptions{}).options_json();
  CHECK(old.at("multivariate") == false);
  CHECK_FALSE(old.contains("rules"));
  CHECK(Tpe<problems::Branin::space, tpe::Hyperopt>(SearchOptions{}).options_json().at("multivariate") == false);
}

TEST_CASE("tpe's optuna_stream draws numpy's numbers and Optuna's truncated normals") {
  // numpy 1.24: RandomState(0).random_sample(4), RandomState(4294967295).random_sample().
  tpe::detail::LegacyRandomState zero(0), last(4294967295U);
  for (const double expected : {0.5488135039273248, 0.7151893663724195, 0.6027633760716439, 0.5448831829968969}) {
    CHECK(zero.random_sample() == expected);
  }
  CHECK(last.random_sample() == 0.0976320289940138);
  // Optuna 3.1's _truncnorm.ppf(q, a, b) at three points, the last far in the lower tail.
  CHECK(tpe::detail::optuna_truncated_normal_ppf(0.3, -0.5, 2.0) == Approx(0.022940762771431943).epsilon(1e-13));
  CHECK(tpe::detail::optuna_truncated_normal_ppf(0.9, 0.25, 3.0) == Approx(1.7352950881667302).epsilon(1e-13));
  CHECK(tpe::detail::optuna_truncated_normal_ppf(0.01, -30.0, -25.0) == Approx(-25.183244039412372).epsilon(1e-13));
  // The inverse of the truncated CDF: Phi(x) = Phi(a) + q (Phi(b) - Phi(a)).
  const auto phi = [](double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); };
  for (const double q : {0.05, 0.5, 0.95}) {
    const double x = tpe::detail::optuna_truncated_normal_ppf(q, -1.0, 0.5);
    CHECK(phi(x) == Approx(phi(-1.0) + q * (phi(0.5) - phi(-1.0))).margin(1e-14));
  }
}

TEST_CASE("tpe_optuna3 with optuna_stream asks what Optuna 3.1's TPESampler(seed=0) asks on Branin") {
  // Recorded with Debian's python3-optuna 3.1.0 (numpy 1.24): a study minimizing Branin, whose
  // objective suggests x1 in [-5, 10], then x2 in [0, 15]; trials 0-9 its RandomSampler's, 10-14 TPE's.
  constexpr std::array<std::array<double, 2>, 15> optuna{{{3.232202558909872, 10.727840495586292},
                                                          {4.041450641074658, 8.173247744953454},
                                                          {1.354821990083571, 9.688411695999841},
                                                          {1.5638081689403878, 13.376595011731197},
                                                          {9.45494140751544, 5.751622782386666},
                                                          {6.87587557123997, 7.933423796293567},
                                                          {3.5206684164089843, 13.883949574389916},
                                                          {-3.9344591270316958, 1.3069394955231106},
                                                          {-4.696724038395114, 12.48929768321907},
                                                          {6.672351264247757, 13.050182223702288},
                                                          {9.49695440518833, 4.446971099829537},
                                                          {9.291673912901734, 4.644794049322195},
                                                          {9.724912805373958, 5.018122852820375},
                                                          {7.621000591128231, 2.903636427999101},
                                                          {9.94447612938023, 4.590951996667593}}};
  const problems::Branin branin;
  Tpe<problems::Branin::space, tpe::Optuna3> tpe({.seed = 0, .goal = problems::Branin::goal}, {.optuna_stream = true});
  for (const auto& expected : optuna) {
    const auto trial = tpe.ask();
    CHECK(trial.config.get<"x1">() == Approx(expected[0]).margin(1e-12));
    CHECK(trial.config.get<"x2">() == Approx(expected[1]).margin(1e-12));
    tpe.tell(trial.id, Result{.value = branin(trial.config).value});
  }
  // Its own stream draws other trials; the option is recorded only when set.
  CHECK(Tpe<problems::Branin::space>({.seed = 0}).ask().config.get<"x1">() != Approx(optuna[0][0]).margin(1e-6));
  CHECK(nlohmann::json(TpeOptions{.optuna_stream = true}).at("optuna_stream") == true);
  CHECK_FALSE(nlohmann::json(TpeOptions{}).contains("optuna_stream"));
}

TEST_CASE("tpe's joint scores over a long mixed history are the written-out mixture, in the same bits on every ISA") {
  // A real, a categorical, a linear integer and a log-scale integer; 300 observations, a few of the
  // integer's off their cell's centre (kernels the tables can't hold, scored one by one).
  const std::size_t cells = 9, choices = 3;
  const std::array<Dimension, 4> dims{Dimension{"x", Kind::continuous, 0}, Dimension{"c", Kind::categorical, choices},
                                      Dimension{"i", Kind::integer, cells}, Dimension{"j", Kind::integer, 20, true}};
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto centre = [](double u, std::size_t count) {
    return (static_cast<double>(unit_cell(u, count)) + 0.5) / static_cast<double>(count);
  };
  std::vector<std::vector<double>> rows;
  for (std::size_t r = 0; r < 300; ++r) {
    const double near = 0.3 + 0.1 * unit(rng);  // a cluster, as a converging search leaves
    rows.push_back({r % 2 == 0 ? near : unit(rng), centre(unit(rng), choices),
                    r % 50 == 7 ? unit(rng) : centre(r % 3 == 0 ? near : unit(rng), cells), unit(rng)});
  }
  Fitted<> fitted(dims, rows, {.multivariate = true});
  auto& parzen = fitted.parzen;
  const std::size_t count = parzen.components();
  const double a = 1.0 / static_cast<double>(count);  // Optuna's categorical kernel
  const auto phi = [](double t) { return 0.5 * std::erfc(-t / std::numbers::sqrt2); };
  const Isa restore = active_isa();
  for (std::size_t q = 0; q < 40; ++q) {
    const std::array<double, 4> x{q % 2 == 0 ? 0.35 + 0.05 * unit(rng) : unit(rng), centre(unit(rng), choices),
                                  centre(q % 2 == 0 ? 0.35 : unit(rng), cells), unit(rng)};
    long double expected = 0.0L;
    for (std::size_t i = 0; i < count; ++i) {
      const bool prior = i + 1 == count;
      const double real = truncated_density(x[0], parzen.mu(0, i), parzen.sigma(0, i));
      const std::size_t observed = prior ? 0 : unit_cell(rows[i][1], choices);
      const double categorical =
          prior ? 1.0 / choices : ((observed == unit_cell(x[1], choices) ? 1.0 : 0.0) + a) / (1.0 + choices * a);
      const double mu = parzen.mu(2, i), sigma = parzen.sigma(2, i);
      const double lo = static_cast<double>(unit_cell(x[2], cells)) / cells, hi = lo + 1.0 / cells;
      const double cell =
          (phi((hi - mu) / sigma) - phi((lo - mu) / sigma)) / (phi((1.0 - mu) / sigma) - phi(-mu / sigma));
      const double logged = truncated_density(x[3], parzen.mu(3, i), parzen.sigma(3, i));
      expected += static_cast<long double>(parzen.weight(i)) * real * categorical * cell * logged;
    }
    CAPTURE(q);
    const double sse2 = (use_isa(Isa::sse2), parzen.log_density(x));
    CHECK(sse2 == Approx(std::log(static_cast<double>(expected))).margin(1e-9));
    for (const Isa isa : {Isa::avx2, Isa::avx512}) {
      if (use_isa(isa) != isa) continue;  // not on this CPU
      CAPTURE(isa_name(isa));
      CHECK(parzen.log_density(x) == sse2);
    }
  }
  use_isa(restore);
}

TEST_CASE("tpe's vectorized exp is within 2 ulp of std::exp on [-708, 0]") {
  double worst = 0.0;
  for (int step = 0; step <= 200000; ++step) {
    const double s = -708.0 * step / 200000.0;
    const double ours = tpe::detail::exp_nonpositive(s), theirs = std::exp(s);
    worst = std::max(worst, std::abs(ours - theirs) / (theirs * std::numeric_limits<double>::epsilon()));
  }
  CHECK(worst <= 2.0);
  CHECK(tpe::detail::exp_nonpositive(0.0) == 1.0);
  CHECK(tpe::detail::exp_nonpositive(-1e9) == Approx(std::exp(-708.0)));  // taken as -708
}
