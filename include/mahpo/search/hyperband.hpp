#pragma once
// Hyperband (Li et al., "Hyperband: A Novel Bandit-Based Approach to Hyperparameter
// Optimization", JMLR 2018, Algorithm 1): successive halving over brackets that trade the number of
// configs against their starting budget, cycled forever.
//
// Budgets are epochs (Budget{.epochs = b}); SearchOptions::budget is ignored. With R = max_budget,
// s_max = floor(log_eta(R / min_budget)), bracket s = s_max, ..., 0 starts n = ceil((s_max + 1) /
// (s + 1) · eta^s) new configs at r = R·eta^-s; rung i holds floor(n·eta^-i) configs at r·eta^i.
// Defaults: min_budget 1/9, max_budget 1, eta 3 (brackets of 9, 5 and 3 configs).
//
// Choices the paper leaves open:
// - A promoted config is asked again as a new trial (new id, same config, bigger budget), as in
//   HpBandSter; the objective trains it from scratch (or resumes, if it can).
// - ask() never blocks: when every open bracket waits for results, the next bracket of the cycle
//   opens (HpBandSter's parallel iterations). Trials come from the oldest bracket that has one.
// - A rung promotes once all its trials are told: the best floor(n_i / eta) by loss; failed and
//   diverged trials (and non-finite values) count as the worst, pruned ones by their value; ties
//   keep the order the trials were asked in.
// - The smallest budget is R·eta^-s_max, which is min_budget when R / min_budget is a power of eta
//   and up to eta times more otherwise (as in HpBandSter).

#include <cstddef>
#include <limits>
#include <random>
#include <string_view>

#include <mahpo/objective.hpp>
#include <mahpo/search/detail/brackets.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/space/fixed_string.hpp>

namespace mahpo::search {

struct HyperbandOptions {
  double min_budget = 1.0 / 9.0;  // epochs of the first rung of the most aggressive bracket
  double max_budget = 1.0;        // epochs of every bracket's last rung
  double eta = 3.0;               // keep 1/eta of a rung, give it eta times the budget; at least 2
};

namespace detail {
// Random configs run through brackets: Hyperband (every bracket, cycled) and successive halving
// (the most aggressive bracket, repeated) differ only in their cycle.
template <typename S, FixedString Name, HbCycle Cycle>
class RandomBrackets {
 public:
  using space_type = S;
  static constexpr std::string_view name = Name.view();

  explicit RandomBrackets(SearchOptions options = {}, HyperbandOptions brackets = {})
      : options_(options),
        history_(options.goal),
        rng_(options.seed),
        scheduler_(detail::hb_shape(name, brackets.min_budget, brackets.max_budget, brackets.eta), Cycle) {}

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
  // The brackets' shape (s_max, sizes, budgets) and the bracket each trial belongs to.
  const detail::HbShape& shape() const { return scheduler_.shape(); }
  std::size_t bracket_of(std::size_t id) const { return scheduler_.bracket(id); }

 private:
  SearchOptions options_;
  History<S> history_;
  std::mt19937_64 rng_;
  detail::HbScheduler scheduler_;
};
}  // namespace detail

template <typename S>
class Hyperband : public detail::RandomBrackets<S, "hyperband", detail::HbCycle::all_brackets> {
 public:
  using detail::RandomBrackets<S, "hyperband", detail::HbCycle::all_brackets>::RandomBrackets;
};

}  // namespace mahpo::search
