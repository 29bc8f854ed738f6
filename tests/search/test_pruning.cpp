// Pruners, trials that report and stop early, and trials that continue saved training states: the
// pruners' rules, a study that prunes and journals every report, its resume (also after SIGKILL in
// the middle of a trial), and Hyperband continuing its promoted configs.
#include <catch2/catch.hpp>

#include "journal_helpers.hpp"

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/hyperband/bohb.hpp>
#include <mahpo/search/hyperband/hyperband.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/tpe/tpe.hpp>
#include <mahpo/study/pruners.hpp>
#include <mahpo/study/study.hpp>

#include <atomic>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

using namespace mahpo;
using problems::Branin;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) { return mahpo::testing::scratch("pruning", name); }
using mahpo::testing::events;

// A learning curve over Branin's space (minimized): Branin's value plus a gap that closes with the
// steps (an epoch each; the budget's epochs are the steps of a full trial). It reports each step,
// stops when told, saves its step as its "state" and continues from a state it is given; `kill_at`
// kills the process (SIGKILL) right after saving that step in its `kill_call`-th call.
struct Curve {
  std::shared_ptr<std::atomic<std::size_t>> trained = std::make_shared<std::atomic<std::size_t>>(0);
  std::size_t kill_at = 0, kill_call = 0;
  std::shared_ptr<std::atomic<std::size_t>> calls = std::make_shared<std::atomic<std::size_t>>(0);

  static double at(const Config<Branin::space>& config, std::size_t step) {
    return Branin{}(config, {}).value + 20.0 * std::exp(-static_cast<double>(step) / 2.0);
  }

  Result operator()(const Config<Branin::space>& config, const Budget& budget, TrialContext& context) const {
    const std::size_t call = ++*calls;
    std::size_t start = 0;
    if (const std::string state = context.resume_state(); !state.empty()) start = std::stoul(state);
    const auto steps = static_cast<std::size_t>(std::llround(budget.epochs));
    Result result;
    result.metrics["started_at"] = start;
    for (std::size_t step = start + 1; step <= steps; ++step) {
      ++*trained;
      const double value = at(config, step);
      result.intermediate.push_back(value);
      result.value = value;
      result.metrics["epochs_trained"] = step - start;
      if (context.report(step, value)) {
        result.status = Status::pruned;
        return result;
      }
      if (context.wants_state()) context.save_state(std::to_string(step));
      if (kill_at != 0 && call == kill_call && step == kill_at) ::raise(SIGKILL);
    }
    result.value = at(config, steps);
    return result;
  }
};

}  // namespace

TEST_CASE("pruners: the median and percentile rules, after their start-up trials") {
  study::MedianPruner median({.startup_trials = 3});
  median.set_goal(Goal::maximize);
  // Three complete trials with values 0.1, 0.2, 0.3 at step 1 (median 0.2).
  for (std::size_t id = 0; id < 3; ++id) {
    CHECK_FALSE(median.report(id, 1, 0.1 * static_cast<double>(id + 1)));  // still starting up
    median.finish(id, Status::ok);
  }
  CHECK(median.report(3, 1, 0.15));        // below the median
  CHECK_FALSE(median.report(4, 1, 0.25));  // above it
  CHECK_FALSE(median.report(5, 2, 0.0));   // no complete trial reached step 2: nothing to compare
  // A pruned trial's values do not join the complete ones.
  median.finish(3, Status::pruned);
  CHECK(median.report(6, 1, 0.19));

  study::PercentilePruner top_quarter({.percentile = 25.0, .startup_trials = 0});
  top_quarter.set_goal(Goal::minimize);
  for (std::size_t id = 0; id < 5; ++id) {
    top_quarter.report(id, 1, static_cast<double>(id));  // losses 0..4: the best quarter is <= 1
    top_quarter.finish(id, Status::ok);
  }
  CHECK(top_quarter.report(10, 1, 1.5));
  CHECK_FALSE(top_quarter.report(11, 1, 0.5));
  // The trial's best value so far counts, not its last.
  study::PercentilePruner best_so_far({.percentile = 50.0, .startup_trials = 0});
  for (std::size_t id = 0; id < 3; ++id) {
    best_so_far.report(id, 1, 0.5);
    best_so_far.report(id, 2, 0.5);
    best_so_far.finish(id, Status::ok);
  }
  CHECK_FALSE(best_so_far.report(9, 1, 0.6));
  CHECK_FALSE(best_so_far.report(9, 2, 0.4));  // 0.6 at step 1 is its best
  CHECK_THROWS_AS(study::PercentilePruner({.percentile = 100.0}), std::invalid_argument);
  CHECK_THROWS_AS(study::PercentilePruner({.interval_steps = 0}), std::invalid_argument);
}

TEST_CASE("pruners: asynchronous successive halving keeps the top 1/eta of each rung") {
  study::SuccessiveHalvingPruner asha({.min_resource = 1, .eta = 3.0});
  asha.set_goal(Goal::maximize);
  CHECK_FALSE(asha.report(0, 1, 0.5));  // the best of one
  CHECK(asha.report(1, 1, 0.4));        // not the best of two
  CHECK_FALSE(asha.report(2, 1, 0.6));
  CHECK(asha.report(3, 1, 0.55));
  CHECK(asha.report(4, 1, 0.58));
  CHECK_FALSE(asha.report(5, 1, 0.59));  // six values: the top two go on
  CHECK_FALSE(asha.report(0, 2, 0.1));   // between rungs (1, 3, 9, ...) nothing is decided
  CHECK_FALSE(asha.report(0, 3, 0.7));   // the second rung: the best of one
  CHECK(asha.report(2, 3, 0.65));
  CHECK_THROWS_AS(study::SuccessiveHalvingPruner({.eta = 1.5}), std::invalid_argument);
}

TEST_CASE("pruners: Hyperband draws each trial's bracket by the brackets' sizes") {
  study::HyperbandPruner hyperband({.min_resource = 1, .max_resource = 9, .eta = 3.0});
  REQUIRE(hyperband.brackets() == 3);  // brackets of 9, 5 and 3 configs
  std::map<std::size_t, std::size_t> counts;
  for (std::size_t id = 0; id < 17000; ++id) ++counts[hyperband.bracket_of(id)];
  CHECK(counts[0] == Approx(9000).epsilon(0.05));
  CHECK(counts[1] == Approx(5000).epsilon(0.05));
  CHECK(counts[2] == Approx(3000).epsilon(0.05));
  // The least aggressive bracket's first rung is the full budget: it stops nothing before step 9.
  std::size_t id = 0;
  while (hyperband.bracket_of(id) != 2) ++id;
  for (std::size_t step = 1; step < 9; ++step) CHECK_FALSE(hyperband.report(id, step, -1.0));
}

TEST_CASE("pruners: patient and threshold") {
  study::PatientPruner patient(nullptr, {.patience = 2, .min_delta = 0.01});
  CHECK_FALSE(patient.report(0, 1, 0.5));
  CHECK_FALSE(patient.report(0, 2, 0.6));
  CHECK_FALSE(patient.report(0, 3, 0.605));  // two steps since 0.6 only at step 4 and later
  CHECK(patient.report(0, 4, 0.6));          // 0.605 and 0.6: not 0.01 above 0.6
  CHECK_FALSE(patient.report(1, 1, 0.1));
  CHECK_FALSE(patient.report(1, 2, 0.2));
  CHECK_FALSE(patient.report(1, 3, 0.3));  // improving: never stopped

  // Wrapped: only when the wrapped pruner agrees.
  auto threshold = std::make_shared<study::ThresholdPruner>(study::ThresholdOptions{.lower = 0.55});
  study::PatientPruner both(threshold, {.patience = 1});
  CHECK_FALSE(both.report(0, 1, 0.7));
  CHECK_FALSE(both.report(0, 2, 0.7));  // stalled, but above the threshold
  CHECK_FALSE(both.report(1, 1, 0.5));  // below the threshold, but within its patience
  CHECK(both.report(1, 2, 0.5));

  study::ThresholdPruner bounds({.lower = 0.2, .upper = 0.9, .warmup_steps = 1});
  CHECK_FALSE(bounds.report(0, 1, 0.1));  // warm-up
  CHECK(bounds.report(0, 2, 0.1));
  CHECK(bounds.report(0, 2, 0.95));
  CHECK(bounds.report(0, 2, std::nan("")));
  CHECK_FALSE(bounds.report(0, 2, 0.5));
  CHECK_THROWS_AS(study::ThresholdPruner({.lower = 1.0, .upper = 0.0}), std::invalid_argument);
}

TEST_CASE("a study with a pruner stops trials early, tells them pruned and journals every report") {
  const auto directory = scratch("median");
  const auto journal = directory / "journal.jsonl";
  const Curve objective;
  search::Random<Branin::space> random({.seed = 3, .goal = Goal::minimize, .budget = {.epochs = 9.0}});
  const auto report = study::run_study(random, objective,
                                       {.trials = 40,
                                        .journal = journal,
                                        .progress = study::Progress::never,
                                        .pruner = std::make_shared<study::MedianPruner>()});
  std::size_t pruned = 0, steps = 0;
  for (const auto& trial : report.trials) {
    REQUIRE(trial.finished);
    steps += trial.result.intermediate.size();
    if (trial.result.status != Status::pruned) continue;
    ++pruned;
    CHECK(trial.result.value == trial.result.intermediate.back());
    CHECK(trial.result.intermediate.size() < 9);
  }
  CHECK(pruned >= 10);
  CHECK(objective.trained->load() == steps);
  CHECK(steps < 40 * 9 * 3 / 4);
  // Every step is in the journal, with the pruner's answer; the answers match the statuses.
  const auto reports = events(journal, "report");
  CHECK(reports.size() == steps);
  std::map<std::size_t, bool> stopped;
  for (const auto& record : reports) stopped[record.at("id").get<std::size_t>()] |= record.at("prune").get<bool>();
  for (const auto& trial : report.trials) CHECK(stopped[trial.id] == (trial.result.status == Status::pruned));
  CHECK(events(journal, "study").front().at("pruner").at("name") == "median");
  // Nothing kept: random search continues no trial, and every trial is told.
  CHECK((!fs::exists(journal.string() + ".states") || fs::is_empty(journal.string() + ".states")));

  // Under an epoch limit a pruned trial counts the epochs it trained: more trials in the same epochs.
  const Curve limited;
  search::Random<Branin::space> again_random({.seed = 3, .goal = Goal::minimize, .budget = {.epochs = 9.0}});
  const auto within = study::run_study(
      again_random, limited,
      {.epochs = 90.0, .progress = study::Progress::never, .pruner = std::make_shared<study::MedianPruner>()});
  CHECK(within.trials.size() > 12);
  CHECK(limited.trained->load() < 90 + 9);

  // Resumed with another pruner: refused.
  search::Random<Branin::space> again({.seed = 3, .goal = Goal::minimize, .budget = {.epochs = 9.0}});
  CHECK_THROWS_WITH(study::run_study(again, objective,
                                     {.trials = 50,
                                      .journal = journal,
                                      .resume = true,
                                      .progress = study::Progress::never,
                                      .pruner = std::make_shared<study::SuccessiveHalvingPruner>()}),
                    Catch::Contains("pruner"));
  fs::remove_all(directory);
}

TEST_CASE("a pruned study resumed from its journal decides as the same study run straight") {
  const auto directory = scratch("resume");
  const auto journal = directory / "journal.jsonl";
  const auto run = [&](std::size_t trials, bool resume, const fs::path& path) {
    search::Tpe<Branin::space> tpe({.seed = 5, .goal = Goal::minimize, .budget = {.epochs = 9.0}});
    return study::run_study(tpe, Curve{},
                            {.trials = trials,
                             .journal = path,
                             .resume = resume,
                             .progress = study::Progress::never,
                             .pruner = std::make_shared<study::SuccessiveHalvingPruner>()});
  };
  const auto straight = run(30, false, {});
  run(12, false, journal);
  const auto resumed = run(30, true, journal);
  REQUIRE(resumed.trials.size() == 30);
  for (std::size_t k = 0; k < 30; ++k) {
    CHECK(resumed.trials[k].config == straight.trials[k].config);
    CHECK(resumed.trials[k].result.status == straight.trials[k].result.status);
    CHECK(resumed.trials[k].result.intermediate.size() == straight.trials[k].result.intermediate.size());
  }
  fs::remove_all(directory);
}

TEST_CASE("a study killed with SIGKILL inside a trial resumes that trial from its last saved state") {
  const auto directory = scratch("kill");
  const auto journal = directory / "journal.jsonl";
  const study::StudyOptions options{.trials = 6, .journal = journal, .progress = study::Progress::never};
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // killed at step 5 of the third trial, right after saving it
    search::Random<Branin::space> random({.seed = 8, .goal = Goal::minimize, .budget = {.epochs = 9.0}});
    study::run_study(random, Curve{.kill_at = 5, .kill_call = 3}, options);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(events(journal, "tell").size() == 2);
  REQUIRE(fs::exists(journal.string() + ".states/trial-2.state"));

  search::Random<Branin::space> random({.seed = 8, .goal = Goal::minimize, .budget = {.epochs = 9.0}});
  auto resumed_options = options;
  resumed_options.resume = true;
  const Curve objective;
  const auto report = study::run_study(random, objective, resumed_options);
  REQUIRE(report.trials.size() == 6);
  CHECK(report.rerun == 1);
  CHECK(report.trials[2].result.metrics.at("started_at") == 5);  // not from scratch
  CHECK(objective.trained->load() == 4 + 3 * 9);                 // steps 6-9 of trial 2, then three trials
  CHECK(report.trials[2].result.value == Curve::at(report.trials[2].config, 9));
  // The journal holds each of trial 2's steps once.
  std::map<std::size_t, int> steps;
  for (const auto& record : events(journal, "report")) {
    if (record.at("id") == 2) ++steps[record.at("step").get<std::size_t>()];
  }
  CHECK(steps.size() == 9);
  for (const auto& [step, count] : steps) CHECK(count == 1);
  fs::remove_all(directory);
}

TEST_CASE("Hyperband continues its promoted configs: the same trials for fewer epochs, states freed") {
  const auto directory = scratch("hyperband");
  const auto run = [&](bool resume, std::size_t workers) {
    search::Hyperband<Branin::space> hyperband({.seed = 4, .goal = Goal::minimize},
                                               {.min_budget = 1.0, .max_budget = 9.0, .eta = 3.0, .resume = resume});
    const Curve objective;
    const auto journal = directory / fmt::format("hyperband-{}-{}.jsonl", resume, workers);
    const auto report = study::run_study(
        hyperband, objective,
        {.trials = 22, .workers = workers, .journal = journal, .progress = study::Progress::never});  // one cycle
    return std::tuple{report, objective.trained->load(), journal};
  };
  const auto [scratch_report, scratch_epochs, scratch_journal] = run(false, 1);
  const auto [resumed_report, resumed_epochs, resumed_journal] = run(true, 1);
  REQUIRE(resumed_report.trials.size() == 22);
  for (std::size_t k = 0; k < 22; ++k) {
    const auto& trial = resumed_report.trials[k];
    CHECK(trial.config == scratch_report.trials[k].config);
    CHECK(trial.budget.epochs == scratch_report.trials[k].budget.epochs);
    CHECK(trial.result.value == scratch_report.trials[k].result.value);
    const std::size_t started = trial.result.metrics.at("started_at");
    const auto parent = trial.resume_from ? std::llround(resumed_report.trials[*trial.resume_from].budget.epochs) : 0;
    CHECK(started == static_cast<std::size_t>(parent));
  }
  // Brackets of 9 configs at 1 epoch (3 go on to 3, 1 to 9), 5 at 3 (1 to 9) and 3 at 9: from scratch
  // 27 + 24 + 27 epochs; continued, a promotion trains only the epochs its parent had not.
  CHECK(scratch_epochs == 27 + 24 + 27);
  CHECK(resumed_epochs == (9 + 3 * 2 + 1 * 6) + (15 + 1 * 6) + 27);
  // Every bracket of the cycle is complete: no state is left.
  CHECK(fs::is_empty(resumed_journal.string() + ".states"));
  // Two workers (brackets open while others wait): every promoted trial still continues its parent.
  const auto [threaded_report, threaded_epochs, threaded_journal] = run(true, 2);
  std::size_t continued = 0;
  for (const auto& trial : threaded_report.trials) {
    if (!trial.resume_from) continue;
    ++continued;
    CHECK(trial.result.metrics.at("started_at") ==
          std::llround(threaded_report.trials[*trial.resume_from].budget.epochs));
  }
  CHECK(continued > 0);
  fs::remove_all(directory);
}

TEST_CASE("states beyond the memory cap go to the study's folder and come back") {
  const auto directory = scratch("store");
  study::CheckpointStore store(directory / "states", 10, false);
  store.put(0, "0123456");
  store.put(1, "abcdefg");  // 14 bytes: the oldest goes to disk
  CHECK(store.memory_bytes() == 7);
  CHECK(fs::exists(directory / "states" / "trial-0.state"));
  CHECK(store.get(0) == "0123456");
  CHECK(store.get(1) == "abcdefg");
  store.put(2, std::string(20, 'x'));  // larger than the cap: straight to disk
  CHECK(store.get(2) == std::string(20, 'x'));
  CHECK(store.states() == 3);
  store.release(0);
  store.release(2);
  CHECK(store.get(0).empty());
  CHECK_FALSE(fs::exists(directory / "states" / "trial-0.state"));
  CHECK(store.states() == 1);
  fs::remove_all(directory);
}
