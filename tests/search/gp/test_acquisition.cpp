// The acquisitions (log EI, UCB): their gradients in the point against finite differences.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include <mahpo/search/gp/acquisition.hpp>
#include <mahpo/search/gp/regressor.hpp>

#include "../../seeds.hpp"

#include "random_points.hpp"

using namespace mahpo::search;
using mahpo::testing::random_points;

TEST_CASE("gp: the acquisitions' gradients in the point match finite differences", "[seeded]") {
  const std::size_t n = 15, dimension = 2;
  const auto x = random_points(n, dimension, 11);
  std::vector<double> y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = std::cos(4.0 * x[2 * i]) * x[2 * i + 1];
  gp::detail::Regressor model(dimension, 1e-6);
  const std::vector<double> lengthscales{0.3, 0.6};
  model.set_hyperparameters(lengthscales, 1.0, 1e-4);
  REQUIRE(model.condition(x, y));
  const double best = *std::min_element(y.begin(), y.end());
  for (auto kind : {gp::AcquisitionKind::log_ei, gp::AcquisitionKind::ucb}) {
    const gp::detail::Acquisition acquisition{kind, 2.0, best};
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
