#pragma once
// Successive halving (Jamieson & Talwalkar, "Non-stochastic Best Arm Identification and
// Hyperparameter Optimization", AISTATS 2016; in the bracket form of Li et al., JMLR 2018): n new
// configs at the smallest budget, the best 1/eta of them go on with eta times the budget, and so
// on up to max_budget; then a new bracket of the same shape starts, forever.
//
// Budgets are epochs (Budget{.epochs = b}); SearchOptions::budget is ignored. The one bracket is
// Hyperband's most aggressive one: s_max = floor(log_eta(max_budget / min_budget)),
// n = ceil(eta^s_max) configs at max_budget·eta^-s_max, rung i holding floor(n·eta^-i) configs.
// Defaults: min_budget 1/9, max_budget 1, eta 3 (rungs of 9, 3 and 1 configs at 1/9, 1/3, 1 epoch).
//
// Choices left open by the papers (the same as mahpo's Hyperband): a promoted config is asked again
// as a new trial (new id, same config, bigger budget), as in HpBandSter; ask() never blocks: while
// every open bracket waits for results, a new bracket opens; a rung promotes once all its trials
// are told, failed and diverged trials counting as the worst, ties in the order they were asked.

#include <cstddef>
#include <limits>
#include <random>
#include <string_view>

#include <mahpo/objective.hpp>
#include <mahpo/search/detail/brackets.hpp>
#include <mahpo/search/searcher.hpp>

namespace mahpo::search {

struct SuccessiveHalvingOptions {
  double min_budget = 1.0 / 9.0;  // epochs of the first rung
  double max_budget = 1.0;        // epochs of the last rung
  double eta = 3.0;               // keep 1/eta of a rung, give it eta times the budget; at least 2
};

template <typename S>
class SuccessiveHalving {
 public:
  using space_type = S;
  static constexpr std::string_view name = "successive_halving";

  explicit SuccessiveHalving(SearchOptions options = {}, SuccessiveHalvingOptions halving = {})
      : options_(options),
        history_(options.goal),
        rng_(options.seed),
        scheduler_(detail::hb_shape(name, halving.min_budget, halving.max_budget, halving.eta),
                   detail::HbCycle::most_aggressive) {}

  Trial<S> ask() {
    const detail::HbSlot slot = scheduler_.ask(history_.asked());
    Config<S> config = slot.parent ? history_.entries()[*slot.parent].config : S::sample(rng_);
    return history_.add(std::move(config), Budget{.epochs = slot.budget});
  }

  void tell(std::size_t id, const Result& result) {
    const auto& entry = history_.tell(id, result, name);
    scheduler_.tell(id, entry.usable() ? entry.loss : std::numeric_limits<double>::infinity());
  }

  const SearchOptions& options() const { return options_; }
  const History<S>& history() const { return history_; }
  // The bracket's shape (s_max, sizes, budgets) and the bracket each trial belongs to.
  const detail::HbShape& shape() const { return scheduler_.shape(); }
  std::size_t bracket_of(std::size_t id) const { return scheduler_.bracket(id); }

 private:
  SearchOptions options_;
  History<S> history_;
  std::mt19937_64 rng_;
  detail::HbScheduler scheduler_;
};

}  // namespace mahpo::search
