// Pareto dominance, non-dominated sorting and hypervolume (search/pareto.hpp) against brute force:
// fronts peeled one at a time by pairwise comparison, and hypervolumes counted cell by cell on an
// integer grid (exact for integer points).
#include <catch2/catch.hpp>

#include <mahpo/search/pareto.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <vector>

#include "../seeds.hpp"

using namespace mahpo;
using namespace mahpo::search::pareto;

namespace {

// Integer points in [0, range) in every objective: many ties and duplicates.
Points random_points(std::size_t count, std::size_t objectives, int range, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> value(0, range - 1);
  Points points(count, std::vector<double>(objectives));
  for (auto& point : points)
    for (auto& v : point) v = value(rng);
  return points;
}

// Fronts by definition: front k is the points no point outside fronts 0..k-1 dominates.
std::vector<std::size_t> peeled_ranks(const Points& points, const std::vector<double>& violations) {
  std::vector<std::size_t> rank(points.size(), 0);
  std::vector<bool> placed(points.size(), false);
  std::size_t left = points.size();
  for (std::size_t front = 0; left > 0; ++front) {
    std::vector<std::size_t> now;
    for (std::size_t i = 0; i < points.size(); ++i) {
      if (placed[i]) continue;
      bool dominated = false;
      for (std::size_t j = 0; j < points.size() && !dominated; ++j) {
        dominated = !placed[j] && j != i &&
                    constrained_dominates(points[j], violations.empty() ? 0.0 : violations[j], points[i],
                                          violations.empty() ? 0.0 : violations[i]);
      }
      if (!dominated) now.push_back(i);
    }
    for (const std::size_t i : now) {
      rank[i] = front;
      placed[i] = true;
    }
    left -= now.size();
  }
  return rank;
}

// The number of unit cells of [0, range)^M (as lower corners) some point is no greater than in every
// objective: the hypervolume up to (range, ..., range) of integer points.
double counted_hypervolume(const Points& points, int range) {
  const std::size_t m = points.front().size();
  std::size_t cells = 1;
  for (std::size_t k = 0; k < m; ++k) cells *= static_cast<std::size_t>(range);
  double count = 0.0;
  std::vector<int> corner(m);
  for (std::size_t cell = 0; cell < cells; ++cell) {
    std::size_t rest = cell;
    for (std::size_t k = 0; k < m; ++k, rest /= static_cast<std::size_t>(range))
      corner[k] = static_cast<int>(rest % static_cast<std::size_t>(range));
    for (const auto& point : points) {
      bool covers = true;
      for (std::size_t k = 0; k < m && covers; ++k) covers = point[k] <= corner[k];
      if (covers) {
        count += 1.0;
        break;
      }
    }
  }
  return count;
}

}  // namespace

TEST_CASE("non-dominated sorting gives the fronts of the definition, ties and constraints included",
          "[pareto][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(41));
  for (const std::size_t objectives : {2, 3, 4}) {
    for (int round = 0; round < 30; ++round) {
      INFO(objectives << " objectives, round " << round);
      const auto points = random_points(60, objectives, round % 2 == 0 ? 6 : 1000, rng);
      REQUIRE(nondominated_ranks(points) == peeled_ranks(points, {}));
      // A third of the points infeasible, at a few violation levels.
      std::vector<double> violations(points.size(), 0.0);
      std::uniform_int_distribution<int> level(0, 8);
      for (auto& v : violations) v = std::max(0, level(rng) - 5) * 0.5;
      REQUIRE(nondominated_ranks(points, violations) == peeled_ranks(points, violations));
      const auto front = pareto_front(points, violations);
      for (const std::size_t i : front) REQUIRE(violations[i] == 0.0);
    }
  }
}

TEST_CASE("constraint domination: feasible first, then by violation, then Pareto dominance", "[pareto]") {
  const std::vector<double> a{1.0, 1.0}, b{2.0, 2.0}, c{0.0, 3.0};
  CHECK(dominates(a, b));
  CHECK_FALSE(dominates(b, a));
  CHECK_FALSE(dominates(a, a));
  CHECK_FALSE(dominates(a, c));
  CHECK_FALSE(dominates(c, a));
  CHECK(constrained_dominates(b, 0.0, a, 0.5));  // feasible beats infeasible, whatever the values
  CHECK(constrained_dominates(b, 0.2, a, 0.5));  // the smaller violation wins
  CHECK_FALSE(constrained_dominates(a, 0.5, b, 0.5));
  CHECK(violation(std::vector<double>{-1.0, 0.25, 0.5}) == 0.75);
  CHECK(violation(std::vector<double>{-1.0, 0.0}) == 0.0);
  // Maximized objectives turn around.
  const std::array goals{Goal::maximize, Goal::minimize};
  CHECK(to_minimized({{0.9, 100.0}}, goals) == Points{{-0.9, 100.0}});
  CHECK(pareto_front(to_minimized({{0.9, 100.0}, {0.8, 50.0}, {0.7, 60.0}}, goals)) == std::vector<std::size_t>{0, 1});
}

TEST_CASE("hypervolume is exact for 2, 3, 4 and 5 objectives", "[pareto][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(43));
  for (const std::size_t objectives : {2, 3, 4, 5}) {
    for (int round = 0; round < (objectives < 4 ? 40 : 12); ++round) {
      INFO(objectives << " objectives, round " << round);
      const int range = 12;
      // Some points on or past the reference (range): they add nothing.
      const auto points = random_points(1 + round, objectives, range + 2, rng);
      const std::vector<double> reference(objectives, range);
      Points inside;
      for (const auto& point : points) {
        bool in = true;
        for (const double v : point) in = in && v < range;
        if (in) inside.push_back(point);
      }
      const double expected = inside.empty() ? 0.0 : counted_hypervolume(inside, range);
      REQUIRE(hypervolume(points, reference) == Approx(expected).margin(1e-9));
    }
  }
  // A known case: the points (1, 3), (2, 2), (3, 1) up to (4, 4) dominate 3 + 2 + 1 = 6.
  CHECK(hypervolume({{1.0, 3.0}, {2.0, 2.0}, {3.0, 1.0}}, std::vector<double>{4.0, 4.0}) == Approx(6.0));
  CHECK(hypervolume({}, std::vector<double>{1.0, 1.0}) == 0.0);
}

TEST_CASE("pareto functions refuse what they cannot compute", "[pareto]") {
  CHECK_THROWS_AS(hypervolume({{1.0}}, std::vector<double>{5.0}), std::invalid_argument);
  CHECK_THROWS_AS(hypervolume({{1.0, 2.0}}, std::vector<double>{5.0, 5.0, 5.0}), std::invalid_argument);
  CHECK_THROWS_AS(nondominated_ranks({{1.0, 2.0}, {1.0}}), std::invalid_argument);
  CHECK_THROWS_AS(nondominated_ranks({{1.0, std::nan("")}}), std::invalid_argument);
  CHECK_THROWS_AS(nondominated_ranks({{1.0, 2.0}}, std::vector<double>{0.0, 0.0}), std::invalid_argument);
  CHECK_THROWS_AS(nondominated_ranks({{1.0, 2.0}}, std::vector<double>{-1.0}), std::invalid_argument);
  CHECK_THROWS_AS(to_minimized({{1.0, 2.0}}, std::array{Goal::maximize}), std::invalid_argument);
}
