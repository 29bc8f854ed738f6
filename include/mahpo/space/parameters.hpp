#pragma once
// Typed hyperparameters: Int, Real (linear or log scale), Categorical and Fixed.
//
// The `Hyperparameter` concept, which every one of them models, asks of a type P:
//   P::name        a FixedString, the parameter's name;
//   P::value_type  what a Config stores for it (std::int64_t, double, bool or std::string);
//   P::is_fixed    true when the parameter takes one value and so spans no search dimension;
//   P::contains(v), P::describe(), P::levels(resolution), P::from_json(json).
// A free parameter (`FreeHyperparameter`) also maps to and from [0, 1]: decode(encode(v)) == v exactly
// for Int and Categorical, and up to rounding for Real.
// Bounds are checked at compile time: lo < hi, and a log scale needs lo > 0.

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <mahpo/space/error.hpp>
#include <mahpo/space/fixed_string.hpp>

namespace mahpo {

enum class Scale { linear, log };

// One value of a Categorical or Fixed parameter, written as a template argument:
// an integer, a real, a boolean or a string literal (at most 63 characters).
struct Choice {
  enum class Kind { integer, real, boolean, string };

  Kind kind = Kind::integer;
  std::int64_t integer = 0;
  double real = 0.0;
  bool boolean = false;
  char text[64]{};

  template <std::integral T>
  requires(!std::same_as<T, bool>) constexpr Choice(T value)
      : kind(Kind::integer), integer(static_cast<std::int64_t>(value)) {}  // NOLINT
  template <std::floating_point T>
  constexpr Choice(T value) : kind(Kind::real), real(static_cast<double>(value)) {}  // NOLINT
  template <std::same_as<bool> T>
  constexpr Choice(T value) : kind(Kind::boolean), boolean(value) {}  // NOLINT
  template <std::size_t N>
  constexpr Choice(const char (&value)[N]) : kind(Kind::string) {  // NOLINT
    static_assert(N <= sizeof(text), "mahpo: a string value has at most 63 characters");
    std::copy_n(value, N, text);
  }

  constexpr std::string_view view() const { return {text}; }
  constexpr bool operator==(const Choice&) const = default;
};

namespace detail {

// Whether the choices share one kind of value: all strings, all booleans, or numbers.
template <Choice... Values>
consteval bool compatible_kinds() {
  constexpr std::array<Choice::Kind, sizeof...(Values)> kinds{Values.kind...};
  const auto group = [](Choice::Kind kind) { return kind == Choice::Kind::real ? Choice::Kind::integer : kind; };
  for (const auto kind : kinds) {
    if (group(kind) != group(kinds[0])) return false;
  }
  return true;
}

// The one value type that holds every choice: a mix of integers and reals is held as real.
template <Choice... Values>
consteval Choice::Kind common_kind() {
  constexpr std::array<Choice::Kind, sizeof...(Values)> kinds{Values.kind...};
  Choice::Kind result = kinds[0];
  for (const auto kind : kinds) {
    if (kind != result) result = Choice::Kind::real;
  }
  return result;
}

template <Choice::Kind K>
using choice_type_t =
    std::conditional_t<K == Choice::Kind::integer, std::int64_t,
                       std::conditional_t<K == Choice::Kind::real, double,
                                          std::conditional_t<K == Choice::Kind::boolean, bool, std::string>>>;

template <typename T>
T choice_value(const Choice& choice) {
  if constexpr (std::same_as<T, std::string>) {
    return std::string(choice.view());
  } else if constexpr (std::same_as<T, bool>) {
    return choice.boolean;
  } else if constexpr (std::same_as<T, double>) {
    return choice.kind == Choice::Kind::integer ? static_cast<double>(choice.integer) : choice.real;
  } else {
    return choice.integer;
  }
}

// A value as messages quote it: strings cut like text_excerpt, so a message never grows with the input.
template <typename T>
std::string format_value(const T& value) {
  if constexpr (std::convertible_to<const T&, std::string_view>) {
    return text_excerpt(value);
  } else {
    return fmt::format("{}", value);
  }
}

inline double uniform_unit(std::uniform_random_bit_generator auto& rng) {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

inline double clamp_unit(double u) { return std::clamp(u, 0.0, 1.0); }

// Refuses a discretization with no position.
inline void check_resolution(std::size_t resolution) {
  if (resolution == 0) throw std::invalid_argument("mahpo: a discretization resolution must be at least 1");
}

// `count` positions spread over [0, 1], both ends included; one position is the middle.
inline std::vector<double> unit_positions(std::size_t count) {
  check_resolution(count);
  if (count == 1) return {0.5};
  std::vector<double> positions(count);
  for (std::size_t i = 0; i < count; ++i) {
    positions[i] = static_cast<double>(i) / static_cast<double>(count - 1);
  }
  return positions;
}

// Reads a JSON value as T, with a message that names the expected and the given type.
template <typename T>
T value_from_json(const nlohmann::json& json) {
  const auto wrong = [&](const char* expected) {
    return ConfigError(fmt::format("expected {}, got {}", expected, json_excerpt(json)));
  };
  if constexpr (std::same_as<T, bool>) {
    if (!json.is_boolean()) throw wrong("a boolean");
    return json.get<bool>();
  } else if constexpr (std::integral<T>) {
    if (!json.is_number_integer()) throw wrong("an integer");
    if (json.is_number_unsigned()) {
      const auto value = json.get<std::uint64_t>();
      if (value > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) throw wrong("an integer in range");
      return static_cast<T>(value);
    }
    const auto value = json.get<std::int64_t>();
    if (value < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        value > static_cast<std::int64_t>(std::numeric_limits<T>::max())) {
      throw wrong("an integer in range");
    }
    return static_cast<T>(value);
  } else if constexpr (std::floating_point<T>) {
    if (!json.is_number()) throw wrong("a number");
    return json.get<T>();
  } else {
    static_assert(std::same_as<T, std::string>, "mahpo: parameter values are numbers, booleans or strings");
    if (!json.is_string()) throw wrong("a string");
    return json.get<std::string>();
  }
}

}  // namespace detail

// An integer in [Lo, Hi], both included.
template <FixedString Name, std::int64_t Lo, std::int64_t Hi, Scale S = Scale::linear>
struct Int {
  static_assert(Lo < Hi, "mahpo::Int: the lower bound must be below the upper bound (use Fixed for one value)");
  static_assert(S == Scale::linear || Lo > 0, "mahpo::Int: a log-scale parameter needs a lower bound above 0");

  using value_type = std::int64_t;
  static constexpr auto name = Name;
  static constexpr bool is_fixed = false;
  static constexpr value_type lower = Lo;
  static constexpr value_type upper = Hi;
  static constexpr Scale scale = S;
  template <FixedString NewName>
  using renamed = Int<NewName, Lo, Hi, S>;

  static bool contains(value_type value) { return Lo <= value && value <= Hi; }

  static std::string describe() {
    return fmt::format("an integer in [{}, {}]{}", Lo, Hi, S == Scale::log ? " (log scale)" : "");
  }

  // Each integer owns an equal share of [0, 1] (in log space for a log scale); encode gives its centre.
  static double encode(value_type value) {
    if constexpr (S == Scale::linear) {
      return (static_cast<double>(value - Lo) + 0.5) / static_cast<double>(Hi - Lo + 1);
    } else {
      return (std::log(static_cast<double>(value)) - log_low()) / (log_high() - log_low());
    }
  }

  static value_type decode(double u) {
    u = detail::clamp_unit(u);
    double value;
    if constexpr (S == Scale::linear) {
      value = static_cast<double>(Lo) + std::floor(u * static_cast<double>(Hi - Lo + 1));
    } else {
      value = std::round(std::exp(log_low() + u * (log_high() - log_low())));
    }
    return std::clamp(static_cast<value_type>(value), Lo, Hi);
  }

  // At most `resolution` values spread over the range (evenly in the scale), ends included.
  static std::vector<value_type> levels(std::size_t resolution) {
    const auto count = static_cast<std::size_t>(Hi - Lo + 1);
    std::vector<value_type> values;
    if (resolution >= count) {
      for (value_type value = Lo; value <= Hi; ++value) values.push_back(value);
      return values;
    }
    for (double t : detail::unit_positions(resolution)) {
      const double at = S == Scale::linear
                            ? static_cast<double>(Lo) + t * static_cast<double>(Hi - Lo)
                            : std::exp(std::log(static_cast<double>(Lo)) +
                                       t * (std::log(static_cast<double>(Hi)) - std::log(static_cast<double>(Lo))));
      values.push_back(std::clamp(static_cast<value_type>(std::llround(at)), Lo, Hi));
    }
    values.erase(std::unique(values.begin(), values.end()), values.end());
    return values;
  }

  static value_type from_json(const nlohmann::json& json) { return detail::value_from_json<value_type>(json); }

 private:
  static double log_low() { return std::log(static_cast<double>(Lo) - 0.5); }
  static double log_high() { return std::log(static_cast<double>(Hi) + 0.5); }
};

// A real number in [Lo, Hi].
template <FixedString Name, double Lo, double Hi, Scale S = Scale::linear>
struct Real {
  static_assert(Lo < Hi, "mahpo::Real: the lower bound must be below the upper bound (use Fixed for one value)");
  static_assert(S == Scale::linear || Lo > 0.0, "mahpo::Real: a log-scale parameter needs a lower bound above 0");

  using value_type = double;
  static constexpr auto name = Name;
  static constexpr bool is_fixed = false;
  static constexpr value_type lower = Lo;
  static constexpr value_type upper = Hi;
  static constexpr Scale scale = S;
  template <FixedString NewName>
  using renamed = Real<NewName, Lo, Hi, S>;

  static bool contains(value_type value) { return Lo <= value && value <= Hi; }  // false for NaN

  static std::string describe() {
    return fmt::format("a real in [{}, {}]{}", Lo, Hi, S == Scale::log ? " (log scale)" : "");
  }

  static double encode(value_type value) {
    if constexpr (S == Scale::linear) {
      return (value - Lo) / (Hi - Lo);
    } else {
      return (std::log(value) - std::log(Lo)) / (std::log(Hi) - std::log(Lo));
    }
  }

  static value_type decode(double u) {
    u = detail::clamp_unit(u);
    if (u == 0.0) return Lo;
    if (u == 1.0) return Hi;
    const double value =
        S == Scale::linear ? Lo + u * (Hi - Lo) : std::exp(std::log(Lo) + u * (std::log(Hi) - std::log(Lo)));
    return std::clamp(value, Lo, Hi);
  }

  static std::vector<value_type> levels(std::size_t resolution) {
    std::vector<value_type> values;
    for (double t : detail::unit_positions(resolution)) values.push_back(decode(t));
    return values;
  }

  static value_type from_json(const nlohmann::json& json) { return detail::value_from_json<value_type>(json); }
};

template <FixedString Name, double Lo, double Hi>
using LogReal = Real<Name, Lo, Hi, Scale::log>;
template <FixedString Name, std::int64_t Lo, std::int64_t Hi>
using LogInt = Int<Name, Lo, Hi, Scale::log>;

namespace detail {
constexpr bool same_choice(const Choice& a, const Choice& b) {
  using Kind = Choice::Kind;
  const auto number = [](const Choice& c) { return c.kind == Kind::integer ? static_cast<double>(c.integer) : c.real; };
  if (a.kind == Kind::string || b.kind == Kind::string) return a.kind == b.kind && a.view() == b.view();
  if (a.kind == Kind::boolean || b.kind == Kind::boolean) return a.kind == b.kind && a.boolean == b.boolean;
  return number(a) == number(b);
}

template <Choice... Values>
consteval bool all_distinct() {
  constexpr std::array<Choice, sizeof...(Values)> all{Values...};
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      if (same_choice(all[i], all[j])) return false;
    }
  }
  return true;
}
}  // namespace detail

// One of a finite list of values: all numbers, all booleans or all strings.
template <FixedString Name, Choice... Values>
struct Categorical {
  static_assert(sizeof...(Values) >= 1, "mahpo::Categorical: give at least one value");
  static_assert(detail::compatible_kinds<Values...>(),
                "mahpo::Categorical: values must be all strings, all booleans or all numbers");
  static_assert(detail::all_distinct<Values...>(), "mahpo::Categorical: values must be distinct");

  using value_type = detail::choice_type_t<detail::common_kind<Values...>()>;
  static constexpr auto name = Name;
  static constexpr bool is_fixed = false;
  static constexpr std::size_t count = sizeof...(Values);
  template <FixedString NewName>
  using renamed = Categorical<NewName, Values...>;

  static const std::array<value_type, count>& values() {
    static const std::array<value_type, count> all{detail::choice_value<value_type>(Values)...};
    return all;
  }

  // The position of a value in the list, or `count` when it is not there.
  static std::size_t index_of(const value_type& value) {
    const auto& all = values();
    return static_cast<std::size_t>(std::find(all.begin(), all.end(), value) - all.begin());
  }

  static bool contains(const value_type& value) { return index_of(value) < count; }

  static std::string describe() {
    std::vector<std::string> shown;
    for (const auto& value : values()) shown.push_back(detail::format_value(value));
    return fmt::format("one of {{{}}}", fmt::join(shown, ", "));
  }

  static double encode(const value_type& value) {
    return (static_cast<double>(index_of(value)) + 0.5) / static_cast<double>(count);
  }

  static value_type decode(double u) {
    const auto index = static_cast<std::size_t>(std::floor(detail::clamp_unit(u) * static_cast<double>(count)));
    return values()[std::min(index, count - 1)];
  }

  // Every value: a categorical dimension is never thinned.
  static std::vector<value_type> levels(std::size_t resolution) {
    detail::check_resolution(resolution);
    return {values().begin(), values().end()};
  }

  static value_type from_json(const nlohmann::json& json) { return detail::value_from_json<value_type>(json); }
};

// A parameter held at one value: part of the configuration, never searched.
template <FixedString Name, Choice Value>
struct Fixed {
  using value_type = detail::choice_type_t<Value.kind>;
  static constexpr auto name = Name;
  static constexpr bool is_fixed = true;
  template <FixedString NewName>
  using renamed = Fixed<NewName, Value>;

  static value_type value() { return detail::choice_value<value_type>(Value); }
  static bool contains(const value_type& candidate) { return candidate == value(); }
  static std::string describe() { return fmt::format("fixed at {}", detail::format_value(value())); }
  static std::vector<value_type> levels(std::size_t resolution) {
    detail::check_resolution(resolution);
    return {value()};
  }
  static value_type from_json(const nlohmann::json& json) { return detail::value_from_json<value_type>(json); }
};

template <typename P>
concept Hyperparameter = requires {
  typename P::value_type;
  requires is_fixed_string<std::remove_cvref_t<decltype(P::name)>>;
  { P::is_fixed } -> std::convertible_to<bool>;
}
&&requires(const typename P::value_type& value, std::size_t resolution, const nlohmann::json& json) {
  { P::contains(value) } -> std::same_as<bool>;
  { P::describe() } -> std::same_as<std::string>;
  { P::levels(resolution) } -> std::same_as<std::vector<typename P::value_type>>;
  { P::from_json(json) } -> std::same_as<typename P::value_type>;
};

template <typename P>
concept FreeHyperparameter =
    Hyperparameter<P> && !P::is_fixed && requires(const typename P::value_type& value, double u) {
  { P::encode(value) } -> std::same_as<double>;
  { P::decode(u) } -> std::same_as<typename P::value_type>;
};

template <typename P>
concept FixedHyperparameter = Hyperparameter<P> && P::is_fixed && requires {
  { P::value() } -> std::same_as<typename P::value_type>;
};

// Draws a value: uniform over the unit cube's share of each value (log-uniform on a log scale).
template <Hyperparameter P>
typename P::value_type sample_parameter(std::uniform_random_bit_generator auto& rng) {
  if constexpr (P::is_fixed) {
    return P::value();
  } else {
    return P::decode(detail::uniform_unit(rng));
  }
}

}  // namespace mahpo
