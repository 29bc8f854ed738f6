#pragma once
// CSV as the study reports and the paper's tables write it (RFC 4180): a cell holding a comma, a
// quote or a line break goes in double quotes with its quotes doubled; JSON values as their text.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace mahpo::study {

// One cell, quoted only when it must be.
inline std::string csv_cell(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string cell = "\"";
  for (char c : text) cell += c == '"' ? std::string("\"\"") : std::string(1, c);
  return cell + '"';
}

// A JSON value's text for a cell: a string as itself, anything else as its JSON text (csv_row quotes it).
inline std::string json_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>()
                           : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Cells joined by commas (no line break), each quoted only when it must be.
inline std::string csv_row(const std::vector<std::string>& cells) {
  std::string line;
  for (std::size_t k = 0; k < cells.size(); ++k) {
    if (k > 0) line += ',';
    line += csv_cell(cells[k]);
  }
  return line;
}

}  // namespace mahpo::study
