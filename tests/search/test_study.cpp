// The study runner: limits, workers, journal, resume after SIGKILL, truncated journals, refusals,
// the report and its CSV.
#include <catch2/catch.hpp>

#include "journal_helpers.hpp"

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/study/study.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace mahpo;
using problems::Branin;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) { return mahpo::testing::scratch("study", name); }
using mahpo::testing::events;

// Branin, slowed down, writing the id of every evaluation it starts to a log (one line each).
struct LoggedBranin {
  fs::path log;
  int milliseconds = 0;
  Result operator()(const Config<Branin::space>& config, const Budget& budget) const {
    const int descriptor = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const auto line = fmt::format("{} {}\n", config.get<"x1">(), config.get<"x2">());
    REQUIRE(::write(descriptor, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
    ::close(descriptor);
    std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
    return Branin{}(config, budget);
  }
};

std::map<std::string, int> evaluation_counts(const fs::path& log) {
  std::map<std::string, int> counts;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) ++counts[line];
  return counts;
}

std::string key(const Config<Branin::space>& config) {
  return fmt::format("{} {}", config.get<"x1">(), config.get<"x2">());
}

}  // namespace

TEST_CASE("a study runs its trials and reports the best") {
  search::Random<Branin::space> random({.seed = 1, .goal = mahpo::Goal::minimize});
  const auto report = study::run_study(random, Branin{}, {.trials = 30, .progress = study::Progress::never});
  REQUIRE(report.trials.size() == 30);
  CHECK(report.count(Status::ok) == 30);
  const auto* best = report.best();
  REQUIRE(best != nullptr);
  for (const auto& trial : report.trials) CHECK(trial.result.value >= best->result.value);
  CHECK(best->result.value == random.history().best()->result.value);
  CHECK_THAT(report.summary(), Catch::Contains("random: 30 trials (30 ok"));
}

TEST_CASE("a study refuses limits that are not numbers and more workers than it may start") {
  search::Random<Branin::space> random;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  // NaN <= 0 is false: a NaN limit used to pass as "a limit" and never stop the study.
  CHECK_THROWS_WITH(study::run_study(random, Branin{}, {.seconds = nan}), Catch::Contains("time limit"));
  CHECK_THROWS_WITH(study::run_study(random, Branin{}, {.seconds = inf}), Catch::Contains("time limit"));
  CHECK_THROWS_WITH(study::run_study(random, Branin{}, {.trials = 3, .seconds = -1.0}), Catch::Contains("time limit"));
  CHECK_THROWS_WITH(study::run_study(random, Branin{}, {.epochs = nan}), Catch::Contains("epoch limit"));
  CHECK_THROWS_WITH(study::run_study(random, Branin{}, {.trials = 1, .workers = 1'000'000'000}),
                    Catch::Contains("at most 1024"));
  CHECK(random.history().asked() == 0);  // refused before the first ask
  const auto report = study::run_study(
      random, Branin{}, {.trials = 8, .workers = study::max_workers, .progress = study::Progress::never});
  CHECK(report.trials.size() == 8);
}

TEST_CASE("a study needs a limit and a worker, a journal is not overwritten") {
  search::Random<Branin::space> random;
  CHECK_THROWS_WITH(study::run_study(random, Branin{}, {}), Catch::Contains("needs a limit"));
  CHECK_THROWS_WITH(study::run_study(random, Branin{}, {.trials = 1, .workers = 0}), Catch::Contains("one worker"));
  const auto directory = scratch("overwrite");
  const auto journal = directory / "journal.jsonl";
  study::run_study(random, Branin{}, {.trials = 2, .journal = journal, .progress = study::Progress::never});
  search::Random<Branin::space> again;
  CHECK_THROWS_WITH(study::run_study(again, Branin{}, {.trials = 2, .journal = journal}),
                    Catch::Contains("already exists"));
  fs::remove_all(directory);
}

TEST_CASE("the epoch and time limits stop the study") {
  search::Random<Branin::space> random({.budget = {.epochs = 0.5}});
  const auto report = study::run_study(random, Branin{}, {.epochs = 5.0, .progress = study::Progress::never});
  CHECK(report.trials.size() == 10);
  search::Random<Branin::space> timed;
  const LoggedBranin slow{scratch("timed") / "log", 20};
  const auto timed_report = study::run_study(timed, slow, {.seconds = 0.3, .progress = study::Progress::never});
  CHECK(timed_report.trials.size() >= 3);
  CHECK(timed_report.trials.size() <= 16);
  CHECK(timed_report.seconds >= 0.3);
}

TEST_CASE("concurrent workers lose no trial and tell none twice") {
  const auto directory = scratch("workers");
  search::Random<Branin::space> random({.seed = 4});
  const LoggedBranin objective{directory / "log", 2};
  const auto report = study::run_study(
      random, objective,
      {.trials = 60, .workers = 4, .journal = directory / "journal.jsonl", .progress = study::Progress::never});
  REQUIRE(report.trials.size() == 60);
  std::set<std::size_t> workers;
  for (const auto& trial : report.trials) {
    CHECK(trial.finished);
    workers.insert(trial.worker);
  }
  CHECK(workers.size() > 1);
  CHECK(random.history().finished() == 60);
  std::set<std::size_t> told;
  for (const auto& record : events(directory / "journal.jsonl", "tell"))
    told.insert(record.at("id").get<std::size_t>());
  CHECK(told.size() == 60);
  CHECK(events(directory / "journal.jsonl", "tell").size() == 60);
  fs::remove_all(directory);
}

TEST_CASE("a study killed with SIGKILL resumes from its journal: nothing lost, nothing finished rerun") {
  const auto directory = scratch("kill");
  const auto journal = directory / "journal.jsonl";
  const LoggedBranin objective{directory / "evaluations.log", 30};
  study::StudyOptions options{
      .trials = 40, .workers = 2, .journal = journal, .resume = false, .progress = study::Progress::never};
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // the study to kill
    search::Random<Branin::space> random({.seed = 21, .goal = mahpo::Goal::minimize});
    study::run_study(random, objective, options);
    ::_exit(0);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((!fs::exists(journal) || events(journal, "tell").size() < 10) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));

  const auto told_before = events(journal, "tell");
  const auto asked_before = events(journal, "ask");
  REQUIRE(told_before.size() >= 10);
  REQUIRE(told_before.size() < 40);

  search::Random<Branin::space> resumed({.seed = 21, .goal = mahpo::Goal::minimize});
  options.resume = true;
  const auto report = study::run_study(resumed, objective, options);
  REQUIRE(report.trials.size() == 40);
  CHECK(report.rerun == asked_before.size() - told_before.size());
  for (const auto& trial : report.trials) CHECK(trial.finished);

  // The journal now holds every trial asked once and told once.
  std::map<std::size_t, int> asks, tells;
  for (const auto& record : events(journal, "ask")) ++asks[record.at("id").get<std::size_t>()];
  for (const auto& record : events(journal, "tell")) ++tells[record.at("id").get<std::size_t>()];
  CHECK(asks.size() == 40);
  CHECK(tells.size() == 40);
  for (const auto& [id, count] : asks) CHECK(count == 1);
  for (const auto& [id, count] : tells) CHECK(count == 1);

  // A trial finished before the kill was evaluated exactly once; one running at it at most twice.
  const auto counts = evaluation_counts(directory / "evaluations.log");
  std::set<std::size_t> finished_before;
  for (const auto& record : told_before) finished_before.insert(record.at("id").get<std::size_t>());
  for (const auto& trial : report.trials) {
    const int evaluated = counts.count(key(trial.config)) ? counts.at(key(trial.config)) : 0;
    if (finished_before.count(trial.id)) {
      CHECK(evaluated == 1);
    } else {
      CHECK(evaluated >= 1);
      CHECK(evaluated <= 2);
    }
  }
  // The same seed without a crash gives the same configs.
  search::Random<Branin::space> straight({.seed = 21, .goal = mahpo::Goal::minimize});
  const auto clean = study::run_study(straight, Branin{}, {.trials = 40, .progress = study::Progress::never});
  for (std::size_t k = 0; k < 40; ++k) CHECK(clean.trials[k].config == report.trials[k].config);
  fs::remove_all(directory);
}

TEST_CASE("a truncated last journal line is tolerated and reported, a foreign journal is refused") {
  const auto directory = scratch("truncated");
  const auto journal = directory / "journal.jsonl";
  search::Random<Branin::space> first({.seed = 2});
  study::run_study(first, Branin{}, {.trials = 10, .journal = journal, .progress = study::Progress::never});
  const auto size = fs::file_size(journal);
  fs::resize_file(journal, size - 20);  // cut the last tell short

  search::Random<Branin::space> resumed({.seed = 2});
  const auto report = study::run_study(
      resumed, Branin{}, {.trials = 12, .journal = journal, .resume = true, .progress = study::Progress::never});
  REQUIRE(report.notes.size() == 2);
  CHECK_THAT(report.notes[0], Catch::Contains("cut short (") && Catch::Contains("dropped"));
  CHECK(report.rerun == 1);
  CHECK(report.trials.size() == 12);
  CHECK(events(journal, "tell").size() == 12);  // the file was repaired before appending
  CHECK_NOTHROW(study::read_journal(journal));

  SECTION("another seed") {
    search::Random<Branin::space> other({.seed = 3});
    CHECK_THROWS_WITH(study::run_study(other, Branin{}, {.trials = 12, .journal = journal, .resume = true}),
                      Catch::Contains("belongs to another study: seed 2 in the journal, 3 in this study"));
  }
  SECTION("another space") {
    search::Random<problems::Hartmann6::space> other({.seed = 2});
    CHECK_THROWS_WITH(
        study::run_study(other, problems::Hartmann6{}, {.trials = 12, .journal = journal, .resume = true}),
        Catch::Contains("belongs to another study: space"));
  }
  SECTION("a malformed line in the middle") {
    std::ofstream(journal, std::ios::app) << "{not json\n{}\n";
    search::Random<Branin::space> again({.seed = 2});
    CHECK_THROWS_WITH(study::run_study(again, Branin{}, {.trials = 12, .journal = journal, .resume = true}),
                      Catch::Contains("malformed line"));
  }
  fs::remove_all(directory);
}

TEST_CASE("the report's CSV has a row per trial and a column per parameter and metric") {
  const auto directory = scratch("csv");
  search::Random<Branin::space> random({.seed = 8});
  const auto objective = [](const Config<Branin::space>& config, const Budget& budget) {
    auto result = Branin{}(config, budget);
    result.metrics["note"] = "a, \"quoted\" text";
    return result;
  };
  const auto report = study::run_study(random, objective, {.trials = 5, .progress = study::Progress::never});
  report.write_csv(directory / "trials.csv");
  std::ifstream in(directory / "trials.csv");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 6);
  CHECK(lines[0] == "id,status,value,budget_epochs,budget_iterations,budget_fraction,started,ended,worker,x1,x2,note");
  CHECK_THAT(lines[1], Catch::StartsWith("0,ok,") && Catch::EndsWith(",\"a, \"\"quoted\"\" text\""));
  fs::remove_all(directory);
}
