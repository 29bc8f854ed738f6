#pragma once
// What the study tests share: a fresh scratch folder per test and process, and a journal's events of
// one kind.

#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mahpo/study/journal.hpp>

namespace mahpo::testing {

inline std::filesystem::path scratch(const std::string& prefix, const std::string& name) {
  const auto directory =
      std::filesystem::temp_directory_path() / fmt::format("mahpo_{}_{}_{}", prefix, name, ::getpid());
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  return directory;
}

inline std::vector<nlohmann::json> events(const std::filesystem::path& journal, const std::string& kind) {
  std::vector<nlohmann::json> found;
  for (const auto& record : study::read_journal(journal).records) {
    if (record.json.value("event", "") == kind) found.push_back(record.json);
  }
  return found;
}

}  // namespace mahpo::testing
