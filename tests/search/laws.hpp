#pragma once
// The laws every searcher obeys (see include/mahpo/search/searcher.hpp), as one generic check.
// tests/search/test_laws.cpp instantiates it for every searcher and two spaces; a new searcher gets
// the laws by adding one line there.

#include <catch2/catch.hpp>

#include <mahpo/search/searcher.hpp>
#include <mahpo/study/study.hpp>

#include "../seeds.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mahpo::testing {

// A smooth value of a config (peak at 0.3 in every unit-cube coordinate), lower at small budgets.
template <typename S>
double law_value(const Config<S>& config, const Budget& budget) {
  const auto x = S::to_unit_cube(config);
  double value = 1.0;
  for (double coordinate : x) value -= (coordinate - 0.3) * (coordinate - 0.3);
  return value - 0.1 * (1.0 - std::min(budget.epochs, 1.0));
}

template <typename S>
Result law_result(const search::Trial<S>& trial) {
  return Result{.value = law_value(trial.config, trial.budget)};
}

// Checks a trial's config holds values of the space and its budget is positive.
template <typename S>
void require_in_space(const search::Trial<S>& trial) {
  REQUIRE_NOTHROW(Config<S>(trial.config.values()));
  REQUIRE((trial.budget.iterations > 0 || trial.budget.epochs > 0.0));
  REQUIRE(std::isfinite(trial.budget.epochs));
}

// Runs `count` trials with up to `pending` outstanding at once, telling them in a seeded shuffled
// order; `result_of(trial, k)` gives the k-th told result. Returns the trials in asked order.
template <typename T, typename ResultOf>
std::vector<search::Trial<typename T::space_type>> law_run(T& searcher, std::size_t count, std::size_t pending,
                                                           ResultOf&& result_of, std::uint64_t order_seed = 1) {
  using S = typename T::space_type;
  std::vector<search::Trial<S>> asked, outstanding;
  std::mt19937_64 order(mahpo::testing::seed(order_seed));
  std::size_t told = 0;
  while (asked.size() < count) {
    while (outstanding.size() < pending && asked.size() < count) {
      auto trial = searcher.ask();
      require_in_space(trial);
      REQUIRE(trial.id == asked.size());
      asked.push_back(trial);
      outstanding.push_back(trial);
    }
    std::uniform_int_distribution<std::size_t> pick(0, outstanding.size() - 1);
    const std::size_t k = pick(order);
    searcher.tell(outstanding[k].id, result_of(outstanding[k], told++));
    outstanding.erase(outstanding.begin() + static_cast<std::ptrdiff_t>(k));
  }
  for (const auto& trial : outstanding) searcher.tell(trial.id, result_of(trial, told++));
  return asked;
}

template <typename T>
void check_searcher_laws() {
  using S = typename T::space_type;
  static_assert(search::Searcher<T>, "a searcher must model mahpo::search::Searcher");
  const auto plain = [](const search::Trial<S>& trial, std::size_t) { return law_result(trial); };

  SECTION("configs stay inside the space, budgets are positive, ids count up") {
    T searcher(search::SearchOptions{.seed = mahpo::testing::seed(3)});
    law_run(searcher, 60, 1, plain);
    CHECK(searcher.history().finished() == 60);
  }

  SECTION("the same seed and the same tells give the same trials; another seed others") {
    const auto run = [&](std::uint64_t seed) {
      T searcher(search::SearchOptions{.seed = mahpo::testing::seed(seed)});
      return law_run(searcher, 50, 3, plain);
    };
    const auto first = run(11), again = run(11), other = run(12);
    bool all_equal = true, all_equal_other = true;
    for (std::size_t k = 0; k < first.size(); ++k) {
      all_equal = all_equal && first[k].config == again[k].config && first[k].budget.epochs == again[k].budget.epochs;
      all_equal_other = all_equal_other && first[k].config == other[k].config;
    }
    CHECK(all_equal);
    CHECK_FALSE(all_equal_other);
  }

  SECTION("failed and diverged trials don't break it, nor does a NaN carried by one") {
    T searcher(search::SearchOptions{.seed = mahpo::testing::seed(5)});
    law_run(searcher, 60, 2, [](const search::Trial<S>& trial, std::size_t k) {
      if (k % 3 == 0) return Result{.value = std::numeric_limits<double>::quiet_NaN(), .status = Status::failed};
      if (k % 5 == 0) return Result{.value = 0.0, .status = Status::diverged};
      return law_result(trial);
    });
    T all_failed(search::SearchOptions{.seed = mahpo::testing::seed(5)});
    law_run(all_failed, 30, 1, [](const search::Trial<S>&, std::size_t) { return Result{.status = Status::failed}; });
  }

  SECTION("a replaced config is taken as asked: the history holds it, and the searcher goes on") {
    const auto run = [](std::vector<Config<S>>* seen) {
      T searcher(search::SearchOptions{.seed = mahpo::testing::seed(21)});
      std::mt19937_64 rng(mahpo::testing::seed(4));
      for (std::size_t k = 0; k < 40; ++k) {
        auto trial = searcher.ask();
        require_in_space(trial);
        REQUIRE(trial.id == k);
        if (k % 3 == 0) {  // every third trial was run with a config of the user's
          const Config<S> given = S::sample(rng);
          searcher.replace(trial.id, given);
          trial.config = given;
          CHECK(searcher.history().entries()[trial.id].config == given);
        }
        seen->push_back(trial.config);
        searcher.tell(trial.id, law_result(trial));
      }
      CHECK_THROWS_AS(searcher.replace(0, S::sample(rng)), std::invalid_argument);     // already told
      CHECK_THROWS_AS(searcher.replace(1000, S::sample(rng)), std::invalid_argument);  // never asked
    };
    std::vector<Config<S>> first, second;
    run(&first);
    run(&second);
    CHECK(first == second);  // deterministic with replacements too
  }

  SECTION("minimizing works too") {
    T searcher(search::SearchOptions{.seed = mahpo::testing::seed(9), .goal = mahpo::Goal::minimize});
    law_run(searcher, 40, 2, plain);
    REQUIRE(searcher.history().best() != nullptr);
    CHECK(searcher.history().best()->loss == searcher.history().best()->result.value);
  }

  SECTION("many pending trials at once") {
    T searcher(search::SearchOptions{.seed = mahpo::testing::seed(13)});
    law_run(searcher, 80, 40, plain);
    CHECK(searcher.history().pending() == 0);
  }

  SECTION("under concurrent workers no trial is lost or told twice") {
    T searcher(search::SearchOptions{.seed = mahpo::testing::seed(17)});
    std::atomic<int> inside{0}, most{0};
    const auto objective = [&](const Config<S>& config, const Budget& budget) {
      const int now = ++inside;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds(300));
      --inside;
      return Result{.value = law_value(config, budget)};
    };
    const auto report =
        study::run_study(searcher, objective, {.trials = 48, .workers = 4, .progress = study::Progress::never});
    REQUIRE(report.trials.size() == 48);
    for (std::size_t k = 0; k < report.trials.size(); ++k) {
      CHECK(report.trials[k].id == k);
      CHECK(report.trials[k].finished);
    }
    CHECK(searcher.history().finished() == 48);  // a second tell would have thrown
    CHECK(searcher.history().pending() == 0);
    CHECK(most.load() > 1);
  }

  SECTION("a tell of an unknown trial, or a second tell, is refused") {
    T searcher(search::SearchOptions{.seed = mahpo::testing::seed(1)});
    const auto trial = searcher.ask();
    CHECK_THROWS_AS(searcher.tell(trial.id + 100, Result{}), std::invalid_argument);
    searcher.tell(trial.id, law_result(trial));
    CHECK_THROWS_AS(searcher.tell(trial.id, law_result(trial)), std::invalid_argument);
    require_in_space(searcher.ask());
  }
}

}  // namespace mahpo::testing
