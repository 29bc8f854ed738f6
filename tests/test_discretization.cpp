#include <catch2/catch.hpp>

#include <mahpo/space/space.hpp>

#include <array>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "spaces.hpp"

using namespace mahpo;
using test_spaces::Mixed;

TEST_CASE("Int levels: every integer when they fit, else evenly spread with both ends") {
  using Small = Int<"k", 2, 7>;
  CHECK(Small::levels(10) == std::vector<std::int64_t>{2, 3, 4, 5, 6, 7});
  CHECK(Small::levels(6) == std::vector<std::int64_t>{2, 3, 4, 5, 6, 7});
  CHECK(Int<"x", 0, 100>::levels(5) == std::vector<std::int64_t>{0, 25, 50, 75, 100});
  CHECK(Int<"x", 0, 100>::levels(1) == std::vector<std::int64_t>{50});
  CHECK(LogInt<"h", 1, 1000>::levels(4) == std::vector<std::int64_t>{1, 10, 100, 1000});
}

TEST_CASE("Real levels include both ends, spread in the scale") {
  const auto linear = Real<"d", 0.5, 0.9>::levels(3);
  REQUIRE(linear.size() == 3);
  CHECK(linear[0] == 0.5);
  CHECK(linear[1] == Approx(0.7));
  CHECK(linear[2] == 0.9);
  const auto log_levels = LogReal<"lr", 1e-4, 0.1>::levels(4);
  REQUIRE(log_levels.size() == 4);
  CHECK(log_levels[0] == 1e-4);
  CHECK(log_levels[1] == Approx(1e-3));
  CHECK(log_levels[2] == Approx(1e-2));
  CHECK(log_levels[3] == 0.1);
  using Dropout = Real<"d", 0.5, 0.9>;
  CHECK_THROWS_AS(Dropout::levels(0), std::invalid_argument);
}

TEST_CASE("a discretization counts the actions of each free dimension") {
  const auto cut = Mixed::discretize(4);
  // batch_size 4, learning_rate 4, activation 3 (all), dropout_rate 4, hidden_size 4
  CHECK(cut.counts() == std::array<std::size_t, 5>{4, 4, 3, 4, 4});
  CHECK(cut.size() == 4 * 4 * 3 * 4 * 4);
  CHECK(cut.levels<"filters">() == std::vector<std::int64_t>{6});
  CHECK(cut.levels<"activation">() == std::vector<std::string>{"relu", "tanh", "sigmoid"});
}

TEST_CASE("per-dimension resolutions") {
  const auto cut = Mixed::discretize({2, 3, 1, 5, 2});
  CHECK(cut.counts() == std::array<std::size_t, 5>{2, 3, 3, 5, 2});
  CHECK(cut.levels<"batch_size">() == std::vector<std::int64_t>{16, 32});
  CHECK_THROWS_WITH(Mixed::discretize({2, 0, 1, 5, 2}), Catch::Contains("'learning_rate' must be at least 1"));
}

TEST_CASE("an action per dimension picks a config") {
  const auto cut = Mixed::discretize(3);
  const std::array<std::size_t, 5> actions{2, 0, 1, 2, 0};
  const auto config = cut.at(std::span<const std::size_t>(actions));
  CHECK(config.get<"batch_size">() == 32);
  CHECK(config.get<"learning_rate">() == 1e-4);
  CHECK(config.get<"activation">() == "tanh");
  CHECK(config.get<"dropout_rate">() == 0.9);
  CHECK(config.get<"hidden_size">() == 124);
  CHECK(config.get<"filters">() == 6);
  const std::array<std::size_t, 5> bad{3, 0, 0, 0, 0};
  CHECK_THROWS_WITH(cut.at(std::span<const std::size_t>(bad)), Catch::Contains("index 3 for 'batch_size'"));
  const std::array<std::size_t, 2> short_actions{0, 0};
  CHECK_THROWS_AS(cut.at(std::span<const std::size_t>(short_actions.data(), short_actions.size())),
                  std::invalid_argument);
}

TEST_CASE("the grid enumerates every combination once") {
  using Small = Space<Int<"k", 2, 4>, Categorical<"a", "relu", "tanh">, Fixed<"f", 6>, Real<"d", 0.5, 0.9>>;
  const auto grid = Small::grid(2);
  REQUIRE(grid.size() == 2 * 2 * 2);  // k takes 2 and 4 at resolution 2
  std::set<std::string> seen;
  for (const auto& config : grid) seen.insert(config.to_string());
  CHECK(seen.size() == grid.size());
  CHECK(grid.front().to_string() == "k=2 a=relu f=6 d=0.5");
  CHECK(grid.back().to_string() == "k=4 a=tanh f=6 d=0.9");
  CHECK(grid[1].to_string() == "k=2 a=relu f=6 d=0.9");  // the last dimension varies fastest
}

TEST_CASE("a grid too large to hold is refused") {
  const auto cut = Mixed::discretize(100);
  CHECK_THROWS_AS(cut.grid(1000), std::length_error);
  CHECK_THROWS_AS(cut.at(cut.size()), std::out_of_range);
}
