#pragma once
// The study runner: a searcher against an objective, under a trial, wall-clock and/or epoch budget,
// with N worker threads, a journal, resume, a progress line and a report.
//
//   mahpo::search::Tpe<Space> tpe({.seed = 1});
//   auto report = mahpo::study::run_study(tpe, objective, {.trials = 200, .workers = 2,
//                                                         .journal = "tpe.jsonl"});
//   fmt::print("{}", report.summary());
//   report.write_csv("tpe.csv");
//
// Concurrency: workers ask and tell under one lock and evaluate outside it, so a model-based
// searcher sees the other workers' trials as pending (History::running()) when it is asked.
// Journal: every ask and tell is appended and fsync'ed inside that lock, before the trial starts or
// its result is reported, so the journal's order is the order the searcher saw.
// Resume: a fresh searcher, built with the same options, replays the journal's asks and tells in
// order (each replayed ask must give the journal's config: searchers are deterministic); trials
// asked but never told (running at the crash) are evaluated again first; finished ones never are.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mahpo/objective.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/study/journal.hpp>

namespace mahpo::study {

enum class Progress { automatic, always, never };  // automatic: when stderr is a terminal

struct StudyOptions {
  std::size_t trials = 0;   // stop asking after this many trials (0: no limit)
  double seconds = 0.0;     // ... or after this much wall-clock time, resumed runs included (0: no limit)
  double epochs = 0.0;      // ... or once the asked budgets sum to this many epochs (0: no limit)
  std::size_t workers = 1;  // trials evaluated at once, one thread each
  std::filesystem::path journal;  // empty: no journal
  bool resume = false;            // continue the journal at `journal` (refused when it does not match)
  Progress progress = Progress::automatic;
};

template <typename S>
struct TrialRecord {
  std::size_t id = 0;
  Config<S> config;
  Budget budget{};
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
    std::string text = fmt::format("{}: {} trials ({} ok, {} failed, {} diverged, {} pruned) in {:.1f} s\n", searcher,
                                   trials.size(), count(Status::ok), count(Status::failed), count(Status::diverged),
                                   count(Status::pruned), seconds);
    for (const auto& note : notes) text += fmt::format("  note: {}\n", note);
    const auto* top = best();
    if (top == nullptr) return text + "  no trial finished ok\n";
    text += fmt::format("  best: trial {} ({:.4g} epochs), value {:.6g}\n", top->id, top->budget.epochs, top->result.value);
    for (const char* key : {"validation_accuracy", "test_accuracy", "test_kappa"}) {
      if (top->result.metrics.contains(key)) text += fmt::format("  {}: {:.4f}\n", key, top->result.metrics[key].template get<double>());
    }
    text += fmt::format("  config: {}\n", top->config.to_string());
    return text;
  }

  // One row per trial: id, status, value, budget (budget_epochs, budget_iterations: what the
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
    std::vector<std::string> header{"id", "status", "value", "budget_epochs", "budget_iterations", "started", "ended", "worker"};
    for (auto name : S::names) header.emplace_back(name);
    for (const auto& key : metric_keys) header.push_back(key);
    out << csv_row(header);
    for (const auto& trial : trials) {
      std::vector<std::string> row{std::to_string(trial.id),
                                   trial.finished ? to_string(trial.result.status) : "running",
                                   fmt::format("{}", trial.result.value),
                                   fmt::format("{}", trial.budget.epochs),
                                   std::to_string(trial.budget.iterations),
                                   fmt::format("{:.3f}", trial.started),
                                   fmt::format("{:.3f}", trial.ended),
                                   std::to_string(trial.worker)};
      const auto config = trial.config.to_json();
      for (auto name : S::names) row.push_back(cell(config.at(std::string(name))));
      for (const auto& key : metric_keys) {
        row.push_back(trial.result.metrics.contains(key) ? cell(trial.result.metrics.at(key)) : "");
      }
      out << csv_row(row);
    }
    if (!out) throw StudyError(fmt::format("mahpo: writing {} failed", path.string()));
  }

 private:
  static std::string cell(const nlohmann::json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump();
  }
  static std::string csv_row(const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t k = 0; k < cells.size(); ++k) {
      if (k > 0) line += ',';
      const auto& text = cells[k];
      if (text.find_first_of(",\"\n") == std::string::npos) {
        line += text;
      } else {
        line += '"';
        for (char c : text) line += c == '"' ? std::string("\"\"") : std::string(1, c);
        line += '"';
      }
    }
    return line + '\n';
  }
};

namespace detail {

inline std::string format_duration(double seconds) {
  const auto total = static_cast<long long>(seconds + 0.5);
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

template <typename T>
nlohmann::json study_header(const T& searcher) {
  using S = typename T::space_type;
  return {{"event", "study"},
          {"format", 1},
          {"searcher", std::string(T::name)},
          {"space", S::describe()},
          {"seed", searcher.options().seed},
          {"goal", to_string(searcher.options().goal)}};
}

}  // namespace detail

// Runs the study and returns its report. Throws StudyError for bad options or a journal that does
// not belong to this searcher and space; an exception from the objective fails that trial only.
template <typename T, typename O>
StudyReport<typename T::space_type> run_study(T& searcher, const O& objective, StudyOptions options) {
  static_assert(search::Searcher<T>,
                "mahpo::study::run_study: the searcher must model mahpo::search::Searcher (space_type, name, "
                "ask() -> Trial<space_type>, tell(id, Result), options())");
  using S = typename T::space_type;
  static_assert(Objective<O, S>,
                "mahpo::study::run_study: the objective must be callable as objective(const Config<S>&, const "
                "Budget&) and return a mahpo::Result");
  using clock = std::chrono::steady_clock;

  if (options.trials == 0 && options.seconds <= 0.0 && options.epochs <= 0.0) {
    throw StudyError("mahpo: a study needs a limit: trials, seconds or epochs");
  }
  if (options.workers == 0) throw StudyError("mahpo: a study needs at least one worker");
  if (options.resume && options.journal.empty()) throw StudyError("mahpo: resume needs a journal path");

  StudyReport<S> report;
  report.searcher = std::string(T::name);
  report.goal = searcher.options().goal;
  std::deque<std::size_t> rerun;  // ids to evaluate again first
  double earlier_seconds = 0.0, epochs_asked = 0.0;
  JournalWriter journal;

  // ---- the journal: start one, or replay one
  const auto header = detail::study_header(searcher);
  const bool exists = !options.journal.empty() && std::filesystem::exists(options.journal) &&
                      std::filesystem::file_size(options.journal) > 0;
  if (exists && !options.resume) {
    throw StudyError(fmt::format("mahpo: the journal {} already exists; resume it or choose another path",
                                 options.journal.string()));
  }
  if (exists) {
    const auto contents = read_journal(options.journal);
    if (contents.records.empty() || contents.records.front().value("event", "") != "study") {
      throw StudyError(fmt::format("mahpo: {} does not start with a study header", options.journal.string()));
    }
    const auto& found = contents.records.front();
    for (const char* key : {"searcher", "space", "seed", "goal"}) {
      if (found.value(key, nlohmann::json()) != header[key]) {
        throw StudyError(fmt::format("mahpo: the journal {} belongs to another study: its {} is {}, this study's is {}",
                                     options.journal.string(), key, found.value(key, nlohmann::json()).dump(),
                                     header[key].dump()));
      }
    }
    if (contents.truncated_bytes > 0) {
      report.notes.push_back(fmt::format("the journal's last line was cut short ({} bytes) and was dropped",
                                         contents.truncated_bytes));
    }
    for (std::size_t k = 1; k < contents.records.size(); ++k) {
      const auto& record = contents.records[k];
      const auto event = record.value("event", "");
      const auto id = record.at("id").get<std::size_t>();
      if (event == "ask") {
        const auto trial = searcher.ask();
        const auto config = Config<S>::from_json(record.at("config"));
        if (trial.id != id || !(trial.config == config)) {
          throw StudyError(fmt::format(
              "mahpo: replaying {} diverged at trial {}: the journal has {}, the searcher now asks {} (were the "
              "searcher's options changed?)",
              options.journal.string(), id, config.to_string(), trial.config.to_string()));
        }
        TrialRecord<S> entry{.id = id, .config = trial.config, .budget = trial.budget};
        entry.started = record.value("elapsed", 0.0);
        report.trials.push_back(std::move(entry));
        epochs_asked += trial.budget.epochs;
      } else if (event == "tell") {
        if (id >= report.trials.size() || report.trials[id].finished) {
          throw StudyError(fmt::format("mahpo: the journal {} tells trial {} without asking it, or twice",
                                       options.journal.string(), id));
        }
        auto& entry = report.trials[id];
        entry.result = result_from_json(record);
        entry.finished = entry.replayed = true;
        entry.ended = record.value("elapsed", 0.0);
        entry.worker = record.value("worker", std::size_t{0});
        searcher.tell(id, entry.result);
      } else {
        throw StudyError(fmt::format("mahpo: unknown event '{}' in the journal {}", event, options.journal.string()));
      }
      earlier_seconds = std::max(earlier_seconds, record.value("elapsed", 0.0));
    }
    for (const auto& entry : report.trials) {
      if (!entry.finished) rerun.push_back(entry.id);
    }
    report.rerun = rerun.size();
    if (!rerun.empty()) {
      report.notes.push_back(fmt::format("{} trial(s) running at the interruption are evaluated again", rerun.size()));
    }
    journal = JournalWriter(options.journal, contents.valid_bytes);
  } else if (!options.journal.empty()) {
    journal = JournalWriter(options.journal);
    journal.append(header);
  }

  // ---- the workers
  const auto start = clock::now();
  const auto elapsed = [&] { return earlier_seconds + std::chrono::duration<double>(clock::now() - start).count(); };
  const bool show_progress = options.progress == Progress::always ||
                             (options.progress == Progress::automatic && ::isatty(STDERR_FILENO) == 1);
  std::mutex lock;
  std::exception_ptr failure;

  const auto limit_reached = [&] {
    if (options.trials > 0 && report.trials.size() >= options.trials) return true;
    if (options.seconds > 0.0 && elapsed() >= options.seconds) return true;
    return options.epochs > 0.0 && epochs_asked >= options.epochs;
  };
  const auto progress_line = [&] {
    std::size_t finished = 0;
    for (const auto& trial : report.trials) finished += trial.finished ? 1 : 0;
    const auto* top = report.best();
    std::string eta;
    const double spent = elapsed();
    if (options.trials > 0 && finished > 0) {
      eta = fmt::format(" | ETA {}", detail::format_duration(spent / static_cast<double>(finished) *
                                                             static_cast<double>(options.trials - std::min(options.trials, finished))));
    } else if (options.seconds > 0.0) {
      eta = fmt::format(" | {} left", detail::format_duration(std::max(0.0, options.seconds - spent)));
    }
    fmt::print(stderr, "\rmahpo {}: trial {}/{} | best {} | {} elapsed{}   ", T::name, finished,
               options.trials > 0 ? std::to_string(options.trials) : std::string("?"),
               top ? fmt::format("{:.5g}", top->result.value) : std::string("-"), detail::format_duration(spent), eta);
    std::fflush(stderr);
  };

  const auto work = [&](std::size_t worker) {
    while (true) {
      std::size_t id;
      search::Trial<S> trial;
      {
        std::lock_guard guard(lock);
        if (failure) return;
        try {
          if (!rerun.empty()) {
            id = rerun.front();
            rerun.pop_front();
            trial = {id, report.trials[id].config, report.trials[id].budget};
          } else {
            if (limit_reached()) return;
            trial = searcher.ask();
            id = trial.id;
            if (id != report.trials.size()) {
              throw StudyError(fmt::format("mahpo: {} asked trial {}, expected {}", T::name, id, report.trials.size()));
            }
            journal.append({{"event", "ask"},
                            {"id", id},
                            {"config", trial.config.to_json()},
                            {"budget", {{"epochs", trial.budget.epochs}, {"iterations", trial.budget.iterations}}},
                            {"elapsed", elapsed()}});
            report.trials.push_back(TrialRecord<S>{.id = id, .config = trial.config, .budget = trial.budget});
            epochs_asked += trial.budget.epochs;
          }
          report.trials[id].started = elapsed();
          report.trials[id].worker = worker;
        } catch (...) {
          failure = std::current_exception();
          return;
        }
      }

      Result result;
      try {
        result = objective(trial.config, trial.budget);
        if (result.status == Status::ok && !std::isfinite(result.value)) {
          result.status = Status::failed;
          result.message = fmt::format("the objective returned a non-finite value ({})", result.value);
        }
      } catch (const std::exception& error) {
        result = Result{};
        result.status = Status::failed;
        result.message = error.what();
      }

      std::lock_guard guard(lock);
      try {
        auto& entry = report.trials[id];
        entry.ended = elapsed();
        nlohmann::json record = result_to_json(result);
        record["event"] = "tell";
        record["id"] = id;
        record["seconds"] = entry.ended - entry.started;
        record["worker"] = worker;
        record["elapsed"] = entry.ended;
        journal.append(record);  // on disk before anyone hears of it
        searcher.tell(id, result);
        entry.result = std::move(result);
        entry.finished = true;
        if (show_progress) progress_line();
      } catch (...) {
        failure = std::current_exception();
        return;
      }
    }
  };

  std::vector<std::thread> threads;
  for (std::size_t w = 1; w < options.workers; ++w) threads.emplace_back(work, w);
  work(0);
  for (auto& thread : threads) thread.join();
  if (show_progress) fmt::print(stderr, "\n");
  if (failure) std::rethrow_exception(failure);
  report.seconds = elapsed();
  return report;
}

}  // namespace mahpo::study
