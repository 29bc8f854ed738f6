// GP-BO: the kernel, the stable log-EI, the likelihood's and the acquisition's gradients, the
// posterior, options, duplicates and pending trials, and that it beats random search.
#include <catch2/catch.hpp>

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/gp_bo.hpp>
#include <mahpo/search/random.hpp>

#include <xtensor-blas/xlinalg.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <set>
#include <vector>

using namespace mahpo;
using namespace mahpo::search;
namespace gp_detail = mahpo::search::detail;

namespace {

std::vector<double> random_points(std::size_t count, std::size_t dimension, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> points(count * dimension);
  for (double& value : points) value = unit(rng);
  return points;
}

double naive_log_ei(double mean, double sigma, double best) {
  const double z = (best - mean) / sigma;
  const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi);
  const double cdf = 0.5 * std::erfc(-z / std::numbers::sqrt2);
  return std::log(sigma * (pdf + z * cdf));
}

// The best value after `trials` sequential trials of a searcher on a problem (minimize).
template <typename Searcher, typename Problem>
double best_after(Searcher searcher, const Problem& problem, std::size_t trials) {
  for (std::size_t k = 0; k < trials; ++k) {
    const auto trial = searcher.ask();
    searcher.tell(trial.id, problem(trial.config, trial.budget));
  }
  return searcher.history().best()->result.value;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

template <typename Problem>
std::pair<double, double> median_best_gp_and_random(std::size_t trials, std::size_t seeds, GpBoOptions gp = {}) {
  const Problem problem;
  std::vector<double> gp_best, random_best;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    const SearchOptions options{.seed = seed, .goal = Problem::goal};
    gp_best.push_back(best_after(GpBo<typename Problem::space>(options, gp), problem, trials));
    random_best.push_back(best_after(Random<typename Problem::space>(options), problem, trials));
  }
  return {median(gp_best), median(random_best)};
}

}  // namespace

TEST_CASE("gp_bo: Matérn-5/2 is s2 at r = 0 and its kernel matrix is symmetric positive definite") {
  CHECK(gp_detail::gp_matern52(0.0, 2.5) == 2.5);
  CHECK(gp_detail::gp_matern52(1.0, 2.0) ==
        Approx(2.0 * (1.0 + std::sqrt(5.0) + 5.0 / 3.0) * std::exp(-std::sqrt(5.0))).epsilon(1e-12));
  CHECK(gp_detail::gp_matern52(0.5, 1.0) > gp_detail::gp_matern52(0.6, 1.0));

  gp_detail::GpRegressor model(3, 1e-6);
  const std::vector<double> lengthscales{0.3, 0.5, 1.0};
  model.set_hyperparameters(lengthscales, 2.0, 1e-6);
  const auto points = random_points(40, 3, 7);
  const xt::xtensor<double, 2> kernel = model.kernel_matrix(points);
  REQUIRE(kernel.shape()[0] == 40);
  bool symmetric = true;
  for (std::size_t i = 0; i < 40; ++i) {
    CHECK(kernel(i, i) == Approx(2.0 + 1e-6));
    for (std::size_t j = 0; j < 40; ++j) symmetric = symmetric && kernel(i, j) == kernel(j, i);
  }
  CHECK(symmetric);
  const xt::xtensor<double, 1> eigenvalues = xt::linalg::eigvalsh(kernel);
  CHECK(xt::amin(eigenvalues)() > 0.0);
  // An entry is the kernel at the scaled distance.
  double r2 = 0.0;
  for (std::size_t d = 0; d < 3; ++d) r2 += std::pow((points[3 + d] - points[d]) / lengthscales[d], 2);
  CHECK(kernel(0, 1) == Approx(gp_detail::gp_matern52(std::sqrt(r2), 2.0)).epsilon(1e-12));
}

TEST_CASE("gp_bo: log EI matches the naive formula where EI is not tiny and stays finite far below") {
  for (double sigma : {0.1, 1.0, 3.0}) {
    for (double z = -5.0; z <= 5.0; z += 0.25) {
      const double mean = 1.0 - z * sigma;  // best = 1
      CHECK(gp_detail::gp_log_ei(mean, sigma, 1.0) == Approx(naive_log_ei(mean, sigma, 1.0)).epsilon(1e-9));
    }
  }
  // The two branches meet at z = -1.
  CHECK(gp_detail::gp_log_h(-1.0 - 1e-12).value == Approx(gp_detail::gp_log_h(-1.0 + 1e-12).value).epsilon(1e-10));
  // Far below, naive EI underflows to 0 (log = -inf); log EI follows -z^2/2 - log(2 pi)/2 - 2 log|z|.
  const double far = gp_detail::gp_log_h(-40.0).value;
  CHECK(std::isinf(naive_log_ei(40.0, 1.0, 0.0)));
  REQUIRE(std::isfinite(far));
  CHECK(far == Approx(-800.0 - 0.5 * std::log(2.0 * std::numbers::pi) - 2.0 * std::log(40.0)).epsilon(1e-4));
  CHECK(gp_detail::gp_log_h(-40.0).value < gp_detail::gp_log_h(-39.0).value);
  CHECK(std::isfinite(gp_detail::gp_log_h(-1e9).value));
  // The derivative Phi(z) / h(z), against central differences, on both branches.
  for (double z : {-30.0, -8.0, -2.0, -0.5, 0.0, 1.5, 6.0}) {
    const double step = 1e-5 * std::max(1.0, std::abs(z));
    const double numeric = (gp_detail::gp_log_h(z + step).value - gp_detail::gp_log_h(z - step).value) / (2.0 * step);
    CHECK(gp_detail::gp_log_h(z).derivative == Approx(numeric).epsilon(1e-5));
  }
}

TEST_CASE("gp_bo: erfcx agrees with exp(x^2) erfc(x) and is continuous where the series takes over") {
  for (double x : {-2.0, 0.0, 0.5, 3.0, 10.0, 15.0, 25.0}) {
    CHECK(gp_detail::gp_erfcx(x) == Approx(std::exp(x * x) * std::erfc(x)).epsilon(1e-13));
  }
  CHECK(gp_detail::gp_erfcx(12.0 - 1e-12) == Approx(gp_detail::gp_erfcx(12.0)).epsilon(1e-13));
  CHECK(std::isfinite(gp_detail::gp_erfcx(30.0)));  // where exp(x^2) erfc(x) is inf * 0
  CHECK(gp_detail::gp_erfcx(1e6) == Approx(1.0 / (1e6 * std::sqrt(std::numbers::pi))).epsilon(1e-12));
}

TEST_CASE("gp_bo: the log marginal likelihood's gradient matches finite differences") {
  const std::size_t n = 25, dimension = 2;
  const auto x = random_points(n, dimension, 3);
  std::vector<double> y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = std::sin(5.0 * x[2 * i]) + x[2 * i + 1] * x[2 * i + 1];
  gp_detail::GpRegressor model(dimension, 1e-6);
  const std::vector<double> theta{std::log(0.4), std::log(0.7), std::log(1.3), std::log(1e-2)};
  std::vector<double> gradient(theta.size(), 0.0);
  model.log_posterior(x, y, theta, gradient);
  for (std::size_t k = 0; k < theta.size(); ++k) {
    auto up = theta, down = theta;
    up[k] += 1e-5;
    down[k] -= 1e-5;
    const double numeric = (model.log_posterior(x, y, up, {}) - model.log_posterior(x, y, down, {})) / 2e-5;
    CHECK(gradient[k] == Approx(numeric).epsilon(1e-4).margin(1e-6));
  }
}

TEST_CASE("gp_bo: the posterior mean interpolates noise-free data") {
  gp_detail::GpRegressor model(1, 1e-10);
  const std::vector<double> lengthscale{0.3};
  model.set_hyperparameters(lengthscale, 1.0, 1e-10);
  const std::vector<double> x{0.05, 0.2, 0.45, 0.6, 0.8, 0.95};
  std::vector<double> y;
  for (double at : x) y.push_back(std::sin(6.0 * at));
  REQUIRE(model.condition(x, y));
  std::vector<double> mean(x.size()), variance(x.size());
  model.predict(x, mean, variance);
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(mean[i] == Approx(y[i]).margin(1e-5));
    CHECK(variance[i] < 1e-6);
  }
  const std::vector<double> between{0.325};
  std::vector<double> mean_between(1), variance_between(1);
  model.predict(between, mean_between, variance_between);
  CHECK(variance_between[0] > 1e-3);
  CHECK(mean_between[0] == Approx(std::sin(6.0 * 0.325)).margin(0.1));
}

TEST_CASE("gp_bo: the acquisitions' gradients in the point match finite differences") {
  const std::size_t n = 15, dimension = 2;
  const auto x = random_points(n, dimension, 11);
  std::vector<double> y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = std::cos(4.0 * x[2 * i]) * x[2 * i + 1];
  gp_detail::GpRegressor model(dimension, 1e-6);
  const std::vector<double> lengthscales{0.3, 0.6};
  model.set_hyperparameters(lengthscales, 1.0, 1e-4);
  REQUIRE(model.condition(x, y));
  const double best = *std::min_element(y.begin(), y.end());
  for (auto kind : {GpBoOptions::Acquisition::log_ei, GpBoOptions::Acquisition::ucb}) {
    const gp_detail::GpAcquisition acquisition{kind, 2.0, best};
    const auto value_at = [&](const std::vector<double>& point) {
      double mean = 0.0, variance = 0.0;
      std::vector<double> mean_gradient(dimension), variance_gradient(dimension), gradient(dimension);
      model.predict(point, mean, variance, mean_gradient, variance_gradient);
      const double value = acquisition(mean, variance, mean_gradient, variance_gradient, gradient);
      return std::make_pair(value, gradient);
    };
    for (const auto& point : {std::vector<double>{0.31, 0.72}, std::vector<double>{0.9, 0.1}}) {
      const auto [value, gradient] = value_at(point);
      // The batch prediction gives the same value.
      std::vector<double> mean(1), variance(1);
      model.predict(point, mean, variance);
      CHECK(acquisition(mean[0], variance[0]) == Approx(value).epsilon(1e-10));
      for (std::size_t d = 0; d < dimension; ++d) {
        auto up = point, down = point;
        up[d] += 1e-6;
        down[d] -= 1e-6;
        const double numeric = (value_at(up).first - value_at(down).first) / 2e-6;
        CHECK(gradient[d] == Approx(numeric).epsilon(1e-4).margin(1e-6));
      }
    }
  }
}

TEST_CASE("gp_bo: options are checked") {
  using S = problems::Branin::space;
  CHECK_NOTHROW(GpBo<S>());
  CHECK_THROWS_AS(GpBo<S>({}, {.ucb_beta = -1.0}), std::invalid_argument);
  CHECK_THROWS_AS(GpBo<S>({}, {.ucb_beta = std::nan("")}), std::invalid_argument);
  CHECK_THROWS_AS(GpBo<S>({}, {.candidates = 0}), std::invalid_argument);
  CHECK_THROWS_AS(GpBo<S>({}, {.fit_evaluations = 0}), std::invalid_argument);
  CHECK_THROWS_AS(GpBo<S>({}, {.noise_floor = 0.0}), std::invalid_argument);
  CHECK_THROWS_AS(GpBo<S>({}, {.noise_floor = 1.5}), std::invalid_argument);
  CHECK_THROWS_WITH(GpBo<S>({}, {.ucb_beta = -1.0}), Catch::Contains("mahpo::gp_bo") && Catch::Contains("ucb_beta"));
}

TEST_CASE("gp_bo: asks no config twice while the space has unasked ones") {
  using S = Space<Int<"a", 0, 3>, Categorical<"b", "x", "y", "z">>;  // 12 configs
  GpBo<S> searcher(SearchOptions{.seed = 4}, {.startup_trials = 3});
  std::set<std::pair<std::int64_t, std::string>> seen;
  for (int k = 0; k < 12; ++k) {
    const auto trial = searcher.ask();
    seen.emplace(trial.config.get<"a">(), trial.config.get<"b">());
    Result result;
    result.value = static_cast<double>(trial.config.get<"a">());
    searcher.tell(trial.id, result);
  }
  // Startup draws may repeat each other; the model's picks never repeat an asked config.
  CHECK(seen.size() >= 10);
  const auto& entries = searcher.history().entries();
  for (std::size_t k = 3; k < entries.size(); ++k) {
    for (std::size_t earlier = 0; earlier < k; ++earlier) CHECK_FALSE(entries[k].config == entries[earlier].config);
  }
}

TEST_CASE("gp_bo: pending trials (constant liar) spread the batch") {
  using P = problems::Branin;
  const P problem;
  GpBo<P::space> searcher(SearchOptions{.seed = 2, .goal = P::goal});
  for (int k = 0; k < 15; ++k) {
    const auto trial = searcher.ask();
    searcher.tell(trial.id, problem(trial.config));
  }
  std::vector<std::array<double, 2>> batch;
  for (int k = 0; k < 4; ++k) batch.push_back(P::space::to_unit_cube(searcher.ask().config));
  for (std::size_t a = 0; a < batch.size(); ++a) {
    for (std::size_t b = a + 1; b < batch.size(); ++b) {
      CHECK(std::hypot(batch[a][0] - batch[b][0], batch[a][1] - batch[b][1]) > 1e-3);
    }
  }
  CHECK(searcher.history().pending() == 4);
}

TEST_CASE("gp_bo: beats random search on Branin with 40 trials (median of 5 seeds)", "[quality]") {
  const auto [gp, random] = median_best_gp_and_random<problems::Branin>(40, 5);
  INFO("median best: gp_bo " << gp << ", random " << random);
  CHECK(gp < random);
  CHECK(gp < 0.397887 + 0.1);
}

TEST_CASE("gp_bo: UCB beats random search on Branin with 40 trials (median of 5 seeds)", "[quality]") {
  const auto [gp, random] = median_best_gp_and_random<problems::Branin>(
      40, 5, GpBoOptions{.acquisition = GpBoOptions::Acquisition::ucb});
  INFO("median best: gp_bo " << gp << ", random " << random);
  CHECK(gp < random);
}

TEST_CASE("gp_bo: beats random search on Hartmann-6 with 40 trials (median of 5 seeds)", "[quality]") {
  const auto [gp, random] = median_best_gp_and_random<problems::Hartmann6>(40, 5);
  INFO("median best: gp_bo " << gp << ", random " << random);
  CHECK(gp < random);
}
