// Anneal (hyperopt's annealing) and RegularizedEvolution (aging evolution): their distributions,
// their bookkeeping, and that they beat random search on Branin.
#include <catch2/catch.hpp>

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/anneal.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/regularized_evolution.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "../seeds.hpp"

using namespace mahpo;
using namespace mahpo::search;
using problems::Branin;
using problems::Hartmann6;
using problems::LeNetQuadratic;

namespace {

using MixedSpace = Space<Categorical<"letter", "a", "b", "c", "d">, Categorical<"only", "one">, Int<"flag", 0, 1>,
                         Real<"x", 0.0, 1.0>>;

// How many coordinates of two unit-cube points differ.
template <std::size_t N>
std::size_t differing(const std::array<double, N>& a, const std::array<double, N>& b) {
  std::size_t count = 0;
  for (std::size_t k = 0; k < N; ++k) count += a[k] != b[k] ? 1 : 0;
  return count;
}

// Asks and tells `trials` trials of `problem` one at a time; returns the best value found (minimized).
template <typename Searcher, typename Problem>
double best_value(Searcher& searcher, const Problem& problem, std::size_t trials) {
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t t = 0; t < trials; ++t) {
    const auto trial = searcher.ask();
    const auto result = problem(trial.config, trial.budget);
    best = std::min(best, result.value);
    searcher.tell(trial.id, result);
  }
  return best;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double standard_deviation(const std::vector<double>& values) {
  double mean = 0.0, square = 0.0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  for (double v : values) square += (v - mean) * (v - mean);
  return std::sqrt(square / static_cast<double>(values.size()));
}

const SearchOptions minimize{.seed = mahpo::testing::seed(1), .goal = Goal::minimize};

}  // namespace

TEST_CASE("anneal: ranks follow a geometric distribution of mean average_best_rank", "[seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(7));
  const std::size_t draws = 20000;
  double total = 0.0;
  std::size_t firsts = 0;
  for (std::size_t i = 0; i < draws; ++i) {
    const std::size_t rank = anneal::detail::draw_rank(rng, 2.0);
    REQUIRE(rank >= 1);
    total += static_cast<double>(rank);
    firsts += rank == 1 ? 1 : 0;
  }
  const double mean = total / static_cast<double>(draws);
  CHECK(mean > 1.8);
  CHECK(mean < 2.2);
  CHECK(static_cast<double>(firsts) / static_cast<double>(draws) == Approx(0.5).margin(0.02));  // P(rank 1) = p
  CHECK(anneal::detail::draw_rank(rng, 1.0) == 1);
}

TEST_CASE("anneal: the window around the chosen trial shrinks as 1 / (1 + 0.1 T)", "[seeded]") {
  // average_best_rank 1: every proposal is drawn around the best trial. Pending asks are ignored,
  // so a burst of untold asks samples the same distribution.
  const auto spread_after = [](std::size_t observations) {
    Anneal<Branin::space> searcher(minimize, {.average_best_rank = 1.0});
    const Branin branin;
    best_value(searcher, branin, observations);
    const auto best = searcher.history().best()->point;
    const double width = 1.0 / (1.0 + 0.1 * static_cast<double>(observations));
    std::vector<double> first;
    for (int i = 0; i < 400; ++i) {
      const auto point = Branin::space::to_unit_cube(searcher.ask().config);
      for (std::size_t k = 0; k < 2; ++k) REQUIRE(std::abs(point[k] - best[k]) <= width + 1e-9);
      first.push_back(point[0]);
    }
    CHECK(searcher.history().pending() == 400);
    // A uniform window of width w (shifted inside [0, 1]) has standard deviation w / sqrt(12).
    CHECK(standard_deviation(first) == Approx(width / std::sqrt(12.0)).epsilon(0.15));
    return standard_deviation(first);
  };
  const double early = spread_after(1), late = spread_after(150);
  CHECK(late < early / 8.0);
}

TEST_CASE("anneal: before any finished trial, and with no shrinking, proposals are prior draws", "[seeded]") {
  Anneal<Branin::space> searcher(minimize);
  std::vector<double> first;
  for (int i = 0; i < 400; ++i) first.push_back(Branin::space::to_unit_cube(searcher.ask().config)[0]);
  CHECK(standard_deviation(first) == Approx(1.0 / std::sqrt(12.0)).epsilon(0.12));
}

TEST_CASE("anneal: a categorical keeps the chosen trial's value with probability 1 - f + f / count", "[seeded]") {
  for (const double shrink : {0.1, 0.0}) {
    Anneal<MixedSpace> searcher(minimize, {.average_best_rank = 1.0, .shrink_coefficient = shrink});
    std::vector<Trial<MixedSpace>> first;
    for (int i = 0; i < 10; ++i) first.push_back(searcher.ask());  // all prior draws: nothing is told yet
    for (const auto& trial : first) searcher.tell(trial.id, Result{.value = trial.config.get<"x">()});
    const std::string parent = searcher.history().best()->config.get<"letter">();
    const double fraction = 1.0 / (1.0 + shrink * 10.0);  // T = 10
    const int draws = 4000;
    int kept = 0;
    for (int i = 0; i < draws; ++i) kept += searcher.ask().config.get<"letter">() == parent ? 1 : 0;
    CHECK(static_cast<double>(kept) / draws == Approx(1.0 - fraction + fraction / 4.0).margin(0.03));
  }
}

TEST_CASE("anneal: options are checked") {
  CHECK_THROWS_AS(Anneal<Branin::space>({}, {.average_best_rank = 0.5}), std::invalid_argument);
  CHECK_THROWS_AS(Anneal<Branin::space>({}, {.average_best_rank = std::nan("")}), std::invalid_argument);
  CHECK_THROWS_AS(Anneal<Branin::space>({}, {.shrink_coefficient = -0.1}), std::invalid_argument);
  CHECK_THROWS_AS(Anneal<Branin::space>({}, {.shrink_coefficient = std::numeric_limits<double>::infinity()}),
                  std::invalid_argument);
  CHECK_NOTHROW(Anneal<Branin::space>({}, {.average_best_rank = 1.0, .shrink_coefficient = 0.0}));
}

TEST_CASE("evolution: a child differs from its parent in exactly one free dimension") {
  // population 1, sample 1: the parent is always the trial told last.
  for (const double scale : {0.1, 0.0}) {
    SECTION(fmt::format("LeNet space, mutation_scale {}", scale)) {
      RegularizedEvolution<LeNetQuadratic::space> searcher({.seed = 3},
                                                           {.population = 1, .sample = 1, .mutation_scale = scale});
      const LeNetQuadratic problem;
      std::set<std::size_t> mutated;
      auto previous = searcher.ask();
      searcher.tell(previous.id, problem(previous.config));
      for (int i = 0; i < 200; ++i) {
        const auto child = searcher.ask();
        const auto& entries = searcher.history().entries();
        const auto& a = entries[previous.id].point;
        const auto& b = entries[child.id].point;
        REQUIRE(differing(a, b) == 1);
        for (std::size_t k = 0; k < a.size(); ++k) {
          if (a[k] != b[k]) mutated.insert(k);
        }
        searcher.tell(child.id, problem(child.config));
        previous = child;
      }
      CHECK(mutated.size() == LeNetQuadratic::space::dimension);
    }
  }
  SECTION("a mixed space: two-valued integers flip, a one-valued categorical never mutates") {
    RegularizedEvolution<MixedSpace> searcher({.seed = 4}, {.population = 1, .sample = 1});
    auto previous = searcher.ask();
    searcher.tell(previous.id, Result{.value = 0.0});
    std::set<std::size_t> mutated;
    for (int i = 0; i < 100; ++i) {
      const auto child = searcher.ask();
      const auto& a = searcher.history().entries()[previous.id].point;
      const auto& b = searcher.history().entries()[child.id].point;
      REQUIRE(differing(a, b) == 1);
      for (std::size_t k = 0; k < a.size(); ++k) {
        if (a[k] != b[k]) mutated.insert(k);
      }
      searcher.tell(child.id, Result{.value = 0.0});
      previous = child;
    }
    CHECK(mutated == std::set<std::size_t>{0, 2, 3});
  }
}

TEST_CASE("evolution: the population ages, the oldest leaves however good it was") {
  // sample = population: the tournament is the whole population.
  RegularizedEvolution<Hartmann6::space> searcher(minimize, {.population = 3, .sample = 3});
  const auto first = searcher.ask(), second = searcher.ask(), third = searcher.ask();
  searcher.tell(first.id, Result{.value = 0.0});  // the best, and the oldest
  searcher.tell(second.id, Result{.value = 5.0});
  searcher.tell(third.id, Result{.value = 6.0});
  CHECK(searcher.population() == std::deque<std::size_t>{0, 1, 2});
  const auto& entries = searcher.history().entries();

  const auto child = searcher.ask();
  CHECK(differing(entries[child.id].point, entries[first.id].point) == 1);  // the best parents it
  searcher.tell(child.id, Result{.value = 10.0});
  CHECK(searcher.population() == std::deque<std::size_t>{1, 2, 3});

  const auto grandchild = searcher.ask();
  CHECK(differing(entries[grandchild.id].point, entries[second.id].point) == 1);  // trial 0 aged out
  CHECK(differing(entries[grandchild.id].point, entries[first.id].point) > 1);

  searcher.tell(grandchild.id, Result{.status = Status::failed});  // failed trials never join
  CHECK(searcher.population() == std::deque<std::size_t>{1, 2, 3});
}

TEST_CASE("evolution: the first population asks are random, pending or not, and ask never waits") {
  RegularizedEvolution<Branin::space> searcher(minimize, {.population = 10, .sample = 2});
  std::vector<Trial<Branin::space>> pending;
  for (int i = 0; i < 25; ++i) pending.push_back(searcher.ask());  // nothing told: all prior draws
  std::set<double> distinct_x1, distinct_x2;
  for (const auto& trial : pending) {
    distinct_x1.insert(trial.config.get<"x1">());
    distinct_x2.insert(trial.config.get<"x2">());
  }
  CHECK(distinct_x1.size() == 25);
  CHECK(distinct_x2.size() == 25);
  for (const auto& trial : pending) searcher.tell(trial.id, Branin{}(trial.config));
  CHECK(searcher.population().size() == 10);
  CHECK(searcher.population().front() == 15);  // the newest ten told
  const auto child = searcher.ask();
  const auto& entries = searcher.history().entries();
  const bool one_parent = std::any_of(searcher.population().begin(), searcher.population().end(), [&](std::size_t id) {
    return differing(entries[id].point, entries[child.id].point) == 1;
  });
  CHECK(one_parent);
}

TEST_CASE("evolution: for_budget scales the population and the tournament") {
  const auto check = [](std::size_t trials, std::size_t population, std::size_t sample) {
    const auto options = EvolutionOptions::for_budget(trials);
    CHECK(options.population == population);
    CHECK(options.sample == sample);
  };
  check(0, 10, 2);
  check(40, 10, 2);
  check(100, 25, 6);
  check(200, 50, 12);
  check(400, 100, 25);
  check(10000, 100, 25);
  CHECK(EvolutionOptions{}.population == 100);
  CHECK(EvolutionOptions{}.sample == 25);
}

TEST_CASE("evolution: options are checked") {
  using Evolution = RegularizedEvolution<Branin::space>;
  CHECK_THROWS_AS(Evolution({}, {.population = 0, .sample = 0}), std::invalid_argument);
  CHECK_THROWS_AS(Evolution({}, {.population = 10, .sample = 0}), std::invalid_argument);
  CHECK_THROWS_AS(Evolution({}, {.population = 10, .sample = 11}), std::invalid_argument);
  CHECK_THROWS_AS(Evolution({}, {.mutation_scale = -1.0}), std::invalid_argument);
  CHECK_THROWS_AS(Evolution({}, {.mutation_scale = std::nan("")}), std::invalid_argument);
  CHECK_NOTHROW(Evolution({}, {.population = 1, .sample = 1, .mutation_scale = 0.0}));
}

TEST_CASE("anneal and evolution beat random search on Branin", "[seeded]") {
  const Branin branin;
  std::vector<double> random60, random100, anneal60, evolution100;
  for (std::uint64_t seed = 1; seed <= 9; ++seed) {
    const SearchOptions options{.seed = mahpo::testing::seed(seed), .goal = Goal::minimize};
    Random<Branin::space> random_a(options), random_b(options);
    random60.push_back(best_value(random_a, branin, 60));
    random100.push_back(best_value(random_b, branin, 100));
    Anneal<Branin::space> anneal(options);
    anneal60.push_back(best_value(anneal, branin, 60));
    RegularizedEvolution<Branin::space> evolution(options, EvolutionOptions::for_budget(100));
    evolution100.push_back(best_value(evolution, branin, 100));
  }
  INFO("median best: random 60 " << median(random60) << ", anneal 60 " << median(anneal60) << ", random 100 "
                                 << median(random100) << ", evolution 100 " << median(evolution100));
  CHECK(median(anneal60) < median(random60));
  CHECK(median(evolution100) < median(random100));
}
