// Halton points: the radical inverse, the primes that are its bases, the shifted sequence and its
// stratification (the property GP-BO's candidates are drawn for).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <set>
#include <vector>

#include <mahpo/search/gp/halton.hpp>

using namespace mahpo::search::gp::detail;

TEST_CASE("gp: the radical inverse mirrors the digits of the index about the radix point") {
  CHECK(radical_inverse(0, 2) == 0.0);
  CHECK(radical_inverse(1, 2) == 0.5);
  CHECK(radical_inverse(2, 2) == 0.25);
  CHECK(radical_inverse(3, 2) == 0.75);
  CHECK(radical_inverse(6, 2) == 0.375);  // 110 -> 0.011
  CHECK(radical_inverse(1, 3) == Approx(1.0 / 3.0).epsilon(1e-15));
  CHECK(radical_inverse(5, 3) == Approx(2.0 / 3.0 + 1.0 / 9.0).epsilon(1e-15));   // 12 -> 0.21
  CHECK(radical_inverse(7, 5) == Approx(2.0 / 5.0 + 1.0 / 25.0).epsilon(1e-15));  // 12 -> 0.21
}

TEST_CASE("gp: the first primes are the Halton bases") {
  CHECK(first_primes(0).empty());
  CHECK(first_primes(8) == std::vector<std::size_t>{2, 3, 5, 7, 11, 13, 17, 19});
  CHECK(first_primes(100).back() == 541);
}

TEST_CASE("gp: unshifted Halton points are the radical inverses of 1, 2, 3, ... in the first primes") {
  const std::vector<double> no_shift(3, 0.0);
  const auto points = shifted_halton(10, no_shift);
  REQUIRE(points.size() == 30);
  const std::size_t bases[] = {2, 3, 5};
  for (std::size_t i = 0; i < 10; ++i) {
    for (std::size_t d = 0; d < 3; ++d) CHECK(points[i * 3 + d] == radical_inverse(i + 1, bases[d]));
  }
}

TEST_CASE("gp: a shift moves every coordinate modulo 1 and keeps the points below 1") {
  const std::vector<double> no_shift(2, 0.0), shift{0.3, 0.9};
  const auto plain = shifted_halton(50, no_shift);
  const auto moved = shifted_halton(50, shift);
  for (std::size_t i = 0; i < plain.size(); ++i) {
    CHECK(moved[i] >= 0.0);
    CHECK(moved[i] < 1.0);
    const double expected = plain[i] + shift[i % 2];
    CHECK(moved[i] == Approx(expected - std::floor(expected)).margin(1e-15));
  }
}

TEST_CASE("gp: b^k Halton points put one point in each of the b^k equal cells of every coordinate") {
  // Indices 1 .. b^k: j / b^k for j = 1 .. b^k - 1, and b^-(k+1) for the last, which fills cell 0.
  const std::vector<double> no_shift(3, 0.0);
  const std::size_t bases[] = {2, 3, 5}, powers[] = {64, 27, 25};
  for (std::size_t d = 0; d < 3; ++d) {
    INFO("base " << bases[d]);
    const auto points = shifted_halton(powers[d], no_shift);
    std::set<std::size_t> cells;
    for (std::size_t i = 0; i < powers[d]; ++i) {
      cells.insert(static_cast<std::size_t>(std::floor(points[i * 3 + d] * static_cast<double>(powers[d]) + 1e-9)));
    }
    CHECK(cells.size() == powers[d]);
    CHECK(*cells.rbegin() == powers[d] - 1);
  }
}
