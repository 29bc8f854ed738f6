#pragma once
// The searcher contract and what every searcher shares.
//
// A searcher proposes trials and learns from their results:
//
//   Trial<S> trial = searcher.ask();        // an id, a config of space S, a budget
//   searcher.tell(trial.id, result);        // mahpo::Result: value, status, intermediate values
//   searcher.replace(trial.id, config);     // a pending trial was (or will be) run with this config
//
// replace() is Optuna's enqueue_trial / add_trial idea: the searcher takes `config` as what it asked
// for that trial (its models, its RL agents' actions and log-probabilities follow), so a study can
// evaluate a config of the user's, or resume a journal written on another machine whose rounding
// made slightly different configs. Its budget stays the searcher's. A searcher may also describe
// its own options as JSON (`options_json()`), which the study journal records.
//
// Rules every searcher in mahpo follows (and `tests/search/test_laws.cpp` checks):
// - ask() never blocks and always returns a trial; trials may be pending (asked, not yet told)
//   in any number, and tells may come in any order. Multi-fidelity searchers open a new bracket
//   when the current one waits for results.
// - tell() refuses, with std::invalid_argument, an id that was never asked or is told twice;
//   replace() refuses an id that was never asked or was already told.
// - Seeded and deterministic: the same seed and the same sequence of asks and tells give the same
//   trials.
// - `goal` says whether the value is maximized (the default: accuracies) or minimized. Inside,
//   searchers minimize a loss: -value or value.
// - Only `ok` and `pruned` results are fitted by models; `failed` and `diverged` trials are kept
//   in the history (they count as trials) but carry no value a model could trust (as in Optuna).

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <mahpo/objective.hpp>
#include <mahpo/space/config.hpp>
#include <mahpo/space/space.hpp>

namespace mahpo::search {

// What every searcher takes besides its own options.
struct SearchOptions {
  std::uint64_t seed = 0;
  Goal goal = Goal::maximize;
  Budget budget{};  // the budget of every trial of a single-fidelity searcher
  // Several objectives (mahpo::Objectives<...>::goals()): one goal each, in declared order; empty:
  // one objective, `goal`. Only searchers that model MultiObjective take more than one.
  std::vector<Goal> goals{};
};

// The goals a searcher optimizes: `goals`, or the one `goal`.
inline std::vector<Goal> goals_of(const SearchOptions& options) {
  return options.goals.empty() ? std::vector<Goal>{options.goal} : options.goals;
}

// What ask() returns: the trial's id, its config and its budget; and, for a trial that continues an
// earlier one's training (a promotion, a PBT step), that trial's id: the study hands the objective
// that trial's saved state (TrialContext::resume_state), and the budget counts from its start.
template <typename S>
struct Trial {
  std::size_t id = 0;
  Config<S> config;
  Budget budget{};
  std::optional<std::size_t> resume_from;
};

// The contract, checked at the study's entry points. What searchers share besides it: the history
// they keep (search/history.hpp) and the unit cube they model (search/unit_cube.hpp).
template <typename T>
concept Searcher = requires(T& searcher, std::size_t id, const Result& result,
                            const Config<typename T::space_type>& config) {
  typename T::space_type;
  { T::name } -> std::convertible_to<std::string_view>;
  { searcher.ask() } -> std::same_as<Trial<typename T::space_type>>;
  searcher.tell(id, result);
  searcher.replace(id, config);
  { searcher.options() } -> std::convertible_to<const SearchOptions&>;
};

// A searcher that searches several objectives at once (its results' Result::values; SearchOptions::goals)
// says so: `static constexpr bool multi_objective = true`. The others refuse several goals.
template <typename T>
concept MultiObjective = requires {
  requires T::multi_objective;
};

// A searcher instantiated on what is not a Space, most often a topology (Tpe<paper_lenet>), would fail
// deep inside its body with a page of errors. Each searcher that takes a space has a specialization for
// such types that derives from this, so the mistake reads as one sentence.
template <typename T>
struct NotASpace {
  static_assert(SearchSpace<T>,
                "mahpo::search: this searcher's first template argument must be a mahpo::Space; for a topology "
                "such as paper_lenet, search its space (Tpe<paper_lenet::space>); Mappo alone takes a topology");
  explicit NotASpace(SearchOptions = {}, auto&&...) {}
};

// A searcher that may continue trials (Trial::resume_from) says whether it does now
// (`continues_trials()`) and which trials' saved training states it will never continue again, since
// it last said (`drop_states()`): a study frees those. For any other searcher a trial's state is
// freed once the trial is told.
template <typename T>
concept ContinuesTrials = requires(T& searcher, const T& constant) {
  { constant.continues_trials() } -> std::convertible_to<bool>;
  { searcher.drop_states() } -> std::convertible_to<std::vector<std::size_t>>;
};

// A searcher's own options as JSON (null for a searcher that does not say them).
template <typename T>
nlohmann::json options_json(const T& searcher) {
  if constexpr (requires {
                  { searcher.options_json() } -> std::convertible_to<nlohmann::json>;
                }) {
    return searcher.options_json();
  } else {
    return nullptr;
  }
}

}  // namespace mahpo::search
