// Population based training: members continue their own training or a stronger member's, only the
// explored parameters change, states no member needs are dropped, and on a problem where the best
// setting must be found along the way it ends at least as well as the same population unexploited.
#include <catch2/catch.hpp>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/factory.hpp>
#include <mahpo/search/pbt.hpp>
#include <mahpo/study/study.hpp>

#include "../seeds.hpp"

#include <cmath>
#include <map>
#include <sstream>
#include <string>

using namespace mahpo;
using problems::Branin;

namespace {

// A training whose progress grows each epoch by a gain that depends on x1 (best at x1 = 7.5) and not
// on x2; the state is the progress and the epochs trained, the value the progress (maximized).
struct Trainable {
  static double gain(const Config<Branin::space>& config) {
    const double x = config.get<"x1">();
    return 1.0 - (x - 7.5) * (x - 7.5) / 160.0;
  }
  Result operator()(const Config<Branin::space>& config, const Budget& budget, TrialContext& context) const {
    double progress = 0.0, epochs = 0.0;
    std::istringstream state(context.resume_state());
    state >> progress >> epochs;
    Result result;
    result.metrics["resumed_epochs"] = epochs;
    for (; epochs + 1e-9 < budget.epochs; epochs += 1.0) progress += gain(config);
    if (context.wants_state()) context.save_state(fmt::format("{:.17g} {:.17g}", progress, epochs));
    result.value = progress;
    return result;
  }
};

}  // namespace

TEST_CASE("pbt: each trial continues its member or a stronger one, with only the explored parameters changed") {
  search::Pbt<Branin::space> pbt({.seed = 2}, {.population = 6, .step_epochs = 1.0, .explore = {"x1"}});
  const auto report = study::run_study(pbt, Trainable{}, {.trials = 60, .progress = study::Progress::never});
  REQUIRE(report.trials.size() == 60);
  CHECK(pbt.population() == 6);
  CHECK(pbt.exploits() > 0);
  std::size_t copies = 0, moved = 0;
  for (const auto& trial : report.trials) {
    CAPTURE(trial.id);
    const double resumed = trial.result.metrics.at("resumed_epochs");
    if (!trial.resume_from) {
      CHECK(trial.budget.epochs == 1.0);
      CHECK(resumed == 0.0);
      continue;
    }
    const auto& parent = report.trials[*trial.resume_from];
    CHECK(parent.finished);
    CHECK(trial.budget.epochs == parent.budget.epochs + 1.0);
    CHECK(resumed == parent.budget.epochs);                        // the parent's state was there
    CHECK(trial.config.get<"x2">() == parent.config.get<"x2">());  // not explored
    if (pbt.member_of(trial.id) != pbt.member_of(parent.id)) {
      ++copies;
      moved += trial.config.get<"x1">() != parent.config.get<"x1">() ? 1 : 0;  // explored after a copy
    } else {
      CHECK(trial.config == parent.config);
    }
  }
  CHECK(copies == pbt.exploits());
  CHECK(moved * 10 >= copies * 8);  // a move at a bound may leave x1 where it was
  // The states no member can continue are dropped as the study goes.
  CHECK(pbt.drop_states().empty());
}

TEST_CASE("pbt ends at least as well as its population trained without exploiting", "[seeded]") {
  std::size_t better = 0;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    CAPTURE(seed);
    search::Pbt<Branin::space> pbt({.seed = mahpo::testing::seed(seed)}, {.population = 8, .explore = {"x1"}});
    const auto with = study::run_study(pbt, Trainable{}, {.trials = 80, .progress = study::Progress::never});
    // The same first members (the same seed draws them first), each trained 10 epochs.
    search::Pbt<Branin::space> first({.seed = mahpo::testing::seed(seed)}, {.population = 8, .explore = {"x1"}});
    double alone = -1e300;
    for (std::size_t m = 0; m < 8; ++m) alone = std::max(alone, 10.0 * Trainable::gain(first.ask().config));
    CHECK(with.best()->result.value >= alone - 1e-9);
    if (with.best()->result.value > alone + 1e-6) ++better;
  }
  CHECK(better >= 5);
}

TEST_CASE("pbt refuses options it cannot run, the factory explores a topology's training and dropout") {
  using S = Branin::space;
  CHECK_THROWS_WITH(search::Pbt<S>({}, {.population = 1}), Catch::Contains("population"));
  CHECK_THROWS_WITH(search::Pbt<S>({}, {.quantile = 0.7}), Catch::Contains("quantile"));
  CHECK_THROWS_WITH(search::Pbt<S>({}, {.explore = {"x3"}}), Catch::Contains("'x3'"));
  CHECK_THROWS_AS(search::Pbt<S>({}, {.step_epochs = 0.0}), std::invalid_argument);
  const auto explored = search::pbt_explore<nn::paper_lenet>();
  CHECK(explored == std::vector<std::string>{"fc1.dropout_rate", "training.batch_size", "training.learning_rate"});
  CHECK(search::pbt_explore<nn::paper_lenet::space>() == explored);  // the space of a topology: the same
  CHECK(search::pbt_explore<S>().empty());                           // any other space: every parameter
  auto chosen = search::make_searcher<nn::paper_lenet>("pbt", {.search = {.budget = {.epochs = 0.5}}});
  CHECK(std::get<search::Pbt<nn::paper_lenet::space>>(chosen).pbt_options().step_epochs == 0.5);
}
