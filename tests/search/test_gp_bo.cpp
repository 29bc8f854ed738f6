// GP-BO the searcher: options, duplicates and pending trials, and that it beats random search (its
// parts have their own tests under gp/).
#include <catch2/catch.hpp>

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/gp/gp_bo.hpp>
#include <mahpo/search/random.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../seeds.hpp"

using namespace mahpo;
using namespace mahpo::search;

namespace {

// The best value after `trials` sequential trials of a searcher on a problem (minimize).
template <typename Searcher, typename Problem>
double best_after(Searcher searcher, const Problem& problem, std::size_t trials) {
  for (std::size_t k = 0; k < trials; ++k) {
    const auto trial = searcher.ask();
    searcher.tell(trial.id, problem(trial.config, trial.budget));
  }
  return searcher.history().best()->result.value;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

template <typename Problem>
std::pair<double, double> median_best_gp_and_random(std::size_t trials, std::size_t seeds, GpBoOptions gp = {}) {
  const Problem problem;
  std::vector<double> gp_best, random_best;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    const SearchOptions options{.seed = mahpo::testing::seed(seed), .goal = Problem::goal};
    gp_best.push_back(best_after(GpBo<typename Problem::space>(options, gp), problem, trials));
    random_best.push_back(best_after(Random<typename Problem::space>(options), problem, trials));
  }
  return {median(gp_best), median(random_best)};
}

}  // namespace

TEST_CASE("gp_bo: options are checked") {
  using S = problems::Branin::space;
  CHECK_NOTHROW(GpBo<S>());
  CHECK_THROWS_AS(GpBo<S>({}, {.ucb_beta = -1.0}), std::invalid_argument);
  CHECK_THROWS_AS(GpBo<S>({}, {.ucb_beta = std::nan("")}), std::invalid_argument);
  CHECK_THROWS_AS(GpBo<S>({}, {.candidates = 0}), std::invalid_argument);
  CHECK_THROWS_AS(GpBo<S>({}, {.fit_evaluations = 0}), std::invalid_argument);
  CHECK_THROWS_AS(GpBo<S>({}, {.noise_floor = 0.0}), std::invalid_argument);
  CHECK_THROWS_AS(GpBo<S>({}, {.noise_floor = 1.5}), std::invalid_argument);
  CHECK_THROWS_WITH(GpBo<S>({}, {.ucb_beta = -1.0}), Catch::Contains("mahpo::gp_bo") && Catch::Contains("ucb_beta"));
}

TEST_CASE("gp_bo: asks no config twice while the space has unasked ones") {
  using S = Space<Int<"a", 0, 3>, Categorical<"b", "x", "y", "z">>;  // 12 configs
  GpBo<S> searcher(SearchOptions{.seed = 4}, {.startup_trials = 3});
  std::set<std::pair<std::int64_t, std::string>> seen;
  for (int k = 0; k < 12; ++k) {
    const auto trial = searcher.ask();
    seen.emplace(trial.config.get<"a">(), trial.config.get<"b">());
    Result result;
    result.value = static_cast<double>(trial.config.get<"a">());
    searcher.tell(trial.id, result);
  }
  // Startup draws may repeat each other; the model's picks never repeat an asked config.
  CHECK(seen.size() >= 10);
  const auto& entries = searcher.history().entries();
  for (std::size_t k = 3; k < entries.size(); ++k) {
    for (std::size_t earlier = 0; earlier < k; ++earlier) CHECK_FALSE(entries[k].config == entries[earlier].config);
  }
}

TEST_CASE("gp_bo: pending trials (Kriging believer or constant liar) spread the batch") {
  using P = problems::Branin;
  const P problem;
  for (const GpPending pending : {GpPending::believer, GpPending::best}) {
    CAPTURE(nlohmann::json(pending).get<std::string>());
    GpBo<P::space> searcher(SearchOptions{.seed = 2, .goal = P::goal}, {.pending = pending});
    for (int k = 0; k < 15; ++k) {
      const auto trial = searcher.ask();
      searcher.tell(trial.id, problem(trial.config));
    }
    std::vector<std::array<double, 2>> batch;
    for (int k = 0; k < 4; ++k) batch.push_back(P::space::to_unit_cube(searcher.ask().config));
    for (std::size_t a = 0; a < batch.size(); ++a) {
      for (std::size_t b = a + 1; b < batch.size(); ++b) {
        CHECK(std::hypot(batch[a][0] - batch[b][0], batch[a][1] - batch[b][1]) > 1e-3);
      }
    }
    CHECK(searcher.history().pending() == 4);
  }
}

TEST_CASE(
    "gp_bo's options as JSON record how pending trials are told, so a CL-min journal is not resumed as believer") {
  const nlohmann::json json = GpBoOptions{};
  CHECK(json.at("pending") == "believer");
  CHECK(json.get<GpBoOptions>().pending == GpPending::believer);
  CHECK(nlohmann::json(GpBoOptions{.pending = GpPending::best}).get<GpBoOptions>().pending == GpPending::best);
  nlohmann::json older = json;  // a journal written before the option existed
  older.erase("pending");
  CHECK(older != json);
  CHECK(older.get<GpBoOptions>().candidates == GpBoOptions{}.candidates);
}

TEST_CASE("gp_bo: beats random search on Branin with 40 trials (median of 5 seeds)", "[quality][seeded]") {
  const auto [gp, random] = median_best_gp_and_random<problems::Branin>(40, 5);
  INFO("median best: gp_bo " << gp << ", random " << random);
  CHECK(gp < random);
  CHECK(gp < 0.397887 + 0.1);
}

TEST_CASE("gp_bo: UCB beats random search on Branin with 40 trials (median of 5 seeds)", "[quality][seeded]") {
  const auto [gp, random] =
      median_best_gp_and_random<problems::Branin>(40, 5, GpBoOptions{.acquisition = GpBoOptions::Acquisition::ucb});
  INFO("median best: gp_bo " << gp << ", random " << random);
  CHECK(gp < random);
}

TEST_CASE("gp_bo: beats random search on Hartmann-6 with 40 trials (median of 5 seeds)", "[quality][seeded]") {
  const auto [gp, random] = median_best_gp_and_random<problems::Hartmann6>(40, 5);
  INFO("median best: gp_bo " << gp << ", random " << random);
  CHECK(gp < random);
}
