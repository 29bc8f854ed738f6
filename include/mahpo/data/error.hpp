#pragma once
// The error a data file or data set raises; its message names the file and the problem.

#include <stdexcept>

namespace mahpo::data {

class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mahpo::data
