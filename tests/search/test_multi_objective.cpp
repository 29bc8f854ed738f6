// Several objectives and constraints: the typed declaration, studies that carry them (journal,
// resume, report), the searchers that take them (NSGA-II, TPE, random) and those that refuse them.

#include <algorithm>
#include <array>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <mahpo/objectives.hpp>
#include <mahpo/problems/multi_objective.hpp>
#include <mahpo/search/anneal.hpp>
#include <mahpo/search/gp/gp_bo.hpp>
#include <mahpo/search/hyperband/hyperband.hpp>
#include <mahpo/search/nsga2.hpp>
#include <mahpo/search/pareto.hpp>
#include <mahpo/search/ppo/mappo.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/tpe/multi_objective.hpp>
#include <mahpo/search/tpe/tpe.hpp>
#include <mahpo/study/pruners.hpp>
#include <mahpo/study/study.hpp>

#include "../seeds.hpp"
#include "journal_helpers.hpp"

using namespace mahpo;
namespace fs = std::filesystem;

namespace {

using Zdt1 = problems::Zdt1;
using Goals = Objectives<Minimize<"f1">, Minimize<"f2">, AtMost<"f1", 0.8>>;

// ZDT1 as a study objective: its two values as metrics, as a trainer reports its own.
struct Zdt1Metrics {
  static constexpr std::array<std::string_view, 2> metric_names{"f1", "f2"};
  Result operator()(const Config<Zdt1::space>& config, const Budget&) const {
    const auto values = Zdt1::evaluate(config);
    Result result;
    result.metrics = {{"f1", values[0]}, {"f2", values[1]}};
    return result;
  }
};

search::SearchOptions two_goals(std::uint64_t seed) {
  return {.seed = seed, .goals = {Goal::minimize, Goal::minimize}};
}

// One ask and tell of `searcher` on ZDT1: the config asked and its values.
template <typename T>
std::pair<Config<Zdt1::space>, std::array<double, 2>> zdt1_step(T& searcher) {
  const auto trial = searcher.ask();
  const auto values = Zdt1::evaluate(trial.config);
  Result result;
  result.values.assign(values.begin(), values.end());
  result.value = values[0];
  searcher.tell(trial.id, result);
  return {trial.config, values};
}

// The hypervolume of ZDT1 values after `trials` asks and tells of `searcher`.
template <typename T>
double zdt1_hypervolume(T& searcher, std::size_t trials) {
  search::pareto::Points points;
  for (std::size_t t = 0; t < trials; ++t) {
    const auto values = zdt1_step(searcher).second;
    points.emplace_back(values.begin(), values.end());
  }
  return search::pareto::hypervolume(points, Zdt1::search_reference);
}

}  // namespace

TEST_CASE("Objectives: names, goals, positions and values from metrics", "[objectives]") {
  using Three =
      Objectives<Maximize<"accuracy">, AtLeast<"kappa", 0.9>, Minimize<"parameters">, AtMost<"latency", 0.002>>;
  STATIC_REQUIRE(Three::count == 2);
  STATIC_REQUIRE(Three::constraint_count == 2);
  STATIC_REQUIRE(Three::index<"parameters">() == 1);
  CHECK(Three::goals() == std::vector<Goal>{Goal::maximize, Goal::minimize});
  const ObjectiveList list = Three::list();
  CHECK(list.names == std::vector<std::string>{"accuracy", "parameters"});
  CHECK(list.constraints == std::vector<std::string>{"kappa", "latency"});

  Result result;
  result.value = 0.5;
  result.metrics = {{"accuracy", 0.97}, {"kappa", 0.95}, {"parameters", 61706}, {"latency", 0.003}};
  Three::fill(result);
  CHECK(result.values == std::vector<double>{0.97, 61706.0});
  CHECK(result.value == 0.97);  // the first objective
  REQUIRE(result.constraints.size() == 2);
  CHECK(result.constraints[0] == Approx(0.9 - 0.95));  // AtLeast: bound - metric, satisfied
  CHECK(result.constraints[1] == Approx(0.001));       // AtMost: metric - bound, violated
  CHECK(Three::get<"parameters">(result) == 61706.0);

  Result missing;
  missing.metrics = {{"accuracy", 0.9}};
  CHECK_THROWS_WITH(Three::fill(missing), Catch::Contains("no numeric metric \"parameters\""));
  Result failed;
  failed.status = Status::failed;
  Three::fill(failed);  // nothing to fill
  CHECK(failed.values.empty());
  CHECK_THROWS_WITH(Three::get<"accuracy">(failed), Catch::Contains("holds 0 objective values, 2 declared"));

  // A non-finite objective value or constraint fails the trial, as a non-finite value does.
  Result infinite;
  infinite.values = {0.5, std::numeric_limits<double>::infinity()};
  settle(infinite);
  CHECK(infinite.status == Status::failed);
  CHECK(infinite.values.empty());
  CHECK_THAT(infinite.message, Catch::Contains("non-finite objective value"));
}

TEST_CASE("a study of several objectives: journal, resume and Pareto front", "[objectives][study]") {
  const auto directory = testing::scratch("objectives", "front");
  const auto journal = directory / "nsga2.jsonl";
  const auto objective = with_objectives<Goals>(Zdt1Metrics{});
  search::Nsga2<Zdt1::space> nsga2(two_goals(5), {.population_size = 10});
  const auto report = study::run_study(nsga2, objective, {.trials = 40, .journal = journal});
  REQUIRE(report.trials.size() == 40);
  CHECK(report.objectives == Goals::list());
  const auto front = report.pareto_front();
  REQUIRE_FALSE(front.empty());
  for (const auto* trial : front) {
    CHECK(trial->result.values.size() == 2);
    CHECK(trial->result.values[0] <= 0.8);  // feasible only
    for (const auto& other : report.trials) {
      if (other.result.constraints.empty() || other.result.constraints[0] > 0.0) continue;
      std::vector<double> a = trial->result.values, b = other.result.values;
      CHECK_FALSE(search::pareto::dominates(b, a));
    }
  }
  CHECK_THAT(report.summary(), Catch::Contains("Pareto front:") && Catch::Contains("f1 "));

  const auto header = study::read_journal(journal).records.front().json;
  CHECK(header["format"] == 3);
  CHECK(header["objectives"]["names"] == nlohmann::json{"f1", "f2"});
  CHECK(header["objectives"]["goals"] == nlohmann::json{"minimize", "minimize"});
  const auto tells = testing::events(journal, "tell");
  REQUIRE(tells.size() == 40);
  CHECK(tells[3]["values"].size() == 2);
  CHECK(tells[3]["constraints"].size() == 1);

  // Resumed to 60 trials: the first 40 replayed as they were, and the same trials as one run of 60.
  search::Nsga2<Zdt1::space> again(two_goals(5), {.population_size = 10});
  const auto resumed = study::run_study(again, objective, {.trials = 60, .journal = journal, .resume = true});
  search::Nsga2<Zdt1::space> whole(two_goals(5), {.population_size = 10});
  const auto straight = study::run_study(whole, objective, {.trials = 60});
  REQUIRE(resumed.trials.size() == 60);
  for (std::size_t id = 0; id < 60; ++id) {
    INFO("trial " << id);
    CHECK(resumed.trials[id].config == straight.trials[id].config);
    CHECK(resumed.trials[id].result.values == straight.trials[id].result.values);
  }

  // Another list of objectives does not resume this journal.
  using Other = Objectives<Minimize<"f1">, Minimize<"f2">>;
  search::Nsga2<Zdt1::space> other(two_goals(5), {.population_size = 10});
  CHECK_THROWS_WITH(study::run_study(other, with_objectives<Other>(Zdt1Metrics{}),
                                     {.trials = 70, .journal = journal, .resume = true}),
                    Catch::Contains("objectives") && Catch::Contains("another study"));
  fs::remove_all(directory);
}

TEST_CASE("a journal of format 2 (one objective) still resumes", "[objectives][study]") {
  const auto directory = testing::scratch("objectives", "format2");
  const auto journal = directory / "random.jsonl";
  const auto one = [](const Config<Zdt1::space>& config, const Budget&) {
    Result result;
    result.value = Zdt1::evaluate(config)[1];
    return result;
  };
  search::Random<Zdt1::space> first({.seed = 3});
  study::run_study(first, one, {.trials = 5, .journal = journal});
  // Written again as the mahpo before several objectives wrote it: format 2, signed anew.
  auto records = study::read_journal(journal).records;
  records.front().json["format"] = 2;
  std::ofstream out(journal, std::ios::trunc);
  std::uint32_t chain = 0;
  for (const auto& record : records) out << study::journal_line(record.json, chain) << '\n';
  out.close();
  search::Random<Zdt1::space> again({.seed = 3});
  const auto report = study::run_study(again, one, {.trials = 8, .journal = journal, .resume = true});
  CHECK(report.trials.size() == 8);
  CHECK(std::count_if(report.trials.begin(), report.trials.end(), [](const auto& t) { return t.replayed; }) == 5);
  fs::remove_all(directory);
}

TEST_CASE("several objectives are refused where they cannot be searched", "[objectives][study]") {
  const auto objective = with_objectives<Goals>(Zdt1Metrics{});
  search::Anneal<Zdt1::space> anneal({.seed = 1});
  CHECK_THROWS_WITH(study::run_study(anneal, objective, {.trials = 3}),
                    Catch::Contains("anneal searches one objective") && Catch::Contains("nsga2"));
  search::Anneal<Zdt1::space> anneal_two(two_goals(1));
  const auto single = [](const Config<Zdt1::space>&, const Budget&) { return Result{}; };
  CHECK_THROWS_WITH(study::run_study(anneal_two, single, {.trials = 3}), Catch::Contains("2 goals were given"));
  search::Hyperband<Zdt1::space> hyperband({.seed = 1});
  CHECK_THROWS_WITH(study::run_study(hyperband, objective, {.trials = 3}),
                    Catch::Contains("hyperband searches one objective"));
  search::Nsga2<Zdt1::space> wrong_goals({.seed = 1, .goals = {Goal::maximize, Goal::minimize}});
  CHECK_THROWS_WITH(study::run_study(wrong_goals, objective, {.trials = 3}),
                    Catch::Contains("the searcher's goals are [maximize, minimize]"));
  search::Nsga2<Zdt1::space> pruned(two_goals(1));
  CHECK_THROWS_WITH(
      study::run_study(pruned, objective, {.trials = 3, .pruner = std::make_shared<study::MedianPruner>()}),
      Catch::Contains("cannot be pruned"));
  // A searcher told one value where two are expected says so.
  search::Nsga2<Zdt1::space> nsga2(two_goals(1));
  const auto trial = nsga2.ask();
  Result one_value;
  one_value.value = 1.0;
  CHECK_THROWS_WITH(nsga2.tell(trial.id, one_value), Catch::Contains("0 objective values, 2 expected"));
  CHECK_THROWS_AS(search::Nsga2<Zdt1::space>({}, {.population_size = 1}), std::invalid_argument);
}

TEST_CASE("MOTPE's split and weights: whole fronts, hypervolume subset, contributions", "[objectives][tpe]") {
  using namespace search::tpe::detail;
  // Front 0: (1, 4), (2, 2), (4, 1); front 1: (3, 3), (5, 2); front 2: (6, 6).
  const search::pareto::Points losses{{1, 4}, {3, 3}, {2, 2}, {6, 6}, {4, 1}, {5, 2}};
  const std::vector<double> feasible(6, 0.0);
  auto below = split_below(losses, feasible, 3);
  std::sort(below.begin(), below.end());
  CHECK(below == std::vector<std::size_t>{0, 2, 4});
  // Four: front 0 and the one of front 1 that adds more hypervolume (reference 1.1 x its worst):
  // alone, (3, 3) adds (5.5 - 3) x (3.3 - 3) = 0.75 and (5, 2) adds (5.5 - 5) x (3.3 - 2) = 0.65.
  below = split_below(losses, feasible, 4);
  CHECK(below.back() == 1);
  // An infeasible point joins after every feasible front.
  std::vector<double> violations(6, 0.0);
  violations[0] = 0.5;
  below = split_below(losses, violations, 5);
  CHECK(std::find(below.begin(), below.end(), 0) == below.end());

  // Weights: contributions over the largest; a dominated point EPS. Front (1, 4), (2, 2), (4, 1) and
  // the dominated (3, 3); reference 1.1 x (4, 4) = (4.4, 4.4): contributions 1 x 0.4 = 0.4,
  // 2 x 2 = 4, 0.4 x 1 = 0.4.
  const auto weights = below_weights({{1, 4}, {2, 2}, {4, 1}, {3, 3}}, std::vector<double>(4, 0.0));
  CHECK(weights[0] == Approx(0.1));
  CHECK(weights[1] == Approx(1.0));
  CHECK(weights[2] == Approx(0.1));
  CHECK(weights[3] == Approx(hypervolume_eps));
  const auto one = below_weights({{1, 4}, {2, 2}}, std::vector<double>{0.0, 1.0});
  CHECK(one == std::vector<double>{1.0, hypervolume_eps});
}

TEST_CASE("NSGA-II and MOTPE beat random search on ZDT1 at 200 trials", "[objectives][seeded]") {
  // 12 seeds of their own: NSGA-II's median hypervolume above random's third quartile, and every one
  // of TPE's above random's median.
  std::vector<double> random, nsga2, tpe;
  for (std::uint64_t k = 0; k < 12; ++k) {
    const std::uint64_t seed = mahpo::testing::seed(4100 + k);
    search::Random<Zdt1::space> r(two_goals(seed));
    search::Nsga2<Zdt1::space> n(two_goals(seed), {.population_size = 20});
    search::Tpe<Zdt1::space> t(two_goals(seed));
    random.push_back(zdt1_hypervolume(r, 200));
    nsga2.push_back(zdt1_hypervolume(n, 200));
    tpe.push_back(zdt1_hypervolume(t, 200));
  }
  std::sort(random.begin(), random.end());
  std::sort(nsga2.begin(), nsga2.end());
  const double random_median = 0.5 * (random[5] + random[6]), random_third_quartile = 0.5 * (random[8] + random[9]);
  INFO("random: median " << random_median << ", third quartile " << random_third_quartile);
  CHECK(0.5 * (nsga2[5] + nsga2[6]) > random_third_quartile);
  for (std::size_t k = 0; k < 12; ++k) {
    INFO("seed " << k << ": tpe " << tpe[k]);
    CHECK(tpe[k] > random_median);
  }
}

TEST_CASE("GP-BO (ParEGO) and MAPPO take several objectives", "[objectives][seeded]") {
  // ParEGO at 60 trials: above the best of random search's 200-trial runs over the same 4 seeds.
  double random_best = 0.0;
  for (std::uint64_t k = 0; k < 4; ++k) {
    const std::uint64_t seed = mahpo::testing::seed(4200 + k);
    search::Random<Zdt1::space> random(two_goals(seed));
    random_best = std::max(random_best, zdt1_hypervolume(random, 200));
  }
  for (std::uint64_t k = 0; k < 4; ++k) {
    const std::uint64_t seed = mahpo::testing::seed(4200 + k);
    search::GpBo<Zdt1::space> gp_bo(two_goals(seed));
    const double volume = zdt1_hypervolume(gp_bo, 60);
    INFO("seed " << k << ": gp_bo after 60 trials " << volume << ", random's best after 200 " << random_best);
    CHECK(volume > random_best);
  }
  // MAPPO: an episode's reward is its scalarization; the same seed and results give the same trials.
  const auto trials = [](std::uint64_t seed) {
    search::Mappo<Zdt1::space> mappo(two_goals(seed));
    std::vector<Config<Zdt1::space>> configs;
    for (int t = 0; t < 40; ++t) configs.push_back(zdt1_step(mappo).first);
    return configs;
  };
  CHECK(trials(mahpo::testing::seed(4300)) == trials(mahpo::testing::seed(4300)));
}

TEST_CASE("TPE with a constraint keeps to the feasible side", "[objectives][tpe][seeded]") {
  // Minimize x on [0, 1] subject to x >= 0.6: the best feasible value is at the constraint's edge.
  using Line = Space<Real<"x", 0.0, 1.0>>;
  const auto late_feasible = [](std::uint64_t seed, bool constrained) {
    search::Tpe<Line> tpe({.seed = seed, .goal = Goal::minimize});
    std::size_t feasible = 0;
    for (std::size_t t = 0; t < 60; ++t) {
      const auto trial = tpe.ask();
      const double x = trial.config.get<"x">();
      Result result;
      result.value = x;
      if (constrained) result.constraints = {0.6 - x};
      tpe.tell(trial.id, result);
      if (t >= 40 && x >= 0.6) ++feasible;
    }
    return feasible;
  };
  // Of the last 20 trials: with the constraint, TPE samples around the edge, about half on the
  // feasible side (measured on seed batches 0-5: 9 to 13; without: 0 to 3); told nothing of it, TPE goes to x = 0.
  for (std::uint64_t k = 0; k < 4; ++k) {
    const std::uint64_t seed = mahpo::testing::seed(4400 + k);
    const std::size_t with = late_feasible(seed, true), without = late_feasible(seed, false);
    INFO("seed " << k << ": " << with << " feasible with the constraint, " << without << " without");
    CHECK(with >= 7);
    CHECK(without <= 5);
  }
}
