#pragma once
// What the report's pages and plots share: the palette, HTML and gnuplot quoting, running a program,
// summary statistics and best-so-far bands, writing a file, a time unit and a config as text.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mahpo/report/study_data.hpp>

extern char** environ;

namespace mahpo::report {

namespace detail {

inline constexpr std::string_view palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

inline std::string html_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A string as a gnuplot string literal (single quotes; a quote doubled).
inline std::string gnuplot_text(std::string_view text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// Runs `program` with `arguments`, its stderr into `log`; its exit status (127: not found).
inline int run_program(const std::string& program, const std::vector<std::string>& arguments,
                       const std::filesystem::path& log) {
  std::vector<std::string> words{program};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t child = 0;
  const int started = posix_spawnp(&child, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (started != 0) return 127;
  int status = 0;
  if (waitpid(child, &status, 0) < 0) return 127;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

struct Stats {
  double mean = 0.0, sd = 0.0;
};
inline Stats stats(const std::vector<double>& values) {
  Stats s;
  for (double v : values) s.mean += v / static_cast<double>(values.size());
  if (values.size() > 1) {
    double squares = 0.0;
    for (double v : values) squares += (v - s.mean) * (v - s.mean);
    s.sd = std::sqrt(squares / static_cast<double>(values.size() - 1));
  }
  return s;
}

// A study's best-so-far curve: (x, best) at each finished ok trial, x its id or its end time.
inline std::vector<std::pair<double, double>> best_so_far(const StudyData& study, bool over_time) {
  auto done = study.finished_ok();
  if (over_time) std::sort(done.begin(), done.end(), [](auto* a, auto* b) { return a->ended < b->ended; });
  std::vector<std::pair<double, double>> curve;
  for (const auto* trial : done) {
    const double best =
        curve.empty() || study.better(trial->value, curve.back().second) ? trial->value : curve.back().second;
    curve.emplace_back(over_time ? trial->ended : static_cast<double>(trial->id + 1), best);
  }
  return curve;
}

// Mean and sd over curves at `points` x values from the first to the last: each curve that has a
// value by then contributes its last one. Lines "x mean sd count".
inline std::string band(const std::vector<std::vector<std::pair<double, double>>>& curves, int points = 200) {
  double first = INFINITY, last = -INFINITY;
  for (const auto& curve : curves) {
    if (curve.empty()) continue;
    first = std::min(first, curve.front().first);
    last = std::max(last, curve.back().first);
  }
  std::string text;
  if (!(last >= first)) return text;
  for (int k = 0; k <= points; ++k) {
    const double x = k == points ? last : first + (last - first) * k / points;  // exactly the last x
    std::vector<double> values;
    for (const auto& curve : curves) {
      const auto after =
          std::upper_bound(curve.begin(), curve.end(), x, [](double t, const auto& point) { return t < point.first; });
      if (after != curve.begin()) values.push_back(std::prev(after)->second);
    }
    if (values.empty()) continue;
    const auto s = stats(values);
    text += fmt::format("{} {} {} {}\n", x, s.mean, s.sd, values.size());
  }
  return text;
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw ReportError(fmt::format("mahpo-report: cannot write {}", path.string()));
}

// Wall-clock seconds in the unit that suits the longest: seconds, minutes or hours.
inline std::pair<double, const char*> time_unit(double longest) {
  if (longest > 7200.0) return {3600.0, "h"};
  if (longest > 120.0) return {60.0, "min"};
  return {1.0, "s"};
}

inline std::string config_text(const nlohmann::json& config) {
  std::string text;
  for (const auto& [name, value] : config.items()) {
    text += fmt::format("{}{}={}", text.empty() ? "" : " ", name,
                        value.is_string() ? value.get<std::string>() : value.dump());
  }
  return text;
}

}  // namespace detail

}  // namespace mahpo::report
