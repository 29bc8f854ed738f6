#pragma once
// A trial context for the tests of objectives that report, stop and continue: it keeps every report
// and the last saved state, hands `resume` to a trial that asks for a state, and stops a trial at
// step `stop_at` (0: never).

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <mahpo/objective.hpp>

namespace mahpo::testing {

struct RecordingContext : TrialContext {
  std::vector<std::pair<std::size_t, double>> reports;
  std::string state, resume;
  std::size_t stop_at = 0;
  bool report(std::size_t step, double value) override {
    reports.emplace_back(step, value);
    return stop_at != 0 && step >= stop_at;
  }
  std::string resume_state() override { return resume; }
  bool wants_state() const override { return true; }
  void save_state(std::string bytes) override { state = std::move(bytes); }
};

}  // namespace mahpo::testing
