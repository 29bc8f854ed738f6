// libFuzzer target: mahpo::Config<S>::from_json on hostile JSON, as a resumed journal feeds it.
//
// Expected failures: an exception from nlohmann::json::parse (the input is not JSON) and a ConfigError
// from from_json. A config that parsed must survive a round trip, in memory and through text,
// unchanged. Anything else (a crash, a sanitizer report, another exception) is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include <mahpo/space/config.hpp>
#include <mahpo/space/space.hpp>

namespace {

// Every kind of parameter: integers (linear and log), reals (linear, log, and one across zero),
// categoricals of strings, integers, reals and booleans, and fixed integers, strings and reals.
using FuzzSpace = mahpo::Space<mahpo::Int<"batch_size", 1, 512>, mahpo::LogInt<"hidden_size", 8, 1024>,
                               mahpo::Real<"dropout_rate", 0.0, 0.9>, mahpo::LogReal<"learning_rate", 1e-5, 1.0>,
                               mahpo::Real<"shift", -1.0, 1.0>, mahpo::Categorical<"activation", "relu", "tanh", "sigmoid">,
                               mahpo::Categorical<"kernel_size", 3, 5, 7>, mahpo::Categorical<"decay", 0.5, 0.9, 0.99>,
                               mahpo::Categorical<"bias", true, false>, mahpo::Fixed<"filters", 6>,
                               mahpo::Fixed<"optimizer", "sgd">, mahpo::Fixed<"momentum", 0.9>>;
using FuzzConfig = mahpo::Config<FuzzSpace>;

[[noreturn]] void finding(const char* what, const FuzzConfig& config) {
  std::fprintf(stderr, "fuzz_config: %s: %s\n", what, config.to_string().c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return 0;  // not JSON (parse_error), or a number out of double's range (out_of_range): the parser's business
  }
  FuzzConfig config;
  try {
    config = FuzzConfig::from_json(json);
  } catch (const mahpo::ConfigError&) {
    return 0;
  }
  if (!(FuzzConfig::from_json(config.to_json()) == config)) finding("to_json and from_json differ", config);
  // Through text, as a journal stores it: doubles must print and parse back exactly.
  if (!(FuzzConfig::from_json(nlohmann::json::parse(config.to_json().dump())) == config)) {
    finding("dump and parse differ", config);
  }
  return 0;
}
