#pragma once
// Whole files written so that a crash never leaves half of one (beside the target, fsync'ed, then
// renamed over it), and read back whole: what trainer checkpoints and a study's saved states use.

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

namespace mahpo {

class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Writes `bytes` to `path` (FileError when it cannot).
inline void write_atomically(const std::filesystem::path& path, std::string_view bytes) {
  const auto aside = std::filesystem::path(path.string() + ".part");
  const int file = ::open(aside.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (file < 0) throw FileError(fmt::format("mahpo: cannot write {}", aside.string()));
  std::size_t written = 0;
  while (written < bytes.size()) {
    const auto count = ::write(file, bytes.data() + written, bytes.size() - written);
    if (count <= 0) break;
    written += static_cast<std::size_t>(count);
  }
  const bool ok = written == bytes.size() && ::fsync(file) == 0;
  ::close(file);
  if (!ok) throw FileError(fmt::format("mahpo: writing {} failed", aside.string()));
  std::filesystem::rename(aside, path);
}

// The whole file (FileError when it cannot be read).
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(fmt::format("mahpo: cannot read {}", path.string()));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace mahpo
