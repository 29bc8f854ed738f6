// GP-BO's special functions: the stable log EI, log h and its derivative, erfcx.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <vector>

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
