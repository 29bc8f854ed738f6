// mahpo's TPE beside Optuna's TPESampler, the reference it follows: the C++ half of
// bench/tpe_vs_optuna.py, which runs Optuna and compares. Not timing.
//
//   tpe_vs_optuna runs SEEDS PROBLEM... [--first-seed F] [--variants]
//                                         the best value after 25, 50, 100 and 200 trials of tpe (its
//                                         defaults: Optuna 5's multivariate TPE), tpe_independent
//                                         (univariate), tpe_optuna3 (Optuna 3.1's rules, univariate and
//                                         multivariate: mahpo's two TPEs before issue 37) and bohb for
//                                         seeds F..F+SEEDS-1, as CSV lines problem,searcher,seed,trials,best;
//                                         --variants adds the variants the defaults were chosen among
//   (fit and propose use tpe::Optuna3, the 3.1 anchor's pieces)
//   tpe_vs_optuna fit PROBLEM             reads {"points": [[u, ...], ...], "values": [...],
//                                         "queries": [[u, ...], ...], "kernel_height": "rules"
//                                         (optional: rules, density or unscaled)} (unit-cube points, oldest
//                                         first) on stdin; prints l(x) and g(x) as fitted after that
//                                         history (per coordinate: mu, sigma, weight per kernel),
//                                         their log densities at the queries and the problem's values
//                                         there, as JSON
//   tpe_vs_optuna propose PROBLEM SEEDS   reads {"points", "values"}; prints the first proposal after
//                                         that history of seeds 0..SEEDS-1 (unit cube), as JSON
//   tpe_vs_optuna trace PROBLEM SEEDS TRIALS [--anchor 3.1|5]
//                                         tpe with optuna_stream (Optuna's random draws: 3.1's TPE by
//                                         tpe::Optuna3, the default; 5's multivariate TPE by tpe::Optuna),
//                                         seeds 0..SEEDS-1: every trial's config (the parameters' values)
//                                         and value, as CSV lines seed,trial,value,param...
//
// Problems: branin, hartmann6 (minimized), quadratic (the LeNet quadratic, maximized: its values
// are told as they are, the searcher negates them). Trials are asked and told one at a time.
#include <mahpo/mahpo.hpp>

#include "quality.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace {

using namespace mahpo::search;
using nlohmann::json;

// Rules the defaults were chosen among (--variants, with options): today's Optuna with the prior
// among the neighbours (as Optuna 3), or with Optuna 3's joint bandwidths.
struct PriorNeighbour : mahpo::search::tpe::Optuna {
  static constexpr bool prior_is_neighbour = true;
};
struct ScottJoint : mahpo::search::tpe::Optuna {
  static constexpr auto joint_bandwidth = mahpo::search::tpe::JointBandwidth::scott;
};

template <typename Problem>
void runs(std::string_view problem, std::size_t seeds, std::uint64_t first, bool variants) {
  using S = typename Problem::space;
  const auto print = [&](const mahpo::bench::Row& row) {
    for (std::size_t c = 0; c < mahpo::bench::checkpoints.size(); ++c) {
      for (std::size_t s = 0; s < seeds; ++s) {
        fmt::print("{},{},{},{},{:.17g}\n", problem, row.searcher, first + s, mahpo::bench::checkpoints[c],
                   row.best[c][s]);
      }
    }
    std::fflush(stdout);
  };
  const auto tpe = [&](std::string name, TpeOptions options, auto rules) {
    print(mahpo::bench::run<Problem>(
        std::move(name), seeds,
        [&](SearchOptions search) { return Tpe<S, typename decltype(rules)::type>(search, options); }, first));
  };
  using Default = std::type_identity<tpe::Optuna>;
  tpe("tpe", {}, Default{});
  tpe("tpe_independent", {.multivariate = false}, Default{});
  tpe("tpe_optuna3", {}, std::type_identity<tpe::Optuna3>{});
  tpe("tpe_optuna3_multivariate", {.multivariate = true}, std::type_identity<tpe::Optuna3>{});  // before issue 37
  if (variants) {
    tpe("tpe_unscaled", {.kernel_height = KernelHeight::unscaled}, Default{});  // Optuna 3.1's scores
    tpe("tpe_unscaled_candidates32", {.candidates = 32, .kernel_height = KernelHeight::unscaled}, Default{});
    tpe("tpe_prior_neighbour", {}, std::type_identity<PriorNeighbour>{});
    tpe("tpe_scott", {}, std::type_identity<ScottJoint>{});
    tpe("tpe_endpoints", {.consider_endpoints = true}, Default{});
    tpe("tpe_candidates32", {.candidates = 32}, Default{});
    tpe("tpe_candidates48", {.candidates = 48}, Default{});
    tpe("tpe_startup20", {.startup_trials = 20}, Default{});
  }
  print(mahpo::bench::run<Problem>(
      "bohb", seeds, [](SearchOptions options) { return Bohb<S>(options); }, first));
}

// A Tpe that has asked and been told the given history (each ask's config replaced by the given one).
template <typename Problem>
Tpe<typename Problem::space, tpe::Optuna3> told(const json& input, std::uint64_t seed) {
  using S = typename Problem::space;
  const auto height = input.value("kernel_height", nlohmann::json("rules")).get<KernelHeight>();
  Tpe<S, tpe::Optuna3> tpe(SearchOptions{.seed = seed, .goal = Problem::goal}, TpeOptions{.kernel_height = height});
  const auto& points = input.at("points");
  const auto& values = input.at("values");
  if (points.size() != values.size()) throw std::invalid_argument("points and values differ in length");
  for (std::size_t i = 0; i < points.size(); ++i) {
    const auto point = points[i].get<std::vector<double>>();
    if (point.size() != S::dimension) throw std::invalid_argument(fmt::format("point {} is not {}-d", i, S::dimension));
    const auto trial = tpe.ask();
    tpe.replace(trial.id, S::from_unit_cube(point));
    tpe.tell(trial.id, mahpo::Result{.value = values[i].get<double>()});
  }
  return tpe;
}

template <typename Estimator>
json kernels(const Estimator& estimator, std::size_t k) {
  json mu = json::array(), sigma = json::array(), weight = json::array();
  for (std::size_t i = 0; i < estimator.components(); ++i) {
    mu.push_back(estimator.mu(k, i));
    sigma.push_back(estimator.sigma(k, i));
    weight.push_back(estimator.weight(i));
  }
  return {{"mu", mu}, {"sigma", sigma}, {"weight", weight}};
}

template <typename Problem>
void fit(const json& input) {
  using S = typename Problem::space;
  auto tpe = told<Problem>(input, 0);
  const auto [below, above] = tpe.estimators();
  json out{{"below", json::array()}, {"above", json::array()}, {"log_l", json::array()}, {"log_g", json::array()}};
  for (std::size_t k = 0; k < S::dimension; ++k) {
    out["below"].push_back(kernels(below, k));
    out["above"].push_back(kernels(above, k));
  }
  out["values"] = json::array();  // the problem at the queries, so that the script checks its own copy
  for (const auto& query : input.at("queries")) {
    const auto x = query.get<std::vector<double>>();
    out["values"].push_back(Problem{}(S::from_unit_cube(x)).value);
    json l = json::array(), g = json::array();
    for (std::size_t k = 0; k < S::dimension; ++k) {
      l.push_back(below.log_density_coordinate(k, x.at(k)));
      g.push_back(above.log_density_coordinate(k, x.at(k)));
    }
    out["log_l"].push_back(l);
    out["log_g"].push_back(g);
  }
  std::cout << out.dump() << '\n';
}

template <typename Problem>
void propose(const json& input, std::size_t seeds) {
  using S = typename Problem::space;
  json out = json::array();
  for (std::size_t seed = 0; seed < seeds; ++seed) {
    auto tpe = told<Problem>(input, seed);
    const auto point = S::to_unit_cube(tpe.ask().config);
    out.push_back(std::vector<double>(point.begin(), point.end()));
  }
  std::cout << out.dump() << '\n';
}

// Tpe drawing Optuna's random numbers (TpeOptions::optuna_stream): its trials, to compare one by one.
template <typename Problem, typename Rules>
void trace(std::size_t seeds, std::size_t trials) {
  using S = typename Problem::space;
  for (std::size_t seed = 0; seed < seeds; ++seed) {
    const Problem problem = mahpo::bench::make_problem<Problem>(seed);
    Tpe<S, Rules> tpe(SearchOptions{.seed = seed, .goal = Problem::goal}, TpeOptions{.optuna_stream = true});
    for (std::size_t t = 0; t < trials; ++t) {
      const auto trial = tpe.ask();
      const auto result = problem(trial.config, trial.budget);
      tpe.tell(trial.id, result);
      std::string line = fmt::format("{},{},{:.17g}", seed, t, result.value);
      S::for_each_parameter([&](auto index, auto type) {
        using P = typename decltype(type)::type;
        if constexpr (!P::is_fixed)
          line += fmt::format(",{:.17g}", static_cast<double>(boost::hana::at(trial.config.values(), index)));
      });
      fmt::print("{}\n", line);
    }
  }
}

template <typename F>
void with_problem(std::string_view name, F&& f) {
  if (name == "branin") return f(std::type_identity<mahpo::problems::Branin>{});
  if (name == "hartmann6") return f(std::type_identity<mahpo::problems::Hartmann6>{});
  if (name == "quadratic") return f(std::type_identity<mahpo::problems::LeNetQuadratic>{});
  throw std::invalid_argument(fmt::format("unknown problem '{}' (branin, hartmann6, quadratic)", name));
}

int usage() {
  fmt::print(stderr,
             "usage: tpe_vs_optuna runs SEEDS PROBLEM... [--first-seed F] [--variants] | fit PROBLEM |\n"
             "       propose PROBLEM SEEDS | trace PROBLEM SEEDS TRIALS [--anchor 3.1|5]\n"
             "       (problems: branin hartmann6 quadratic; fit and propose read JSON on stdin)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 3) return usage();
  const std::string_view mode = argv[1];
  if (mode == "runs") {
    const std::size_t seeds = std::strtoul(argv[2], nullptr, 10);
    std::uint64_t first = 0;
    bool variants = false;
    std::vector<std::string_view> problems;
    for (int a = 3; a < argc; ++a) {
      const std::string_view arg = argv[a];
      if (arg == "--first-seed" && a + 1 < argc) {
        first = std::strtoull(argv[++a], nullptr, 10);
      } else if (arg == "--variants") {
        variants = true;
      } else {
        problems.push_back(arg);
      }
    }
    if (seeds == 0 || problems.empty()) return usage();
    for (const std::string_view name : problems) {
      with_problem(name, [&](auto type) { runs<typename decltype(type)::type>(name, seeds, first, variants); });
    }
    return 0;
  }
  if (mode == "trace" && (argc == 5 || (argc == 7 && std::string_view(argv[5]) == "--anchor"))) {
    const std::size_t seeds = std::strtoul(argv[3], nullptr, 10), trials = std::strtoul(argv[4], nullptr, 10);
    const std::string_view anchor = argc == 7 ? argv[6] : "3.1";
    if (seeds == 0 || trials == 0 || (anchor != "3.1" && anchor != "5")) return usage();
    with_problem(argv[2], [&](auto type) {
      using Problem = typename decltype(type)::type;
      if (anchor == "5") {
        trace<Problem, tpe::Optuna>(seeds, trials);
      } else {
        trace<Problem, tpe::Optuna3>(seeds, trials);
      }
    });
    return 0;
  }
  if (mode == "fit") {
    const json input = json::parse(std::cin);
    with_problem(argv[2], [&](auto type) { fit<typename decltype(type)::type>(input); });
    return 0;
  }
  if (mode == "propose" && argc == 4) {
    const std::size_t seeds = std::strtoul(argv[3], nullptr, 10);
    if (seeds == 0) return usage();
    const json input = json::parse(std::cin);
    with_problem(argv[2], [&](auto type) { propose<typename decltype(type)::type>(input, seeds); });
    return 0;
  }
  return usage();
} catch (const std::exception& error) {
  fmt::print(stderr, "tpe_vs_optuna: error: {}\n", error.what());
  return 1;
}
