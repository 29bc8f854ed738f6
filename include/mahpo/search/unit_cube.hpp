#pragma once
// How a model sees a space: each free parameter is one coordinate of [0, 1]^d. The dimensions of a
// space, snapping a point onto the values the space can hold, and the cells of integers and
// categoricals; for searchers that model the unit cube (TPE, GP-BO, BOHB, evolution, ...).

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string_view>

#include <mahpo/space/space.hpp>

namespace mahpo::search {

enum class Kind { continuous, integer, categorical };

struct Dimension {
  std::string_view name;
  Kind kind = Kind::continuous;
  std::size_t count = 0;   // values of an integer or categorical parameter; 0 for a real one
  bool log_scale = false;  // an integer on a log scale: its values are points of log space, not equal cells
};

// The free dimensions of S, in unit-cube order. Integers keep their encoding's order (on a linear
// scale each value owns an equal cell of [0, 1]; on a log scale a value is the point of its log);
// categoricals are unordered cells.
template <typename S>
std::array<Dimension, S::dimension> dimensions() {
  std::array<Dimension, S::dimension> all{};
  S::for_each_parameter([&](auto index, auto type) {
    using P = typename decltype(type)::type;
    if constexpr (!P::is_fixed) {
      auto& d = all[S::free_position(decltype(index)::value)];
      d.name = P::name.view();
      if constexpr (requires { P::count; }) {
        d.kind = Kind::categorical;
        d.count = P::count;
      } else if constexpr (std::same_as<typename P::value_type, std::int64_t>) {
        d.kind = Kind::integer;
        d.count = static_cast<std::size_t>(P::upper - P::lower + 1);
        d.log_scale = P::scale == Scale::log;
      } else {
        d.kind = Kind::continuous;
      }
    }
  });
  return all;
}

// Snaps a unit-cube point onto the values the space can hold (the centre of an integer's or a
// categorical's cell), so equal configs have equal points.
template <typename S>
std::array<double, S::dimension> snap(std::span<const double> point) {
  return S::to_unit_cube(S::from_unit_cube(point));
}

// The index of the equal-width cell of [0, 1] that holds u, of `count` cells (how Int and
// Categorical decode a coordinate).
inline std::size_t unit_cell(double u, std::size_t count) {
  // Truncation is floor here (the product is >= 0), without a call to floor where SSE4.1 is not assumed.
  const auto cell = static_cast<std::size_t>(std::clamp(u, 0.0, 1.0) * static_cast<double>(count));
  return std::min(cell, count - 1);
}

namespace detail {
// A draw of N(mean, sigma) truncated to [0, 1], by rejection (with mean in [0, 1] and sigma <= 1 a
// draw lands inside with probability at least 1/3); after 200 misses, the mean clamped to [0, 1].
inline double truncated_normal_unit(double mean, double sigma, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(mean, sigma);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const double x = normal(rng);
    if (x >= 0.0 && x <= 1.0) return x;
  }
  return std::clamp(mean, 0.0, 1.0);
}
}  // namespace detail

}  // namespace mahpo::search
