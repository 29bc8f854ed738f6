#pragma once
// What a study gives back: every trial (config, budget, result, times, worker), the best, a summary
// and a CSV with one row per trial.

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mahpo/objective.hpp>
#include <mahpo/search/pareto.hpp>
#include <mahpo/space/config.hpp>
#include <mahpo/study/csv.hpp>
#include <mahpo/study/journal.hpp>

namespace mahpo::study {

template <typename S>
struct TrialRecord {
  std::size_t id = 0;
  Config<S> config;
  Budget budget{};
  std::optional<std::size_t> resume_from;  // the trial whose training it continued
  bool finished = false;
  Result result;
  double started = 0.0;  // study seconds when it started and ended
  double ended = 0.0;
  std::size_t worker = 0;
  bool replayed = false;  // finished in an earlier run, read from the journal
};

template <typename S>
struct StudyReport {
  std::string searcher;
  Goal goal = Goal::maximize;
  std::vector<TrialRecord<S>> trials;  // by id
  double seconds = 0.0;                // wall-clock search time, earlier runs included
  std::size_t rerun = 0;               // trials running at a crash, evaluated again on resume
  std::vector<std::string> notes;      // what the resume found (a truncated line, ...)
  ObjectiveList objectives;            // several objectives: their names and goals, the constraints' names

  // Several objectives: the finished ok trials that are feasible and non-dominated, in id order.
  std::vector<const TrialRecord<S>*> pareto_front() const {
    std::vector<const TrialRecord<S>*> candidates;
    search::pareto::Points points;
    std::vector<double> violations;
    for (const auto& trial : trials) {
      if (!trial.finished || trial.result.status != Status::ok) continue;
      if (trial.result.values.size() != objectives.goals.size() || objectives.goals.empty()) continue;
      candidates.push_back(&trial);
      points.push_back(trial.result.values);
      violations.push_back(search::pareto::violation(trial.result.constraints));
    }
    std::vector<const TrialRecord<S>*> front;
    if (candidates.empty()) return front;
    for (const std::size_t i :
         search::pareto::pareto_front(search::pareto::to_minimized(points, objectives.goals), violations))
      front.push_back(candidates[i]);
    return front;
  }

  // The finished ok trial with the best value, or nullptr.
  const TrialRecord<S>* best() const {
    const TrialRecord<S>* found = nullptr;
    for (const auto& trial : trials) {
      if (!trial.finished || trial.result.status != Status::ok) continue;
      const bool better = found == nullptr || (goal == Goal::maximize ? trial.result.value > found->result.value
                                                                      : trial.result.value < found->result.value);
      if (better) found = &trial;
    }
    return found;
  }

  std::size_t count(Status status) const {
    return static_cast<std::size_t>(std::count_if(trials.begin(), trials.end(), [&](const auto& trial) {
      return trial.finished && trial.result.status == status;
    }));
  }

  std::string summary() const {
    std::string text =
        fmt::format("{}: {} trials ({} ok, {} failed, {} diverged, {} pruned) in {:.1f} s\n", searcher, trials.size(),
                    count(Status::ok), count(Status::failed), count(Status::diverged), count(Status::pruned), seconds);
    for (const auto& note : notes) text += fmt::format("  note: {}\n", note);
    if (objectives.several()) return text + front_summary();
    const auto* top = best();
    if (top == nullptr) return text + "  no trial finished ok\n";
    text +=
        fmt::format("  best: trial {} ({:.4g} epochs), value {:.6g}\n", top->id, top->budget.epochs, top->result.value);
    for (const char* key : {"validation_accuracy", "test_accuracy", "test_kappa"}) {
      if (top->result.metrics.contains(key))
        text += fmt::format("  {}: {:.4f}\n", key, top->result.metrics[key].template get<double>());
    }
    text += fmt::format("  config: {}\n", top->config.to_string());
    return text;
  }

  // Several objectives: the Pareto front, one line per trial (its values, then its config), at most
  // 20 of them spread along the first objective.
  std::string front_summary() const {
    auto front = pareto_front();
    std::string text = fmt::format("  Pareto front: {} trial(s) ({} feasible ok trials)\n", front.size(),
                                   std::count_if(trials.begin(), trials.end(), [](const auto& trial) {
                                     return trial.finished && trial.result.status == Status::ok &&
                                            search::pareto::violation(trial.result.constraints) == 0.0;
                                   }));
    std::sort(front.begin(), front.end(),
              [](const auto* a, const auto* b) { return a->result.values.front() < b->result.values.front(); });
    const std::size_t shown = std::min<std::size_t>(front.size(), 20);
    for (std::size_t k = 0; k < shown; ++k) {
      const auto* trial = front[shown < front.size() ? k * (front.size() - 1) / (shown - 1) : k];
      std::string values;
      for (std::size_t m = 0; m < objectives.names.size(); ++m)
        values += fmt::format("{}{} {:.6g}", m ? ", " : "", objectives.names[m], trial->result.values[m]);
      text += fmt::format("  trial {}: {}: {}\n", trial->id, values, trial->config.to_string());
    }
    if (shown < front.size()) text += fmt::format("  ... {} more\n", front.size() - shown);
    return text;
  }

  // One row per trial: id, status, value, budget (budget_epochs, budget_iterations, budget_fraction: what the
  // searcher asked for; a metric may say what was trained), times, then every parameter and every numeric or
  // text metric (the union over trials, in first-seen order).
  void write_csv(const std::filesystem::path& path) const {
    std::vector<std::string> metric_keys;
    for (const auto& trial : trials) {
      for (const auto& [key, value] : trial.result.metrics.items()) {
        if (std::find(metric_keys.begin(), metric_keys.end(), key) == metric_keys.end()) metric_keys.push_back(key);
      }
    }
    std::ofstream out(path);
    if (!out) throw StudyError(fmt::format("mahpo: cannot write {}", path.string()));
    std::vector<std::string> header{
        "id", "status", "value", "budget_epochs", "budget_iterations", "budget_fraction", "started", "ended", "worker"};
    for (auto name : S::names) header.emplace_back(name);
    for (const auto& key : metric_keys) header.push_back(key);
    out << csv_row(header) << '\n';
    for (const auto& trial : trials) {
      std::vector<std::string> row{std::to_string(trial.id),
                                   trial.finished ? to_string(trial.result.status) : "running",
                                   fmt::format("{}", trial.result.value),
                                   fmt::format("{}", trial.budget.epochs),
                                   std::to_string(trial.budget.iterations),
                                   fmt::format("{}", trial.budget.fraction),
                                   fmt::format("{:.3f}", trial.started),
                                   fmt::format("{:.3f}", trial.ended),
                                   std::to_string(trial.worker)};
      const auto config = trial.config.to_json();
      for (auto name : S::names) row.push_back(json_text(config.at(std::string(name))));
      for (const auto& key : metric_keys) {
        row.push_back(trial.result.metrics.contains(key) ? json_text(trial.result.metrics.at(key)) : "");
      }
      out << csv_row(row) << '\n';
    }
    if (!out) throw StudyError(fmt::format("mahpo: writing {} failed", path.string()));
  }
};

}  // namespace mahpo::study
