#pragma once
// Studies across the ranks of an MPI job (Open MPI, or any MPI 3 library): the MPI executor of the
// study runner. Every rank calls the same run_study, with the same searcher options, study options
// and its own objective (its own data set in memory):
//
//   mahpo::study::MpiSession mpi(argc, argv);                 // MPI_Init_thread ... MPI_Finalize
//   mahpo::search::Tpe<Space> tpe({.seed = 1});
//   auto report = mahpo::study::run_study(tpe, objective, {.trials = 200, .journal = "tpe.jsonl"},
//                                         mahpo::study::Mpi{});
//   if (report) fmt::print("{}", report->summary());        // on the coordinating rank only
//
// One rank (Mpi::coordinator, rank 0 by default) runs the study's Coordinator: the searcher, the
// journal, the limits, the progress line and the report; it evaluates nothing. Every other rank
// evaluates trials with `StudyOptions::workers` threads (slots), and each slot is sent its next
// trial as soon as its result is in, so a slow trial holds up nobody. Messages are JSON text: a
// trial carries its id, config and budget; a result carries the id and the result as the journal
// writes it (numbers round-trip exactly). The journal is the thread runner's, in the same format, and
// its `worker` is the slot: (rank position) * workers + thread.
//
// Failure: MPI ends the whole job when a rank dies, so the journal (written and fsync'ed by the
// coordinating rank before a result counts) is what keeps the work. Run the same job again with
// resume: finished trials are replayed, the trials that were running are evaluated again first.
// An error on the coordinating rank (a journal that cannot be written, a refused resume) is thrown
// from run_study there after every slot has been told to stop; the other ranks return when they have
// finished the trial they are on. A program that does not want to wait for them ends the job with
// MpiSession::abort. A broken message (another program at the other end) aborts the job.
//
// Threads: a rank with more than one slot calls MPI from several threads at once, which needs
// MPI_THREAD_MULTIPLE (MpiSession asks for it); with one slot per rank, MPI_THREAD_SINGLE is enough.

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <mpi.h>
#include <nlohmann/json.hpp>

#include <mahpo/objective.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/study/checkpoints.hpp>
#include <mahpo/study/coordinator.hpp>
#include <mahpo/study/journal.hpp>
#include <mahpo/study/report.hpp>
#include <mahpo/study/study.hpp>

namespace mahpo::study {

// Where a study runs across MPI ranks: the communicator and the rank that coordinates.
struct Mpi {
  MPI_Comm comm = MPI_COMM_WORLD;
  int coordinator = 0;
};

// MPI_Init_thread on construction (asking for MPI_THREAD_MULTIPLE) and MPI_Finalize on destruction,
// for programs that do not start MPI themselves. abort() ends the whole job (MPI_Abort).
class MpiSession {
 public:
  MpiSession(int& argc, char**& argv, int wanted = MPI_THREAD_MULTIPLE) {
    int started = 0;
    MPI_Initialized(&started);
    if (started) throw StudyError("mahpo: MPI is already initialized; MpiSession starts it once per process");
    MPI_Init_thread(&argc, &argv, wanted, &thread_level_);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  ~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  int rank() const { return rank_; }
  int size() const { return size_; }
  int thread_level() const { return thread_level_; }  // what MPI provides: MPI_THREAD_SINGLE ... MULTIPLE

  [[noreturn]] void abort(int code) const {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::terminate();  // MPI_Abort does not return
  }

 private:
  int rank_ = 0, size_ = 1, thread_level_ = MPI_THREAD_SINGLE;
};

namespace mpi_detail {

// Message tags: results go to the coordinator under result_tag; trials (and the stop) go to a slot
// of a rank under slot_tag(thread), so each thread of a rank receives its own.
inline constexpr int hello_tag = 1;
inline constexpr int result_tag = 2;
inline constexpr int slot_tag(std::size_t thread) { return 16 + static_cast<int>(thread); }

inline void check(int status, std::string_view call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw StudyError(fmt::format("mahpo: {} failed: {}", call, std::string_view(text, static_cast<std::size_t>(length))));
}

inline void send(const nlohmann::json& message, int rank, int tag, MPI_Comm comm) {
  const std::string text = record_text(message);
  check(MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, rank, tag, comm), "MPI_Send");
}

// The next message with `tag` from `rank` (or MPI_ANY_SOURCE), parsed; its source in `from`.
// Matched probe and receive, so threads receiving under other tags never take it.
inline nlohmann::json receive(int rank, int tag, MPI_Comm comm, int* from = nullptr) {
  MPI_Message handle;
  MPI_Status status;
  check(MPI_Mprobe(rank, tag, comm, &handle, &status), "MPI_Mprobe");
  int length = 0;
  check(MPI_Get_count(&status, MPI_CHAR, &length), "MPI_Get_count");
  std::string text(static_cast<std::size_t>(length), '\0');
  check(MPI_Mrecv(text.data(), length, MPI_CHAR, &handle, &status), "MPI_Mrecv");
  if (from) *from = status.MPI_SOURCE;
  const auto where = fmt::format("MPI message from rank {}", status.MPI_SOURCE);
  return detail::parse_record(text, where);
}

inline std::vector<int> evaluating_ranks(const Mpi& mpi, int size) {
  std::vector<int> ranks;
  for (int rank = 0; rank < size; ++rank) {
    if (rank != mpi.coordinator) ranks.push_back(rank);
  }
  return ranks;
}

inline int thread_level() {
  int level = MPI_THREAD_SINGLE;
  MPI_Query_thread(&level);
  return level;
}

// What every rank checks before the study: MPI is running, there is a rank to evaluate, the
// coordinator exists, and several slots per rank have the thread support they need.
inline void check_job(const Mpi& mpi, int size, std::size_t workers) {
  if (size < 2) {
    throw StudyError(
        "mahpo: an MPI study needs at least 2 ranks, one to coordinate and one to evaluate; start it with "
        "mpirun -np N, N >= 2");
  }
  if (mpi.coordinator < 0 || mpi.coordinator >= size) {
    throw StudyError(fmt::format("mahpo: the coordinating rank {} is not in a job of {} ranks", mpi.coordinator, size));
  }
  if (workers > 1 && thread_level() < MPI_THREAD_MULTIPLE) {
    throw StudyError(fmt::format(
        "mahpo: {} workers per rank call MPI from {} threads, which needs MPI_THREAD_MULTIPLE; this MPI provides "
        "level {} (start MPI with MpiSession, or run one worker per rank and more ranks)",
        workers, workers, thread_level()));
  }
}

// What a trial on an evaluating rank reports to: each report goes to the coordinating rank, which
// journals it and answers with the pruner's decision. Training states go to the study's states folder
// (sent with the trial), which every rank must see (one machine, or a shared file system); a rank
// that cannot see a state trains that trial afresh.
class RankTrialContext final : public TrialContext {
 public:
  RankTrialContext(const Mpi& mpi, std::size_t thread, std::size_t id, std::optional<std::size_t> from,
                   const std::string& folder, bool keeps)
      : mpi_(mpi), thread_(thread), id_(id), from_(from), keeps_(keeps && !folder.empty()), store_(folder, 0, true) {}

  bool report(std::size_t step, double value) override {
    send({{"id", id_}, {"thread", thread_}, {"report", {{"step", step}, {"value", number_or_null(value)}}}},
         mpi_.coordinator, result_tag, mpi_.comm);
    const JournalRecord answer{receive(mpi_.coordinator, slot_tag(thread_), mpi_.comm), "pruning answer"};
    const auto& prune = answer.at("prune");
    if (!prune.is_boolean()) answer.fail("\"prune\" must be true or false");
    return prune.get<bool>();
  }
  std::string resume_state() override {
    if (store_.folder().empty()) return {};
    std::string own = store_.get(id_);
    if (!own.empty() || !from_) return own;
    return store_.get(*from_);
  }
  bool wants_state() const override { return keeps_; }
  void save_state(std::string bytes) override {
    if (keeps_) store_.put(id_, std::move(bytes));
  }

 private:
  const Mpi& mpi_;
  std::size_t thread_, id_;
  std::optional<std::size_t> from_;
  bool keeps_;
  CheckpointStore store_;
};

// A rank that evaluates: says hello (its slots and the space), then each of its `workers` threads
// takes trials under its own tag until told to stop. A broken message aborts the job: the
// coordinator would otherwise wait for a result that never comes.
template <typename S, typename O>
void evaluate(const O& objective, std::size_t workers, const Mpi& mpi, int rank) {
  send({{"rank", rank}, {"workers", workers}, {"space", S::describe()}}, mpi.coordinator, hello_tag, mpi.comm);
  const auto slot = [&](std::size_t thread) {
    try {
      while (true) {
        const JournalRecord message{receive(mpi.coordinator, slot_tag(thread), mpi.comm),
                                    fmt::format("trial message to rank {}", rank)};
        if (message.json.contains("stop")) return;
        const std::size_t id = message.count("id");
        search::Trial<S> trial{id, Config<S>::from_json(message.at("config")),
                               Budget{.epochs = message.number("epochs"),
                                      .iterations = message.count("iterations"),
                                      .fraction = message.json.value("fraction", 1.0)}};
        if (message.json.contains("resume_from")) trial.resume_from = message.count("resume_from");
        RankTrialContext context(mpi, thread, id, trial.resume_from, message.json.value("states", std::string()),
                                 message.json.value("keeps_states", false));
        const Result result = evaluate_trial(objective, trial, context);
        send({{"id", id}, {"thread", thread}, {"result", result_to_json(result)}}, mpi.coordinator, result_tag,
             mpi.comm);
      }
    } catch (const std::exception& error) {
      std::fprintf(stderr, "mahpo: rank %d, worker %zu: %s; ending the job\n", rank, thread, error.what());
      std::fflush(stderr);
      MPI_Abort(mpi.comm, 3);
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t thread = 1; thread < workers; ++thread) threads.emplace_back(slot, thread);
  slot(0);
  for (auto& thread : threads) thread.join();
}

// Tells every slot of every evaluating rank to stop (best effort: this runs while an error unwinds).
// An idle slot stops at once, a busy one after its trial.
inline void release(const Mpi& mpi, int size, std::size_t workers) {
  for (int rank : evaluating_ranks(mpi, size)) {
    for (std::size_t thread = 0; thread < workers; ++thread) {
      try {
        send({{"stop", true}}, rank, slot_tag(thread), mpi.comm);
      } catch (...) {
      }
    }
  }
}

// Every evaluating rank's hello: it must run this study's space with as many workers.
template <typename S>
void check_hellos(std::size_t ranks, std::size_t workers, const Mpi& mpi) {
  for (std::size_t k = 0; k < ranks; ++k) {
    int from = 0;
    const JournalRecord hello{receive(MPI_ANY_SOURCE, hello_tag, mpi.comm, &from), "hello message"};
    if (hello.text("space") != S::describe() || hello.count("workers") != workers) {
      throw StudyError(fmt::format(
          "mahpo: rank {} evaluates another study: space {} with {} workers; this study's is {} with {} workers", from,
          mahpo::detail::text_excerpt(hello.text("space")), hello.count("workers"), S::describe(), workers));
    }
  }
}

// The coordinating rank: hands each slot of each evaluating rank a trial, and the slot whose result
// comes in its next one, until the coordinator has no more (a slot without one is told to stop).
template <typename T>
void coordinate(Coordinator<T>& coordinator, std::size_t workers, const Mpi& mpi, int size) {
  using S = typename T::space_type;
  const std::vector<int> ranks = evaluating_ranks(mpi, size);
  check_hellos<S>(ranks.size(), workers, mpi);
  const std::size_t slots = ranks.size() * workers;
  const auto rank_of = [&](std::size_t slot) { return ranks[slot / workers]; };
  std::vector<std::optional<std::size_t>> running(slots);  // the trial each slot evaluates
  std::size_t busy = 0;
  const auto dispatch = [&](std::size_t slot) {
    auto trial = coordinator.next(slot);
    if (!trial) return send({{"stop", true}}, rank_of(slot), slot_tag(slot % workers), mpi.comm);
    running[slot] = trial->id;
    ++busy;
    nlohmann::json message{{"id", trial->id},
                           {"config", trial->config.to_json()},
                           {"epochs", trial->budget.epochs},
                           {"iterations", trial->budget.iterations},
                           {"fraction", trial->budget.fraction},
                           {"states", coordinator.states().folder().string()},
                           {"keeps_states", coordinator.keeps_states()}};
    if (trial->resume_from) message["resume_from"] = *trial->resume_from;
    send(message, rank_of(slot), slot_tag(slot % workers), mpi.comm);
  };
  for (std::size_t slot = 0; slot < slots; ++slot) dispatch(slot);
  while (busy > 0) {
    int from = 0;
    const JournalRecord message{receive(MPI_ANY_SOURCE, result_tag, mpi.comm, &from),
                                fmt::format("result message from rank {}", from)};
    const std::size_t id = message.count("id"), thread = message.count("thread");
    const auto position = static_cast<std::size_t>(std::find(ranks.begin(), ranks.end(), from) - ranks.begin());
    const std::size_t slot = position * workers + thread;
    if (thread >= workers || slot >= slots || running[slot] != id) {
      message.fail(fmt::format("a result for trial {} from worker {}, which was not evaluating it", id, thread));
    }
    if (message.json.contains("report")) {  // a running trial's intermediate value: answer whether to stop
      const JournalRecord report{message.at("report"), message.where};
      const bool prune = coordinator.report(id, report.count("step"), report.number("value"));
      send({{"prune", prune}}, from, slot_tag(thread), mpi.comm);
      continue;
    }
    Result result = result_from_json(JournalRecord{message.at("result"), message.where});
    settle(result);
    running[slot].reset();
    --busy;
    coordinator.finish(id, std::move(result), slot);
    dispatch(slot);
  }
}

}  // namespace mpi_detail

// Runs the study across the ranks of `mpi.comm` (see the top of this file). Returns the report on the
// coordinating rank and nothing on the others. Throws StudyError for bad options, a job of one rank,
// ranks that run another study, or a journal that does not belong to this searcher and space.
template <typename T, typename O>
std::optional<StudyReport<typename T::space_type>> run_study(T& searcher, const O& objective, StudyOptions options,
                                                             const Mpi& mpi) {
  static_assert(search::Searcher<T>, "mahpo::study::run_study: the searcher must model mahpo::search::Searcher");
  using S = typename T::space_type;
  static_assert(Objective<O, S>,
                "mahpo::study::run_study: the objective must be callable as objective(const Config<S>&, const "
                "Budget&) and return a mahpo::Result");
  int running = 0;
  MPI_Initialized(&running);
  if (!running) throw StudyError("mahpo: an MPI study needs MPI started first (MpiSession, or MPI_Init_thread)");
  int rank = 0, size = 0;
  mpi_detail::check(MPI_Comm_rank(mpi.comm, &rank), "MPI_Comm_rank");
  mpi_detail::check(MPI_Comm_size(mpi.comm, &size), "MPI_Comm_size");
  check_options(options);
  set_objectives<O>(options);
  mpi_detail::check_job(mpi, size, options.workers);
  if (rank != mpi.coordinator) {
    mpi_detail::evaluate<S>(objective, options.workers, mpi, rank);
    return std::nullopt;
  }
  const std::size_t workers = options.workers;
  std::optional<Coordinator<T>> coordinator;
  try {
    coordinator.emplace(searcher, std::move(options));
    mpi_detail::coordinate(*coordinator, workers, mpi, size);
  } catch (...) {
    mpi_detail::release(mpi, size, workers);
    if (coordinator) coordinator->close();  // ends the progress line
    throw;
  }
  return coordinator->close();
}

}  // namespace mahpo::study
