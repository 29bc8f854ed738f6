// libFuzzer target: resuming a study from a hostile journal, then running a few trials.
//
// The input: its first byte picks the searcher (random search, Hyperband or TPE: bits 0-1), the trial
// limit (bits 2-5) and whether the harness writes a valid study header first (bit 7 clear) or the
// input brings its own; the rest is journal lines. Each line that parses as a JSON object is signed
// with journal_line (its "crc" member, if any, replaced), so the fuzzer gets past the checksums to
// the replay; other lines are written as they are (parse errors); a line starting with '!' is
// written as it is without the '!' (checksums of the fuzzer's own); text after the last newline
// stays a cut-off last line.
//
// Expected failures: StudyError and ConfigError. Anything else (a crash, a sanitizer report, another
// exception) is a finding, and so is a resume that lies: once a resumed study has run, resuming its
// journal again must evaluate nothing and give the same trials.
// MAHPO_FUZZ_VERBOSE=1 prints what each input did (for checking seeds and findings).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <sys/mman.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "memory_file.hpp"

#include <mahpo/search/hyperband/hyperband.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/tpe/tpe.hpp>
#include <mahpo/space/space.hpp>
#include <mahpo/study/study.hpp>

namespace {

using FuzzSpace =
    mahpo::Space<mahpo::Int<"units", 1, 64>, mahpo::Real<"x", -5.0, 10.0>, mahpo::LogReal<"rate", 1e-4, 1.0>,
                 mahpo::Categorical<"activation", "relu", "tanh">, mahpo::Fixed<"filters", 6>>;

bool verbose() {
  static const bool on = std::getenv("MAHPO_FUZZ_VERBOSE") != nullptr;
  return on;
}

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_journal: %s\n", what.c_str());
  std::abort();
}

// Cheap and deterministic; some configs fail, as real trials do.
struct Objective {
  std::size_t* evaluations;
  mahpo::Result operator()(const mahpo::Config<FuzzSpace>& config, const mahpo::Budget& budget) const {
    ++*evaluations;
    if (config.get<"units">() == 13) throw std::runtime_error("unlucky units");
    mahpo::Result result;
    const double x = config.get<"x">();
    result.value = x * x + config.get<"rate">() + static_cast<double>(config.get<"units">()) / 64.0 - budget.epochs;
    result.intermediate = {result.value + 1.0, result.value};
    result.metrics = {{"activation", config.get<"activation">()}};
    return result;
  }
};

// The journal's text: the header (unless the input brings its own), then the input's lines.
std::string journal_text(const nlohmann::json& header, std::string_view lines) {
  std::uint32_t chain = 0;
  std::string text = header.is_null() ? std::string() : mahpo::study::journal_line(header, chain) + "\n";
  while (!lines.empty()) {
    const std::size_t end = lines.find('\n');
    if (end == std::string_view::npos) {  // a cut-off last line
      text += lines;
      break;
    }
    const std::string_view line = lines.substr(0, end);
    lines.remove_prefix(end + 1);
    if (line.starts_with('!')) {
      text += line.substr(1);
    } else {
      nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
      if (record.is_object()) {
        record.erase("crc");
        text += mahpo::study::journal_line(record, chain);
      } else {
        text += line;
      }
    }
    text += '\n';
  }
  return text;
}

bool same_value(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

template <typename Searcher, typename... Options>
void resume(std::uint8_t control, std::string_view lines, const Options&... options) {
  static fuzz::MemoryFile file("fuzz_journal");
  Searcher searcher(options...);
  const bool own_header = (control & 0x80) != 0;
  const auto& path =
      file.fill(journal_text(own_header ? nlohmann::json() : mahpo::study::study_header(searcher), lines));
  const mahpo::study::StudyOptions study{.trials = 1 + ((control >> 2) & 0x0Fu),
                                         .journal = path,
                                         .resume = true,
                                         .progress = mahpo::study::Progress::never};
  std::size_t evaluations = 0;
  mahpo::study::StudyReport<FuzzSpace> report;
  try {
    report = mahpo::study::run_study(searcher, Objective{&evaluations}, study);
  } catch (const mahpo::study::StudyError& error) {
    if (verbose()) std::fprintf(stderr, "fuzz_journal: %s: refused: %s\n", Searcher::name.data(), error.what());
    return;
  } catch (const mahpo::ConfigError& error) {
    if (verbose()) std::fprintf(stderr, "fuzz_journal: %s: refused config: %s\n", Searcher::name.data(), error.what());
    return;
  }
  if (verbose()) {
    std::fprintf(stderr, "fuzz_journal: %s: resumed, %zu evaluations\n%s", Searcher::name.data(), evaluations,
                 report.summary().c_str());
  }
  for (const auto& trial : report.trials) {
    if (!trial.finished) finding("a trial of the finished study is not finished");
  }

  // The journal now holds the whole study: resuming it again must run nothing and change nothing.
  Searcher again(options...);
  std::size_t evaluations_again = 0;
  mahpo::study::StudyReport<FuzzSpace> replayed;
  try {
    replayed = mahpo::study::run_study(again, Objective{&evaluations_again}, study);
  } catch (const std::exception& error) {
    finding(std::string("the journal of a resumed study does not resume: ") + error.what());
  }
  if (evaluations_again != 0) finding("resuming a finished study evaluated trials again");
  if (replayed.trials.size() != report.trials.size()) finding("resuming a finished study changed its trial count");
  for (std::size_t k = 0; k < report.trials.size(); ++k) {
    const auto& a = report.trials[k];
    const auto& b = replayed.trials[k];
    if (!(a.config == b.config) || a.result.status != b.result.status || !same_value(a.result.value, b.result.value) ||
        a.budget.epochs != b.budget.epochs || a.budget.iterations != b.budget.iterations) {
      finding("trial " + std::to_string(k) + " differs when the journal is resumed again: " + a.config.to_string() +
              " vs " + b.config.to_string());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const std::string_view lines(reinterpret_cast<const char*>(data + 1), size - 1);
  const mahpo::search::SearchOptions options{.seed = 7, .goal = mahpo::Goal::minimize};
  switch (control & 0x03) {
    case 1:
      resume<mahpo::search::Hyperband<FuzzSpace>>(control, lines, options,
                                                  mahpo::search::HyperbandOptions{.min_budget = 1.0 / 9.0});
      break;
    case 2:
      resume<mahpo::search::Tpe<FuzzSpace>>(control, lines, options);
      break;
    default:
      resume<mahpo::search::Random<FuzzSpace>>(control, lines, options);
      break;
  }
  return 0;
}
