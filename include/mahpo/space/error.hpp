#pragma once
// The error a bad configuration raises: an unknown name, a wrong type, a value out of range.

#include <stdexcept>

namespace mahpo {

class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace mahpo
