#pragma once
// Random search: every trial is an independent draw from the space's prior (uniform, log-uniform
// on log scale, uniform over a categorical's values). The baseline the others must beat.

#include <random>
#include <string_view>

#include <mahpo/search/history.hpp>
#include <mahpo/search/searcher.hpp>

namespace mahpo::search {

template <typename S>
class Random {
 public:
  using space_type = S;
  static constexpr std::string_view name = "random";
  static constexpr bool multi_objective = true;  // it never looks at the values

  explicit Random(SearchOptions options = {})
      : options_(options), history_(goals_of(options)), rng_(options.seed) {}

  Trial<S> ask() { return history_.add(S::sample(rng_), options_.budget); }
  void tell(std::size_t id, const Result& result) { history_.tell(id, result, name); }
  // The pending trial `id` was run with `config` (see Searcher::replace).
  void replace(std::size_t id, const Config<S>& config) { history_.replace(id, config, name); }

  const SearchOptions& options() const { return options_; }
  const History<S>& history() const { return history_; }

 private:
  SearchOptions options_;
  History<S> history_;
  std::mt19937_64 rng_;
};

// Random of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S>
  requires(!SearchSpace<S>)
class Random<S> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
