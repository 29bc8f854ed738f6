// ZDT1-3 and DTLZ2 (problems/multi_objective.hpp): their values at known points, and the hypervolume
// of their true fronts against the closed forms (ZDT1, ZDT2, DTLZ2) up to the sample's spacing.
#include <catch2/catch.hpp>

#include <mahpo/problems/multi_objective.hpp>
#include <mahpo/search/pareto.hpp>

#include <array>
#include <cmath>
#include <numbers>
#include <random>

#include "../seeds.hpp"

using namespace mahpo;
using namespace mahpo::problems;
using mahpo::search::pareto::hypervolume;

TEST_CASE("the multi-objective problems' spaces and values", "[problems]") {
  STATIC_REQUIRE(Zdt1::space::dimension == 30);
  STATIC_REQUIRE(Dtlz2::space::dimension == 12);
  std::array<double, 30> x{};
  x[0] = 0.25;
  CHECK(Zdt1::evaluate(x) == std::array{0.25, 0.5});
  CHECK(Zdt2::evaluate(x) == std::array{0.25, 1.0 - 0.0625});
  CHECK(Zdt3::evaluate(x)[1] == Approx(1.0 - 0.5 - 0.25 * std::sin(2.5 * std::numbers::pi)));
  x.fill(1.0);  // g = 10
  CHECK(Zdt1::evaluate(x)[1] == Approx(10.0 * (1.0 - std::sqrt(0.1))));
  std::array<double, 12> y{};
  y.fill(0.5);
  y[0] = 0.0;
  y[1] = 0.0;
  CHECK(Dtlz2::evaluate(y) == std::array{1.0, 0.0, 0.0});
  y[2] = 1.0;  // g = 0.25
  CHECK(Dtlz2::evaluate(y)[0] == Approx(1.25));
  // A config reads as its coordinates.
  const auto config = Zdt1::space::from_unit_cube(std::array<double, 30>{0.5});
  CHECK(Zdt1::evaluate(config) == std::array{0.5, 1.0 - std::sqrt(0.5)});
}

TEST_CASE("the true fronts' hypervolumes match the closed forms", "[problems]") {
  // ZDT1 and ZDT2 up to (1.1, 1.1): 0.1 + integral of 1 - f2 over [0, 1], plus (1.1 - 1) 1.1.
  CHECK(hypervolume(Zdt1::true_front(), Zdt1::reference) == Approx(0.1 + 2.0 / 3.0 + 0.11).epsilon(1e-4));
  CHECK(hypervolume(Zdt2::true_front(), Zdt2::reference) == Approx(0.1 + 1.0 / 3.0 + 0.11).epsilon(1e-4));
  // ZDT3's front is five pieces: fewer points than samples, none dominating another.
  const auto zdt3 = Zdt3::true_front();
  CHECK(zdt3.size() < 10001);
  CHECK(mahpo::search::pareto::pareto_front(zdt3).size() == zdt3.size());
  CHECK(hypervolume(zdt3, Zdt3::reference) > hypervolume(Zdt1::true_front(), Zdt1::reference));
  // DTLZ2 up to (1.1, 1.1, 1.1): the box less the unit sphere's octant, 1.331 - pi / 6; a grid of
  // the front covers a little less.
  const double dtlz2 = hypervolume(Dtlz2::true_front(201), Dtlz2::reference);
  CHECK(dtlz2 <= 1.331 - std::numbers::pi / 6.0);
  CHECK(dtlz2 == Approx(1.331 - std::numbers::pi / 6.0).epsilon(1e-2));
  // Random points of the space reach less than the front.
  std::mt19937_64 rng(mahpo::testing::seed(47));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  mahpo::search::pareto::Points random;
  for (int i = 0; i < 200; ++i) {
    std::array<double, 30> z{};
    for (auto& v : z) v = unit(rng);
    const auto f = Zdt1::evaluate(z);
    random.push_back({f[0], f[1]});
  }
  CHECK(hypervolume(random, Zdt1::reference) < hypervolume(Zdt1::true_front(), Zdt1::reference));
}
