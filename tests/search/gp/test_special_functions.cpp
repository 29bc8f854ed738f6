// GP-BO's special functions: the stable log EI, log h and its derivative, erfcx, the normal quantile.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <vector>

#include <mahpo/search/gp/regressor.hpp>
#include <mahpo/search/gp/special_functions.hpp>

using namespace mahpo::search;

namespace {

double naive_log_ei(double mean, double sigma, double best) {
  const double z = (best - mean) / sigma;
  const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi);
  const double cdf = 0.5 * std::erfc(-z / std::numbers::sqrt2);
  return std::log(sigma * (pdf + z * cdf));
}

}  // namespace

TEST_CASE("gp: log EI matches the naive formula where EI is not tiny and stays finite far below") {
  for (double sigma : {0.1, 1.0, 3.0}) {
    for (double z = -5.0; z <= 5.0; z += 0.25) {
      const double mean = 1.0 - z * sigma;  // best = 1
      CHECK(gp::detail::log_ei(mean, sigma, 1.0) == Approx(naive_log_ei(mean, sigma, 1.0)).epsilon(1e-9));
    }
  }
  // The two branches meet at z = -1.
  CHECK(gp::detail::log_h(-1.0 - 1e-12).value == Approx(gp::detail::log_h(-1.0 + 1e-12).value).epsilon(1e-10));
  // Far below, naive EI underflows to 0 (log = -inf); log EI follows -z^2/2 - log(2 pi)/2 - 2 log|z|.
  const double far = gp::detail::log_h(-40.0).value;
  CHECK(std::isinf(naive_log_ei(40.0, 1.0, 0.0)));
  REQUIRE(std::isfinite(far));
  CHECK(far == Approx(-800.0 - 0.5 * std::log(2.0 * std::numbers::pi) - 2.0 * std::log(40.0)).epsilon(1e-4));
  CHECK(gp::detail::log_h(-40.0).value < gp::detail::log_h(-39.0).value);
  CHECK(std::isfinite(gp::detail::log_h(-1e9).value));
  // The derivative Phi(z) / h(z), against central differences, on both branches.
  for (double z : {-30.0, -8.0, -2.0, -0.5, 0.0, 1.5, 6.0}) {
    const double step = 1e-5 * std::max(1.0, std::abs(z));
    const double numeric = (gp::detail::log_h(z + step).value - gp::detail::log_h(z - step).value) / (2.0 * step);
    CHECK(gp::detail::log_h(z).derivative == Approx(numeric).epsilon(1e-5));
  }
}

TEST_CASE("gp: erfcx agrees with exp(x^2) erfc(x) and is continuous where the series takes over") {
  for (double x : {-2.0, 0.0, 0.5, 3.0, 10.0, 15.0, 25.0}) {
    CHECK(gp::detail::erfcx(x) == Approx(std::exp(x * x) * std::erfc(x)).epsilon(1e-13));
  }
  CHECK(gp::detail::erfcx(12.0 - 1e-12) == Approx(gp::detail::erfcx(12.0)).epsilon(1e-13));
  CHECK(std::isfinite(gp::detail::erfcx(30.0)));  // where exp(x^2) erfc(x) is inf * 0
  CHECK(gp::detail::erfcx(1e6) == Approx(1.0 / (1e6 * std::sqrt(std::numbers::pi))).epsilon(1e-12));
}

TEST_CASE("gp: the normal quantile inverts the normal CDF, and normal scores keep the losses' order") {
  for (const double p : {1e-12, 1e-6, 0.01, 0.25, 0.5, 0.8, 0.975, 1.0 - 1e-9}) {
    const double z = gp::detail::normal_quantile(p);
    CAPTURE(p, z);
    CHECK(0.5 * std::erfc(-z / std::sqrt(2.0)) == Approx(p).epsilon(1e-10));
  }
  CHECK(gp::detail::normal_quantile(0.5) == Approx(0.0).margin(1e-12));
  CHECK(gp::detail::normal_quantile(0.975) == Approx(1.959963984540054).epsilon(1e-10));

  // Ranks 0..4 -> Phi^-1((rank + 1/2) / 5); ties share their mean rank; a far outlier is just the last.
  std::vector<double> losses{5.0, -1.0, 1e6, 2.0, 2.0};
  gp::detail::normal_scores(losses);
  CHECK(losses[1] == Approx(gp::detail::normal_quantile(0.1)));
  CHECK(losses[3] == losses[4]);
  CHECK(losses[3] == Approx(gp::detail::normal_quantile(0.4)).epsilon(1e-12));  // ranks 1 and 2: 1.5
  CHECK(losses[0] == Approx(gp::detail::normal_quantile(0.7)));
  CHECK(losses[2] == Approx(gp::detail::normal_quantile(0.9)));
}
