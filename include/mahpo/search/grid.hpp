#pragma once
// Grid search: the Cartesian product of `resolution` levels per free dimension (every value of an
// integer or categorical with fewer values; log-spaced on log scale), visited in a seeded random
// order so that a study stopped early has spread its trials over the whole grid. Past the last
// point the grid starts again (a second pass repeats configs: give as many trials as points).

#include <algorithm>
#include <array>
#include <cstddef>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <mahpo/search/history.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/space/discretization.hpp>

namespace mahpo::search {

struct GridOptions {
  std::size_t resolution = 5;  // levels per free dimension (integers and categoricals: at most their count)
  bool shuffle = true;         // visit the points in a seeded random order; false: lexicographic
};

template <typename S>
class Grid {
 public:
  using space_type = S;
  static constexpr std::string_view name = "grid";

  explicit Grid(SearchOptions options = {}, GridOptions grid = {})
      : Grid(options, filled(grid.resolution), grid.shuffle) {}

  // A resolution per free dimension.
  Grid(SearchOptions options, const std::array<std::size_t, S::dimension>& resolution, bool shuffle = true)
      : options_(options),
        history_(options.goal),
        discretization_(resolution),
        order_(checked_size(discretization_)),
        settings_{{"resolution", resolution}, {"shuffle", shuffle}} {
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    if (shuffle) {
      std::mt19937_64 rng(options.seed);
      std::shuffle(order_.begin(), order_.end(), rng);
    }
  }

  Trial<S> ask() {
    const std::size_t point = order_[history_.asked() % order_.size()];
    return history_.add(discretization_.at(point), options_.budget);
  }
  void tell(std::size_t id, const Result& result) { history_.tell(id, result, name); }
  // The pending trial `id` was run with `config` (see Searcher::replace).
  void replace(std::size_t id, const Config<S>& config) { history_.replace(id, config, name); }

  std::size_t size() const { return order_.size(); }
  const SearchOptions& options() const { return options_; }
  nlohmann::json options_json() const { return settings_; }
  const History<S>& history() const { return history_; }

 private:
  static std::size_t checked_size(const Discretization<S>& discretization) {
    constexpr std::size_t limit = 10'000'000;
    const std::size_t size = discretization.size();
    if (size > limit) {
      throw std::length_error(
          fmt::format("mahpo::grid: the grid has {} points, more than {}; lower the resolution", size, limit));
    }
    return size;
  }

  static std::array<std::size_t, S::dimension> filled(std::size_t resolution) {
    std::array<std::size_t, S::dimension> all{};
    all.fill(resolution);
    return all;
  }

  SearchOptions options_;
  History<S> history_;
  Discretization<S> discretization_;
  std::vector<std::size_t> order_;
  nlohmann::json settings_;  // the resolution and the order, for the journal
};

// Grid of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S>
  requires(!SearchSpace<S>)
class Grid<S> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
