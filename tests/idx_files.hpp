#pragma once
// Writes small IDX files (raw or gzipped) for the data tests, in a fresh temporary folder.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <zlib.h>

namespace test_idx {

inline std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& shape,
                                           const std::vector<std::uint8_t>& elements, std::uint8_t type = 0x08) {
  std::vector<std::uint8_t> bytes{0, 0, type, static_cast<std::uint8_t>(shape.size())};
  for (std::uint32_t extent : shape) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<std::uint8_t>(extent >> shift));
  }
  bytes.insert(bytes.end(), elements.begin(), elements.end());
  return bytes;
}

inline std::vector<std::uint8_t> counting(std::size_t count) {
  std::vector<std::uint8_t> elements(count);
  for (std::size_t i = 0; i < count; ++i) elements[i] = static_cast<std::uint8_t>(i * 7 % 251);
  return elements;
}

class Folder {
 public:
  Folder() {
    std::random_device seed;
    path_ = std::filesystem::temp_directory_path() / ("mahpo-test-" + std::to_string(seed()));
    std::filesystem::create_directories(path_);
  }
  ~Folder() { std::filesystem::remove_all(path_); }
  Folder(const Folder&) = delete;
  Folder& operator=(const Folder&) = delete;

  std::filesystem::path write(const std::string& name, const std::vector<std::uint8_t>& bytes) const {
    const auto path = path_ / name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  std::filesystem::path write_gz(const std::string& name, const std::vector<std::uint8_t>& bytes) const {
    const auto path = path_ / name;
    gzFile file = gzopen(path.c_str(), "wb");
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
    return path;
  }

  std::vector<std::uint8_t> read(const std::filesystem::path& path) const {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace test_idx
