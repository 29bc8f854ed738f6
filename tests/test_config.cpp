#include <catch2/catch.hpp>

#include <mahpo/space/space.hpp>

#include <functional>
#include <random>
#include <string>

#include "seeds.hpp"

#include "spaces.hpp"

using namespace mahpo;
using test_spaces::Mixed;
using Json = nlohmann::json;

namespace {
Mixed::config_type example() {
  Mixed::config_type config;
  config.set<"batch_size">(16).set<"learning_rate">(0.001).set<"activation">("relu");
  config.set<"dropout_rate">(0.5).set<"hidden_size">(512);
  return config;
}
}  // namespace

TEST_CASE("set checks the value against the parameter") {
  auto config = example();
  CHECK_THROWS_AS(config.set<"batch_size">(33), ConfigError);
  CHECK_THROWS_WITH(config.set<"batch_size">(33),
                    Catch::Contains("parameter 'batch_size': 33 is not an integer in [16, 32]"));
  CHECK_THROWS_WITH(config.set<"activation">("gelu"), Catch::Contains("gelu is not one of {relu, tanh, sigmoid}"));
  CHECK_THROWS_WITH(config.set<"filters">(8), Catch::Contains("8 is not fixed at 6"));
  CHECK(config == example());  // a refused value leaves the config as it was
}

TEST_CASE("the constructor from values checks every value") {
  using Values = Mixed::values_type;
  CHECK_NOTHROW(Mixed::config_type(Values{16, 0.01, std::string("tanh"), 6, 0.6, 200}));
  CHECK_THROWS_WITH(Mixed::config_type(Values{12, 0.01, std::string("tanh"), 7, 0.6, 200}),
                    Catch::Contains("'batch_size'") && Catch::Contains("'filters'"));
}

TEST_CASE("a config prints as name=value") {
  CHECK(example().to_string() ==
        "batch_size=16 learning_rate=0.001 activation=relu filters=6 dropout_rate=0.5 hidden_size=512");
  std::ostringstream out;
  out << example();
  CHECK(out.str() == example().to_string());
}

TEST_CASE("a config round-trips through JSON", "[seeded]") {
  const Json json = example().to_json();
  CHECK(json == Json::parse(R"({"batch_size": 16, "learning_rate": 0.001, "activation": "relu", "filters": 6,
                                "dropout_rate": 0.5, "hidden_size": 512})"));
  CHECK(Mixed::config_type::from_json(json) == example());
  std::mt19937_64 rng(mahpo::testing::seed(9));
  for (int i = 0; i < 200; ++i) {
    const auto config = Mixed::sample(rng);
    const Json text = Json::parse(config.to_json().dump());
    REQUIRE(text.get<Mixed::config_type>() == config);  // doubles survive the text exactly
  }
}

TEST_CASE("a fixed parameter may be left out of the JSON") {
  Json json = example().to_json();
  json.erase("filters");
  CHECK(Mixed::config_type::from_json(json) == example());
}

TEST_CASE("bad JSON configs are refused with every problem named") {
  using Catch::Contains;
  const auto parse = [](const char* text) { return Mixed::config_type::from_json(Json::parse(text)); };
  CHECK_THROWS_WITH(parse("[1, 2]"), Contains("a config must be a JSON object"));
  CHECK_THROWS_WITH(parse(R"({"batch_size": 16, "learning_rate": 0.001, "activation": "relu", "dropout_rate": 0.5,
                             "hidden_size": 512, "momentum": 0.9})"),
                    Contains("unknown parameter 'momentum'") && Contains("the space has: batch_size"));
  CHECK_THROWS_WITH(parse(R"({"batch_size": 16, "learning_rate": 0.001, "activation": "relu", "dropout_rate": 0.5})"),
                    Contains("missing parameter 'hidden_size' (an integer in [124, 1024] (log scale))"));
  CHECK_THROWS_WITH(parse(R"({"batch_size": "16", "learning_rate": 0.001, "activation": 3, "dropout_rate": 0.5,
                             "hidden_size": 51.5})"),
                    Contains("parameter 'batch_size': expected an integer, got \"16\"") &&
                        Contains("parameter 'activation': expected a string, got 3") &&
                        Contains("parameter 'hidden_size': expected an integer, got 51.5"));
  CHECK_THROWS_WITH(parse(R"({"batch_size": 64, "learning_rate": 1.5, "activation": "relu", "dropout_rate": 0.5,
                             "hidden_size": 512, "filters": 16})"),
                    Contains("parameter 'batch_size': 64 is not an integer in [16, 32]") &&
                        Contains("parameter 'learning_rate': 1.5 is not a real in [0.0001, 0.1]") &&
                        Contains("parameter 'filters': 16 is not fixed at 6"));
  CHECK_THROWS_AS(parse(R"({"batch_size": 99999999999999999999})"), ConfigError);
}

TEST_CASE("a real parameter accepts a JSON integer") {
  Json json = example().to_json();
  json["dropout_rate"] = 1;
  CHECK_THROWS_AS(Mixed::config_type::from_json(json), ConfigError);
  using Space1 = Space<Real<"x", 0.0, 10.0>>;
  CHECK(Space1::config_type::from_json(Json::parse(R"({"x": 3})")).get<"x">() == 3.0);
}

TEST_CASE("a hostile JSON config gives a short error: deep nesting, huge strings, a million names") {
  using Layer = test_spaces::Layer;
  // 200,000 levels deep: the message says what the value is without walking into it.
  std::string deep(200'000, '[');
  deep += std::string(200'000, ']');
  const Json nested = Json::parse(R"({"kernel_size":3,"dropout_rate":)" + deep + "}");
  CHECK_THROWS_WITH(Config<Layer>::from_json(nested),
                    Catch::Contains("parameter 'dropout_rate': expected a number, got an array of 1 element(s)"));
  CHECK_THROWS_WITH(Config<Layer>::from_json(nested["dropout_rate"]),
                    Catch::Contains("a config must be a JSON object, got an array of 1 element(s)"));

  const std::string huge(10'000'000, 'x');
  for (const Json& bad :
       {Json{{"kernel_size", 3}, {"dropout_rate", huge}}, Json{{"kernel_size", 3}, {"dropout_rate", 0.6}, {huge, 1}}}) {
    try {
      Config<Layer>::from_json(bad);
      FAIL("accepted");
    } catch (const ConfigError& error) {
      CHECK_THAT(error.what(), Catch::Contains("xxx") && Catch::Contains("... (10000000 characters)"));
      CHECK(std::string(error.what()).size() < 400);
    }
  }
  // A string of the right type but not among a categorical's values, from JSON and from set<>().
  auto json = Mixed::config_type{}.to_json();
  json["activation"] = huge;
  for (const auto& attempt : {std::function<void()>([&] { Config<Mixed>::from_json(json); }),
                              std::function<void()>([&] { Config<Mixed>{}.set<"activation">(huge); })}) {
    try {
      attempt();
      FAIL("accepted");
    } catch (const ConfigError& error) {
      CHECK_THAT(error.what(), Catch::Contains("parameter 'activation': xxx") &&
                                   Catch::Contains("... (10000000 characters) is not one of"));
      CHECK(std::string(error.what()).size() < 400);
    }
  }
  Json many{{"kernel_size", 3}, {"dropout_rate", 0.6}};
  for (int k = 0; k < 1'000'000; ++k) many[std::to_string(k)] = k;
  try {
    Config<Layer>::from_json(many);
    FAIL("accepted");
  } catch (const ConfigError& error) {
    CHECK_THAT(error.what(), Catch::Contains("unknown parameter '0'") && Catch::Contains("; and 999995 more"));
    CHECK(std::string(error.what()).size() < 1000);
  }
}
