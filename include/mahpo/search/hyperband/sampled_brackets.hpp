#pragma once
// Random configs run through Hyperband's brackets (hyperband/brackets.hpp): what SuccessiveHalving
// and Hyperband share. They differ only in their cycle of brackets.

#include <cstddef>
#include <limits>
#include <random>
#include <string_view>
#include <utility>

#include <mahpo/objective.hpp>
#include <mahpo/search/history.hpp>
#include <mahpo/search/hyperband/brackets.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/space/fixed_string.hpp>

namespace mahpo::search {

struct HyperbandOptions {
  double min_budget = 1.0 / 9.0;  // epochs of the first rung of the most aggressive bracket
  double max_budget = 1.0;        // epochs of every bracket's last rung
  double eta = 3.0;               // keep 1/eta of a rung, give it eta times the budget; at least 2
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(HyperbandOptions, min_budget, max_budget, eta)

}  // namespace mahpo::search

namespace mahpo::search::hyperband::detail {

// Random configs through brackets: Hyperband cycles every bracket, successive halving repeats the
// most aggressive one.
template <typename S, FixedString Name, Cycle Order>
class RandomBrackets {
 public:
  using space_type = S;
  static constexpr std::string_view name = Name.view();

  explicit RandomBrackets(SearchOptions options = {}, HyperbandOptions brackets = {})
      : options_(options),
        history_(options.goal),
        rng_(options.seed),
        scheduler_(make_shape(name, brackets.min_budget, brackets.max_budget, brackets.eta), Order),
        brackets_(brackets) {}

  Trial<S> ask() {
    const Slot slot = scheduler_.ask(history_.asked());
    Config<S> config = slot.parent ? history_.entries()[*slot.parent].config : S::sample(rng_);
    return history_.add(std::move(config), Budget{.epochs = slot.budget});
  }

  void tell(std::size_t id, const Result& result) {
    const auto& entry = history_.tell(id, result, name);
    scheduler_.tell(id, entry.usable() ? entry.loss : std::numeric_limits<double>::infinity());
  }

  const SearchOptions& options() const { return options_; }
  nlohmann::json options_json() const { return brackets_; }
  // The pending trial `id` was run with `config` (see Searcher::replace).
  void replace(std::size_t id, const Config<S>& config) { history_.replace(id, config, name); }
  const History<S>& history() const { return history_; }
  // The brackets' shape (s_max, sizes, budgets) and the bracket each trial belongs to.
  const Shape& shape() const { return scheduler_.shape(); }
  std::size_t bracket_of(std::size_t id) const { return scheduler_.bracket(id); }

 private:
  SearchOptions options_;
  History<S> history_;
  std::mt19937_64 rng_;
  Scheduler scheduler_;
  HyperbandOptions brackets_;
};

}  // namespace mahpo::search::hyperband::detail
