#pragma once
// An in-memory file (memfd) that a target hands to mahpo by its /proc/self/fd path, as a user's file
// would be opened; refilled for every input. Shared by the fuzz targets.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include <sys/mman.h>
#include <unistd.h>

namespace fuzz {

class MemoryFile {
 public:
  explicit MemoryFile(const char* name) : descriptor_(::memfd_create(name, MFD_CLOEXEC)) {
    if (descriptor_ < 0) fail("memfd_create failed");
    path_ = "/proc/self/fd/" + std::to_string(descriptor_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  ~MemoryFile() { ::close(descriptor_); }

  // Replaces the file's contents; returns the path to open it by.
  const std::filesystem::path& fill(std::span<const std::uint8_t> bytes) {
    if (::ftruncate(descriptor_, 0) != 0) fail("ftruncate failed");
    std::size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n =
          ::pwrite(descriptor_, bytes.data() + written, bytes.size() - written, static_cast<off_t>(written));
      if (n <= 0) fail("pwrite failed");
      written += static_cast<std::size_t>(n);
    }
    return path_;
  }
  const std::filesystem::path& fill(std::string_view text) {
    return fill(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }

 private:
  [[noreturn]] static void fail(const char* what) {
    std::fprintf(stderr, "fuzz: memory file: %s\n", what);
    std::abort();
  }

  int descriptor_;
  std::filesystem::path path_;
};

}  // namespace fuzz
