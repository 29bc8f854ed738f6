#pragma once
// Config<Space>: one value per parameter of a space, read by name at compile time.
//
// `config.get<"name">()` returns the parameter's own value type; a name the space lacks stops the
// build with "mahpo::Config::get: this space has no parameter of that name". Every constructor
// checks its values against the space, so a Config in hand is always inside its space.

#include <algorithm>
#include <cstddef>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/hana/at.hpp>
#include <boost/hana/equal.hpp>
#include <boost/hana/tuple.hpp>
#include <nlohmann/json.hpp>

#include <mahpo/space/error.hpp>
#include <mahpo/space/fixed_string.hpp>
#include <mahpo/space/parameters.hpp>

namespace mahpo {

namespace hana = boost::hana;

template <typename S>
class Config {
 public:
  using space_type = S;
  using values_type = typename S::values_type;

  // The centre of the space: each free parameter decoded at 0.5, each fixed one at its value.
  Config() : values_(S::centre_values()) {}

  // Takes one value per parameter, in the space's order; throws ConfigError when one is outside.
  explicit Config(values_type values) : values_(std::move(values)) {
    std::vector<std::string> problems;
    S::for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      const auto& value = hana::at(values_, index);
      if (!P::contains(value)) problems.push_back(out_of_range_message<P>(value));
    });
    if (!problems.empty()) throw ConfigError(fmt::format("mahpo: bad config: {}", fmt::join(problems, "; ")));
  }

  template <FixedString Name>
  decltype(auto) get() const {
    static_assert(S::template contains<Name>,
                  "mahpo::Config::get: this space has no parameter of that name (see Name = "
                  "... in the lines above)");
    if constexpr (S::template contains<Name>) {
      return (hana::at_c<S::template index_of<Name>>(values_));
    }
  }

  // Sets one value; throws ConfigError when it is outside the parameter's range.
  template <FixedString Name, typename V>
  Config& set(V&& value) {
    static_assert(S::template contains<Name>,
                  "mahpo::Config::set: this space has no parameter of that name (see Name = "
                  "... in the lines above)");
    if constexpr (S::template contains<Name>) {
      using P = typename S::template parameter<Name>;
      typename P::value_type converted(std::forward<V>(value));
      if (!P::contains(converted)) throw ConfigError(fmt::format("mahpo: {}", out_of_range_message<P>(converted)));
      hana::at_c<S::template index_of<Name>>(values_) = std::move(converted);
    }
    return *this;
  }

  const values_type& values() const { return values_; }

  friend bool operator==(const Config& a, const Config& b) { return a.values_ == b.values_; }

  // "name=value name=value ...", in the space's order.
  std::string to_string() const {
    std::vector<std::string> parts;
    S::for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      parts.push_back(fmt::format("{}={}", P::name.view(), detail::format_value(hana::at(values_, index))));
    });
    return fmt::format("{}", fmt::join(parts, " "));
  }

  friend std::ostream& operator<<(std::ostream& out, const Config& config) { return out << config.to_string(); }

  nlohmann::json to_json() const {
    nlohmann::json json = nlohmann::json::object();
    S::for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      json[std::string(P::name.view())] = hana::at(values_, index);
    });
    return json;
  }

  // Reads a JSON object {name: value}. Unknown names, missing free parameters, wrong types and
  // values out of range are all reported, together, in one ConfigError. A fixed parameter may be
  // left out; if given, it must hold its value.
  static Config from_json(const nlohmann::json& json) {
    if (!json.is_object()) {
      throw ConfigError(fmt::format("mahpo: a config must be a JSON object, got {}", detail::json_excerpt(json)));
    }
    std::vector<std::string> problems;
    std::size_t unlisted = 0;  // unknown names past the first few: counted, not formatted
    for (const auto& item : json.items()) {
      if (!S::has_name(item.key()) && problems.size() >= shown_problems) {
        ++unlisted;
      } else if (!S::has_name(item.key())) {
        problems.push_back(fmt::format("unknown parameter '{}' (the space has: {})", detail::text_excerpt(item.key()),
                                       fmt::join(S::names, ", ")));
      }
    }
    values_type values = S::centre_values();
    S::for_each_parameter([&](auto index, auto type) {
      using P = typename decltype(type)::type;
      const std::string name(P::name.view());
      const auto found = json.find(name);
      if (found == json.end()) {
        if (!P::is_fixed) problems.push_back(fmt::format("missing parameter '{}' ({})", name, P::describe()));
        return;
      }
      try {
        auto value = P::from_json(*found);
        if (!P::contains(value)) {
          problems.push_back(out_of_range_message<P>(value));
          return;
        }
        hana::at(values, index) = std::move(value);
      } catch (const ConfigError& error) {
        problems.push_back(fmt::format("parameter '{}': {}", name, error.what()));
      }
    });
    if (!problems.empty()) throw ConfigError(fmt::format("mahpo: bad config: {}", summary(problems, unlisted)));
    return Config(std::move(values));
  }

 private:
  // The first few problems, and how many more: a JSON object with a million unknown names makes a
  // message of a few lines.
  static constexpr std::size_t shown_problems = 5;
  static std::string summary(const std::vector<std::string>& problems, std::size_t unlisted) {
    const std::size_t shown = std::min(problems.size(), shown_problems);
    const std::size_t more = problems.size() - shown + unlisted;
    const std::string listed =
        fmt::format("{}", fmt::join(problems.begin(), problems.begin() + static_cast<std::ptrdiff_t>(shown), "; "));
    return more == 0 ? listed : fmt::format("{}; and {} more", listed, more);
  }

  template <typename P>
  static std::string out_of_range_message(const typename P::value_type& value) {
    return fmt::format("parameter '{}': {} is not {}", P::name.view(), detail::format_value(value), P::describe());
  }

  values_type values_;
};

// nlohmann::json hooks, so `nlohmann::json json = config;` and `json.get<Config<S>>()` work.
template <typename S>
void to_json(nlohmann::json& json, const Config<S>& config) {
  json = config.to_json();
}
template <typename S>
void from_json(const nlohmann::json& json, Config<S>& config) {
  config = Config<S>::from_json(json);
}

}  // namespace mahpo
