#pragma once
// The progress line a study prints on stderr: trials finished, the best value, time spent, and an
// ETA (trial limit) or the time left (time limit).

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace mahpo::study {

// 42s, 3m07s, 2h05m.
inline std::string format_duration(double seconds) {
  const auto total = static_cast<long long>(seconds + 0.5);
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

struct ProgressState {
  std::string_view searcher;
  std::size_t finished = 0;
  std::size_t trial_limit = 0;  // 0: none
  double seconds_limit = 0.0;   // 0: none
  double elapsed = 0.0;
  const double* best = nullptr;  // the best value so far, if any
};

// The line, without the leading carriage return.
inline std::string progress_line(const ProgressState& state) {
  std::string eta;
  if (state.trial_limit > 0 && state.finished > 0) {
    const auto left = static_cast<double>(state.trial_limit - std::min(state.trial_limit, state.finished));
    eta = fmt::format(" | ETA {}", format_duration(state.elapsed / static_cast<double>(state.finished) * left));
  } else if (state.seconds_limit > 0.0) {
    eta = fmt::format(" | {} left", format_duration(std::max(0.0, state.seconds_limit - state.elapsed)));
  }
  return fmt::format("mahpo {}: trial {}/{} | best {} | {} elapsed{}   ", state.searcher, state.finished,
                     state.trial_limit > 0 ? std::to_string(state.trial_limit) : std::string("?"),
                     state.best ? fmt::format("{:.5g}", *state.best) : std::string("-"), format_duration(state.elapsed),
                     eta);
}

}  // namespace mahpo::study
