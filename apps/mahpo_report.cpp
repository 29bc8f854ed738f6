// mahpo-report: a study report a person wants to look at, from journals or study CSVs.
//
//   mahpo-report tpe-seed0.jsonl tpe-seed1.jsonl random-seed0.jsonl --output report
//   mahpo-report paper_tables/journals/mnist-*.jsonl --output mnist-report --title "MNIST searches"
//   mahpo-report trials.csv --parameters x1,x2 --minimize --output branin-report
//
// Writes OUTPUT/index.html and its PNGs (include/mahpo/report/html_report.hpp). Studies are grouped
// into one colour (best so far as mean +- sd) by their file name without a trailing "-seedN", or by
// the journal's searcher with --group-by searcher.
#include <mahpo/report/html_report.hpp>
#include <mahpo/report/study_data.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <exception>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"mahpo-report: plots and a web page from study journals (.jsonl) or study CSVs (.csv)"};
  std::vector<std::string> inputs, parameters, log_parameters;
  std::string output = "mahpo-report", title = "mahpo study report", group_by = "file";
  std::size_t top = 10;
  double gamma = 0.1;
  bool minimize = false;
  app.add_option("studies", inputs, "journals (.jsonl) or study CSVs (.csv)")->required()->check(CLI::ExistingFile);
  app.add_option("--output,-o", output, "the report's folder (created)");
  app.add_option("--title", title, "the page's title");
  app.add_option("--top", top, "best trials listed per study")->check(CLI::Range(1, 1000));
  app.add_option("--gamma", gamma, "PED-ANOVA's share of best trials")->check(CLI::Range(0.01, 0.5));
  app.add_option("--group-by", group_by, "one colour per file name without -seedN (file), or per searcher")
      ->check(CLI::IsMember({"file", "searcher"}));
  app.add_option("--parameters", parameters, "CSV input: its parameter columns")->delimiter(',');
  app.add_option("--log-parameters", log_parameters, "CSV input: those of them on a log scale")->delimiter(',');
  app.add_flag("--minimize", minimize, "CSV input: the value is minimized (a journal says so itself)");
  CLI11_PARSE(app, argc, argv);

  try {
    std::vector<mahpo::report::StudyData> studies;
    const std::regex seed_suffix("-seed[0-9]+$");
    for (const auto& input : inputs) {
      const std::filesystem::path path(input);
      mahpo::report::StudyData study;
      if (path.extension() == ".csv") {
        if (parameters.empty()) {
          fmt::print(stderr, "error: {}: a CSV does not say which columns are parameters: give --parameters\n", input);
          return 1;
        }
        study = mahpo::report::load_csv(path, parameters, log_parameters,
                                        minimize ? mahpo::Goal::minimize : mahpo::Goal::maximize);
      } else {
        study = mahpo::report::load_journal(path);
      }
      if (group_by == "file") study.searcher = std::regex_replace(path.stem().string(), seed_suffix, "");
      studies.push_back(std::move(study));
    }
    const auto files = mahpo::report::write_report(studies, output, {.title = title, .top = top, .gamma = gamma});
    fmt::print("mahpo-report: {} studies, {} plots: {}\n", studies.size(), files.images.size(), files.index.string());
  } catch (const std::exception& error) {
    fmt::print(stderr, "error: {}\n", error.what());
    return 1;
  }
  return 0;
}
