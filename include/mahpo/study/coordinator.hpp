#pragma once
// The study's bookkeeping, apart from who evaluates the trials: the searcher, the journal, the
// limits, the progress line and the report. An executor (the worker threads of study.hpp; an MPI
// executor could be another) asks it for the next trial, evaluates the trial, and hands the result
// back. The coordinator is not thread-safe: an executor with several workers calls it under one lock.
//
//   Coordinator coordinator(searcher, options);        // starts the journal, or replays it (resume)
//   while (auto trial = coordinator.next(worker)) {    // a trial to rerun first, else a new ask
//     coordinator.finish(trial->id, evaluate_trial(objective, *trial), worker);
//   }
//   StudyReport report = coordinator.close();
//
// Journal: every ask and tell is appended and fsync'ed before the trial starts or its result is
// reported, so the journal's order is the order the searcher saw. Its header says what ran (the
// searcher and its options, the seed, the goal, the budget, the space, the caller's context: data
// and trainer, and mahpo's version); a resume whose study differs in any of these is refused.
//
// Resume: a fresh searcher, built with the same options, replays the journal's asks and tells in
// order. Each replayed ask is given the journal's config as what was asked (search::Searcher's
// replace(), Optuna's enqueue_trial idea): another machine's rounding (another CPU, another BLAS
// kernel) may make the searcher propose a config that differs in its last digits, and the study
// continues from what was really evaluated; such differences are counted in the report's notes, not
// fatal. Trials asked but never told (running at the crash) are evaluated again first; finished ones
// never are.
//
// Pruning and saved trainings: a running trial's reports come through report(id, step, value), which
// journals each with the pruner's answer; a rerun trial hears the journal's answers for the steps it
// repeats. The coordinator owns the store of training states (study/checkpoints.hpp): kept while the
// searcher may continue a trial (search::ContinuesTrials) or the study is journaled, freed after.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mahpo/blas_check.hpp>
#include <mahpo/objective.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/study/journal.hpp>
#include <mahpo/study/checkpoints.hpp>
#include <mahpo/study/progress.hpp>
#include <mahpo/study/pruners.hpp>
#include <mahpo/study/report.hpp>
#include <mahpo/version.hpp>

namespace mahpo::study {

enum class Progress { automatic, always, never };  // automatic: when stderr is a terminal

struct StudyOptions {
  std::size_t trials = 0;         // stop asking after this many trials (0: no limit)
  double seconds = 0.0;           // ... or after this much wall-clock time, resumed runs included (0: no limit)
  double epochs = 0.0;            // ... or once the asked budgets sum to this many epochs (0: no limit);
                                  // an epoch on a fraction s of the training set counts as s; a trial
                                  // that continues another counts its new epochs, a pruned one those
                                  // it trained (when its metrics say "epochs_trained")
  std::size_t workers = 1;        // trials evaluated at once, one thread each
  std::filesystem::path journal;  // empty: no journal
  bool resume = false;            // continue the journal at `journal` (refused when it is missing or does not match)
  Progress progress = Progress::automatic;
  // What the objective is, as the caller describes it (data set, trainer options, ...): written in
  // the journal's header, and a resume with a different one is refused.
  nlohmann::json context = nlohmann::json::object();
  // Stops trials early from the values they report (study/pruners.hpp); null: no pruning. Its name
  // and options go into the journal's header.
  std::shared_ptr<Pruner> pruner;
  // Trials' saved training states (study/checkpoints.hpp): kept in memory up to this many bytes,
  // beyond that in `states`; with a journal every state is also written there as it is saved, so
  // that a killed study resumes each running trial from its last state. Empty `states`: the folder
  // <journal>.states beside the journal, or a temporary folder without a journal.
  std::size_t state_memory = std::size_t{256} << 20;
  std::filesystem::path states;
  // The objectives and constraints the results carry (mahpo::Objectives<...>::list()); run_study sets it
  // from an objective made by mahpo::with_objectives. Empty: one unnamed objective. Several objectives
  // need a searcher that models MultiObjective, with the same goals, and no pruner.
  ObjectiveList objectives;
};

// The most workers a study starts: threads beyond this only wait on the one lock (and a request for
// millions used to exhaust the process before the first trial).
inline constexpr std::size_t max_workers = 1024;

// Refuses options no study can run under: no finite limit, a limit that is not a number, no worker
// or more than max_workers, resume without a journal.
inline void check_options(const StudyOptions& options) {
  if (std::isnan(options.seconds) || options.seconds < 0.0 || std::isinf(options.seconds)) {
    throw StudyError(
        fmt::format("mahpo: the time limit must be a finite number of seconds >= 0, got {}", options.seconds));
  }
  if (std::isnan(options.epochs) || options.epochs < 0.0 || std::isinf(options.epochs)) {
    throw StudyError(fmt::format("mahpo: the epoch limit must be a finite number >= 0, got {}", options.epochs));
  }
  if (options.trials == 0 && options.seconds <= 0.0 && options.epochs <= 0.0) {
    throw StudyError("mahpo: a study needs a limit: trials, seconds or epochs");
  }
  if (options.workers == 0) throw StudyError("mahpo: a study needs at least one worker");
  if (options.workers > max_workers) {
    throw StudyError(fmt::format("mahpo: {} workers asked, at most {} are allowed", options.workers, max_workers));
  }
  if (options.resume && options.journal.empty()) throw StudyError("mahpo: resume needs a journal path");
}

// Refuses a searcher whose goals are not the study's objectives', a searcher of one objective asked
// for several, and a pruner with several objectives.
template <search::Searcher T>
void check_objectives(const T& searcher, const StudyOptions& options) {
  const auto& searched = searcher.options().goals;
  const auto& declared = options.objectives;
  if (searched.size() > 1 && !search::MultiObjective<T>) {
    throw StudyError(fmt::format("mahpo: {} searches one objective, {} goals were given; for several objectives "
                                 "use nsga2, motpe (Tpe with several goals) or random",
                                 T::name, searched.size()));
  }
  if (declared.several()) {
    if (!search::MultiObjective<T>) {
      throw StudyError(fmt::format("mahpo: {} searches one objective, the study declares {} ({}); for several "
                                   "objectives use nsga2, motpe (Tpe with several goals) or random",
                                   T::name, declared.names.size(), fmt::join(declared.names, ", ")));
    }
    if (searched != declared.goals) {
      std::vector<std::string> goals;
      for (Goal goal : searched) goals.emplace_back(to_string(goal));
      throw StudyError(fmt::format("mahpo: the study declares {} objectives ({}), the searcher's goals are [{}]: "
                                   "give it SearchOptions{{.goals = Objectives<...>::goals()}}",
                                   declared.names.size(), fmt::join(declared.names, ", "), fmt::join(goals, ", ")));
    }
  }
  if (options.pruner && (declared.several() || searched.size() > 1)) {
    throw StudyError("mahpo: pruning compares one value per step; a study of several objectives cannot be pruned");
  }
}

// The journal's first record: what a resumed study must match (all but "mahpo", the version).
template <search::Searcher T>
nlohmann::json study_header(const T& searcher, const nlohmann::json& context = nlohmann::json::object()) {
  using S = typename T::space_type;
  const search::SearchOptions& options = searcher.options();
  return {{"event", "study"},
          {"format", journal_format},
          {"mahpo", version},
          {"searcher", std::string(T::name)},
          {"options", search::options_json(searcher)},
          {"seed", options.seed},
          {"goal", to_string(options.goal)},
          {"budget", options.budget},
          {"space", S::describe()},
          {"context", context}};
}

// The journal header's "pruner" member: its name and options (absent without a pruner).
inline nlohmann::json pruner_json(const Pruner& pruner) {
  return {{"name", pruner.name()}, {"options", pruner.options_json()}};
}

template <search::Searcher T>
class Coordinator {
 public:
  using space_type = typename T::space_type;
  using trial_type = search::Trial<space_type>;

  Coordinator(T& searcher, StudyOptions options) : searcher_(searcher), options_(std::move(options)) {
    check_options(options_);
    warn_if_blas_is_slow();
    check_objectives(searcher_, options_);
    report_.searcher = std::string(T::name);
    report_.goal = searcher_.options().goal;
    report_.objectives = options_.objectives;
    if (options_.pruner) options_.pruner->set_goal(report_.goal);
    open_states();
    open_journal();
    show_progress_ = options_.progress == Progress::always ||
                     (options_.progress == Progress::automatic && ::isatty(STDERR_FILENO) == 1);
    start_ = clock::now();
  }

  // Study seconds: this run's plus those of the runs the journal recorded.
  double elapsed() const { return earlier_seconds_ + std::chrono::duration<double>(clock::now() - start_).count(); }

  // The next trial for `worker`: a trial to evaluate again first, else a new ask (journaled) unless a
  // limit is reached; nothing when the study is done asking.
  std::optional<trial_type> next(std::size_t worker) {
    trial_type trial;
    if (!rerun_.empty()) {
      const std::size_t id = rerun_.front();
      rerun_.pop_front();
      trial = {id, report_.trials[id].config, report_.trials[id].budget, report_.trials[id].resume_from};
    } else {
      if (limit_reached()) return std::nullopt;
      trial = searcher_.ask();
      if (trial.id != report_.trials.size()) {
        throw StudyError(
            fmt::format("mahpo: {} asked trial {}, expected {}", T::name, trial.id, report_.trials.size()));
      }
      nlohmann::json ask{{"event", "ask"},
                         {"id", trial.id},
                         {"config", trial.config.to_json()},
                         {"budget", trial.budget},
                         {"elapsed", elapsed()}};
      if (trial.resume_from) ask["resume_from"] = *trial.resume_from;
      journal_.append(ask);
      record_ask(trial);
    }
    report_.trials[trial.id].started = elapsed();
    report_.trials[trial.id].worker = worker;
    return trial;
  }

  // Records a trial's result: on disk first, then told to the searcher, then in the report.
  void finish(std::size_t id, Result result, std::size_t worker) {
    auto& entry = report_.trials.at(id);
    entry.ended = elapsed();
    nlohmann::json record = result_to_json(result);
    record["event"] = "tell";
    record["id"] = id;
    record["seconds"] = entry.ended - entry.started;
    record["worker"] = worker;
    record["elapsed"] = entry.ended;
    journal_.append(record);  // on disk before anyone hears of it
    searcher_.tell(id, result);
    after_tell(id, result);
    entry.result = std::move(result);
    entry.finished = true;
    if (show_progress_) print_progress();
  }

  // Trial id reports `value` after `step` (TrialContext::report): journaled with the pruner's answer,
  // which is returned (true: stop the trial). A step the journal already holds for this trial (a
  // trial rerun after a crash repeats the steps after its last saved state) gets the journal's answer.
  bool report(std::size_t id, std::size_t step, double value) {
    auto& steps = reports_[id];
    if (const auto found = steps.find(step); found != steps.end()) return found->second;
    const bool prune = options_.pruner && options_.pruner->report(id, step, value);
    journal_.append({{"event", "report"},
                     {"id", id},
                     {"step", step},
                     {"value", number_or_null(value)},
                     {"prune", prune},
                     {"elapsed", elapsed()}});
    steps.emplace(step, prune);
    return prune;
  }

  // Whether trial id's training states are kept: the searcher may continue it, or the study is
  // journaled (a killed study resumes a running trial from its last state).
  bool keeps_states() const {
    if (!options_.journal.empty()) return true;
    if constexpr (search::ContinuesTrials<T>) return searcher_.continues_trials();
    return false;
  }
  CheckpointStore& states() { return *states_; }

  // Ends the study: the report, with the study's total seconds.
  StudyReport<space_type> close() {
    if (show_progress_) fmt::print(stderr, "\n");
    if (!temporary_states_.empty()) {
      std::error_code error;
      std::filesystem::remove_all(temporary_states_, error);
    }
    report_.seconds = elapsed();
    return std::move(report_);
  }

  const StudyReport<space_type>& report() const { return report_; }

 private:
  using clock = std::chrono::steady_clock;

  void record_ask(const trial_type& trial) {
    TrialRecord<space_type> entry{.id = trial.id, .config = trial.config, .budget = trial.budget};
    entry.resume_from = trial.resume_from;
    report_.trials.push_back(std::move(entry));
    epochs_asked_ += new_epochs(trial);
  }

  // The epochs a trial adds: its budget, less the budget of the trial it continues.
  double new_epochs(const trial_type& trial) const {
    double epochs = whole_set_epochs(trial.budget);
    if (trial.resume_from && *trial.resume_from < report_.trials.size()) {
      epochs -= whole_set_epochs(report_.trials[*trial.resume_from].budget);
    }
    return std::max(0.0, epochs);
  }

  // After a tell (live or replayed): the pruner hears the end; states nothing will continue are freed;
  // a pruned trial whose objective says the epochs it trained (metrics "epochs_trained", as
  // LeNetObjective does) gives back to the epoch limit those it did not train.
  void after_tell(std::size_t id, const Result& result) {
    const Status status = result.status;
    if (status == Status::pruned) {
      const auto trained = result.metrics.find("epochs_trained");
      if (trained != result.metrics.end() && trained->is_number()) {
        const auto& entry = report_.trials[id];
        const trial_type trial{id, entry.config, entry.budget, entry.resume_from};
        const double unused = new_epochs(trial) - trained->get<double>() * entry.budget.fraction;
        if (unused > 0.0) epochs_asked_ -= unused;
      }
    }
    if (options_.pruner) options_.pruner->finish(id, status);
    reports_.erase(id);
    if constexpr (search::ContinuesTrials<T>) {
      for (const std::size_t dropped : searcher_.drop_states()) states_->release(dropped);
    } else {
      states_->release(id);
    }
  }

  void open_states() {
    std::filesystem::path folder = options_.states;
    if (folder.empty() && !options_.journal.empty()) folder = options_.journal.string() + ".states";
    if (folder.empty()) {
      folder = std::filesystem::temp_directory_path() /
               fmt::format("mahpo-states-{}-{}", ::getpid(), reinterpret_cast<std::uintptr_t>(this));
      temporary_states_ = folder;
    }
    states_ = std::make_unique<CheckpointStore>(folder, options_.state_memory, !options_.journal.empty());
  }

  bool limit_reached() const {
    if (options_.trials > 0 && report_.trials.size() >= options_.trials) return true;
    if (options_.seconds > 0.0 && elapsed() >= options_.seconds) return true;
    return options_.epochs > 0.0 && epochs_asked_ >= options_.epochs;
  }

  void print_progress() const {
    const auto finished = static_cast<std::size_t>(
        std::count_if(report_.trials.begin(), report_.trials.end(), [](const auto& trial) { return trial.finished; }));
    const auto* top = report_.best();
    const ProgressState state{.searcher = T::name,
                              .finished = finished,
                              .trial_limit = options_.trials,
                              .seconds_limit = options_.seconds,
                              .elapsed = elapsed(),
                              .best = top ? &top->result.value : nullptr};
    fmt::print(stderr, "\r{}", progress_line(state));
    std::fflush(stderr);
  }

  // Starts the journal, or replays the one at options.journal when resuming.
  void open_journal() {
    auto header = study_header(searcher_, options_.context);
    if (options_.pruner) header["pruner"] = pruner_json(*options_.pruner);
    if (!options_.objectives.empty()) header["objectives"] = options_.objectives;
    const auto& path = options_.journal;
    const bool exists = !path.empty() && std::filesystem::exists(path);
    const bool empty = exists && std::filesystem::is_regular_file(path) && std::filesystem::file_size(path) == 0;
    if (options_.resume && !exists) {
      throw StudyError(fmt::format("mahpo: nothing to resume: the journal {} does not exist", path.string()));
    }
    if (exists && !empty && !options_.resume) {
      throw StudyError(
          fmt::format("mahpo: the journal {} already exists; resume it or choose another path", path.string()));
    }
    if (exists && !empty) {
      replay(header);
    } else if (!path.empty()) {  // new, or created by a run that died before writing its header
      journal_ = JournalWriter(path);
      journal_.append(header);
    }
  }

  void replay(const nlohmann::json& header) {
    const auto& path = options_.journal;
    auto contents = read_journal(path);
    if (contents.records.empty()) {
      throw StudyError(fmt::format("mahpo: {} holds no complete line, not even a study header", path.string()));
    }
    const auto& first = contents.records.front();
    if (!first.json.contains("event") || first.json["event"] != "study") first.fail("not a study header");
    for (const char* key : {"format", "searcher", "options", "seed", "goal", "budget", "space", "context"}) {
      const auto found = first.json.find(key);
      if (found == first.json.end()) first.fail(fmt::format("the study header has no \"{}\"", key));
      // Format 2 (before several objectives) reads as format 3 without them.
      if (std::string_view(key) == "format" && *found == 2 && !first.json.contains("objectives")) continue;
      if (*found != header[key]) {
        const auto [name, journal_value, study_value] = difference(key, *found, header[key]);
        first.fail(fmt::format("the journal belongs to another study: {} {} in the journal, {} in this study", name,
                               excerpt(journal_value), excerpt(study_value)));
      }
    }
    {
      const nlohmann::json absent = "(none)";
      const auto journal_objectives = first.json.value("objectives", absent);
      const auto study_objectives = header.value("objectives", absent);
      if (journal_objectives != study_objectives) {
        first.fail(fmt::format("the journal belongs to another study: objectives {} in the journal, {} in this study",
                               excerpt(journal_objectives), excerpt(study_objectives)));
      }
    }
    {
      const nlohmann::json absent = "(none)";
      const auto journal_pruner = first.json.value("pruner", absent), study_pruner = header.value("pruner", absent);
      if (journal_pruner != study_pruner) {
        first.fail(fmt::format("the journal belongs to another study: pruner {} in the journal, {} in this study",
                               excerpt(journal_pruner), excerpt(study_pruner)));
      }
    }
    if (first.json.value("mahpo", nlohmann::json()) != header["mahpo"]) {
      report_.notes.push_back(fmt::format("the journal was written by mahpo {}; this is mahpo {}",
                                          mahpo::detail::json_excerpt(first.json.value("mahpo", nlohmann::json())),
                                          version));
    }
    if (contents.truncated_bytes > 0) {
      report_.notes.push_back(
          fmt::format("the journal's last line was cut short ({} bytes) and was dropped", contents.truncated_bytes));
    }
    for (std::size_t k = 1; k < contents.records.size(); ++k) {
      const auto& record = contents.records[k];
      const auto event = record.text("event");
      if (event == "ask") {
        replay_ask(record);
      } else if (event == "tell") {
        replay_tell(record);
      } else if (event == "report") {
        replay_report(record);
      } else {
        record.fail(fmt::format("unknown event '{}'", mahpo::detail::text_excerpt(event)));
      }
      const double elapsed = record.number("elapsed", 0.0);
      if (!(elapsed >= 0.0) || std::isinf(elapsed)) record.fail("\"elapsed\" must be a finite number >= 0");
      earlier_seconds_ = std::max(earlier_seconds_, elapsed);
    }
    if (replaced_ > 0) {
      report_.notes.push_back(
          fmt::format("{} replayed trial(s) differ from what the searcher now proposes (another machine's rounding, or "
                      "changed code); the journal's configs were kept, e.g. {}",
                      replaced_, first_replaced_));
    }
    for (const auto& entry : report_.trials) {
      if (!entry.finished) rerun_.push_back(entry.id);
    }
    report_.rerun = rerun_.size();
    if (!rerun_.empty()) {
      report_.notes.push_back(
          fmt::format("{} trial(s) running at the interruption are evaluated again", rerun_.size()));
    }
    journal_ = JournalWriter(path, contents.valid_bytes, contents.chain);
  }

  // Where two header values differ: the first differing member when both are objects (options,
  // budget, context), else the values themselves.
  static std::tuple<std::string, nlohmann::json, nlohmann::json> difference(const std::string& key,
                                                                            const nlohmann::json& journal,
                                                                            const nlohmann::json& study) {
    if (journal.is_object() && study.is_object()) {
      for (const auto& side : {journal, study}) {
        for (const auto& item : side.items()) {
          const auto a = journal.find(item.key()), b = study.find(item.key());
          const nlohmann::json absent = "(absent)";
          if (a == journal.end() || b == study.end() || *a != *b) {
            return {fmt::format("{}.{}", key, mahpo::detail::text_excerpt(item.key())),
                    a == journal.end() ? absent : *a, b == study.end() ? absent : *b};
          }
        }
      }
    }
    return {key, journal, study};
  }

  static std::string excerpt(const nlohmann::json& value) {
    return value.is_structured() ? mahpo::detail::text_excerpt(record_text(value)) : mahpo::detail::json_excerpt(value);
  }

  void replay_ask(const JournalRecord& record) {
    const std::size_t id = record.count("id");
    if (id != report_.trials.size()) {
      record.fail(fmt::format("asks trial {}, but {} trials were asked before it", id, report_.trials.size()));
    }
    Config<space_type> recorded;
    try {
      recorded = Config<space_type>::from_json(record.at("config"));
    } catch (const ConfigError& error) {
      std::string_view what = error.what();
      if (what.starts_with("mahpo: ")) what.remove_prefix(7);
      record.fail(what);
    }
    const Budget budget = budget_of(record);
    auto trial = searcher_.ask();
    if (trial.id != id) {
      record.fail(fmt::format("{} now asks trial {} for trial {}", T::name, trial.id, id));
    }
    if (!same_budget(trial.budget, budget)) {
      record.fail(fmt::format(
          "the journal gives trial {} a budget of {} epochs / {} iterations / fraction {}, {} now gives {} / {} / {}",
          id, budget.epochs, budget.iterations, budget.fraction, T::name, trial.budget.epochs, trial.budget.iterations,
          trial.budget.fraction));
    }
    if (!(trial.config == recorded)) {
      if (replaced_++ == 0) {
        first_replaced_ =
            fmt::format("trial {}: the journal's {} for {}", id, recorded.to_string(), trial.config.to_string());
      }
      searcher_.replace(id, recorded);
    }
    if (record.json.contains("resume_from") != trial.resume_from.has_value() ||
        (trial.resume_from && record.count("resume_from") != *trial.resume_from)) {
      record.fail(fmt::format("the journal's trial {} continues {}, {} now continues {}", id,
                              record.json.contains("resume_from") ? std::to_string(record.count("resume_from")) : "none",
                              T::name, trial.resume_from ? std::to_string(*trial.resume_from) : "none"));
    }
    trial.config = recorded;
    record_ask(trial);
    report_.trials.back().started = record.number("elapsed", 0.0);
  }

  void replay_report(const JournalRecord& record) {
    const std::size_t id = record.count("id");
    if (id >= report_.trials.size() || report_.trials[id].finished) {
      record.fail(fmt::format("reports for trial {}, which is not running", id));
    }
    const std::size_t step = record.count("step");
    const auto& value = record.at("value");
    const double number = record.number_in(value, "value");
    const auto& prune = record.at("prune");
    if (!prune.is_boolean()) record.fail("\"prune\" must be true or false");
    if (options_.pruner) options_.pruner->report(id, step, number);  // rebuilds its state; the journal's answer stands
    reports_[id].emplace(step, prune.get<bool>());
  }

  static Budget budget_of(const JournalRecord& record) {
    const auto& json = record.at("budget");
    if (!json.is_object() || !json.contains("epochs") || !json.contains("iterations") || !json["epochs"].is_number() ||
        !json["iterations"].is_number_unsigned() ||
        (json.contains("fraction") &&
         !(json["fraction"].is_number() && valid_fraction(json["fraction"].get<double>())))) {
      record.fail(
          fmt::format("\"budget\" must be {{\"epochs\": number, \"iterations\": integer >= 0}} and an optional "
                      "\"fraction\" in (0, 1], got {}",
                      excerpt(json)));
    }
    return Budget{.epochs = json["epochs"].get<double>(),
                  .iterations = json["iterations"].get<std::size_t>(),
                  .fraction = json.value("fraction", 1.0)};
  }

  // Budgets are computed, not sampled: equal up to the last digits a journal's decimal form keeps.
  static bool same_budget(const Budget& a, const Budget& b) {
    const auto close = [](double x, double y) { return std::abs(x - y) <= 1e-12 * std::max(1.0, std::abs(x)); };
    return a.iterations == b.iterations && close(a.epochs, b.epochs) && close(a.fraction, b.fraction);
  }

  void replay_tell(const JournalRecord& record) {
    const std::size_t id = record.count("id");
    if (id >= report_.trials.size() || report_.trials[id].finished) {
      record.fail(fmt::format("tells trial {} without asking it, or twice", id));
    }
    auto& entry = report_.trials[id];
    entry.result = result_from_json(record);
    settle(entry.result);  // the live rule: an ok result without a finite value is a failed one
    entry.finished = entry.replayed = true;
    entry.ended = record.number("elapsed", 0.0);
    entry.worker = record.json.contains("worker") ? record.count("worker") : 0;
    searcher_.tell(id, entry.result);
    after_tell(id, entry.result);
  }

  T& searcher_;
  StudyOptions options_;
  std::unique_ptr<CheckpointStore> states_;
  std::filesystem::path temporary_states_;  // a folder of this study's own, removed at its end
  std::map<std::size_t, std::map<std::size_t, bool>> reports_;  // running trials: step -> the pruner's answer
  StudyReport<space_type> report_;
  JournalWriter journal_;
  std::deque<std::size_t> rerun_;  // ids to evaluate again first
  double earlier_seconds_ = 0.0, epochs_asked_ = 0.0;
  std::size_t replaced_ = 0;    // replayed asks whose journal config the searcher did not propose
  std::string first_replaced_;  // the first of them, for the note
  bool show_progress_ = false;
  clock::time_point start_;
};

}  // namespace mahpo::study
