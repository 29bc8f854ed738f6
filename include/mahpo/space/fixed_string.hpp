#pragma once
// A string usable as a template argument: parameter names are part of a space's type.

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace mahpo {

template <std::size_t N>
struct FixedString {
  char chars[N]{};  // the characters and a terminating zero; public, so the type is structural

  constexpr FixedString() = default;
  constexpr FixedString(const char (&text)[N]) { std::copy_n(text, N, chars); }  // NOLINT: implicit on purpose

  static constexpr std::size_t length = N - 1;
  constexpr std::string_view view() const { return {chars, N - 1}; }
  constexpr operator std::string_view() const { return view(); }

  template <std::size_t M>
  constexpr bool operator==(const FixedString<M>& other) const {
    return view() == other.view();
  }
};

template <typename T>
inline constexpr bool is_fixed_string = false;
template <std::size_t N>
inline constexpr bool is_fixed_string<FixedString<N>> = true;

// join<A, B, ...>() is the concatenation, itself a FixedString usable as a template argument.
template <FixedString... Parts>
constexpr auto join() {
  constexpr std::size_t total = (Parts.length + ... + 0);
  FixedString<total + 1> result;
  [[maybe_unused]] std::size_t at = 0;  // unused when there are no parts
  ((std::copy_n(Parts.chars, Parts.length, result.chars + at), at += Parts.length), ...);
  return result;
}

}  // namespace mahpo
