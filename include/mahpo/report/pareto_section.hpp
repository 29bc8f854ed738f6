#pragma once
// The report's part for studies of several objectives: pareto.png (every finished trial, the
// infeasible ones as crosses, and each study's Pareto front marked: two objectives in one plot, the
// front joined in order of the first objective; more in one plot per pair, the front's points
// larger) and the fronts listed as HTML tables.

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <mahpo/report/page_tools.hpp>
#include <mahpo/report/study_data.hpp>
#include <mahpo/search/pareto.hpp>

namespace mahpo::report {

// Whether the studies have several objectives, the same ones (the first study's are the axes).
inline bool reports_fronts(const std::vector<StudyData>& studies) {
  if (studies.empty() || !studies.front().objectives.several()) return false;
  return std::all_of(studies.begin(), studies.end(),
                     [&](const StudyData& study) { return study.objectives == studies.front().objectives; });
}

// Writes the studies' points into folder/data and returns the gnuplot commands that draw them into
// the output already set (pareto.png); group_of[s] is study s's colour.
inline std::string pareto_plot(const std::vector<StudyData>& studies, const std::vector<std::size_t>& group_of,
                               const std::filesystem::path& folder) {
  using detail::gnuplot_text;
  const auto& objectives = studies.front().objectives;
  const std::size_t m = objectives.names.size();
  std::vector<std::string> feasible_files, infeasible_files, front_files;
  for (std::size_t s = 0; s < studies.size(); ++s) {
    std::string feasible, infeasible, front;
    const auto row = [&](const TrialData& trial) { return fmt::format("{}\n", fmt::join(trial.values, " ")); };
    for (const auto* trial : studies[s].finished_ok()) {
      if (trial->values.size() != m) continue;
      (search::pareto::violation(trial->constraints) > 0.0 ? infeasible : feasible) += row(*trial);
    }
    auto on_front = studies[s].pareto_front();
    std::sort(on_front.begin(), on_front.end(),
              [](const auto* a, const auto* b) { return a->values.front() < b->values.front(); });
    for (const auto* trial : on_front) front += row(*trial);
    const auto write = [&](const std::string& kind, const std::string& text, std::vector<std::string>& names) {
      const auto path = folder / "data" / fmt::format("pareto-{}-{}.dat", kind, s);
      detail::write_file(path, text.empty() ? std::string("# none\n") : text);
      names.push_back(path.string());
    };
    write("trials", feasible, feasible_files);
    write("infeasible", infeasible, infeasible_files);
    write("front", front, front_files);
  }
  const auto axis = [&](std::size_t k) {
    return gnuplot_text(fmt::format("{} ({})", objectives.names[k], to_string(objectives.goals[k])));
  };
  const auto pair_plot = [&](std::size_t i, std::size_t j, bool key) {
    std::string plots;
    for (std::size_t s = 0; s < studies.size(); ++s) {
      const std::string colour(detail::palette[group_of[s] % std::size(detail::palette)]);
      plots += fmt::format(
          "{}{} using {}:{} with points pt 7 ps 0.4 lc rgb '{}' notitle, "
          "{} using {}:{} with points pt 2 ps 0.6 lc rgb '#999999' notitle, "
          "{} using {}:{} with {} pt 7 ps 1.0 lw 1.5 lc rgb '{}' {}",
          plots.empty() ? "" : ", ", gnuplot_text(feasible_files[s]), i + 1, j + 1, colour,
          gnuplot_text(infeasible_files[s]), i + 1, j + 1, gnuplot_text(front_files[s]), i + 1, j + 1,
          m == 2 ? "linespoints" : "points", colour,
          key ? "title " + gnuplot_text(fmt::format("{}: front", studies[s].name)) : std::string("notitle"));
    }
    return fmt::format("set xlabel {}\nset ylabel {}\nplot {}\n", axis(i), axis(j), plots);
  };
  std::string script;
  if (m == 2) {
    script += fmt::format("set title {}\n", gnuplot_text("Pareto fronts: every trial (crosses: infeasible) and "
                                                         "each study's front"));
    script += pair_plot(0, 1, true);
    return script + "unset title\n";
  }
  const std::size_t pairs = m * (m - 1) / 2, columns = std::min<std::size_t>(pairs, 3);
  script += fmt::format("set key inside top right\nset multiplot layout {},{} title {}\n",
                        (pairs + columns - 1) / columns, columns,
                        gnuplot_text("Pareto fronts, objectives by pairs (crosses: infeasible)"));
  bool first = true;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = i + 1; j < m; ++j) {
      script += pair_plot(i, j, first);
      first = false;
    }
  }
  return script + "unset multiplot\n";
}

// Each study's front as an HTML table: trial, objective values, constraint values, config.
inline std::string pareto_html(const std::vector<StudyData>& studies) {
  using detail::html_escape;
  const auto& objectives = studies.front().objectives;
  std::string html = "<h2>Pareto fronts</h2>\n<p>The finished trials that satisfy every constraint (value &lt;= 0) "
                     "and that no other such trial dominates, in order of the first objective.</p>\n";
  for (const auto& study : studies) {
    auto front = study.pareto_front();
    std::sort(front.begin(), front.end(),
              [](const auto* a, const auto* b) { return a->values.front() < b->values.front(); });
    html += fmt::format("<h3>{}: {} trial(s)</h3>\n<table>\n<tr><th>trial</th>", html_escape(study.name), front.size());
    for (std::size_t k = 0; k < objectives.names.size(); ++k)
      html += fmt::format("<th>{} ({})</th>", html_escape(objectives.names[k]), to_string(objectives.goals[k]));
    for (const auto& name : objectives.constraints) html += fmt::format("<th>{} (constraint)</th>", html_escape(name));
    html += "<th>config</th></tr>\n";
    for (const auto* trial : front) {
      html += fmt::format("<tr><td>{}</td>", trial->id);
      for (const double value : trial->values) html += fmt::format("<td>{:.6g}</td>", value);
      for (const double value : trial->constraints) html += fmt::format("<td>{:.4g}</td>", value);
      html += fmt::format("<td><code>{}</code></td></tr>\n", html_escape(detail::config_text(trial->config)));
    }
    html += "</table>\n";
  }
  return html;
}

}  // namespace mahpo::report
