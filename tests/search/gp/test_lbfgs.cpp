// The box-constrained L-BFGS: unconstrained minima inside the box, minima on the box's faces, the
// evaluation budget, and non-finite values.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <vector>

#include <mahpo/search/gp/lbfgs.hpp>

using namespace mahpo::search::gp::detail;

namespace {

// Rosenbrock's valley, minimum 0 at (1, 1).
double rosenbrock(std::span<const double> x, std::span<double> gradient) {
  const double a = 1.0 - x[0], b = x[1] - x[0] * x[0];
  gradient[0] = -2.0 * a - 400.0 * x[0] * b;
  gradient[1] = 200.0 * b;
  return a * a + 100.0 * b * b;
}

// sum_i (x_i - c_i)^2 with c = (2, -3, 0.5).
double shifted_square(std::span<const double> x, std::span<double> gradient) {
  const double centre[] = {2.0, -3.0, 0.5};
  double value = 0.0;
  for (std::size_t i = 0; i < 3; ++i) {
    gradient[i] = 2.0 * (x[i] - centre[i]);
    value += (x[i] - centre[i]) * (x[i] - centre[i]);
  }
  return value;
}

}  // namespace

TEST_CASE("gp: L-BFGS finds Rosenbrock's minimum inside a wide box") {
  const std::vector<double> lower{-5.0, -5.0}, upper{5.0, 5.0};
  const auto found = minimize_in_box(rosenbrock, {-1.2, 1.0}, lower, upper, 500, 0.5);
  CHECK(found.value < 1e-8);
  CHECK(found.x[0] == Approx(1.0).margin(1e-3));
  CHECK(found.x[1] == Approx(1.0).margin(1e-3));
  CHECK(found.evaluations <= 500);
}

TEST_CASE("gp: L-BFGS stops on the box's faces where the minimum lies outside") {
  // The centre (2, -3, 0.5) is outside [0, 1] x [-1, 1] x [0, 1] in its first two coordinates.
  const std::vector<double> lower{0.0, -1.0, 0.0}, upper{1.0, 1.0, 1.0};
  const auto found = minimize_in_box(shifted_square, {0.5, 0.5, 0.5}, lower, upper, 100, 0.2);
  CHECK(found.x[0] == 1.0);
  CHECK(found.x[1] == -1.0);
  CHECK(found.x[2] == Approx(0.5).margin(1e-6));
  CHECK(found.value == Approx(1.0 + 4.0).margin(1e-10));
}

TEST_CASE("gp: L-BFGS clamps its start into the box and keeps every evaluation inside it") {
  const std::vector<double> lower{0.0, -1.0, 0.0}, upper{1.0, 1.0, 1.0};
  std::size_t outside = 0;
  const auto watched = [&](std::span<const double> x, std::span<double> gradient) {
    for (std::size_t i = 0; i < 3; ++i) outside += x[i] < lower[i] || x[i] > upper[i];
    return shifted_square(x, gradient);
  };
  const auto found = minimize_in_box(watched, {7.0, -9.0, 0.2}, lower, upper, 100, 0.2);
  CHECK(outside == 0);
  CHECK(found.value == Approx(5.0).margin(1e-10));
}

TEST_CASE("gp: L-BFGS spends at most its evaluations, the first one included") {
  std::size_t calls = 0;
  const auto counted = [&](std::span<const double> x, std::span<double> gradient) {
    ++calls;
    return rosenbrock(x, gradient);
  };
  const std::vector<double> lower{-5.0, -5.0}, upper{5.0, 5.0};
  const auto found = minimize_in_box(counted, {-1.2, 1.0}, lower, upper, 7, 0.5);
  CHECK(calls == 7);
  CHECK(found.evaluations == 7);
  std::vector<double> start{-1.2, 1.0}, gradient(2);
  CHECK(found.value < rosenbrock(start, gradient));
}

TEST_CASE("gp: L-BFGS steps back from non-finite values and returns a non-finite start untouched") {
  // (x - 3)^2 on [0, 5], undefined (infinite) past 2: the best finite point approaches 2 from below.
  const auto walled = [](std::span<const double> x, std::span<double> gradient) {
    gradient[0] = 2.0 * (x[0] - 3.0);
    return x[0] > 2.0 ? std::numeric_limits<double>::infinity() : (x[0] - 3.0) * (x[0] - 3.0);
  };
  const std::vector<double> lower{0.0}, upper{5.0};
  const auto found = minimize_in_box(walled, {0.0}, lower, upper, 60, 1.0);
  CHECK(std::isfinite(found.value));
  CHECK(found.x[0] <= 2.0);
  CHECK(found.x[0] > 1.0);

  std::size_t calls = 0;
  const auto nowhere = [&](std::span<const double>, std::span<double>) {
    ++calls;
    return std::numeric_limits<double>::quiet_NaN();
  };
  const auto start = minimize_in_box(nowhere, {0.5}, lower, upper, 60, 1.0);
  CHECK(calls == 1);
  CHECK(start.x[0] == 0.5);
  CHECK(std::isnan(start.value));
}
