// Successive halving, Hyperband and BOHB: the bracket table, the budgets asked, promotions,
// brackets opened while others wait, options, BOHB's model rules, and BOHB against Hyperband.
#include <catch2/catch.hpp>

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/hyperband/bohb.hpp>
#include <mahpo/search/hyperband/hyperband.hpp>
#include <mahpo/search/hyperband/successive_halving.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../seeds.hpp"

using namespace mahpo;
using namespace mahpo::search;
namespace hb = mahpo::search::hyperband::detail;

namespace {

// One real parameter: a trial's value is its x, so the ranking of configs is known.
using Line = Space<Real<"x", 0.0, 1.0>>;

double x_of(const Trial<Line>& trial) { return trial.config.get<"x">(); }

// (budget, count) runs of the budgets of `trials`, in order.
template <typename S>
std::vector<std::pair<double, std::size_t>> runs_of(const std::vector<Trial<S>>& trials) {
  std::vector<std::pair<double, std::size_t>> runs;
  for (const auto& trial : trials) {
    if (!runs.empty() && runs.back().first == trial.budget.epochs) {
      ++runs.back().second;
    } else {
      runs.emplace_back(trial.budget.epochs, 1);
    }
  }
  return runs;
}

// Asks and tells `count` trials one at a time, the value being x.
template <typename T>
std::vector<Trial<Line>> prompt(T& searcher, std::size_t count) {
  std::vector<Trial<Line>> trials;
  for (std::size_t i = 0; i < count; ++i) {
    trials.push_back(searcher.ask());
    searcher.tell(trials.back().id, Result{.value = x_of(trials.back())});
  }
  return trials;
}

}  // namespace

TEST_CASE("Hyperband's bracket table for eta 3, budgets 1 to 81 (Li et al. 2018, Table 1)") {
  const auto shape = hb::make_shape("hyperband", 1.0, 81.0, 3.0);
  CHECK(shape.s_max == 4);
  const std::vector<std::pair<std::size_t, double>> table{{81, 1.0}, {34, 3.0}, {15, 9.0}, {8, 27.0}, {5, 81.0}};
  for (std::size_t s = 0; s <= 4; ++s) {
    CHECK(shape.bracket_size(s) == table[4 - s].first);
    CHECK(shape.budget(shape.level(s, 0)) == Approx(table[4 - s].second));
  }
  const std::vector<std::size_t> rungs{81, 27, 9, 3, 1};
  for (std::size_t i = 0; i < 5; ++i) CHECK(shape.rung_size(4, i) == rungs[i]);
  CHECK(shape.rung_size(3, 1) == 11);
  CHECK(shape.rung_size(3, 3) == 1);

  // s_max = floor(log_eta(R / r)), robust to the rounding of the ratio.
  CHECK(hb::make_shape("hyperband", 1.0 / 81.0, 1.0, 3.0).s_max == 4);
  CHECK(hb::make_shape("hyperband", 1.0 / 3.0 / 3.0 / 3.0, 1.0, 3.0).s_max == 3);
  CHECK(hb::make_shape("hyperband", 0.1, 1.0, 3.0).s_max == 2);
  CHECK(hb::make_shape("hyperband", 1.0, 1.0, 3.0).s_max == 0);
  const auto defaults = hb::make_shape("hyperband", HyperbandOptions{}.min_budget, 1.0, 3.0);
  CHECK(defaults.s_max == 2);
  CHECK(defaults.budget(0) == Approx(1.0 / 9.0));
  CHECK(defaults.budget(2) == 1.0);
}

TEST_CASE("Hyperband asks the budgets of its table when results come promptly") {
  Hyperband<Line> hyperband(SearchOptions{.seed = 1}, HyperbandOptions{.min_budget = 1.0, .max_budget = 81.0});
  const auto trials = prompt(hyperband, 207);
  const std::vector<std::pair<double, std::size_t>> expected{{1, 81}, {3, 27},     {9, 9},  {27, 3}, {81, 1},  // s = 4
                                                             {3, 34}, {9, 11},     {27, 3}, {81, 1},           // s = 3
                                                             {9, 15}, {27, 5},     {81, 1},                    // s = 2
                                                             {27, 8}, {81, 2 + 5},  // s = 1, then s = 0's 5 at 81
                                                             {1, 1}};               // and s = 4 again
  CHECK(runs_of(trials) == expected);
  CHECK(hyperband.bracket_of(0) == 0);
  CHECK(hyperband.bracket_of(120) == 0);
  CHECK(hyperband.bracket_of(121) == 1);
  CHECK(hyperband.bracket_of(206) == 5);
  for (const auto& trial : trials) CHECK(trial.budget.iterations == 0);
}

TEST_CASE("successive halving repeats Hyperband's most aggressive bracket") {
  SuccessiveHalving<Line> defaults(SearchOptions{.seed = 2});
  const std::vector<std::pair<double, std::size_t>> three{{1.0 / 9.0, 9}, {1.0 / 3.0, 3}, {1.0, 1}};
  auto runs = runs_of(prompt(defaults, 26));
  REQUIRE(runs.size() == 6);
  for (std::size_t k = 0; k < 6; ++k) {
    CHECK(runs[k].first == Approx(three[k % 3].first));
    CHECK(runs[k].second == three[k % 3].second);
  }
  CHECK(defaults.bracket_of(25) == 1);

  SuccessiveHalving<Line> deep(SearchOptions{.seed = 2}, SuccessiveHalvingOptions{.min_budget = 1.0 / 81.0});
  runs = runs_of(prompt(deep, 121));
  const std::vector<std::size_t> sizes{81, 27, 9, 3, 1};
  REQUIRE(runs.size() == 5);
  for (std::size_t k = 0; k < 5; ++k) {
    CHECK(runs[k].second == sizes[k]);
    CHECK(runs[k].first == Approx(std::pow(3.0, static_cast<double>(k)) / 81.0));
  }
}

TEST_CASE("a rung promotes its best 1/eta, best first, as new trials of the same configs") {
  for (const Goal goal : {Goal::maximize, Goal::minimize}) {
    SuccessiveHalving<Line> halving(SearchOptions{.seed = 4, .goal = goal});
    const auto trials = prompt(halving, 13);
    std::vector<double> first(9);
    for (std::size_t i = 0; i < 9; ++i) first[i] = x_of(trials[i]);
    std::sort(first.begin(), first.end());
    if (goal == Goal::maximize) std::reverse(first.begin(), first.end());  // best first
    for (std::size_t k = 0; k < 3; ++k) {
      CHECK(x_of(trials[9 + k]) == first[k]);
      CHECK(trials[9 + k].id == 9 + k);
      CHECK(trials[9 + k].budget.epochs == Approx(1.0 / 3.0));
    }
    CHECK(x_of(trials[12]) == first[0]);
    CHECK(trials[12].budget.epochs == 1.0);
  }
}

TEST_CASE("failed and diverged trials count as the worst, pruned ones by their value") {
  SuccessiveHalving<Line> halving(SearchOptions{.seed = 6});
  std::vector<Trial<Line>> rung;
  for (std::size_t i = 0; i < 9; ++i) rung.push_back(halving.ask());
  std::vector<std::size_t> order(9);
  for (std::size_t i = 0; i < 9; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return x_of(rung[a]) > x_of(rung[b]); });
  // The two best fail or diverge (with a large value that must be ignored); the third best is pruned.
  for (std::size_t k = 0; k < 9; ++k) {
    const auto& trial = rung[order[k]];
    Result result{.value = x_of(trial)};
    if (k == 0) result = Result{.value = 10.0, .status = Status::failed};
    if (k == 1) result = Result{.value = std::numeric_limits<double>::quiet_NaN(), .status = Status::diverged};
    if (k == 2) result.status = Status::pruned;
    halving.tell(trial.id, result);
  }
  for (std::size_t k = 0; k < 3; ++k) CHECK(x_of(halving.ask()) == x_of(rung[order[k + 2]]));
}

TEST_CASE("with trials pending, ask() opens the next brackets, promotions wait for their rung") {
  Hyperband<Line> hyperband(SearchOptions{.seed = 8});  // brackets of 9 (1/9), 5 (1/3) and 3 (1) new configs
  std::vector<Trial<Line>> trials;
  for (std::size_t i = 0; i < 30; ++i) trials.push_back(hyperband.ask());
  const auto runs = runs_of(trials);
  const std::vector<std::pair<double, std::size_t>> expected{
      {1.0 / 9.0, 9}, {1.0 / 3.0, 5}, {1.0, 3}, {1.0 / 9.0, 9}, {1.0 / 3.0, 4}};
  REQUIRE(runs.size() == expected.size());
  for (std::size_t k = 0; k < runs.size(); ++k) {
    CHECK(runs[k].first == Approx(expected[k].first));
    CHECK(runs[k].second == expected[k].second);
  }
  CHECK(hyperband.bracket_of(29) == 4);

  // Eight of the first bracket's nine told: still no promotion, the next trial is new.
  for (std::size_t i = 1; i < 9; ++i) hyperband.tell(i, Result{.value = x_of(trials[i])});
  CHECK(hyperband.ask().budget.epochs == Approx(1.0 / 3.0));  // bracket 4's last new config
  CHECK(hyperband.ask().budget.epochs == Approx(1.0));        // bracket 5 (s = 0) opens
  // The ninth completes the rung: the oldest bracket's promotions come first.
  hyperband.tell(0, Result{.value = x_of(trials[0])});
  double best = 0.0;
  for (std::size_t i = 0; i < 9; ++i) best = std::max(best, x_of(trials[i]));
  const auto promoted = hyperband.ask();
  CHECK(promoted.budget.epochs == Approx(1.0 / 3.0));
  CHECK(x_of(promoted) == best);
  CHECK(hyperband.bracket_of(promoted.id) == 0);
}

TEST_CASE("the options are checked") {
  CHECK_THROWS_AS(Hyperband<Line>(SearchOptions{}, HyperbandOptions{.eta = 1.5}), std::invalid_argument);
  CHECK_THROWS_AS(Hyperband<Line>(SearchOptions{}, HyperbandOptions{.min_budget = 0.0}), std::invalid_argument);
  CHECK_THROWS_AS(Hyperband<Line>(SearchOptions{}, HyperbandOptions{.min_budget = 2.0, .max_budget = 1.0}),
                  std::invalid_argument);
  CHECK_THROWS_AS(Hyperband<Line>(SearchOptions{}, HyperbandOptions{.min_budget = 1e-300}), std::invalid_argument);
  CHECK_THROWS_AS(SuccessiveHalving<Line>(SearchOptions{}, SuccessiveHalvingOptions{.eta = 1.0}),
                  std::invalid_argument);
  CHECK_THROWS_AS(Bohb<Line>(SearchOptions{}, BohbOptions{.max_budget = std::nan("")}), std::invalid_argument);
  CHECK_THROWS_AS(Bohb<Line>(SearchOptions{}, BohbOptions{.top_n_percent = 0}), std::invalid_argument);
  CHECK_THROWS_AS(Bohb<Line>(SearchOptions{}, BohbOptions{.top_n_percent = 100}), std::invalid_argument);
  CHECK_THROWS_AS(Bohb<Line>(SearchOptions{}, BohbOptions{.num_samples = 0}), std::invalid_argument);
  CHECK_THROWS_AS(Bohb<Line>(SearchOptions{}, BohbOptions{.random_fraction = 1.5}), std::invalid_argument);
  CHECK_THROWS_AS(Bohb<Line>(SearchOptions{}, BohbOptions{.min_bandwidth = 0.0}), std::invalid_argument);
  using Six = problems::LeNetQuadratic::space;
  CHECK_THROWS_AS(Bohb<Six>(SearchOptions{}, BohbOptions{.min_points_in_model = 6}), std::invalid_argument);
  CHECK(Bohb<Six>(SearchOptions{}, BohbOptions{.min_points_in_model = 7}).bohb_options().min_points_in_model == 7);
  CHECK(Bohb<Six>().bohb_options().min_points_in_model == 7);
  CHECK_NOTHROW(Hyperband<Line>(SearchOptions{}, HyperbandOptions{.min_budget = 1.0, .max_budget = 1.0}));
  try {
    Hyperband<Line>(SearchOptions{}, HyperbandOptions{.eta = 1.0});
  } catch (const std::invalid_argument& error) {
    CHECK(std::string(error.what()) == "mahpo::hyperband: eta (1) must be at least 2");
  }
}

TEST_CASE("BOHB's model needs more points than dimensions in both the good and the bad set") {
  // 6 dimensions, min_points_in_model 7: good = max(7, 15% of n), bad = the rest up to max(7, 85%).
  CHECK_FALSE(bohb::detail::enough(13, 7, 15, 6));
  CHECK(bohb::detail::enough(14, 7, 15, 6));
  CHECK(bohb::detail::good_bad_split(14, 7, 15).good == 7);
  CHECK(bohb::detail::good_bad_split(14, 7, 15).bad == 7);
  CHECK(bohb::detail::good_bad_split(100, 7, 15).good == 15);
  CHECK(bohb::detail::good_bad_split(100, 7, 15).bad == 85);
  // The largest budget level with enough observations.
  CHECK(bohb::detail::model_level({20, 14, 3}, 7, 15, 6) == std::optional<std::size_t>(1));
  CHECK(bohb::detail::model_level({20, 13, 14}, 7, 15, 6) == std::optional<std::size_t>(2));
  CHECK_FALSE(bohb::detail::model_level({13, 2, 1}, 7, 15, 6).has_value());
}

TEST_CASE("BOHB's KDE: normal-reference bandwidths, floored, Aitchison–Aitken kernels on categoricals") {
  const std::array<Dimension, 1> real{Dimension{.name = "x", .kind = Kind::continuous, .count = 0}};
  const bohb::detail::Kde<1> kde({{0.2}, {0.4}, {0.6}}, real, 1e-3);
  const double deviation = std::sqrt((0.04 + 0.0 + 0.04) / 3.0);
  CHECK(kde.bandwidth()[0] == Approx(1.06 * deviation * std::pow(3.0, -1.0 / 5.0)));
  CHECK(kde.log_pdf({0.4}) > kde.log_pdf({0.9}));
  // A density: it integrates to about one (the kernels hardly reach past [-0.5, 1.5]).
  double integral = 0.0;
  for (int i = 0; i < 2000; ++i) integral += std::exp(kde.log_pdf({-0.5 + (i + 0.5) / 1000.0})) / 1000.0;
  CHECK(integral == Approx(1.0).epsilon(1e-3));
  CHECK(bohb::detail::Kde<1>({{0.5}, {0.5}}, real, 1e-3).bandwidth()[0] == 1e-3);

  const std::array<Dimension, 1> colour{Dimension{.name = "c", .kind = Kind::categorical, .count = 3}};
  const bohb::detail::Kde<1> categorical({{0.5 / 3}, {0.5 / 3}, {0.5 / 3}, {1.5 / 3}}, colour, 1e-3);
  double mass = 0.0;
  for (int c = 0; c < 3; ++c) mass += std::exp(categorical.log_pdf({(c + 0.5) / 3.0}));
  CHECK(mass == Approx(1.0));
  CHECK(categorical.log_pdf({0.5 / 3}) > categorical.log_pdf({1.5 / 3}));
  CHECK(categorical.log_pdf({1.5 / 3}) > categorical.log_pdf({2.5 / 3}));
  CHECK(categorical.bandwidth()[0] <= 2.0 / 3.0);
}

TEST_CASE("BOHB draws at random until a budget has enough points, then mostly from the model", "[seeded]") {
  using Problem = problems::LeNetQuadratic;
  const Problem problem;
  Bohb<Problem::space> bohb(SearchOptions{.seed = mahpo::testing::seed(3)});
  std::size_t first_ready = 0, first_model = 0, model = 0, fresh = 0;
  for (std::size_t i = 0; i < 200; ++i) {
    const bool ready = bohb.model_budget().has_value();
    if (ready && first_ready == 0) first_ready = i;
    const auto trial = bohb.ask();
    const auto& entries = bohb.history().entries();
    const bool promoted = std::any_of(entries.begin(), entries.end() - 1,
                                      [&](const auto& entry) { return entry.config == trial.config; });
    if (!ready || promoted) CHECK_FALSE(bohb.model_based(trial.id));
    if (ready && !promoted) {
      ++fresh;
      if (bohb.model_based(trial.id)) ++model;
    }
    if (bohb.model_based(trial.id) && first_model == 0) first_model = trial.id;
    bohb.tell(trial.id, problem(trial.config, trial.budget));
  }
  // 14 usable points at one budget make the first 6-d model (7 good, 7 bad): the 9 trials at 1/9
  // epoch of the first bracket and 5 of the fourth (22 trials a cycle), so from trial 27 on.
  CHECK(first_ready == 27);
  CHECK(first_model >= 27);
  CHECK(first_model < 40);
  CHECK(bohb.model_budget() == std::optional<double>(1.0));
  // About two thirds of the new configs come from the model.
  CHECK(static_cast<double>(model) > 0.5 * static_cast<double>(fresh));
  CHECK(static_cast<double>(model) < 0.85 * static_cast<double>(fresh));
}

TEST_CASE("on the LeNet quadratic, BOHB's median best beats Hyperband's at 150 trials", "[seeded]") {
  using Problem = problems::LeNetQuadratic;
  const Problem problem;
  const auto best_at_full_budget = [&](auto& searcher) {
    double best = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < 150; ++i) {
      const auto trial = searcher.ask();
      const Result result = problem(trial.config, trial.budget);
      searcher.tell(trial.id, result);
      if (trial.budget.epochs == 1.0) best = std::max(best, result.value);
    }
    return best;
  };
  std::vector<double> hyperband_best, bohb_best;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    Hyperband<Problem::space> hyperband(SearchOptions{.seed = mahpo::testing::seed(seed)});
    Bohb<Problem::space> bohb(SearchOptions{.seed = mahpo::testing::seed(seed)});
    hyperband_best.push_back(best_at_full_budget(hyperband));
    bohb_best.push_back(best_at_full_budget(bohb));
  }
  std::sort(hyperband_best.begin(), hyperband_best.end());
  std::sort(bohb_best.begin(), bohb_best.end());
  INFO("Hyperband's median " << hyperband_best[2] << ", BOHB's " << bohb_best[2]);
  CHECK(bohb_best[2] > hyperband_best[2]);
}
