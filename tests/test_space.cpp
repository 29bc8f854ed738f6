#include <catch2/catch.hpp>

#include <mahpo/space/space.hpp>

#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "seeds.hpp"

#include "spaces.hpp"

using namespace mahpo;
using test_spaces::Layer;
using test_spaces::Mixed;

TEST_CASE("a space knows its names, size and dimension at compile time") {
  STATIC_REQUIRE(Mixed::size == 6);
  STATIC_REQUIRE(Mixed::dimension == 5);  // the Fixed parameter spans no dimension
  STATIC_REQUIRE(Mixed::contains<"learning_rate">);
  STATIC_REQUIRE(!Mixed::contains<"momentum">);
  STATIC_REQUIRE(Mixed::index_of<"dropout_rate"> == 4);
  STATIC_REQUIRE(std::is_same_v<Mixed::parameter<"filters">, Fixed<"filters", 6>>);
  STATIC_REQUIRE(Mixed::names[2] == "activation");
  STATIC_REQUIRE(Mixed::free_position(4) == 3);
  STATIC_REQUIRE(Space<>::dimension == 0);
}

TEST_CASE("config.get returns the parameter's own type") {
  const Mixed::config_type config;
  STATIC_REQUIRE(std::is_same_v<decltype(config.get<"batch_size">()), const std::int64_t&>);
  STATIC_REQUIRE(std::is_same_v<decltype(config.get<"learning_rate">()), const double&>);
  STATIC_REQUIRE(std::is_same_v<decltype(config.get<"activation">()), const std::string&>);
  CHECK(config.get<"filters">() == 6);
}

TEST_CASE("the same seed gives the same samples, another seed others", "[seeded]") {
  std::mt19937_64 a(mahpo::testing::seed(1)), b(mahpo::testing::seed(1)), c(mahpo::testing::seed(2));
  std::vector<Mixed::config_type> first, second, third;
  for (int i = 0; i < 50; ++i) {
    first.push_back(Mixed::sample(a));
    second.push_back(Mixed::sample(b));
    third.push_back(Mixed::sample(c));
  }
  CHECK(first == second);
  CHECK(first != third);
}

TEST_CASE("samples stay inside the space", "[seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(3));
  for (int i = 0; i < 2000; ++i) {
    const auto config = Mixed::sample(rng);
    REQUIRE(config.get<"batch_size">() >= 16);
    REQUIRE(config.get<"batch_size">() <= 32);
    REQUIRE(config.get<"learning_rate">() >= 1e-4);
    REQUIRE(config.get<"learning_rate">() <= 0.1);
    REQUIRE(config.get<"hidden_size">() >= 124);
    REQUIRE(config.get<"hidden_size">() <= 1024);
    REQUIRE(Mixed::parameter<"activation">::contains(config.get<"activation">()));
  }
}

TEST_CASE("the unit cube round trip is exact for ints and categoricals", "[seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(4));
  for (int i = 0; i < 500; ++i) {
    const auto config = Mixed::sample(rng);
    const auto point = Mixed::to_unit_cube(config);
    STATIC_REQUIRE(std::tuple_size_v<decltype(point)> == 5);
    for (double u : point) {
      REQUIRE(u >= 0.0);
      REQUIRE(u <= 1.0);
    }
    const auto back = Mixed::from_unit_cube(point);
    REQUIRE(back.get<"batch_size">() == config.get<"batch_size">());
    REQUIRE(back.get<"hidden_size">() == config.get<"hidden_size">());
    REQUIRE(back.get<"activation">() == config.get<"activation">());
    REQUIRE(back.get<"learning_rate">() == Approx(config.get<"learning_rate">()).epsilon(1e-12));
    REQUIRE(back.get<"dropout_rate">() == Approx(config.get<"dropout_rate">()).epsilon(1e-12));
  }
}

TEST_CASE("from_unit_cube checks the point's size and clamps its coordinates") {
  const std::vector<double> short_point{0.5, 0.5};
  CHECK_THROWS_WITH(Mixed::from_unit_cube(short_point), Catch::Contains("5 coordinates, got 2"));
  const std::vector<double> outside{-1.0, 2.0, 0.5, 0.5, 0.5};
  const auto config = Mixed::from_unit_cube(outside);
  CHECK(config.get<"batch_size">() == 16);
  CHECK(config.get<"learning_rate">() == 0.1);
}

TEST_CASE("the default config is the centre of the space") {
  const Mixed::config_type config;
  CHECK(config.get<"batch_size">() == 24);
  CHECK(config.get<"activation">() == "tanh");
  CHECK(config.get<"dropout_rate">() == Approx(0.7));
  CHECK(config.get<"learning_rate">() == Approx(std::sqrt(1e-4 * 0.1)));
}

TEST_CASE("Prefixed qualifies names and Concat joins spaces") {
  using Network = Concat<Prefixed<"conv1", Layer>, Prefixed<"conv2", Layer>, Space<Int<"batch_size", 16, 32>>>;
  STATIC_REQUIRE(Network::size == 5);
  STATIC_REQUIRE(Network::dimension == 5);
  STATIC_REQUIRE(Network::names[0] == "conv1.kernel_size");
  STATIC_REQUIRE(Network::names[3] == "conv2.dropout_rate");
  STATIC_REQUIRE(Network::contains<"conv2.kernel_size">);
  STATIC_REQUIRE(!Network::contains<"kernel_size">);
  STATIC_REQUIRE(std::is_same_v<Network::parameter<"conv2.kernel_size">, Int<"conv2.kernel_size", 2, 7>>);
  Network::config_type config;
  config.set<"conv2.kernel_size">(7);
  CHECK(config.get<"conv2.kernel_size">() == 7);
  CHECK(config.get<"conv1.kernel_size">() == 5);
  CHECK(config.to_string() ==
        "conv1.kernel_size=5 conv1.dropout_rate=0.7 conv2.kernel_size=7 conv2.dropout_rate=0.7 batch_size=24");
}

TEST_CASE("describe lists every parameter") {
  CHECK(Layer::describe() == "kernel_size: an integer in [2, 7]\ndropout_rate: a real in [0.5, 0.9]\n");
}
