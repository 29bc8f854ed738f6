#pragma once
// The hyperparameter schedule of a trial whose training continued others' (population based
// training, Hyperband's promotions): its lineage, followed back through Trial::resume_from, and the
// picture `mahpo-report` draws of it: each searched parameter's place in its range (0: low, 1: high,
// on the parameter's own scale) against the epochs its training had reached.

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mahpo/report/study_data.hpp>

namespace mahpo::report {

// One trial of a lineage: it trained from `from_epochs` to `to_epochs` with `config`.
struct ScheduleStep {
  std::size_t id = 0;
  double from_epochs = 0.0, to_epochs = 0.0;
  nlohmann::json config;
  double value = 0.0;
};

// Trial id's lineage, first trial first (one step when it continued no trial).
inline std::vector<ScheduleStep> lineage(const StudyData& study, std::size_t id) {
  std::vector<ScheduleStep> steps;
  std::optional<std::size_t> at = id;
  while (at && *at < study.trials.size() && steps.size() <= study.trials.size()) {
    const auto& trial = study.trials[*at];
    const double from = trial.resume_from && *trial.resume_from < study.trials.size()
                            ? study.trials[*trial.resume_from].epochs
                            : 0.0;
    steps.insert(steps.begin(), ScheduleStep{trial.id, from, trial.epochs, trial.config, trial.value});
    at = trial.resume_from;
  }
  return steps;
}

// Whether any trial of the study continued another's: then it has schedules to draw.
inline bool has_schedules(const StudyData& study) {
  for (const auto& trial : study.trials)
    if (trial.resume_from) return true;
  return false;
}

namespace detail {

// A parameter's value as its place in its range: 0 at low, 1 at high (log scale where it has one);
// a categorical value: its index over the count less one. NaN when the config lacks it.
inline double place(const ParameterInfo& info, const nlohmann::json& config) {
  const auto found = config.find(info.name);
  if (found == config.end()) return std::nan("");
  if (info.kind == ParameterInfo::Kind::categorical) {
    const std::string text = found->is_string() ? found->get<std::string>() : found->dump();
    for (std::size_t v = 0; v < info.values.size(); ++v) {
      if (info.values[v] == text) return info.values.size() > 1 ? static_cast<double>(v) / (static_cast<double>(info.values.size()) - 1.0)
                                             : 0.5;
    }
    return std::nan("");
  }
  if (!found->is_number()) return std::nan("");
  const double value = found->get<double>();
  if (info.high <= info.low) return 0.5;
  return info.log ? (std::log(value) - std::log(info.low)) / (std::log(info.high) - std::log(info.low))
                  : (value - info.low) / (info.high - info.low);
}

}  // namespace detail

// The data (one block per parameter: epochs and place, drawn as steps) and the gnuplot lines that
// plot it into the current output.
inline std::string schedule_data(const StudyData& study, const std::vector<ScheduleStep>& steps) {
  std::string data;
  for (const auto& info : study.parameters) {
    data += fmt::format("# {}\n", info.name);
    for (const auto& step : steps) {
      const double place = detail::place(info, step.config);
      data += fmt::format("{} {}\n{} {}\n", step.from_epochs, place, step.to_epochs, place);
    }
    data += "\n\n";
  }
  return data;
}

inline std::string schedule_plot(const StudyData& study, const std::vector<ScheduleStep>& steps,
                                 const std::filesystem::path& data_file) {
  const auto quoted = [](std::string text) {  // a gnuplot single-quoted string: a quote doubled
    for (std::size_t at = 0; (at = text.find('\'', at)) != std::string::npos; at += 2) text.insert(at, 1, '\'');
    return text;
  };
  std::string plots;
  for (std::size_t p = 0; p < study.parameters.size(); ++p) {
    plots += fmt::format("{}'{}' index {} using 1:2 with lines lw 2 title '{}'", plots.empty() ? "" : ", ",
                         quoted(data_file.string()), p, quoted(study.parameters[p].name));
  }
  return fmt::format(
      "set title 'Schedule of the best trial ({}: trial {}, {} steps): each parameter in its range'\n"
      "set xlabel 'epochs'\nset ylabel 'place in the range (0: low, 1: high)'\nset yrange [-0.05:1.05]\n"
      "plot {}\nset yrange [*:*]\n",
      quoted(study.name), steps.empty() ? 0 : steps.back().id, steps.size(), plots);
}

}  // namespace mahpo::report
