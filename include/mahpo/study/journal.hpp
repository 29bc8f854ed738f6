#pragma once
// The study journal: one JSON object per line, appended and fsync'ed before the event it records is
// reported, so a crash loses at most the line being written.
//
//   {"event":"study","format":1,"searcher":"tpe","space":"...","seed":0,"goal":"maximize"}
//   {"event":"ask","id":0,"config":{...},"budget":{"epochs":1.0,"iterations":0},"elapsed":0.01}
//   {"event":"tell","id":0,"value":0.98,"status":"ok","intermediate":[...],"metrics":{...},
//    "message":"","seconds":12.5,"worker":1,"elapsed":12.6}
//
// Reading tolerates a truncated last line (the crash happened while writing it): it is reported
// and cut off before anything new is appended. Any other malformed line is an error.

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mahpo/objective.hpp>

namespace mahpo::study {

class StudyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline Status status_from_string(const std::string& text) {
  for (Status status : {Status::ok, Status::failed, Status::diverged, Status::pruned}) {
    if (text == to_string(status)) return status;
  }
  throw StudyError(fmt::format("mahpo: unknown trial status '{}' in the journal", text));
}

// A value as JSON: NaN and infinities (which JSON lacks) become null.
inline nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}
inline double number_from(const nlohmann::json& json) {
  return json.is_number() ? json.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

inline nlohmann::json result_to_json(const Result& result) {
  nlohmann::json intermediate = nlohmann::json::array();
  for (double value : result.intermediate) intermediate.push_back(number_or_null(value));
  return {{"value", number_or_null(result.value)},
          {"status", to_string(result.status)},
          {"intermediate", std::move(intermediate)},
          {"metrics", result.metrics},
          {"message", result.message}};
}

inline Result result_from_json(const nlohmann::json& json) {
  Result result;
  result.value = number_from(json.at("value"));
  result.status = status_from_string(json.at("status").get<std::string>());
  for (const auto& value : json.at("intermediate")) result.intermediate.push_back(number_from(value));
  result.metrics = json.at("metrics");
  result.message = json.at("message").get<std::string>();
  return result;
}

struct JournalContents {
  std::vector<nlohmann::json> records;
  std::size_t valid_bytes = 0;      // the length of the complete lines
  std::size_t truncated_bytes = 0;  // the length of a cut-off last line (0: none)
};

// Reads a journal; throws StudyError on a malformed line that is not a truncated last line.
inline JournalContents read_journal(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StudyError(fmt::format("mahpo: cannot read the journal {}", path.string()));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  JournalContents contents;
  std::size_t start = 0, line_number = 1;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {  // no newline: the crash cut this line short
      contents.truncated_bytes = text.size() - start;
      break;
    }
    try {
      contents.records.push_back(nlohmann::json::parse(text.begin() + static_cast<std::ptrdiff_t>(start),
                                                       text.begin() + static_cast<std::ptrdiff_t>(end)));
    } catch (const nlohmann::json::exception& error) {
      throw StudyError(
          fmt::format("mahpo: the journal {} has a malformed line {}: {}", path.string(), line_number, error.what()));
    }
    start = end + 1;
    contents.valid_bytes = start;
    ++line_number;
  }
  return contents;
}

// Appends lines to a journal file; every line is written whole and fsync'ed.
class JournalWriter {
 public:
  JournalWriter() = default;
  // Opens `path` for appending, first cutting it to `keep_bytes` if given (drops a truncated line).
  explicit JournalWriter(const std::filesystem::path& path, std::optional<std::size_t> keep_bytes = std::nullopt)
      : path_(path) {
    descriptor_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (descriptor_ < 0) fail("open");
    if (keep_bytes && ::ftruncate(descriptor_, static_cast<off_t>(*keep_bytes)) != 0) fail("truncate");
  }
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  JournalWriter(JournalWriter&& other) noexcept : path_(std::move(other.path_)), descriptor_(other.descriptor_) {
    other.descriptor_ = -1;
  }
  JournalWriter& operator=(JournalWriter&& other) noexcept {
    std::swap(path_, other.path_);
    std::swap(descriptor_, other.descriptor_);
    return *this;
  }
  ~JournalWriter() {
    if (descriptor_ >= 0) ::close(descriptor_);
  }

  bool is_open() const { return descriptor_ >= 0; }

  void append(const nlohmann::json& record) {
    if (descriptor_ < 0) return;
    const std::string line = record.dump() + "\n";
    std::size_t written = 0;
    while (written < line.size()) {
      const ssize_t n = ::write(descriptor_, line.data() + written, line.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("write");
      written += static_cast<std::size_t>(n);
    }
    if (::fsync(descriptor_) != 0) fail("fsync");
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw StudyError(fmt::format("mahpo: cannot {} the journal {}: {}", what, path_.string(), std::strerror(errno)));
  }

  std::filesystem::path path_;
  int descriptor_ = -1;
};

}  // namespace mahpo::study
