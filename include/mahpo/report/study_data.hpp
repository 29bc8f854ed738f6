#pragma once
// A finished (or interrupted) study as the report sees it, whatever it came from: a journal (its
// header names the searcher, the goal and the space), a study CSV (StudyReport::write_csv; the
// caller names the parameter columns), or a StudyReport in memory. Values stay as the study wrote
// them: configs as JSON, times in study seconds.
//
//   auto tpe = mahpo::report::load_journal("tpe.jsonl");             // checksums verified
//   auto rs = mahpo::report::load_csv("random.csv", {"x1", "x2"});    // the parameter columns
//   auto live = mahpo::report::from_report(report, "tpe seed 1");     // a StudyReport<S>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mahpo/objective.hpp>
#include <mahpo/search/pareto.hpp>
#include <mahpo/study/journal.hpp>
#include <mahpo/study/report.hpp>

namespace mahpo::report {

class ReportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One searched parameter, as the journal's header describes it ("name: a real in [lo, hi] (log scale)").
struct ParameterInfo {
  enum class Kind { integer, real, categorical };
  std::string name;
  Kind kind = Kind::real;
  double low = 0.0, high = 1.0;     // integer and real
  bool log = false;                 // log scale: slice plots use a log axis, importances log space
  std::vector<std::string> values;  // categorical: the values as the space prints them
};

struct TrialData {
  std::size_t id = 0;
  nlohmann::json config = nlohmann::json::object();
  double epochs = 0.0;  // budget
  std::optional<std::size_t> resume_from;  // the trial whose training it continued (PBT, Hyperband)
  Status status = Status::ok;
  bool finished = false;
  double value = 0.0;
  std::vector<double> intermediate;
  double started = 0.0, ended = 0.0;  // study seconds
  std::vector<double> values, constraints;  // several objectives: as Result's
};

struct StudyData {
  std::string name;      // how the report labels it: the file's stem unless given
  std::string searcher;  // groups studies of one searcher (seeds) into one curve with a band
  Goal goal = Goal::maximize;
  std::vector<ParameterInfo> parameters;  // the searched ones (fixed parameters are left out)
  std::vector<TrialData> trials;          // by id
  ObjectiveList objectives;               // several objectives: their names and goals (the journal's header)

  bool better(double a, double b) const { return goal == Goal::maximize ? a > b : a < b; }
  // The finished ok trials.
  std::vector<const TrialData*> finished_ok() const {
    std::vector<const TrialData*> done;
    for (const auto& trial : trials) {
      if (trial.finished && trial.status == Status::ok && std::isfinite(trial.value)) done.push_back(&trial);
    }
    return done;
  }
  const TrialData* best() const {
    const TrialData* found = nullptr;
    for (const auto* trial : finished_ok()) {
      if (!found || better(trial->value, found->value)) found = trial;
    }
    return found;
  }
  // Several objectives: the finished ok trials that are feasible and non-dominated, in id order.
  std::vector<const TrialData*> pareto_front() const {
    std::vector<const TrialData*> candidates, front;
    search::pareto::Points points;
    std::vector<double> violations;
    if (objectives.goals.empty()) return front;
    for (const auto* trial : finished_ok()) {
      if (trial->values.size() != objectives.goals.size()) continue;
      candidates.push_back(trial);
      points.push_back(trial->values);
      violations.push_back(search::pareto::violation(trial->constraints));
    }
    if (candidates.empty()) return front;
    for (const std::size_t i :
         search::pareto::pareto_front(search::pareto::to_minimized(points, objectives.goals), violations))
      front.push_back(candidates[i]);
    return front;
  }
  bool multi_fidelity() const {
    if (trials.empty()) return false;
    return std::any_of(trials.begin(), trials.end(),
                       [&](const TrialData& trial) { return trial.epochs != trials.front().epochs; }) ||
           std::any_of(trials.begin(), trials.end(),
                       [](const TrialData& trial) { return trial.intermediate.size() > 1; });
  }
};

namespace detail {

// One line of Space::describe(): "name: an integer in [2, 7]", "...: a real in [1e-4, 0.1] (log
// scale)", "...: one of {relu, tanh}", "...: fixed at 6" (nothing: not searched).
inline std::optional<ParameterInfo> parse_parameter(std::string_view line, const std::string& where) {
  const auto colon = line.find(": ");
  if (colon == std::string_view::npos)
    throw ReportError(fmt::format("{}: cannot read the space line '{}'", where, line));
  ParameterInfo info;
  info.name = std::string(line.substr(0, colon));
  const std::string_view text = line.substr(colon + 2);
  if (text.starts_with("fixed at")) return std::nullopt;
  if (text.starts_with("one of {") && text.ends_with("}")) {
    info.kind = ParameterInfo::Kind::categorical;
    std::string_view values = text.substr(8, text.size() - 9);
    while (!values.empty()) {
      const auto comma = values.find(", ");
      info.values.emplace_back(values.substr(0, comma));
      values = comma == std::string_view::npos ? std::string_view() : values.substr(comma + 2);
    }
    return info;
  }
  const bool integer = text.starts_with("an integer in [");
  if (!integer && !text.starts_with("a real in [")) {
    throw ReportError(fmt::format("{}: cannot read the space line '{}'", where, line));
  }
  info.kind = integer ? ParameterInfo::Kind::integer : ParameterInfo::Kind::real;
  const auto open = text.find('['), close = text.find(']');
  std::istringstream bounds(std::string(text.substr(open + 1, close - open - 1)));
  char comma = 0;
  if (!(bounds >> info.low >> comma >> info.high) || comma != ',') {
    throw ReportError(fmt::format("{}: cannot read the bounds in '{}'", where, line));
  }
  info.log = text.find("(log scale)") != std::string_view::npos;
  return info;
}

inline std::vector<ParameterInfo> parse_space(std::string_view description, const std::string& where) {
  std::vector<ParameterInfo> parameters;
  while (!description.empty()) {
    const auto end = description.find('\n');
    const auto line = description.substr(0, end);
    if (!line.empty()) {
      if (auto parameter = parse_parameter(line, where)) parameters.push_back(std::move(*parameter));
    }
    description = end == std::string_view::npos ? std::string_view() : description.substr(end + 1);
  }
  return parameters;
}

// A study CSV's cells (RFC 4180: quotes around cells with commas, quotes or line breaks).
inline std::vector<std::vector<std::string>> read_csv_rows(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ReportError(fmt::format("mahpo-report: cannot read {}", path.string()));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::vector<std::string>> rows(1);
  std::string cell;
  bool quoted = false;
  for (std::size_t k = 0; k < text.size(); ++k) {
    const char c = text[k];
    if (quoted) {
      if (c == '"' && k + 1 < text.size() && text[k + 1] == '"') {
        cell += '"';
        ++k;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(cell));
      cell.clear();
    } else if (c == '\n') {
      rows.back().push_back(std::move(cell));
      cell.clear();
      rows.emplace_back();
    } else if (c != '\r') {
      cell += c;
    }
  }
  if (!cell.empty() || !rows.back().empty()) rows.back().push_back(std::move(cell));
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

inline double number_cell(const std::string& cell, const std::string& where) {
  try {
    std::size_t used = 0;
    const double value = std::stod(cell, &used);
    if (used == cell.size()) return value;
  } catch (const std::exception&) {
  }
  if (cell == "nan" || cell == "-nan") return std::nan("");
  throw ReportError(fmt::format("{}: '{}' is not a number", where, mahpo::detail::text_excerpt(cell)));
}

}  // namespace detail

// A study from its journal (study/journal.hpp): the header's searcher, goal and space; every ask and
// tell. Checksums are verified (a journal that does not verify is refused with its file and line).
inline StudyData load_journal(const std::filesystem::path& path, std::string name = {}) {
  const auto contents = study::read_journal(path);
  if (contents.records.empty()) throw ReportError(fmt::format("mahpo-report: {} is empty", path.string()));
  const auto& header = contents.records.front();
  if (!header.json.contains("event") || header.json["event"] != "study") header.fail("not a study header");
  StudyData study;
  study.name = name.empty() ? path.stem().string() : std::move(name);
  study.searcher = header.text("searcher");
  study.goal = header.text("goal") == "minimize" ? Goal::minimize : Goal::maximize;
  study.parameters = detail::parse_space(header.text("space"), header.where);
  if (const auto found = header.json.find("objectives"); found != header.json.end()) {
    try {
      study.objectives.names = found->at("names").get<std::vector<std::string>>();
      for (const auto& goal : found->at("goals"))
        study.objectives.goals.push_back(goal.get<std::string>() == "minimize" ? Goal::minimize : Goal::maximize);
      study.objectives.constraints = found->at("constraints").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception&) {
      header.fail("\"objectives\" must hold \"names\", \"goals\" and \"constraints\"");
    }
    if (study.objectives.names.size() != study.objectives.goals.size())
      header.fail("\"objectives\" must have as many names as goals");
  }
  for (std::size_t k = 1; k < contents.records.size(); ++k) {
    const auto& record = contents.records[k];
    const auto event = record.text("event");
    const std::size_t id = record.count("id");
    if (event == "ask") {
      if (id != study.trials.size()) record.fail(fmt::format("asks trial {} after {} trials", id, study.trials.size()));
      TrialData trial{.id = id, .config = record.at("config")};
      trial.epochs = record.at("budget").value("epochs", 0.0);
      if (record.json.contains("resume_from")) trial.resume_from = record.count("resume_from");
      trial.started = record.number("elapsed", 0.0);
      study.trials.push_back(std::move(trial));
    } else if (event == "tell") {
      if (id >= study.trials.size()) record.fail(fmt::format("tells trial {}, which was not asked", id));
      auto& trial = study.trials[id];
      const Result result = study::result_from_json(record);
      trial.finished = true;
      trial.status = result.status;
      trial.value = result.value;
      trial.intermediate = result.intermediate;
      trial.values = result.values;
      trial.constraints = result.constraints;
      trial.ended = record.number("elapsed", 0.0);
      if (record.json.contains("seconds")) trial.started = trial.ended - record.number("seconds");
    }
  }
  return study;
}

// A study from the CSV StudyReport::write_csv writes; `parameters` names its parameter columns (a
// CSV does not say which columns are parameters and which are metrics). Numbers in those columns
// make real parameters, anything else categorical ones; none is on a log scale unless listed in
// `log_parameters`.
inline StudyData load_csv(const std::filesystem::path& path, const std::vector<std::string>& parameters,
                          const std::vector<std::string>& log_parameters = {}, Goal goal = Goal::maximize,
                          std::string name = {}) {
  const auto rows = detail::read_csv_rows(path);
  if (rows.size() < 2) throw ReportError(fmt::format("mahpo-report: {} has no trials", path.string()));
  const auto& header = rows.front();
  const auto column = [&](const std::string& key) {
    const auto found = std::find(header.begin(), header.end(), key);
    if (found == header.end())
      throw ReportError(fmt::format("mahpo-report: {} has no column '{}'", path.string(), key));
    return static_cast<std::size_t>(found - header.begin());
  };
  const std::size_t id_column = column("id"), status_column = column("status"), value_column = column("value"),
                    epochs_column = column("budget_epochs"), started_column = column("started"),
                    ended_column = column("ended");
  StudyData study;
  study.name = name.empty() ? path.stem().string() : std::move(name);
  study.searcher = study.name;
  study.goal = goal;
  std::vector<std::size_t> parameter_columns;
  for (const auto& parameter : parameters) {
    parameter_columns.push_back(column(parameter));
    ParameterInfo info{.name = parameter};
    info.log = std::find(log_parameters.begin(), log_parameters.end(), parameter) != log_parameters.end();
    study.parameters.push_back(std::move(info));
  }
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    const std::string where = fmt::format("{}:{}", path.string(), r + 1);
    if (row.size() != header.size()) {
      throw ReportError(fmt::format("{}: {} cells, the header has {}", where, row.size(), header.size()));
    }
    TrialData trial;
    trial.id = static_cast<std::size_t>(detail::number_cell(row[id_column], where));
    const auto status = study::status_from_string(row[status_column]);
    trial.finished = status.has_value();  // "running": asked, never told
    trial.status = status.value_or(Status::failed);
    trial.value = detail::number_cell(row[value_column], where);
    trial.epochs = detail::number_cell(row[epochs_column], where);
    trial.started = detail::number_cell(row[started_column], where);
    trial.ended = detail::number_cell(row[ended_column], where);
    for (std::size_t p = 0; p < parameters.size(); ++p) {
      const std::string& cell = row[parameter_columns[p]];
      try {
        std::size_t used = 0;
        const double number = std::stod(cell, &used);
        if (used != cell.size()) throw std::invalid_argument("text");
        trial.config[parameters[p]] = number;
      } catch (const std::exception&) {
        trial.config[parameters[p]] = cell;
      }
    }
    study.trials.push_back(std::move(trial));
  }
  std::sort(study.trials.begin(), study.trials.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  // Kinds and bounds from what the trials hold.
  for (auto& info : study.parameters) {
    bool numbers = true;
    double low = INFINITY, high = -INFINITY;
    for (const auto& trial : study.trials) {
      const auto& value = trial.config.at(info.name);
      if (!value.is_number()) {
        numbers = false;
        const auto text = value.get<std::string>();
        if (std::find(info.values.begin(), info.values.end(), text) == info.values.end()) info.values.push_back(text);
      } else {
        low = std::min(low, value.get<double>());
        high = std::max(high, value.get<double>());
      }
    }
    info.kind = numbers ? ParameterInfo::Kind::real : ParameterInfo::Kind::categorical;
    if (numbers) {
      info.low = low;
      info.high = high > low ? high : low + 1.0;
    } else {
      info.log = false;
    }
  }
  return study;
}

// A StudyReport in memory (search_lenet --report, for one).
template <typename S>
StudyData from_report(const study::StudyReport<S>& report, std::string name) {
  StudyData study;
  study.name = std::move(name);
  study.searcher = report.searcher;
  study.goal = report.goal;
  study.parameters = detail::parse_space(S::describe(), "the study's space");
  study.objectives = report.objectives;
  for (const auto& record : report.trials) {
    study.trials.push_back(TrialData{.id = record.id,
                                     .config = record.config.to_json(),
                                     .epochs = record.budget.epochs,
                                     .status = record.result.status,
                                     .finished = record.finished,
                                     .value = record.result.value,
                                     .intermediate = record.result.intermediate,
                                     .started = record.started,
                                     .ended = record.ended,
                                     .values = record.result.values,
                                     .constraints = record.result.constraints});
  }
  return study;
}

// A parameter's value in [0, 1] as the searchers see it (log scale in log space; a categorical
// value at the centre of its share), for parallel coordinates and importances; NaN if absent.
inline double unit_value(const ParameterInfo& info, const nlohmann::json& config) {
  const auto found = config.find(info.name);
  if (found == config.end()) return std::nan("");
  if (info.kind == ParameterInfo::Kind::categorical) {
    const std::string text = found->is_string() ? found->get<std::string>() : found->dump();
    const auto at = std::find(info.values.begin(), info.values.end(), text);
    if (at == info.values.end()) return std::nan("");
    return (static_cast<double>(at - info.values.begin()) + 0.5) / static_cast<double>(info.values.size());
  }
  if (!found->is_number()) return std::nan("");
  const double value = found->get<double>();
  if (info.log && info.low > 0.0 && value > 0.0) {
    return (std::log(value) - std::log(info.low)) / (std::log(info.high) - std::log(info.low));
  }
  return (value - info.low) / (info.high - info.low);
}

}  // namespace mahpo::report
