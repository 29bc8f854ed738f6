// The study report's parts: the space read back from a journal header, journals and CSVs loaded as
// studies, PED-ANOVA importances on a problem whose answer is known, and write_report's files.
#include <catch2/catch.hpp>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/objectives.hpp>
#include <mahpo/problems/multi_objective.hpp>
#include <mahpo/problems/synthetic.hpp>
#include <mahpo/report/html_report.hpp>
#include <mahpo/report/importance.hpp>
#include <mahpo/report/study_data.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/study/study.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

#include "seeds.hpp"

namespace fs = std::filesystem;
using mahpo::report::ParameterInfo;

namespace {
fs::path scratch(const std::string& name) {
  const auto path = fs::temp_directory_path() / fmt::format("mahpo-report-test-{}-{}", ::getpid(), name);
  fs::remove_all(path);
  return path;
}
}  // namespace

TEST_CASE("a journal header's space is read back: bounds, log scales, categories, fixed parameters left out") {
  const auto lenet = mahpo::report::detail::parse_space(mahpo::nn::paper_lenet::space::describe(), "test");
  REQUIRE(lenet.size() == 6);  // conv1.filters and conv2.filters are fixed
  CHECK(lenet[0].name == "conv1.conv_size");
  CHECK(lenet[0].kind == ParameterInfo::Kind::integer);
  CHECK(lenet[0].low == 2.0);
  CHECK(lenet[0].high == 7.0);
  const auto rate =
      std::find_if(lenet.begin(), lenet.end(), [](const auto& p) { return p.name == "training.learning_rate"; });
  REQUIRE(rate != lenet.end());
  CHECK(rate->log);
  CHECK(rate->low == Approx(1e-4));
  const auto colours = mahpo::report::detail::parse_space("activation: one of {relu, tanh}\n", "test");
  REQUIRE(colours.size() == 1);
  CHECK(colours[0].kind == ParameterInfo::Kind::categorical);
  CHECK(colours[0].values == std::vector<std::string>{"relu", "tanh"});
  CHECK_THROWS_WITH(mahpo::report::detail::parse_space("x: something else\n", "j.jsonl:1"),
                    Catch::Contains("j.jsonl:1") && Catch::Contains("cannot read"));
}

TEST_CASE("a study is the same loaded from its journal, from its CSV and from its report") {
  using Branin = mahpo::problems::Branin;
  const auto folder = scratch("load");
  fs::create_directories(folder);
  mahpo::search::Random<Branin::space> searcher({.seed = 3, .goal = Branin::goal});
  const auto report = mahpo::study::run_study(searcher, Branin{}, {.trials = 25, .journal = folder / "rs.jsonl"});
  report.write_csv(folder / "rs.csv");

  const auto from_journal = mahpo::report::load_journal(folder / "rs.jsonl");
  const auto from_csv = mahpo::report::load_csv(folder / "rs.csv", {"x1", "x2"}, {}, mahpo::Goal::minimize);
  const auto in_memory = mahpo::report::from_report(report, "rs");
  CHECK(from_journal.searcher == "random");
  CHECK(from_journal.goal == mahpo::Goal::minimize);
  REQUIRE(from_journal.parameters.size() == 2);
  CHECK_FALSE(from_journal.parameters[0].log);
  for (const auto* study : {&from_journal, &from_csv, &in_memory}) {
    REQUIRE(study->trials.size() == 25);
    REQUIRE(study->best() != nullptr);
    CHECK(study->best()->id == report.best()->id);
    CHECK(study->best()->value == report.best()->result.value);  // the CSV writes round-trip digits
    CHECK(study->trials[7].config.at("x1").get<double>() == report.trials[7].config.get<"x1">());
  }
  fs::remove_all(folder);
}

TEST_CASE("PED-ANOVA gives the parameter the value depends on nearly all the importance", "[seeded]") {
  mahpo::report::StudyData study;
  study.goal = mahpo::Goal::minimize;
  study.parameters = {{.name = "matters", .low = 0.0, .high = 1.0},
                      {.name = "noise", .low = 0.0, .high = 1.0},
                      {.name = "rate", .low = 1e-4, .high = 1e-1, .log = true}};
  std::mt19937_64 rng(mahpo::testing::seed(1));
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (std::size_t id = 0; id < 300; ++id) {
    const double x = uniform(rng), y = uniform(rng), rate = std::pow(10.0, -4.0 + 3.0 * uniform(rng));
    study.trials.push_back({.id = id,
                            .config = {{"matters", x}, {"noise", y}, {"rate", rate}},
                            .finished = true,
                            .value = (x - 0.3) * (x - 0.3)});
  }
  const auto importances = mahpo::report::ped_anova(study);
  REQUIRE(importances.size() == 3);
  CHECK(importances[0].parameter == "matters");
  CHECK(importances[0].value > 0.9);
  double sum = 0.0;
  for (const auto& importance : importances) sum += importance.value;
  CHECK(sum == Approx(1.0));
  study.trials.resize(10);  // fewer than 2 / gamma finished trials: nothing estimated
  CHECK(mahpo::report::ped_anova(study).empty());
}

TEST_CASE("write_report writes the page and its PNGs, or says that gnuplot is missing") {
  using Branin = mahpo::problems::Branin;
  mahpo::search::Random<Branin::space> searcher({.seed = 5, .goal = Branin::goal});
  const auto report = mahpo::study::run_study(searcher, Branin{}, {.trials = 30});
  const auto folder = scratch("write");
  const std::vector<mahpo::report::StudyData> studies{mahpo::report::from_report(report, "rs")};
  CHECK_THROWS_WITH(mahpo::report::write_report(studies, folder, {.gnuplot = "no-such-gnuplot"}),
                    Catch::Contains("cannot run no-such-gnuplot"));
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    WARN("gnuplot is not installed: the PNGs were not drawn (scripts/setup.sh installs gnuplot-nox)");
    return;
  }
  const auto files = mahpo::report::write_report(studies, folder, {.title = "a <test> & more"});
  CHECK(files.images.size() == 6);  // history x 2, parallel, 2 slices, importance; no fidelity plot
  for (const auto& image : files.images) {
    std::ifstream in(image, std::ios::binary);
    char signature[8] = {};
    in.read(signature, 8);
    CHECK(std::string(signature, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  }
  std::ifstream page(files.index);
  const std::string html((std::istreambuf_iterator<char>(page)), std::istreambuf_iterator<char>());
  CHECK(html.find("<title>a &lt;test&gt; &amp; more</title>") != std::string::npos);
  fs::remove_all(folder);
}

TEST_CASE("a study of several objectives: its journal's front is read back and drawn") {
  using Zdt1 = mahpo::problems::Zdt1;
  using Goals = mahpo::Objectives<mahpo::Minimize<"f1">, mahpo::Minimize<"f2">, mahpo::AtMost<"f1", 0.9>>;
  const auto zdt1 = [](const mahpo::Config<Zdt1::space>& config, const mahpo::Budget&) {
    const auto values = Zdt1::evaluate(config);
    mahpo::Result result;
    result.metrics = {{"f1", values[0]}, {"f2", values[1]}};
    return result;
  };
  const auto folder = scratch("fronts");
  fs::create_directories(folder);
  mahpo::search::Random<Zdt1::space> searcher({.seed = 2, .goals = Goals::goals()});
  const auto report = mahpo::study::run_study(searcher, mahpo::with_objectives<Goals>(zdt1),
                                              {.trials = 40, .journal = folder / "random.jsonl"});
  const auto loaded = mahpo::report::load_journal(folder / "random.jsonl");
  CHECK(loaded.objectives == Goals::list());
  REQUIRE(loaded.pareto_front().size() == report.pareto_front().size());
  for (std::size_t k = 0; k < loaded.pareto_front().size(); ++k) {
    CHECK(loaded.pareto_front()[k]->id == report.pareto_front()[k]->id);
    CHECK(loaded.pareto_front()[k]->values == report.pareto_front()[k]->result.values);
  }
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    WARN("gnuplot is not installed: the PNGs were not drawn (scripts/setup.sh installs gnuplot-nox)");
    return;
  }
  const auto files = mahpo::report::write_report({loaded}, folder / "report");
  CHECK(std::find(files.images.begin(), files.images.end(), folder / "report" / "pareto.png") != files.images.end());
  std::ifstream page(files.index);
  const std::string html((std::istreambuf_iterator<char>(page)), std::istreambuf_iterator<char>());
  CHECK(html.find("<h2>Pareto fronts</h2>") != std::string::npos);
  CHECK(html.find(fmt::format("<tr><td>{}</td>", loaded.pareto_front().front()->id)) != std::string::npos);
  fs::remove_all(folder);
}
