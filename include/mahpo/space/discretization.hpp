#pragma once
// Discretization<Space>: each dimension cut into a finite list of values.
//
// It serves two users: grid search enumerates the Cartesian product of the lists, and an RL agent
// picks one index per free dimension (its action) and reads the config with `at(indices)`.
// An Int keeps every integer when the resolution allows, else `resolution` values spread evenly
// in its scale (ends included, repeats dropped); a Real gets `resolution` values (one: the
// middle); a Categorical keeps all its values; a Fixed parameter keeps its one value.

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <boost/hana/at.hpp>
#include <boost/hana/tuple.hpp>

#include <mahpo/space/config.hpp>

namespace mahpo {

template <typename S>
class Discretization {
 public:
  using space_type = S;
  using levels_type = typename S::levels_type;
  static constexpr std::size_t dimension = S::dimension;

  // `resolution[k]` is the most values the k-th free dimension may take (at least 1).
  explicit Discretization(const std::array<std::size_t, dimension>& resolution) {
    S::for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      const std::size_t wanted = P::is_fixed ? 1 : resolution[S::free_position(decltype(index)::value)];
      if (wanted == 0) {
        throw std::invalid_argument(fmt::format("mahpo: the resolution of '{}' must be at least 1", P::name.view()));
      }
      hana::at(levels_, index) = P::levels(wanted);
    });
  }

  // The values one parameter takes, by name.
  template <FixedString Name>
  const auto& levels() const {
    static_assert(S::template contains<Name>,
                  "mahpo::Discretization::levels: this space has no parameter of that name");
    return hana::at_c<S::template index_of<Name>>(levels_);
  }

  // How many values (actions) each free dimension has, in the space's order.
  std::array<std::size_t, dimension> counts() const {
    std::array<std::size_t, dimension> counts{};
    S::for_each_parameter([&](auto index, auto type) {
      if constexpr (!decltype(type)::type::is_fixed) {
        counts[S::free_position(decltype(index)::value)] = hana::at(levels_, index).size();
      }
    });
    return counts;
  }

  // The number of grid points; throws std::overflow_error when it does not fit in size_t.
  std::size_t size() const {
    std::size_t total = 1;
    for (std::size_t count : counts()) {
      if (total > std::numeric_limits<std::size_t>::max() / count) {
        throw std::overflow_error("mahpo: the grid has more points than size_t can count");
      }
      total *= count;
    }
    return total;
  }

  // The config at one index per free dimension; throws std::out_of_range on a bad index.
  Config<S> at(std::span<const std::size_t> indices) const {
    if (indices.size() != dimension) {
      throw std::invalid_argument(
          fmt::format("mahpo: Discretization::at takes {} indices, got {}", dimension, indices.size()));
    }
    typename S::values_type values = S::centre_values();
    S::for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      const auto& levels = hana::at(levels_, index);
      const std::size_t pick = P::is_fixed ? 0 : indices[S::free_position(decltype(index)::value)];
      if (pick >= levels.size()) {
        throw std::out_of_range(
            fmt::format("mahpo: index {} for '{}', which has {} values", pick, P::name.view(), levels.size()));
      }
      hana::at(values, index) = levels[pick];
    });
    return Config<S>(std::move(values));
  }

  // The indices of the values nearest to `config`'s, one per free dimension (nearest in the unit
  // cube, so in the parameter's own scale): at(nearest(c)) == c for a config on the grid.
  std::array<std::size_t, dimension> nearest(const Config<S>& config) const {
    std::array<std::size_t, dimension> indices{};
    S::for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      if constexpr (!P::is_fixed) {
        const auto& levels = hana::at(levels_, index);
        const double target = P::encode(hana::at(config.values(), index));
        std::size_t best = 0;
        for (std::size_t k = 1; k < levels.size(); ++k) {
          if (std::abs(P::encode(levels[k]) - target) < std::abs(P::encode(levels[best]) - target)) best = k;
        }
        indices[S::free_position(decltype(index)::value)] = best;
      }
    });
    return indices;
  }

  // The point-th grid point, the last free dimension varying fastest.
  Config<S> at(std::size_t point) const {
    const auto counts = this->counts();
    std::array<std::size_t, dimension> indices{};
    for (std::size_t k = dimension; k-- > 0;) {
      indices[k] = point % counts[k];
      point /= counts[k];
    }
    if (point != 0) throw std::out_of_range("mahpo: grid point index past the end of the grid");
    return at(std::span<const std::size_t>(indices));
  }

  // Every grid point; throws std::length_error when there are more than `max_points`.
  std::vector<Config<S>> grid(std::size_t max_points = 10'000'000) const {
    const std::size_t total = size();
    if (total > max_points) {
      throw std::length_error(fmt::format(
          "mahpo: the grid has {} points, more than the limit of {}; lower the resolution", total, max_points));
    }
    std::vector<Config<S>> points;
    points.reserve(total);
    for (std::size_t point = 0; point < total; ++point) points.push_back(at(point));
    return points;
  }

 private:
  levels_type levels_;
};

}  // namespace mahpo
