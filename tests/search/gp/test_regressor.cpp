// The GP regressor: the Matérn kernel and its matrix, the likelihood's gradient, the posterior.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>

#include <mahpo/search/gp/regressor.hpp>

#include "../../seeds.hpp"

#include "random_points.hpp"

using namespace mahpo::search;
using mahpo::testing::random_points;

TEST_CASE("gp: Matérn-5/2 is s2 at r = 0 and its kernel matrix is symmetric positive definite", "[seeded]") {
  CHECK(gp::detail::matern52(0.0, 2.5) == 2.5);
  CHECK(gp::detail::matern52(1.0, 2.0) ==
        Approx(2.0 * (1.0 + std::sqrt(5.0) + 5.0 / 3.0) * std::exp(-std::sqrt(5.0))).epsilon(1e-12));
  CHECK(gp::detail::matern52(0.5, 1.0) > gp::detail::matern52(0.6, 1.0));

  gp::detail::Regressor model(3, 1e-6);
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
  CHECK(kernel(0, 1) == Approx(gp::detail::matern52(std::sqrt(r2), 2.0)).epsilon(1e-12));
}

TEST_CASE("gp: the log marginal likelihood's gradient matches finite differences", "[seeded]") {
  const std::size_t n = 25, dimension = 2;
  const auto x = random_points(n, dimension, 3);
  std::vector<double> y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = std::sin(5.0 * x[2 * i]) + x[2 * i + 1] * x[2 * i + 1];
  gp::detail::Regressor model(dimension, 1e-6);
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

TEST_CASE("gp: the posterior mean interpolates noise-free data") {
  gp::detail::Regressor model(1, 1e-10);
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

TEST_CASE("gp: with FABOLAS's factor over the fraction, the likelihood's gradient matches finite differences",
          "[seeded]") {
  using Loss = gp::detail::BasicRegressor<gp::detail::DataSetSize<gp::detail::FidelityBasis::loss>>;
  using Cost = gp::detail::BasicRegressor<gp::detail::DataSetSize<gp::detail::FidelityBasis::cost>>;
  const std::size_t n = 20, dimension = 2;
  const auto x = random_points(n, dimension + 1, 5);  // the last coordinate: the fraction s
  std::vector<double> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = std::sin(4.0 * x[3 * i]) + x[3 * i + 1] + 0.5 * (1.0 - x[3 * i + 2]) * (1.0 - x[3 * i + 2]);
  }
  const std::vector<double> theta{std::log(0.4), std::log(0.7), std::log(1.3), std::log(1e-2), 0.4, std::log(0.6)};
  const auto check = [&](auto model) {
    REQUIRE(model.width() == dimension + 1);
    std::vector<double> gradient(theta.size(), 0.0);
    model.log_posterior(x, y, theta, gradient);
    for (std::size_t k = 0; k < theta.size(); ++k) {
      auto up = theta, down = theta;
      up[k] += 1e-5;
      down[k] -= 1e-5;
      const double numeric = (model.log_posterior(x, y, up, {}) - model.log_posterior(x, y, down, {})) / 2e-5;
      CAPTURE(k);
      CHECK(gradient[k] == Approx(numeric).epsilon(1e-4).margin(1e-6));
    }
  };
  check(Loss(dimension, 1e-6));
  check(Cost(dimension, 1e-6));

  // The factor: 1 at s = s' = 1 for the loss (the signal variance alone), and the joint posterior of
  // a pair agrees with the single-point predictions.
  Loss model(dimension, 1e-6);
  const std::vector<double> lengthscales{0.4, 0.7}, factor{0.4, std::log(0.6)};
  model.set_hyperparameters(lengthscales, 1.3, 1e-4, factor);
  const auto kernel = model.kernel_matrix(std::vector<double>{0.2, 0.3, 1.0, 0.2, 0.3, 0.25});
  CHECK(kernel(0, 0) == Approx(1.3 + 1e-4));
  const double g = 0.75 * 0.75;
  CHECK(kernel(1, 1) == Approx(1.3 * ((1.0 + 0.4 * g) * (1.0 + 0.4 * g) + 0.36 * g * g) + 1e-4));
  CHECK(kernel(0, 1) == Approx(1.3 * (1.0 + 0.4 * g)));
  REQUIRE(model.condition(x, y));
  const std::vector<double> a{0.5, 0.5, 0.1}, b{0.5, 0.5, 1.0};
  std::vector<double> mean_a(1), variance_a(1), mean_b(1), variance_b(1), covariance(1), mean(1), variance(1);
  model.predict_pairs(a, b, mean_a, variance_a, mean_b, variance_b, covariance);
  model.predict(a, mean, variance);
  CHECK(mean_a[0] == Approx(mean[0]));
  CHECK(variance_a[0] == Approx(variance[0]));
  model.predict(b, mean, variance);
  CHECK(mean_b[0] == Approx(mean[0]));
  CHECK(variance_b[0] == Approx(variance[0]));
  CHECK(covariance[0] * covariance[0] <= variance_a[0] * variance_b[0] * (1.0 + 1e-9));

  // The fraction projection gives the same posterior at any fraction from two solves.
  const auto projection = model.project_fractions(std::vector<double>{0.5, 0.5});
  CHECK(model.fraction_mean(projection, 0, 0.1) == Approx(mean_a[0]).epsilon(1e-10));
  CHECK(model.fraction_mean(projection, 0, 1.0) == Approx(mean_b[0]).epsilon(1e-10));
  CHECK(model.fraction_covariance(projection, 0, 0.1, 0.1) == Approx(variance_a[0]).epsilon(1e-9));
  CHECK(model.fraction_covariance(projection, 0, 1.0, 1.0) == Approx(variance_b[0]).epsilon(1e-9));
  CHECK(model.fraction_covariance(projection, 0, 0.1, 1.0) == Approx(covariance[0]).epsilon(1e-9));
}
