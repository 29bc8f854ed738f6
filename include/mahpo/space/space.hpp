#pragma once
// Space<Params...>: a search space as a type.
//
// A space knows its parameters' names at compile time (`contains<"name">`, `index_of<"name">`),
// its dimension (the free parameters), how to sample a config, how to map a config to and from the
// unit cube [0, 1]^dimension, and how to cut itself into a Discretization (a grid, or the action
// sets of RL agents). Names must be distinct: a repeat stops the build.
// `Prefixed<"conv1", S>` renames every parameter of S to "conv1.<name>"; `Concat<S1, S2, ...>`
// joins spaces into one (and so rejects a qualified name that appears twice).

#include <array>
#include <cstddef>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <mahpo/space/config.hpp>
#include <mahpo/space/discretization.hpp>
#include <mahpo/space/fixed_string.hpp>
#include <mahpo/space/parameters.hpp>

namespace mahpo {

namespace hana = boost::hana;

namespace detail {
template <std::size_t N>
constexpr bool distinct_names(const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t j = i + 1; j < N; ++j) {
      if (names[i] == names[j]) return false;
    }
  }
  return true;
}
}  // namespace detail

template <typename... Params>
struct Space {
  static_assert((Hyperparameter<Params> && ...),
                "mahpo::Space: every argument must be a parameter (Int, Real, Categorical, Fixed, or a type "
                "that models mahpo::Hyperparameter)");

  static constexpr std::size_t size = sizeof...(Params);
  static constexpr std::size_t dimension = (std::size_t{!Params::is_fixed} + ... + 0);
  static constexpr auto parameters = hana::tuple_t<Params...>;
  static constexpr std::array<std::string_view, size> names{Params::name.view()...};

  static_assert(detail::distinct_names(names), "mahpo::Space: two parameters share a name");

  using values_type = hana::tuple<typename Params::value_type...>;
  using levels_type = hana::tuple<std::vector<typename Params::value_type>...>;
  using config_type = Config<Space>;

  static constexpr std::size_t find(std::string_view name) {
    for (std::size_t i = 0; i < size; ++i) {
      if (names[i] == name) return i;
    }
    return size;
  }
  static constexpr bool has_name(std::string_view name) { return find(name) < size; }

  template <FixedString Name>
  static constexpr bool contains = find(Name.view()) < size;
  template <FixedString Name>
  static constexpr std::size_t index_of = find(Name.view());
  template <FixedString Name>
  using parameter = typename decltype(+hana::at_c<index_of<Name>>(parameters))::type;

  // The unit-cube coordinate of the parameter at `index` (only meaningful for a free one).
  static constexpr std::size_t free_position(std::size_t index) {
    constexpr std::array<bool, size + 1> fixed{Params::is_fixed..., false};
    std::size_t position = 0;
    for (std::size_t i = 0; i < index; ++i) position += fixed[i] ? 0 : 1;
    return position;
  }

  // Calls f(index, type) for each parameter: index a hana::size_c, type a hana::type_c.
  template <typename F>
  static constexpr void for_each_parameter(F&& f) {
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<size>),
                   [&](auto index) { f(index, hana::at(parameters, index)); });
  }

  static values_type centre_values() { return values_type{centre_value<Params>()...}; }

  static config_type centre() { return config_type{}; }

  static config_type sample(std::uniform_random_bit_generator auto& rng) {
    // Braced init evaluates in order, so a seed gives the same config on every compiler.
    return config_type(values_type{sample_parameter<Params>(rng)...});
  }

  static std::array<double, dimension> to_unit_cube(const config_type& config) {
    std::array<double, dimension> point{};
    for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      if constexpr (!P::is_fixed) {
        point[free_position(decltype(index)::value)] = P::encode(hana::at(config.values(), index));
      }
    });
    return point;
  }

  // Maps a point of [0, 1]^dimension to a config (coordinates outside are clamped).
  static config_type from_unit_cube(std::span<const double> point) {
    if (point.size() != dimension) {
      throw std::invalid_argument(
          fmt::format("mahpo: a point of this space's unit cube has {} coordinates, got {}", dimension, point.size()));
    }
    values_type values = centre_values();
    for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      if constexpr (!P::is_fixed) hana::at(values, index) = P::decode(point[free_position(decltype(index)::value)]);
    });
    return config_type(std::move(values));
  }

  static Discretization<Space> discretize(const std::array<std::size_t, dimension>& resolution) {
    return Discretization<Space>(resolution);
  }
  static Discretization<Space> discretize(std::size_t resolution) {
    std::array<std::size_t, dimension> each{};
    each.fill(resolution);
    return Discretization<Space>(each);
  }

  // Every grid point at `resolution` values per dimension (see Discretization for the rules).
  static std::vector<config_type> grid(std::size_t resolution) { return discretize(resolution).grid(); }

  // One line per parameter: "name: description".
  static std::string describe() {
    std::string text;
    for_each_parameter([&](auto, auto type) {
      using P = typename decltype(type)::type;
      text += fmt::format("{}: {}\n", P::name.view(), P::describe());
    });
    return text;
  }

 private:
  template <typename P>
  static typename P::value_type centre_value() {
    if constexpr (P::is_fixed) {
      return P::value();
    } else {
      return P::decode(0.5);
    }
  }
};

template <typename T>
inline constexpr bool is_space = false;
template <typename... Params>
inline constexpr bool is_space<Space<Params...>> = true;

template <typename S>
concept SearchSpace = is_space<S>;

namespace detail {
template <FixedString Prefix, typename S>
struct prefixed;
template <FixedString Prefix, typename... Params>
struct prefixed<Prefix, Space<Params...>> {
  using type = Space<typename Params::template renamed<join<Prefix, ".", Params::name>()>...>;
};

template <typename... Spaces>
struct concat;
template <>
struct concat<> {
  using type = Space<>;
};
template <typename... Params>
struct concat<Space<Params...>> {
  using type = Space<Params...>;
};
template <typename... A, typename... B, typename... Rest>
struct concat<Space<A...>, Space<B...>, Rest...> {
  using type = typename concat<Space<A..., B...>, Rest...>::type;
};
}  // namespace detail

// Every parameter of S renamed "Prefix.name".
template <FixedString Prefix, typename S>
using Prefixed = typename detail::prefixed<Prefix, S>::type;

// The parameters of all the spaces, in order, in one space.
template <typename... Spaces>
using Concat = typename detail::concat<Spaces...>::type;

}  // namespace mahpo
