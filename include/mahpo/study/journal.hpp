#pragma once
// The study journal: one JSON object per line, appended and fsync'ed before the event it records is
// reported, so a crash loses at most the line being written.
//
//   {"event":"study","format":2,"mahpo":"0.1.0","searcher":"tpe","options":{...},"seed":0,
//    "goal":"maximize","budget":{...},"space":"...","context":{...},"crc":"89abcdef"}
//   {"event":"ask","id":0,"config":{...},"budget":{"epochs":1.0,"iterations":0},"elapsed":0.01,"crc":"..."}
//   {"event":"report","id":0,"step":1,"value":0.97,"prune":false,"elapsed":3.2,"crc":"..."}
//   {"event":"tell","id":0,"value":0.98,"status":"ok","intermediate":[...],"metrics":{...},
//    "message":"","seconds":12.5,"worker":1,"elapsed":12.6,"crc":"..."}
//
// An ask of a trial that continues another's training says which ("resume_from"); a report is an
// intermediate value a running trial reported and the pruner's answer (study/pruners.hpp); a study
// with a pruner names it in the header ("pruner").
//
// Every line ends with a chained checksum: the CRC-32 (zlib's) of the line up to its "crc" member,
// continued from the previous line's. A line edited by hand, or taken from another journal, or out of
// its place, breaks the chain there and the journal is refused with that file and line.
//
// Reading tolerates a truncated last line (the crash happened while writing it): it is reported
// and cut off before anything new is appended. Any other malformed line is an error that names the
// file and the line; so is a record nested deeper than max_record_depth.

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <zlib.h>
#include <nlohmann/json.hpp>

#include <mahpo/objective.hpp>
#include <mahpo/space/error.hpp>

namespace mahpo::study {

class StudyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int journal_format = 3;  // 3: several objectives; format 2 journals still read
inline constexpr int max_record_depth = 32;  // deeper records are refused (nothing mahpo writes comes near)

// A value as JSON: NaN and infinities (which JSON lacks) become null.
inline nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

// JSON text of a record; invalid UTF-8 (from an exception's message, say) is replaced, not fatal.
inline std::string record_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace detail {

inline std::uint32_t continue_crc(std::uint32_t chain, std::string_view bytes) {
  uLong crc = chain;
  while (!bytes.empty()) {  // zlib takes at most 4 GiB at once
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(bytes.size(), 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), chunk);
    bytes.remove_prefix(chunk);
  }
  return static_cast<std::uint32_t>(crc);
}

inline constexpr std::string_view crc_key = "\"crc\":\"";
inline constexpr std::size_t crc_suffix = crc_key.size() + 8 + 2;  // "crc":"89abcdef"}

}  // namespace detail

// One journal line (without its newline) for `record`, a JSON object without "crc": the record
// with its chained checksum as the last member. Updates `chain` to this line's checksum.
inline std::string journal_line(const nlohmann::json& record, std::uint32_t& chain) {
  std::string text = record_text(record);
  chain = detail::continue_crc(chain, text);
  text.pop_back();  // the closing brace
  if (!record.empty()) text += ',';
  return fmt::format("{}{}{:08x}\"}}", text, detail::crc_key, chain);
}

// A record read back, with where it was: "file:line" for messages. Its accessors refuse a missing
// or mistyped member with that place in the message.
struct JournalRecord {
  nlohmann::json json;
  std::string where;

  [[noreturn]] void fail(std::string_view problem) const {
    throw StudyError(fmt::format("mahpo: {}: {}", where, problem));
  }
  const nlohmann::json& at(const char* key) const {
    const auto found = json.find(key);
    if (found == json.end()) fail(fmt::format("the record has no \"{}\"", key));
    return *found;
  }
  std::string text(const char* key) const {
    const auto& value = at(key);
    if (!value.is_string())
      fail(fmt::format("\"{}\" must be a string, got {}", key, mahpo::detail::json_excerpt(value)));
    return value.get<std::string>();
  }
  std::size_t count(const char* key) const {
    const auto& value = at(key);
    if (!value.is_number_unsigned()) {
      fail(fmt::format("\"{}\" must be an integer >= 0, got {}", key, mahpo::detail::json_excerpt(value)));
    }
    return value.get<std::size_t>();
  }
  // A number; null stands for NaN (JSON has no NaN); a missing member is `otherwise`.
  double number(const char* key, std::optional<double> otherwise = std::nullopt) const {
    if (otherwise && !json.contains(key)) return *otherwise;
    return number_in(at(key), key);
  }
  double number_in(const nlohmann::json& value, std::string_view key) const {
    if (value.is_null()) return std::numeric_limits<double>::quiet_NaN();
    if (!value.is_number())
      fail(fmt::format("\"{}\" must be a number, got {}", key, mahpo::detail::json_excerpt(value)));
    return value.get<double>();
  }
};

inline std::optional<Status> status_from_string(std::string_view text) {
  for (Status status : {Status::ok, Status::failed, Status::diverged, Status::pruned}) {
    if (text == to_string(status)) return status;
  }
  return std::nullopt;
}

inline nlohmann::json result_to_json(const Result& result) {
  nlohmann::json intermediate = nlohmann::json::array();
  for (double value : result.intermediate) intermediate.push_back(number_or_null(value));
  nlohmann::json json = {{"value", number_or_null(result.value)},
                         {"status", to_string(result.status)},
                         {"intermediate", std::move(intermediate)},
                         {"metrics", result.metrics},
                         {"message", result.message}};
  const auto numbers = [](const std::vector<double>& values) {
    nlohmann::json list = nlohmann::json::array();
    for (double value : values) list.push_back(number_or_null(value));
    return list;
  };
  if (!result.values.empty()) json["values"] = numbers(result.values);
  if (!result.constraints.empty()) json["constraints"] = numbers(result.constraints);
  return json;
}

inline Result result_from_json(const JournalRecord& record) {
  Result result;
  result.value = record.number("value");
  const std::string status = record.text("status");
  const auto parsed = status_from_string(status);
  if (!parsed) record.fail(fmt::format("unknown trial status '{}'", mahpo::detail::text_excerpt(status)));
  result.status = *parsed;
  const auto& intermediate = record.at("intermediate");
  if (!intermediate.is_array()) record.fail("\"intermediate\" must be an array of numbers");
  for (const auto& value : intermediate) result.intermediate.push_back(record.number_in(value, "intermediate"));
  result.metrics = record.at("metrics");
  if (!result.metrics.is_object()) record.fail("\"metrics\" must be an object");
  result.message = record.text("message");
  for (const char* key : {"values", "constraints"}) {  // format 3, several objectives
    const auto found = record.json.find(key);
    if (found == record.json.end()) continue;
    if (!found->is_array()) record.fail(fmt::format("\"{}\" must be an array of numbers", key));
    auto& list = std::string_view(key) == "values" ? result.values : result.constraints;
    for (const auto& value : *found) list.push_back(record.number_in(value, key));
  }
  return result;
}

struct JournalContents {
  std::vector<JournalRecord> records;
  std::size_t valid_bytes = 0;      // the length of the complete lines
  std::size_t truncated_bytes = 0;  // the length of a cut-off last line (0: none)
  std::uint32_t chain = 0;          // the last complete line's checksum: the next line continues it
};

namespace detail {

// Parses one line, refusing depth beyond max_record_depth while parsing (nothing deep is built).
inline nlohmann::json parse_record(std::string_view text, const std::string& where) {
  const auto depth_guard = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > max_record_depth) {
      throw StudyError(fmt::format("mahpo: {}: a record nested more than {} deep", where, max_record_depth));
    }
    return true;
  };
  try {
    nlohmann::json record = nlohmann::json::parse(text.begin(), text.end(), depth_guard);
    if (!record.is_object()) throw StudyError(fmt::format("mahpo: {}: a record must be a JSON object", where));
    return record;
  } catch (const nlohmann::json::exception& error) {
    throw StudyError(fmt::format("mahpo: {}: malformed line: {}", where, mahpo::detail::text_excerpt(error.what())));
  }
}

// The record of a signed line, after checking its checksum against the chain.
inline nlohmann::json verified_record(std::string_view line, std::uint32_t& chain, const std::string& where) {
  const bool has_crc = line.size() > crc_suffix && line.back() == '}' &&
                       line.substr(line.size() - crc_suffix, crc_key.size()) == crc_key;
  if (!has_crc) {
    nlohmann::json record = parse_record(line, where);  // malformed JSON is said as such first
    const auto format = record.find("format");
    if (format != record.end() && *format != journal_format && *format != 2) {
      throw StudyError(fmt::format(
          "mahpo: {}: a journal of format {} (an older mahpo, without checksums); this mahpo resumes formats 2 to {} "
          "only: start a new journal",
          where, mahpo::detail::json_excerpt(*format), journal_format));
    }
    throw StudyError(fmt::format("mahpo: {}: the line has no checksum (\"crc\" last)", where));
  }
  const std::string_view digits = line.substr(line.size() - 10, 8);
  std::uint32_t recorded = 0;
  for (char digit : digits) {
    const auto at = std::string_view("0123456789abcdef").find(digit);
    if (at == std::string_view::npos) throw StudyError(fmt::format("mahpo: {}: a malformed checksum", where));
    recorded = recorded * 16 + static_cast<std::uint32_t>(at);
  }
  std::string body(line.substr(0, line.size() - crc_suffix));
  if (!body.empty() && body.back() == ',') body.pop_back();
  body += '}';
  const std::uint32_t expected = continue_crc(chain, body);
  nlohmann::json record = parse_record(body, where);
  if (recorded != expected) {
    throw StudyError(fmt::format(
        "mahpo: {}: checksum mismatch: the line was edited, or comes from another journal or another place in "
        "this one; a journal resumes only as it was written",
        where));
  }
  chain = expected;
  return record;
}

}  // namespace detail

// Reads a journal and checks its chain of checksums; throws StudyError naming the file and line of
// the first bad line that is not a truncated last line.
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
    std::string where = fmt::format("{}:{}", path.string(), line_number);
    nlohmann::json record =
        detail::verified_record(std::string_view(text).substr(start, end - start), contents.chain, where);
    contents.records.push_back({std::move(record), std::move(where)});
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
  // Opens `path` for appending, first cutting it to `keep_bytes` if given (drops a truncated line);
  // `chain` is the last line's checksum when continuing a journal.
  explicit JournalWriter(const std::filesystem::path& path, std::optional<std::size_t> keep_bytes = std::nullopt,
                         std::uint32_t chain = 0)
      : path_(path), chain_(chain) {
    descriptor_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (descriptor_ < 0) fail("open");
    if (keep_bytes && ::ftruncate(descriptor_, static_cast<off_t>(*keep_bytes)) != 0) fail("truncate");
  }
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  JournalWriter(JournalWriter&& other) noexcept
      : path_(std::move(other.path_)), descriptor_(other.descriptor_), chain_(other.chain_) {
    other.descriptor_ = -1;
  }
  JournalWriter& operator=(JournalWriter&& other) noexcept {
    std::swap(path_, other.path_);
    std::swap(descriptor_, other.descriptor_);
    std::swap(chain_, other.chain_);
    return *this;
  }
  ~JournalWriter() {
    if (descriptor_ >= 0) ::close(descriptor_);
  }

  bool is_open() const { return descriptor_ >= 0; }

  // Appends one record (a JSON object without "crc") as a signed line.
  void append(const nlohmann::json& record) {
    if (descriptor_ < 0) return;
    std::uint32_t chain = chain_;
    const std::string line = journal_line(record, chain) + "\n";
    std::size_t written = 0;
    while (written < line.size()) {
      const ssize_t n = ::write(descriptor_, line.data() + written, line.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("write");
      written += static_cast<std::size_t>(n);
    }
    if (::fsync(descriptor_) != 0) fail("fsync");
    chain_ = chain;
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw StudyError(fmt::format("mahpo: cannot {} the journal {}: {}", what, path_.string(), std::strerror(errno)));
  }

  std::filesystem::path path_;
  int descriptor_ = -1;
  std::uint32_t chain_ = 0;
};

}  // namespace mahpo::study
