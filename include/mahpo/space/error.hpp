#pragma once
// The error a bad configuration raises (an unknown name, a wrong type, a value out of range), and
// the short excerpt of an untrusted JSON value or string that its messages quote: a message never
// grows with the input (a 10 MB string, a value nested 200,000 deep).

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mahpo {

class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {

inline constexpr std::size_t excerpt_characters = 60;

// A string as the user wrote it, cut after excerpt_characters with its length said.
inline std::string text_excerpt(std::string_view text) {
  if (text.size() <= excerpt_characters) return std::string(text);
  return fmt::format("{}... ({} characters)", text.substr(0, excerpt_characters), text.size());
}

// A JSON value in a few words: scalars as JSON (strings cut), containers by size only, so nothing
// recurses into a value of unbounded depth.
inline std::string json_excerpt(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      return value.empty() ? "{}" : fmt::format("an object of {} member(s)", value.size());
    case nlohmann::json::value_t::array:
      return value.empty() ? "[]" : fmt::format("an array of {} element(s)", value.size());
    case nlohmann::json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      const std::string quoted = nlohmann::json(text.substr(0, excerpt_characters))
                                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return text.size() <= excerpt_characters ? quoted : fmt::format("{}... ({} characters)", quoted, text.size());
    }
    default:
      return value.dump();
  }
}

}  // namespace detail
}  // namespace mahpo
