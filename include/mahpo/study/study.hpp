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
Result evaluate_trial(const O& objective, const search::Trial<S>& trial) {
  Result result;
  try {
    result = objective(trial.config, trial.budget);
    settle(result);
  } catch (const std::exception& error) {
    result = Result{};
    result.status = Status::failed;
    result.message = error.what();
  }
  return result;
}

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
      Result result = evaluate_trial(objective, *trial);
      std::lock_guard guard(lock);
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
