// Tpe with optuna_stream beside whole studies of Optuna's TPESampler(seed), recorded by
// tools/record_optuna_traces.py into tests/data/optuna_traces/ (no Python needed here): Optuna 3.1's
// (Debian's python3-optuna 3.1.0, univariate) against tpe::Optuna3 on Branin and the LeNet quadratic;
// Optuna 5's (the source of 2026-08-21, commit 1d8ce7b: multivariate, its default) against tpe::Optuna,
// the default, on Branin, Hartmann-6 and the LeNet quadratic. 200 trials of seeds 0-2 each; every
// trial's parameters and value are compared.
#include <catch2/catch.hpp>

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/tpe/tpe.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

using namespace mahpo;
using namespace mahpo::search;

namespace {

// Real parameters agree to a few units of epsilon * (high - low), not always to the bit: mahpo draws
// in the unit cube (Optuna in the parameter's own scale: another rounding of the truncation bounds
// and of mu + sigma x), and inverts log Phi by Newton's method where Optuna bisects 100 times (where
// log Phi is flat to the last bit, the two stop at neighbouring doubles). Measured on these studies:
// Optuna 3.1's, at most 1.6 on Branin, 2.5 on the quadratic's dropout and 6.9 on its log-scale
// learning rate (about 1 epsilon of its log range); Optuna 5's, 20.5 on Branin's x2, 2 on Hartmann-6,
// 5 on the quadratic's dropout. 64 leaves room for another libm and fails on any real difference.
// Integers are exact.
constexpr double parameter_tolerance = 64.0;  // in epsilon * (high - low)
// Values: the problems' C++ and Python copies at parameters that agree as above (Branin's slope
// turns 64 epsilon of its range into a few 1e-11 at most).
constexpr double value_tolerance = 1e-10;  // relative to max(1, |value|)

struct Trace {
  std::vector<std::string> names;                                  // the parameters, in the CSV's order
  std::map<std::uint64_t, std::vector<std::vector<double>>> rows;  // per seed: value, parameters...
};

// The traces lie beside this file (CMake compiles it by its absolute path, so __FILE__ is one).
Trace read_trace(const std::string& file) {
  const auto path = std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "optuna_traces" / file;
  std::ifstream in(path);
  if (!in) FAIL("can't read " << path.string() << " (tools/record_optuna_traces.py writes it)");
  Trace trace;
  std::string line, field;
  std::getline(in, line);
  std::istringstream header(line);
  for (int column = 0; std::getline(header, field, ','); ++column) {
    if (column >= 3) trace.names.push_back(field);  // seed, trial, value, then the parameters
  }
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::vector<double> fields;
    while (std::getline(row, field, ',')) fields.push_back(std::strtod(field.c_str(), nullptr));
    REQUIRE(fields.size() == trace.names.size() + 3);
    auto& rows = trace.rows[static_cast<std::uint64_t>(fields[0])];
    REQUIRE(fields[1] == static_cast<double>(rows.size()));  // trials in order
    rows.emplace_back(fields.begin() + 2, fields.end());
  }
  return trace;
}

struct Agreement {
  std::size_t trials = 0;
  std::map<std::string, double> parameter_ulps;  // the largest difference, in epsilon * (high - low)
  double value = 0.0;                            // the largest difference of values
  std::size_t reals = 0, identical = 0;          // real parameter values compared, those equal to the bit
};

// Runs Tpe<S, Rules> with optuna_stream on each recorded seed and compares every trial with Optuna's.
template <typename Problem, typename Rules>
Agreement replay(const Trace& trace) {
  using S = typename Problem::space;
  std::vector<std::string_view> names;
  S::for_each_parameter([&](auto, auto type) {
    using P = typename decltype(type)::type;
    if constexpr (!P::is_fixed) names.push_back(P::name.view());
  });
  REQUIRE(std::equal(names.begin(), names.end(), trace.names.begin(), trace.names.end()));
  const Problem problem;
  Agreement agreement;
  for (const auto& [seed, rows] : trace.rows) {
    Tpe<S, Rules> tpe({.seed = seed, .goal = Problem::goal}, {.optuna_stream = true});
    for (std::size_t t = 0; t < rows.size(); ++t) {
      const auto trial = tpe.ask();
      const auto& expected = rows[t];
      std::size_t column = 1;
      S::for_each_parameter([&](auto index, auto type) {
        using P = typename decltype(type)::type;
        if constexpr (!P::is_fixed) {
          const double ours = static_cast<double>(boost::hana::at(trial.config.values(), index));
          const double theirs = expected[column++];
          INFO("seed " << seed << ", trial " << t << ", " << P::name.view());
          if constexpr (std::is_integral_v<typename P::value_type>) {
            REQUIRE(ours == theirs);
          } else {
            const double unit = std::numeric_limits<double>::epsilon() * (P::upper - P::lower);
            const double ulps = std::abs(ours - theirs) / unit;
            double& largest = agreement.parameter_ulps[std::string(P::name.view())];
            largest = std::max(largest, ulps);
            ++agreement.reals;
            if (ours == theirs) ++agreement.identical;
            REQUIRE(ulps <= parameter_tolerance);
          }
        }
      });
      const double value = problem(trial.config).value;
      INFO("seed " << seed << ", trial " << t << ": value " << value << ", Optuna's " << expected[0]);
      REQUIRE(std::abs(value - expected[0]) <= value_tolerance * std::max(1.0, std::abs(expected[0])));
      agreement.value = std::max(agreement.value, std::abs(value - expected[0]));
      tpe.tell(trial.id, Result{.value = value});
      ++agreement.trials;
    }
  }
  return agreement;
}

std::string summary(const Agreement& agreement) {
  std::ostringstream out;
  out << agreement.trials << " trials agree; " << agreement.identical << " of " << agreement.reals
      << " real parameter values to the bit; largest differences in epsilon * (high - low):";
  for (const auto& [name, ulps] : agreement.parameter_ulps) out << ' ' << name << ' ' << ulps;
  out << "; largest value difference " << agreement.value;
  return out.str();
}

}  // namespace

TEST_CASE("tpe_optuna3 with optuna_stream asks every trial of Optuna 3.1's TPESampler on Branin for seeds 0 to 2") {
  const Trace trace = read_trace("branin.csv");
  REQUIRE(trace.rows.size() == 3);
  const Agreement agreement = replay<problems::Branin, tpe::Optuna3>(trace);
  CHECK(agreement.trials == 600);
  WARN("branin: " << summary(agreement));
}

TEST_CASE(
    "tpe_optuna3 with optuna_stream asks every trial of Optuna 3.1's TPESampler on the LeNet quadratic for seeds 0 "
    "to 2") {
  const Trace trace = read_trace("lenet_quadratic.csv");
  REQUIRE(trace.rows.size() == 3);
  const Agreement agreement = replay<problems::LeNetQuadratic, tpe::Optuna3>(trace);
  CHECK(agreement.trials == 600);
  WARN("lenet quadratic: " << summary(agreement));
}

// Optuna 5's multivariate TPE draws every coordinate of its 24 candidates from one kernel each and
// scores whole points; mahpo's default TPE is the same sampler.
TEST_CASE("tpe with optuna_stream asks every trial of Optuna 5's multivariate TPESampler on Branin for seeds 0 to 2") {
  const Trace trace = read_trace("optuna5_branin.csv");
  REQUIRE(trace.rows.size() == 3);
  const Agreement agreement = replay<problems::Branin, tpe::Optuna>(trace);
  CHECK(agreement.trials == 600);
  WARN("branin, Optuna 5: " << summary(agreement));
}

TEST_CASE(
    "tpe with optuna_stream asks every trial of Optuna 5's multivariate TPESampler on Hartmann-6 for seeds 0 to 2") {
  const Trace trace = read_trace("optuna5_hartmann6.csv");
  REQUIRE(trace.rows.size() == 3);
  const Agreement agreement = replay<problems::Hartmann6, tpe::Optuna>(trace);
  CHECK(agreement.trials == 600);
  WARN("hartmann-6, Optuna 5: " << summary(agreement));
}

// Integers (by their cells' mass), a log-scale real, and Optuna's search space sorted by name.
TEST_CASE(
    "tpe with optuna_stream asks every trial of Optuna 5's multivariate TPESampler on the LeNet quadratic for seeds 0 "
    "to 2") {
  const Trace trace = read_trace("optuna5_lenet_quadratic.csv");
  REQUIRE(trace.rows.size() == 3);
  const Agreement agreement = replay<problems::LeNetQuadratic, tpe::Optuna>(trace);
  CHECK(agreement.trials == 600);
  WARN("lenet quadratic, Optuna 5: " << summary(agreement));
}

TEST_CASE("tpe's numpy_argsort orders ties as numpy 1.24's argsort") {
  // np.argsort (its default quicksort) in numpy 1.24.2: partitions swap equal values.
  std::vector<std::size_t> order;
  tpe::detail::numpy_argsort(std::vector<double>(17, 0.0), order);
  CHECK(order == std::vector<std::size_t>{0, 14, 13, 12, 11, 10, 9, 15, 8, 6, 5, 4, 3, 2, 1, 7, 16});
  std::vector<double> thirds(40);
  for (std::size_t i = 0; i < thirds.size(); ++i) thirds[i] = static_cast<double>(i % 3);
  tpe::detail::numpy_argsort(thirds, order);
  CHECK(order == std::vector<std::size_t>{0,  36, 33, 30, 27, 24, 21, 18, 15, 12, 39, 9, 3,  6,
                                          25, 37, 1,  34, 31, 28, 4,  10, 19, 16, 13, 7, 22, 14,
                                          35, 8,  2,  32, 23, 29, 38, 26, 20, 5,  17, 11});
  // McIlroy's adversary against median-of-3 partitions: numpy falls back to its heapsort here.
  const std::vector<double> adversary{0, 20, 2, 23, 4,  39, 6,  37, 8,  38, 10, 36, 12, 35, 14, 34, 16, 33, 18, 1,
                                      3, 5,  7, 9,  11, 13, 15, 17, 19, 21, 31, 30, 29, 28, 27, 26, 25, 24, 32, 22};
  tpe::detail::numpy_argsort(adversary, order);
  CHECK(order == std::vector<std::size_t>{0,  19, 2,  20, 4,  21, 6,  22, 8,  23, 10, 24, 12, 25,
                                          14, 26, 16, 27, 18, 28, 1,  29, 39, 3,  37, 36, 35, 34,
                                          33, 32, 31, 30, 38, 17, 15, 13, 11, 7,  9,  5});
}
