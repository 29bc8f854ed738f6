#pragma once
// What an objective gets and gives back: a budget in, a result out.
//
// An objective is a callable (const Config&, Budget) -> Result. Its value is what a searcher
// maximizes (for a LeNet, the validation accuracy); its status says whether the value means
// anything. A diverged or failed trial never carries a NaN: its value is 0.

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mahpo {

enum class Status { ok, failed, diverged, pruned };

inline const char* to_string(Status status) {
  switch (status) {
    case Status::ok: return "ok";
    case Status::failed: return "failed";
    case Status::diverged: return "diverged";
    case Status::pruned: return "pruned";
  }
  return "unknown";
}

// How much training a trial gets: `iterations` when non-zero, else `epochs` (may be fractional).
struct Budget {
  double epochs = 1.0;
  std::size_t iterations = 0;
};

struct Result {
  double value = 0.0;
  Status status = Status::ok;
  std::vector<double> intermediate;  // e.g. validation accuracy after each history point
  nlohmann::json metrics = nlohmann::json::object();
  std::string message;
};

}  // namespace mahpo
