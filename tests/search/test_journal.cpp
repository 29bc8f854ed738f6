// The journal as a hostile or unlucky user meets it: edited, mixed, malformed and deeply nested
// records, another budget or context on resume, a missing journal, and journals written on another
// machine whose configs differ in their last digits from what the searcher regenerates here.
#include <catch2/catch.hpp>

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/gp/gp_bo.hpp>
#include <mahpo/search/ppo/mappo.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/tpe/tpe.hpp>
#include <mahpo/study/study.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>
#include <zlib.h>

using namespace mahpo;
using problems::Branin;
namespace fs = std::filesystem;

namespace {

using BraninSpace = Branin::space;

fs::path scratch(const std::string& name) {
  const auto directory = fs::temp_directory_path() / fmt::format("mahpo_journal_{}_{}", name, ::getpid());
  fs::remove_all(directory);
  fs::create_directories(directory);
  return directory;
}

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void write_lines(const fs::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& line : lines) out << line << '\n';
}

// The records of a journal, without their checksums.
std::vector<nlohmann::json> records_of(const fs::path& path) {
  std::vector<nlohmann::json> records;
  for (const auto& record : study::read_journal(path).records) records.push_back(record.json);
  return records;
}

// Writes records as a journal with a valid chain of checksums, as mahpo (on any machine) would.
void write_signed(const fs::path& path, const std::vector<nlohmann::json>& records) {
  std::vector<std::string> lines;
  std::uint32_t chain = 0;
  for (const auto& record : records) lines.push_back(study::journal_line(record, chain));
  write_lines(path, lines);
}

study::StudyOptions resume_options(const fs::path& journal, std::size_t trials) {
  return {.trials = trials, .journal = journal, .resume = true, .progress = study::Progress::never};
}

// A journal of `trials` random-search trials on Branin (seed 2), and its records.
std::vector<nlohmann::json> random_journal(const fs::path& journal, std::size_t trials = 4) {
  search::Random<BraninSpace> random({.seed = 2, .goal = Goal::minimize});
  study::run_study(random, Branin{}, {.trials = trials, .journal = journal, .progress = study::Progress::never});
  return records_of(journal);
}

// Resuming `records` (signed) with a fresh random searcher: the error's message, or "" when it resumed.
std::string resume_error(const fs::path& journal, const std::vector<nlohmann::json>& records) {
  write_signed(journal, records);
  search::Random<BraninSpace> random({.seed = 2, .goal = Goal::minimize});
  try {
    study::run_study(random, Branin{}, resume_options(journal, 6));
  } catch (const study::StudyError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("every line carries a chained checksum: an edited, moved or foreign line is refused with its file and line") {
  const auto directory = scratch("checksum");
  const auto journal = directory / "journal.jsonl";
  random_journal(journal);
  auto lines = lines_of(journal);
  REQUIRE(lines.size() == 9);  // the header, then an ask and a tell per trial
  for (const auto& line : lines) CHECK_THAT(line, Catch::Contains(",\"crc\":\""));
  const auto resumed = [&](const std::vector<std::string>& edited) {
    write_lines(journal, edited);
    search::Random<BraninSpace> random({.seed = 2, .goal = Goal::minimize});
    study::run_study(random, Branin{}, resume_options(journal, 6));
  };

  SECTION("a told value edited by hand") {
    auto edited = lines;
    auto& tell = edited[4];
    REQUIRE(nlohmann::json::parse(tell)["event"] == "tell");
    const auto value = tell.find("\"value\":") + 8;
    tell.replace(value, tell.find(',', value) - value, "-1000.0");  // a better value than any, crc kept
    CHECK_THROWS_WITH(resumed(edited), Catch::Contains("journal.jsonl:5: checksum mismatch"));
  }
  SECTION("two lines swapped") {
    auto edited = lines;
    std::swap(edited[5], edited[7]);
    CHECK_THROWS_WITH(resumed(edited), Catch::Contains("journal.jsonl:6: checksum mismatch"));
  }
  SECTION("a line from another journal of the same study") {
    const auto other = directory / "other.jsonl";
    search::Random<BraninSpace> random({.seed = 2, .goal = Goal::minimize});
    study::run_study(random, [](const Config<BraninSpace>&, const Budget&) { return Result{.value = 1.0}; },
                     {.trials = 4, .journal = other, .progress = study::Progress::never});
    auto edited = lines;
    edited[3] = lines_of(other)[3];  // the same ask, another tell before it
    CHECK(edited[3] != lines[3]);
    CHECK_THROWS_WITH(resumed(edited), Catch::Contains("journal.jsonl:4: checksum mismatch"));
  }
  SECTION("a line without a checksum") {
    auto edited = lines;
    edited.push_back(R"({"event":"tell","id":3})");
    CHECK_THROWS_WITH(resumed(edited), Catch::Contains("journal.jsonl:10: the line has no checksum"));
  }
  SECTION("the untouched journal resumes") { CHECK_NOTHROW(resumed(lines)); }
  fs::remove_all(directory);
}

TEST_CASE("malformed records are refused with the file, the line and what is wrong, in a message of bounded size") {
  const auto directory = scratch("malformed");
  const auto journal = directory / "journal.jsonl";
  const auto records = random_journal(journal);
  const auto with = [&](std::size_t line, const std::function<void(nlohmann::json&)>& change) {
    auto edited = records;
    change(edited.at(line - 1));
    return resume_error(journal, edited);
  };
  CHECK_THAT(with(2, [](auto& r) { r.erase("id"); }), Catch::Contains("journal.jsonl:2: the record has no \"id\""));
  CHECK_THAT(with(2, [](auto& r) { r["id"] = -1; }),
             Catch::Contains("journal.jsonl:2: \"id\" must be an integer >= 0, got -1"));
  CHECK_THAT(with(3, [](auto& r) { r["status"] = 5; }),
             Catch::Contains("journal.jsonl:3: \"status\" must be a string, got 5"));
  CHECK_THAT(with(3, [](auto& r) { r["status"] = "fine"; }),
             Catch::Contains("journal.jsonl:3: unknown trial status 'fine'"));
  CHECK_THAT(with(3, [](auto& r) { r["value"] = "0.5"; }),
             Catch::Contains("journal.jsonl:3: \"value\" must be a number"));
  CHECK_THAT(with(3, [](auto& r) { r.erase("metrics"); }),
             Catch::Contains("journal.jsonl:3: the record has no \"metrics\""));
  CHECK_THAT(with(2, [](auto& r) { r["config"]["x1"] = 100.0; }),
             Catch::Contains("journal.jsonl:2: bad config: parameter 'x1': 100 is not"));
  CHECK_THAT(with(2, [](auto& r) { r["budget"] = "lots"; }), Catch::Contains("journal.jsonl:2: \"budget\" must be"));
  CHECK_THAT(with(2, [](auto& r) { r["budget"]["epochs"] = 0.5; }),
             Catch::Contains("journal.jsonl:2: the journal gives trial 0 a budget of 0.5 epochs"));
  CHECK_THAT(with(2, [](auto& r) { r["event"] = "wish"; }), Catch::Contains("journal.jsonl:2: unknown event 'wish'"));
  CHECK_THAT(with(4, [](auto& r) { r["id"] = 5; }), Catch::Contains("journal.jsonl:4: asks trial 5, but 1 trials"));
  CHECK_THAT(with(5, [](auto& r) { r["id"] = 0; }), Catch::Contains("journal.jsonl:5: tells trial 0 without asking"));
  CHECK_THAT(with(3, [](auto& r) { r["elapsed"] = -3.0; }), Catch::Contains("journal.jsonl:3: \"elapsed\" must be"));

  SECTION("a config nested 200,000 deep, a 10 MB string and a million unknown names") {
    std::string deep(200'000, '[');
    deep += std::string(200'000, ']');
    auto lines = lines_of(journal);
    // Signed by hand: nlohmann would need 200,000 frames of stack to build this value.
    std::string body = R"({"config":{"x1":)" + deep + R"(,"x2":1.0},"event":"ask","id":0})";
    std::uint32_t chain = 0;
    std::vector<std::string> edited{lines[0]};
    study::journal_line(records[0], chain);
    chain = static_cast<std::uint32_t>(
        crc32(chain, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
    body.pop_back();
    edited.push_back(fmt::format("{},\"crc\":\"{:08x}\"}}", body, chain));
    write_lines(journal, edited);
    search::Random<BraninSpace> random({.seed = 2, .goal = Goal::minimize});
    CHECK_THROWS_WITH(study::run_study(random, Branin{}, resume_options(journal, 6)),
                      Catch::Contains("journal.jsonl:2: a record nested more than 32 deep"));

    const std::string huge(10'000'000, 'x');
    const auto big = with(2, [&](auto& r) { r["config"]["x1"] = huge; });
    CHECK_THAT(big, Catch::Contains("journal.jsonl:2: bad config: parameter 'x1': expected a number, got \"xxx"));
    CHECK(big.size() < 400);
    const auto named = with(2, [&](auto& r) { r["config"][huge] = 1.0; });
    CHECK_THAT(named, Catch::Contains("unknown parameter 'xxx") && Catch::Contains("(10000000 characters)"));
    CHECK(named.size() < 400);
    const auto many = with(2, [&](auto& r) {
      for (int k = 0; k < 1'000'000; ++k) r["config"][std::to_string(k)] = k;
    });
    CHECK_THAT(many, Catch::Contains("and 999995 more"));
    CHECK(many.size() < 1000);
  }
  fs::remove_all(directory);
}

TEST_CASE("a replayed ok result without a finite value is a failed trial, as it is live") {
  const auto directory = scratch("null");
  const auto journal = directory / "journal.jsonl";
  auto records = random_journal(journal);
  REQUIRE(records[2]["event"] == "tell");
  records[2]["value"] = nullptr;  // what a NaN or an infinity is written as
  write_signed(journal, records);
  search::Random<BraninSpace> random({.seed = 2, .goal = Goal::minimize});
  const auto report = study::run_study(random, Branin{}, resume_options(journal, 4));
  CHECK(report.trials[0].result.status == Status::failed);
  CHECK_THAT(report.trials[0].result.message, Catch::Contains("non-finite"));
  REQUIRE(report.best() != nullptr);
  CHECK(report.best()->id != 0);
  CHECK_FALSE(random.history().entries()[0].usable());
  fs::remove_all(directory);
}

TEST_CASE("resume refuses another budget, other options, another context, and a journal that is not there") {
  const auto directory = scratch("header");
  const auto journal = directory / "journal.jsonl";
  const auto quiet = [&](std::size_t trials, nlohmann::json context = nlohmann::json::object()) {
    return study::StudyOptions{.trials = trials,
                               .journal = journal,
                               .resume = fs::exists(journal),
                               .progress = study::Progress::never,
                               .context = std::move(context)};
  };
  search::Random<BraninSpace> first({.seed = 1, .budget = {.epochs = 0.2}});
  study::run_study(first, Branin{}, quiet(3, {{"dataset", "mnist"}}));
  const auto header = records_of(journal).front();
  CHECK(header["format"] == study::journal_format);
  CHECK(header["mahpo"] == mahpo::version);
  CHECK(header["budget"]["epochs"] == 0.2);
  CHECK(header["context"]["dataset"] == "mnist");

  search::Random<BraninSpace> more({.seed = 1, .budget = {.epochs = 0.9}});
  CHECK_THROWS_WITH(study::run_study(more, Branin{}, quiet(5, {{"dataset", "mnist"}})),
                    Catch::Contains("journal.jsonl:1: the journal belongs to another study: budget.epochs 0.2 in the "
                                    "journal, 0.9 in this study"));
  search::Random<BraninSpace> fashion({.seed = 1, .budget = {.epochs = 0.2}});
  CHECK_THROWS_WITH(
      study::run_study(fashion, Branin{}, quiet(5, {{"dataset", "fashion-mnist"}})),
      Catch::Contains(
          "belongs to another study: context.dataset \"mnist\" in the journal, \"fashion-mnist\" in this study"));
  search::Random<BraninSpace> same({.seed = 1, .budget = {.epochs = 0.2}});
  CHECK(study::run_study(same, Branin{}, quiet(5, {{"dataset", "mnist"}})).trials.size() == 5);

  const auto tpe_journal = directory / "tpe.jsonl";
  search::Tpe<BraninSpace> tpe({.seed = 1}, {.startup_trials = 4});
  study::run_study(tpe, Branin{}, {.trials = 3, .journal = tpe_journal, .progress = study::Progress::never});
  CHECK(records_of(tpe_journal).front()["options"]["startup_trials"] == 4);
  search::Tpe<BraninSpace> other({.seed = 1}, {.startup_trials = 5});
  CHECK_THROWS_WITH(
      study::run_study(other, Branin{}, resume_options(tpe_journal, 5)),
      Catch::Contains("belongs to another study: options.startup_trials 4 in the journal, 5 in this study"));

  search::Random<BraninSpace> lost({.seed = 1});
  CHECK_THROWS_WITH(
      study::run_study(lost, Branin{}, resume_options(directory / "nowhere.jsonl", 5)),
      Catch::Contains("nothing to resume: the journal") && Catch::Contains("nowhere.jsonl does not exist"));
  CHECK_FALSE(fs::exists(directory / "nowhere.jsonl"));

  SECTION("a journal of the format before checksums is refused with what to do") {
    write_lines(journal, {R"({"event":"study","format":1,"searcher":"random","seed":1})"});
    search::Random<BraninSpace> old({.seed = 1});
    CHECK_THROWS_WITH(
        study::run_study(old, Branin{}, resume_options(journal, 5)),
        Catch::Contains("journal.jsonl:1: a journal of format 1") && Catch::Contains("start a new journal"));
  }
  fs::remove_all(directory);
}

namespace {

// The journal as another machine would have written it: every real value of every asked config
// moved by one unit in the last place (as another CPU's rounding or BLAS kernel would), re-signed.
std::vector<nlohmann::json> from_another_machine(const std::vector<nlohmann::json>& records) {
  auto moved = records;
  for (auto& record : moved) {
    if (record["event"] != "ask") continue;
    for (auto& [name, value] : record["config"].items()) {
      if (!value.is_number_float()) continue;
      const double x = value.get<double>();
      value = std::nextafter(x, name == "x1" ? 2.5 : 7.5);  // toward the middle: stays in range
    }
  }
  return moved;
}

// Runs `trials` trials with a journal, rewrites it as from another machine, resumes it to `more`
// trials with a fresh searcher, and checks that the study continued from the journal's configs.
template <typename Make>
void check_resume_from_another_machine(Make make, std::size_t trials, std::size_t more) {
  const auto directory = scratch("machine");
  const auto journal = directory / "journal.jsonl";
  auto searcher = make();
  study::run_study(searcher, Branin{}, {.trials = trials, .journal = journal, .progress = study::Progress::never});
  const auto moved = from_another_machine(records_of(journal));
  write_signed(journal, moved);

  // What the searcher does when it is given the journal's configs, by hand: ask, replace, tell.
  auto by_hand = make();
  std::vector<Config<BraninSpace>> recorded;
  std::size_t differing = 0;
  for (const auto& record : moved) {
    if (record["event"] == "ask") {
      recorded.push_back(Config<BraninSpace>::from_json(record["config"]));
      const auto trial = by_hand.ask();
      if (!(trial.config == recorded.back())) {
        ++differing;
        by_hand.replace(trial.id, recorded.back());
      }
    } else if (record["event"] == "tell") {
      by_hand.tell(record["id"].get<std::size_t>(), Result{.value = record["value"].get<double>()});
    }
  }
  REQUIRE(recorded.size() == trials);
  CHECK(differing == trials);  // every config moved, so none is regenerated exactly
  const auto next = by_hand.ask().config;

  auto resumed = make();
  const auto report = study::run_study(resumed, Branin{}, resume_options(journal, more));
  REQUIRE(report.trials.size() == more);
  for (std::size_t k = 0; k < trials; ++k) {
    CHECK(report.trials[k].config == recorded[k]);
    CHECK(resumed.history().entries()[k].config == recorded[k]);
  }
  CHECK(report.trials[trials].config == next);  // the continuation follows from the recorded configs
  for (std::size_t k = trials; k < more; ++k) CHECK(report.trials[k].result.status == Status::ok);
  REQUIRE_FALSE(report.notes.empty());
  CHECK_THAT(report.notes.front(), Catch::Contains(fmt::format("{} replayed trial(s) differ", trials)) &&
                                       Catch::Contains("the journal's configs were kept"));
  fs::remove_all(directory);
}

}  // namespace

TEST_CASE("a TPE journal from another machine resumes and continues from the recorded configs") {
  check_resume_from_another_machine(
      [] { return search::Tpe<BraninSpace>({.seed = 4, .goal = Goal::minimize}, {.startup_trials = 5}); }, 14, 20);
}

TEST_CASE("a GP-BO journal from another machine resumes and continues from the recorded configs") {
  check_resume_from_another_machine(
      [] {
        return search::GpBo<BraninSpace>({.seed = 4, .goal = Goal::minimize}, {.startup_trials = 4, .candidates = 200});
      },
      10, 13);
}

TEST_CASE("a MAPPO journal from another machine resumes and continues from the recorded configs") {
  // Gaussian actions (the default) and the paper's grid: 14 episodes are three PPO updates of 4.
  check_resume_from_another_machine([] { return search::Mappo<BraninSpace>({.seed = 4, .goal = Goal::minimize}); }, 14,
                                    20);
  check_resume_from_another_machine(
      [] {
        auto options = search::MappoOptions::paper();
        options.episodes_per_update = 4;
        return search::Mappo<BraninSpace>({.seed = 4, .goal = Goal::minimize}, options);
      },
      14, 20);
}

TEST_CASE("a budget's fraction is journaled when below 1, resumed, and checked on resume") {
  const auto directory = scratch("fraction");
  const auto journal = directory / "journal.jsonl";
  const search::SearchOptions quarter{.seed = 2, .goal = Goal::minimize, .budget = {.epochs = 1.0, .fraction = 0.25}};
  std::vector<double> fractions;
  const auto objective = [&](const Config<BraninSpace>& config, const Budget& budget) {
    fractions.push_back(budget.fraction);
    return Branin{}(config, budget);
  };
  search::Random<BraninSpace> first(quarter);
  study::run_study(first, objective, {.trials = 3, .journal = journal, .progress = study::Progress::never});
  CHECK(fractions == std::vector<double>{0.25, 0.25, 0.25});
  auto records = records_of(journal);
  std::size_t asks = 0, first_ask = 0;
  for (std::size_t k = 0; k < records.size(); ++k) {
    if (records[k]["event"] != "ask") continue;
    if (asks++ == 0) first_ask = k;
    CHECK(records[k]["budget"]["fraction"] == 0.25);
  }
  CHECK(asks == 3);
  // A whole-set budget is written as it always was.
  for (const auto& record : random_journal(directory / "plain.jsonl")) {
    if (record["event"] == "ask") CHECK_FALSE(record["budget"].contains("fraction"));
  }

  search::Random<BraninSpace> again(quarter);
  CHECK(study::run_study(again, objective, resume_options(journal, 5)).trials.size() == 5);
  CHECK(fractions.size() == 5);  // the three journaled trials were replayed, not run again

  records = records_of(journal);
  const auto refused = [&](const nlohmann::json& fraction) {
    auto edited = records;
    edited[first_ask]["budget"]["fraction"] = fraction;
    write_signed(journal, edited);
    search::Random<BraninSpace> searcher(quarter);
    try {
      study::run_study(searcher, objective, resume_options(journal, 6));
    } catch (const study::StudyError& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  CHECK_THAT(refused(0.5), Catch::Contains("fraction 0.5") && Catch::Contains("now gives 1 / 0 / 0.25"));
  CHECK_THAT(refused(0.0), Catch::Contains("\"fraction\" in (0, 1]"));
  CHECK_THAT(refused("half"), Catch::Contains("\"fraction\" in (0, 1]"));

  // A study's epoch limit counts epochs of the whole training set: 0.25 per trial here.
  search::Random<BraninSpace> limited(quarter);
  CHECK(study::run_study(limited, objective, {.epochs = 0.5, .progress = study::Progress::never}).trials.size() == 2);
}
