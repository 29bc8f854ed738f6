#include <catch2/catch.hpp>

#include <mahpo/space/parameters.hpp>

#include <cmath>
#include <random>
#include <string>
#include <type_traits>

#include "seeds.hpp"

using namespace mahpo;

TEST_CASE("parameter types model the concepts") {
  STATIC_REQUIRE(FreeHyperparameter<Int<"a", 1, 5>>);
  STATIC_REQUIRE(FreeHyperparameter<LogReal<"b", 1e-3, 1.0>>);
  STATIC_REQUIRE(FreeHyperparameter<Categorical<"c", "x", "y">>);
  STATIC_REQUIRE(FixedHyperparameter<Fixed<"d", 3>>);
  STATIC_REQUIRE(!FreeHyperparameter<Fixed<"d", 3>>);
  STATIC_REQUIRE(!Hyperparameter<int>);
}

TEST_CASE("value types follow the values") {
  STATIC_REQUIRE(std::is_same_v<Int<"a", 1, 5>::value_type, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<Real<"a", 0.0, 1.0>::value_type, double>);
  STATIC_REQUIRE(std::is_same_v<Categorical<"a", "x", "y">::value_type, std::string>);
  STATIC_REQUIRE(std::is_same_v<Categorical<"a", 3, 5, 7>::value_type, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<Categorical<"a", 16, 0.5>::value_type, double>);
  STATIC_REQUIRE(std::is_same_v<Categorical<"a", false, true>::value_type, bool>);
  STATIC_REQUIRE(std::is_same_v<Fixed<"a", 6>::value_type, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<Fixed<"a", "relu">::value_type, std::string>);
  CHECK(Fixed<"a", "relu">::value() == "relu");
  CHECK(Categorical<"a", 16, 0.5>::values()[1] == 0.5);
}

TEST_CASE("Int maps every value to the unit interval and back exactly") {
  using Linear = Int<"batch_size", 16, 32>;
  using Log = LogInt<"hidden_size", 124, 1024>;
  for (std::int64_t v = 16; v <= 32; ++v) {
    const double u = Linear::encode(v);
    REQUIRE(u > 0.0);
    REQUIRE(u < 1.0);
    REQUIRE(Linear::decode(u) == v);
  }
  for (std::int64_t v = 124; v <= 1024; ++v) REQUIRE(Log::decode(Log::encode(v)) == v);
  CHECK(Linear::decode(0.0) == 16);
  CHECK(Linear::decode(1.0) == 32);
  CHECK(Linear::decode(-3.0) == 16);
  CHECK(Linear::decode(7.0) == 32);
  CHECK(Log::decode(0.0) == 124);
  CHECK(Log::decode(1.0) == 1024);
}

TEST_CASE("every integer owns an equal share of a linear Int's unit interval") {
  using P = Int<"k", 2, 7>;
  std::array<int, 6> hits{};
  for (int i = 0; i < 6000; ++i) ++hits[static_cast<std::size_t>(P::decode((i + 0.5) / 6000.0) - 2)];
  for (int count : hits) CHECK(count == 1000);
}

TEST_CASE("Real maps to the unit interval, log-aware") {
  using Linear = Real<"dropout_rate", 0.5, 0.9>;
  using Log = LogReal<"learning_rate", 1e-4, 0.1>;
  CHECK(Linear::encode(0.7) == Approx(0.5));
  CHECK(Log::encode(std::sqrt(1e-4 * 0.1)) == Approx(0.5));
  CHECK(Log::decode(0.5) == Approx(std::sqrt(1e-4 * 0.1)));
  CHECK(Log::decode(0.0) == 1e-4);
  CHECK(Log::decode(1.0) == 0.1);
  for (double v : {1e-4, 3e-4, 0.01, 0.05, 0.1}) CHECK(Log::decode(Log::encode(v)) == Approx(v).epsilon(1e-12));
  CHECK_FALSE(Linear::contains(std::nan("")));
  CHECK_FALSE(Linear::contains(0.95));
  CHECK(Linear::contains(0.9));
}

TEST_CASE("Categorical maps each value to its own share") {
  using P = Categorical<"activation", "relu", "tanh", "sigmoid">;
  for (const auto& value : P::values()) REQUIRE(P::decode(P::encode(value)) == value);
  CHECK(P::decode(0.0) == "relu");
  CHECK(P::decode(0.5) == "tanh");
  CHECK(P::decode(1.0) == "sigmoid");
  CHECK(P::index_of("gelu") == 3);
  CHECK_FALSE(P::contains("gelu"));
}

TEST_CASE("samples stay inside the parameter and cover it", "[seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(42));
  using P = Int<"k", 2, 7>;
  std::array<int, 6> seen{};
  for (int i = 0; i < 6000; ++i) {
    const auto v = sample_parameter<P>(rng);
    REQUIRE(P::contains(v));
    ++seen[static_cast<std::size_t>(v - 2)];
  }
  for (int count : seen) CHECK(count > 800);  // 1000 expected each
  using L = LogReal<"lr", 1e-4, 0.1>;
  int below_geometric_mean = 0;
  for (int i = 0; i < 4000; ++i) {
    const double v = sample_parameter<L>(rng);
    REQUIRE(L::contains(v));
    below_geometric_mean += v < std::sqrt(1e-4 * 0.1) ? 1 : 0;
  }
  CHECK(below_geometric_mean > 1800);  // log-uniform: half below the geometric mean
  CHECK(below_geometric_mean < 2200);
}

TEST_CASE("parameters describe themselves") {
  CHECK(Int<"b", 16, 32>::describe() == "an integer in [16, 32]");
  CHECK(LogReal<"lr", 1e-4, 0.1>::describe() == "a real in [0.0001, 0.1] (log scale)");
  CHECK(Categorical<"a", "relu", "tanh">::describe() == "one of {relu, tanh}");
  CHECK(Fixed<"f", 6>::describe() == "fixed at 6");
}
