#pragma once
// A study report a person wants to look at: a folder with PNG plots drawn by gnuplot and an
// index.html that shows them beside the best trials (examples/mahpo_report.cpp is the command;
// search_lenet --report writes one at the end of a study).
//
//   auto studies = {mahpo::report::load_journal("tpe-seed0.jsonl"), ...};
//   mahpo::report::write_report(studies, "report/");   // report/index.html, report/*.png
//
// Studies of the same searcher (seeds) are drawn as one colour: their best-so-far curves as a mean
// with a band of +- 1 sd. The plots (Optuna's most used ones):
//   history.png, history_time.png  every trial's value and the best so far, over trials and over
//                                  wall-clock time
//   parallel-G.png                 parallel coordinates of searcher G's configs, coloured by value
//   slice-P.png                    value against parameter P (a log axis for a log parameter)
//   fidelity.png                   multi-fidelity studies: value against budget, with each trial's
//                                  intermediate values
//   importance.png                 PED-ANOVA importances (report/importance.hpp)
//   pareto.png                     several objectives: every trial and each study's Pareto front
//                                  (report/pareto_section.hpp), whose trials the page also lists
// gnuplot (Debian gnuplot-nox) must be on PATH; the data and the script it ran stay in the folder
// (data/, plots.gp), so a plot can be redrawn or restyled by hand.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
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

#include <mahpo/report/importance.hpp>
#include <mahpo/report/page_tools.hpp>
#include <mahpo/report/pareto_section.hpp>
#include <mahpo/report/schedule.hpp>
#include <mahpo/report/study_data.hpp>
#include <mahpo/version.hpp>

namespace mahpo::report {

struct ReportOptions {
  std::string title = "mahpo study report";
  std::size_t top = 10;             // best trials listed per study
  double gamma = 0.1;               // PED-ANOVA's top share
  std::string gnuplot = "gnuplot";  // the program (found on PATH)
};

// What write_report wrote.
struct ReportFiles {
  std::filesystem::path index;
  std::vector<std::filesystem::path> images;
};

// Writes the report of `studies` into `folder` (created; files there of the same names are
// replaced). Throws ReportError when there is nothing to report or gnuplot fails.
inline ReportFiles write_report(const std::vector<StudyData>& studies, const std::filesystem::path& folder,
                                const ReportOptions& options = {}) {
  namespace fs = std::filesystem;
  using detail::gnuplot_text;
  if (studies.empty()) throw ReportError("mahpo-report: no study to report");
  fs::create_directories(folder / "data");

  // Searchers in order of first appearance; a colour each.
  std::vector<std::string> groups;
  std::vector<std::size_t> group_of;
  for (const auto& study : studies) {
    auto found = std::find(groups.begin(), groups.end(), study.searcher);
    if (found == groups.end()) found = groups.insert(groups.end(), study.searcher);
    group_of.push_back(static_cast<std::size_t>(found - groups.begin()));
  }
  const auto color = [&](std::size_t group) {
    return std::string(detail::palette[group % std::size(detail::palette)]);
  };
  const auto& parameters = studies.front().parameters;  // the first study's space names the axes
  const bool maximize = studies.front().goal == Goal::maximize;

  ReportFiles files;
  // noenhanced: names such as conv_size are printed as they are, not with subscripts.
  std::string script =
      "set terminal pngcairo noenhanced size 1000,560 font \",10\"\nset grid\nset key outside right top\n";
  const auto image = [&](const std::string& name) {
    files.images.push_back(folder / name);
    script += fmt::format("set output {}\n", gnuplot_text((folder / name).string()));
  };

  // 1. History over trials and over time: every trial (points) and the best so far (mean +- sd).
  double longest = 0.0;
  for (const auto& study : studies) {
    for (const auto& trial : study.trials) longest = std::max(longest, trial.ended);
  }
  const auto [seconds_per_unit, unit] = detail::time_unit(longest);
  // The value axis leaves out the worst tenth of the trials, so that a few bad ones do not flatten
  // the rest (their points are off the plot; the best-so-far curves are not).
  std::vector<double> values;
  for (const auto& study : studies) {
    for (const auto* trial : study.finished_ok()) values.push_back(trial->value);
  }
  std::string range = "*:*";  // the value axis and, in parallel coordinates, the colours
  if (values.size() >= 10) {
    std::sort(values.begin(), values.end());
    const double best = maximize ? values.back() : values.front();
    const double cut = values[maximize ? values.size() / 10 : values.size() - 1 - values.size() / 10];
    const double margin = 0.05 * std::abs(best - cut) + 1e-12;
    range = maximize ? fmt::format("{}:{}", cut - margin, best + margin)
                     : fmt::format("{}:{}", best - margin, cut + margin);
  }
  const std::string value_range = fmt::format("set yrange [{}]\n", range);
  for (const bool over_time : {false, true}) {
    std::string plots;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      std::string points;
      std::vector<std::vector<std::pair<double, double>>> curves;
      for (std::size_t s = 0; s < studies.size(); ++s) {
        if (group_of[s] != g) continue;
        for (const auto* trial : studies[s].finished_ok()) {
          const double x = over_time ? trial->ended / seconds_per_unit : static_cast<double>(trial->id) + 1.0;
          points += fmt::format("{} {}\n", x, trial->value);
        }
        auto curve = detail::best_so_far(studies[s], over_time);
        if (over_time) {
          for (auto& point : curve) point.first /= seconds_per_unit;
        }
        curves.push_back(std::move(curve));
      }
      const auto stem = folder / "data" / fmt::format("history-{}-{}", over_time ? "time" : "trials", g);
      detail::write_file(fs::path(stem).concat("-points.dat"), points);
      detail::write_file(fs::path(stem).concat("-band.dat"), detail::band(curves));
      const auto name = gnuplot_text(groups[g]);
      plots += fmt::format(
          "{}{} using 1:2 with points pt 7 ps 0.35 lc rgb '{}' notitle, "
          "{} using 1:($2-$3):($2+$3) with filledcurves fs transparent solid 0.2 noborder lc rgb '{}' notitle, "
          "{} using 1:2 with lines lw 2 lc rgb '{}' title {}",
          plots.empty() ? "" : ", ", gnuplot_text(fs::path(stem).concat("-points.dat").string()), color(g),
          gnuplot_text(fs::path(stem).concat("-band.dat").string()), color(g),
          gnuplot_text(fs::path(stem).concat("-band.dat").string()), color(g), name);
    }
    image(over_time ? "history_time.png" : "history.png");
    script += value_range;
    script += fmt::format(
        "set title {}\nset xlabel {}\nset ylabel 'value ({})'\nplot {}\nunset title\nset yrange [*:*]\n",
        gnuplot_text(fmt::format("Every trial and the best so far{} (the worst tenth of trials off the axis)",
                                 groups.size() < studies.size() ? " (mean +- sd over studies)" : "")),
        gnuplot_text(over_time ? fmt::format("wall-clock time ({})", unit) : std::string("trial")),
        maximize ? "maximized" : "minimized", plots);
  }

  // 2. Parallel coordinates, one plot per searcher: the value first, then every parameter in [0, 1].
  for (std::size_t g = 0; g < groups.size() && !parameters.empty(); ++g) {
    std::string rows;
    for (std::size_t s = 0; s < studies.size(); ++s) {
      if (group_of[s] != g) continue;
      for (const auto* trial : studies[s].finished_ok()) {
        rows += fmt::format("{}", trial->value);
        for (const auto& info : parameters) rows += fmt::format(" {}", unit_value(info, trial->config));
        rows += '\n';
      }
    }
    const auto data = folder / "data" / fmt::format("parallel-{}.dat", g);
    detail::write_file(data, rows);
    std::string tics = "'value' 1";
    for (std::size_t p = 0; p < parameters.size(); ++p) {
      tics += fmt::format(", {} {}", gnuplot_text(parameters[p].name), p + 2);
    }
    std::string axes = fmt::format("{} using 1:1 lw 1 lc palette", gnuplot_text(data.string()));
    for (std::size_t p = 0; p < parameters.size(); ++p) axes += fmt::format(", '' using {}", p + 2);
    image(fmt::format("parallel-{}.png", g));
    script += fmt::format(
        "set title {}\nset style data parallelaxes\nset xtics ({}) rotate by -30\nset palette defined (0 '#3060c0', "
        "1 '#f0e040', 2 '#d02020')\nset cbrange [{}]\nset paxis 1 range [{}]\nunset xlabel\nset ylabel 'value, then "
        "parameters in [0, 1] (log scale in log space)'\nunset key\nplot {}\nset xtics norotate autofreq\nset style "
        "data lines\nset key outside right top\nset cbrange [*:*]\nunset title\n",
        gnuplot_text(fmt::format("Parallel coordinates: {} (colour: value; the worst tenth at the end of the scale)",
                                 groups[g])),
        tics, range, range, axes);
  }

  // 3. One slice per parameter: value against the parameter, a colour per searcher.
  for (std::size_t p = 0; p < parameters.size(); ++p) {
    const auto& info = parameters[p];
    std::string plots;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      std::string points;
      for (std::size_t s = 0; s < studies.size(); ++s) {
        if (group_of[s] != g) continue;
        for (const auto* trial : studies[s].finished_ok()) {
          const auto found = trial->config.find(info.name);
          if (found == trial->config.end()) continue;
          const double x = info.kind == ParameterInfo::Kind::categorical
                               ? std::floor(unit_value(info, trial->config) * static_cast<double>(info.values.size()))
                               : found->get<double>();
          points += fmt::format("{} {}\n", x, trial->value);
        }
      }
      const auto data = folder / "data" / fmt::format("slice-{}-{}.dat", p, g);
      detail::write_file(data, points);
      plots += fmt::format("{}{} using 1:2 with points pt 7 ps 0.6 lc rgb '{}' title {}", plots.empty() ? "" : ", ",
                           gnuplot_text(data.string()), color(g), gnuplot_text(groups[g]));
    }
    std::string axis = info.log ? "set logscale x\n" : "unset logscale x\n";
    if (info.kind == ParameterInfo::Kind::categorical) {
      std::string tics;
      for (std::size_t v = 0; v < info.values.size(); ++v) {
        tics += fmt::format("{}{} {}", tics.empty() ? "" : ", ", gnuplot_text(info.values[v]), v);
      }
      axis +=
          fmt::format("set xtics ({})\nset xrange [-0.5:{}]\n", tics, static_cast<double>(info.values.size()) - 0.5);
    }
    image(fmt::format("slice-{}.png", p));
    script += fmt::format(
        "{}set title {}\nset xlabel {}\nset ylabel 'value'\nplot {}\nunset logscale x\nset xtics autofreq\n"
        "set xrange [*:*]\nunset title\n",
        axis, gnuplot_text(fmt::format("Slice: value against {}", info.name)),
        gnuplot_text(info.name + (info.log ? " (log scale)" : "")), plots);
  }

  // 4. Multi-fidelity: value against budget, each trial's intermediate values as a thin line.
  if (std::any_of(studies.begin(), studies.end(), [](const auto& study) { return study.multi_fidelity(); })) {
    std::string plots;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      std::string points, lines;
      for (std::size_t s = 0; s < studies.size(); ++s) {
        if (group_of[s] != g) continue;
        for (const auto* trial : studies[s].finished_ok()) {
          points += fmt::format("{} {}\n", trial->epochs, trial->value);
          const auto n = trial->intermediate.size();
          if (n < 2) continue;
          for (std::size_t k = 0; k < n; ++k) {
            lines += fmt::format("{} {}\n", trial->epochs * static_cast<double>(k + 1) / static_cast<double>(n),
                                 trial->intermediate[k]);
          }
          lines += '\n';
        }
      }
      const auto points_file = folder / "data" / fmt::format("fidelity-{}-points.dat", g);
      const auto lines_file = folder / "data" / fmt::format("fidelity-{}-lines.dat", g);
      detail::write_file(points_file, points);
      detail::write_file(lines_file, lines);
      if (!lines.empty()) {
        plots += fmt::format("{}{} using 1:2 with lines lw 0.5 lc rgb '{}' notitle", plots.empty() ? "" : ", ",
                             gnuplot_text(lines_file.string()), color(g));
      }
      plots += fmt::format("{}{} using 1:2 with points pt 7 ps 0.6 lc rgb '{}' title {}", plots.empty() ? "" : ", ",
                           gnuplot_text(points_file.string()), color(g), gnuplot_text(groups[g]));
    }
    image("fidelity.png");
    script += fmt::format(
        "set title 'Value against budget (lines: intermediate values)'\nset xlabel 'budget (epochs)'\nset ylabel "
        "'value'\nplot {}\nunset title\n",
        plots);
  }

  // 5. PED-ANOVA importances, averaged over each searcher's studies.
  std::vector<std::map<std::string, double>> importances(groups.size());
  bool any_importance = false;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::size_t counted = 0;
    for (std::size_t s = 0; s < studies.size(); ++s) {
      if (group_of[s] != g) continue;
      const auto found = ped_anova(studies[s], options.gamma);
      if (found.empty()) continue;
      ++counted;
      for (const auto& importance : found) importances[g][importance.parameter] += importance.value;
    }
    for (auto& [name, value] : importances[g]) value /= static_cast<double>(std::max<std::size_t>(1, counted));
    any_importance = any_importance || counted > 0;
  }
  if (any_importance && !parameters.empty()) {
    std::string rows;  // no header line: the titles are given in the plot command
    for (const auto& info : parameters) {
      rows += '"' + info.name + '"';
      for (std::size_t g = 0; g < groups.size(); ++g) {
        const auto found = importances[g].find(info.name);
        rows += fmt::format(" {}", found == importances[g].end() ? 0.0 : found->second);
      }
      rows += '\n';
    }
    const auto data = folder / "data" / "importance.dat";
    detail::write_file(data, rows);
    std::string plots;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      plots += fmt::format("{}{} using {}{} lc rgb '{}' title {}", plots.empty() ? "" : ", ",
                           g == 0 ? gnuplot_text(data.string()) : std::string("''"), g + 2, g == 0 ? ":xtic(1)" : "",
                           color(g), gnuplot_text(groups[g]));
    }
    image("importance.png");
    script += fmt::format(
        "set title {}\nset style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 "
        "border -1\nset xtics rotate by -30\nunset xlabel\nset ylabel 'share of the importance'\nset yrange [0:*]\n"
        "plot {}\nset style data lines\nset xtics norotate\nset yrange [*:*]\nunset title\n",
        gnuplot_text(fmt::format("Parameter importances (PED-ANOVA, top {:g} % against all)", 100.0 * options.gamma)),
        plots);
  }

  // 7. Schedules: the best trial's lineage, in studies whose trials continued others' (PBT).
  std::vector<std::vector<ScheduleStep>> schedules(studies.size());
  for (std::size_t s = 0; s < studies.size(); ++s) {
    const auto* best = studies[s].best();
    if (best == nullptr || !has_schedules(studies[s])) continue;
    schedules[s] = lineage(studies[s], best->id);
    const auto data = folder / "data" / fmt::format("schedule-{}.dat", s);
    detail::write_file(data, schedule_data(studies[s], schedules[s]));
    image(fmt::format("schedule-{}.png", s));
    script += schedule_plot(studies[s], schedules[s], data);
  }

  // Several objectives: the fronts.
  if (reports_fronts(studies)) {
    if (studies.front().objectives.names.size() > 2)  // a plot per pair of objectives
      script += "set terminal pngcairo noenhanced size 1200,800 font \",10\"\n";
    image("pareto.png");
    script += pareto_plot(studies, group_of, folder);
  }

  // Draw.
  const auto script_path = folder / "plots.gp", log_path = folder / "gnuplot.log";
  detail::write_file(script_path, script);
  const int status = detail::run_program(options.gnuplot, {script_path.string()}, log_path);
  if (status == 127) {
    throw ReportError(fmt::format(
        "mahpo-report: cannot run {} (Debian package gnuplot-nox; scripts/setup.sh installs it)", options.gnuplot));
  }
  if (status != 0) {
    throw ReportError(fmt::format("mahpo-report: gnuplot exited {} drawing {}; its messages are in {}", status,
                                  script_path.string(), log_path.string()));
  }

  // The page.
  using detail::html_escape;
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{0}</title>\n<style>\n"
      "body {{ font-family: sans-serif; margin: 2em; color: #222; }}\n"
      "table {{ border-collapse: collapse; margin: 1em 0; font-size: 90%; }}\n"
      "th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}\n"
      "th {{ background: #f2f2f2; }}\nimg {{ max-width: 100%; display: block; margin: 1em 0; }}\n"
      "code {{ font-size: 90%; }}\n</style>\n</head>\n<body>\n<h1>{0}</h1>\n"
      "<p>{1} stud{2} by mahpo {3}; the value is {4}.</p>\n",
      html_escape(options.title), studies.size(), studies.size() == 1 ? "y" : "ies", version,
      maximize ? "maximized" : "minimized");
  html +=
      "<h2>Studies</h2>\n<table>\n<tr><th>study</th><th>searcher</th><th>trials</th><th>ok</th><th>best value</th>"
      "<th>best trial</th><th>its config</th></tr>\n";
  for (const auto& study : studies) {
    const auto* best = study.best();
    html += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>\n",
        html_escape(study.name), html_escape(study.searcher), study.trials.size(), study.finished_ok().size(),
        best ? fmt::format("{:.6g}", best->value) : "—", best ? std::to_string(best->id) : "—",
        best ? html_escape(detail::config_text(best->config)) : "");
  }
  html += "</table>\n<h2>Plots</h2>\n";
  for (const auto& path : files.images) {
    const auto name = path.filename().string();
    html += fmt::format("<img src=\"{0}\" alt=\"{0}\">\n", html_escape(name));
  }
  if (any_importance) {
    html +=
        "<h2>Parameter importances</h2>\n<p>PED-ANOVA (Watanabe, Bansal and Hutter, IJCAI 2023): how far "
        "the best trials' marginal distribution of a parameter is from all trials', as a share of the sum.</p>\n"
        "<table>\n<tr><th>parameter</th>";
    for (const auto& group : groups) html += fmt::format("<th>{}</th>", html_escape(group));
    html += "</tr>\n";
    for (const auto& info : parameters) {
      html += fmt::format("<tr><td>{}</td>", html_escape(info.name));
      for (std::size_t g = 0; g < groups.size(); ++g) {
        const auto found = importances[g].find(info.name);
        html += fmt::format("<td>{:.3f}</td>", found == importances[g].end() ? 0.0 : found->second);
      }
      html += "</tr>\n";
    }
    html += "</table>\n";
  }
  if (reports_fronts(studies)) html += pareto_html(studies);
  html += fmt::format("<h2>Best trials</h2>\n");
  for (const auto& study : studies) {
    auto done = study.finished_ok();
    std::sort(done.begin(), done.end(), [&](auto* a, auto* b) { return study.better(a->value, b->value); });
    html += fmt::format(
        "<h3>{}</h3>\n<table>\n<tr><th>trial</th><th>value</th><th>budget (epochs)</th><th>seconds</th>"
        "<th>config</th></tr>\n",
        html_escape(study.name));
    for (std::size_t k = 0; k < std::min(options.top, done.size()); ++k) {
      const auto* trial = done[k];
      html += fmt::format("<tr><td>{}</td><td>{:.6g}</td><td>{:g}</td><td>{:.1f}</td><td><code>{}</code></td></tr>\n",
                          trial->id, trial->value, trial->epochs, trial->ended - trial->started,
                          html_escape(detail::config_text(trial->config)));
    }
    html += "</table>\n";
  }
  for (std::size_t s = 0; s < studies.size(); ++s) {
    if (schedules[s].empty()) continue;
    html += fmt::format(
        "<h2>Schedule of the best trial: {}</h2>\n<p>The trials whose training it continued, first first.</p>\n"
        "<table>\n<tr><th>trial</th><th>epochs</th><th>value</th><th>config</th></tr>\n",
        html_escape(studies[s].name));
    for (const auto& step : schedules[s]) {
      html += fmt::format("<tr><td>{}</td><td>{:g} to {:g}</td><td>{:.6g}</td><td><code>{}</code></td></tr>\n", step.id,
                          step.from_epochs, step.to_epochs, step.value, html_escape(detail::config_text(step.config)));
    }
    html += "</table>\n";
  }
  // Marks the page once every picture has loaded (the tests read it from the rendered page).
  html +=
      "<script>\nwindow.addEventListener('load', () => {\n"
      "  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0);\n"
      "  document.body.dataset.images = broken.length ? 'broken: ' + broken.map(i => i.alt).join(' ') : 'ok';\n"
      "});\n</script>\n</body>\n</html>\n";
  files.index = folder / "index.html";
  detail::write_file(files.index, html);
  return files;
}

}  // namespace mahpo::report
