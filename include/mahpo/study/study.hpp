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
// The parts: study/coordinator.hpp keeps the searcher, the journal (and its replay on resume), the
// limits and the progress line; study/report.hpp the report and its CSV; this file evaluates trials
// and runs the workers. Concurrency: workers ask and tell under one lock and evaluate outside it, so
// a model-based searcher sees the other workers' trials as pending (History::running()) when it is
// asked; every ask and tell is journaled inside that lock.

#include <cmath>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <mahpo/objective.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/study/coordinator.hpp>
#include <mahpo/study/journal.hpp>
#include <mahpo/study/report.hpp>

namespace mahpo::study {

// Evaluates one trial. An exception from the objective, or an ok result with a non-finite value,
// makes a failed result: one bad trial never ends the study.
template <typename O, typename S>
Result evaluate_trial(const O& objective, const search::Trial<S>& trial, TrialContext& context) {
  Result result;
  try {
    result = invoke_objective(objective, trial.config, trial.budget, context);
    settle(result);
  } catch (const std::exception& error) {
    result = Result{};
    result.status = Status::failed;
    result.message = error.what();
  }
  return result;
}

template <typename O, typename S>
Result evaluate_trial(const O& objective, const search::Trial<S>& trial) {
  TrialContext none;
  return evaluate_trial(objective, trial, none);
}

namespace detail {

// What a trial on a worker thread reports to: the coordinator's pruner and journal (under the
// study's lock) and its store of training states. An error of the coordinator (the journal) stops
// the trial and is kept for the worker to rethrow: the objective must not turn it into a failed trial.
template <typename T>
class ThreadTrialContext final : public TrialContext {
 public:
  ThreadTrialContext(Coordinator<T>& coordinator, std::mutex& lock, std::size_t id, std::optional<std::size_t> from)
      : coordinator_(coordinator), lock_(lock), id_(id), from_(from), keeps_(coordinator.keeps_states()) {}

  bool report(std::size_t step, double value) override {
    if (failure_) return true;
    std::lock_guard guard(lock_);
    try {
      return coordinator_.report(id_, step, value);
    } catch (...) {
      failure_ = std::current_exception();
      return true;
    }
  }
  // Its own last state (a rerun after a crash), else the state of the trial it continues.
  std::string resume_state() override {
    std::string own = coordinator_.states().get(id_);
    if (!own.empty() || !from_) return own;
    return coordinator_.states().get(*from_);
  }
  bool wants_state() const override { return keeps_; }
  void save_state(std::string bytes) override { coordinator_.states().put(id_, std::move(bytes)); }

  std::exception_ptr failure() const { return failure_; }

 private:
  Coordinator<T>& coordinator_;
  std::mutex& lock_;
  std::size_t id_;
  std::optional<std::size_t> from_;
  bool keeps_;
  std::exception_ptr failure_;
};

}  // namespace detail

// The thread executor: `workers` threads (the calling one included) take trials from the
// coordinator under one lock and evaluate them outside it. The first error from the coordinator
// (the journal, the searcher) stops every worker and is rethrown.
template <typename T, typename O>
void run_threads(Coordinator<T>& coordinator, const O& objective, std::size_t workers) {
  using S = typename T::space_type;
  std::mutex lock;
  std::exception_ptr failure;
  const auto work = [&](std::size_t worker) {
    while (true) {
      std::optional<search::Trial<S>> trial;
      {
        std::lock_guard guard(lock);
        if (failure) return;
        try {
          trial = coordinator.next(worker);
        } catch (...) {
          failure = std::current_exception();
          return;
        }
        if (!trial) return;
      }
      detail::ThreadTrialContext<T> context(coordinator, lock, trial->id, trial->resume_from);
      Result result = evaluate_trial(objective, *trial, context);
      std::lock_guard guard(lock);
      if (context.failure()) {
        if (!failure) failure = context.failure();
        return;
      }
      try {
        coordinator.finish(trial->id, std::move(result), worker);
      } catch (...) {
        failure = std::current_exception();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  try {
    for (std::size_t w = 1; w < workers; ++w) threads.emplace_back(work, w);
  } catch (const std::system_error& error) {  // the system refused a thread: stop the ones started
    {
      std::lock_guard guard(lock);
      if (!failure) {
        failure = std::make_exception_ptr(StudyError(
            fmt::format("mahpo: could not start worker {} of {}: {}", threads.size() + 1, workers, error.what())));
      }
    }
    for (auto& thread : threads) thread.join();
    std::rethrow_exception(failure);
  }
  work(0);
  for (auto& thread : threads) thread.join();
  if (failure) std::rethrow_exception(failure);
}

// The objectives an objective made by mahpo::with_objectives declares go into the study's options
// (a different list given there is refused).
template <typename O>
void set_objectives(StudyOptions& options) {
  if constexpr (requires { O::objectives_type::list(); }) {
    const ObjectiveList declared = O::objectives_type::list();
    if (!options.objectives.empty() && options.objectives != declared) {
      throw StudyError("mahpo: StudyOptions::objectives differs from the objectives the objective declares");
    }
    options.objectives = declared;
  }
}

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
  set_objectives<O>(options);
  const std::size_t workers = options.workers;
  Coordinator<T> coordinator(searcher, std::move(options));
  try {
    run_threads(coordinator, objective, workers);
  } catch (...) {
    coordinator.close();  // ends the progress line
    throw;
  }
  return coordinator.close();
}

}  // namespace mahpo::study
