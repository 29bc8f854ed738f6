// libFuzzer target: mahpo::data::read_idx on hostile files, read by path as a user's would be.
//
// Each input is read twice: as it is (raw IDX, or gzip when the fuzzer has mutated a gzip seed) and
// gzip-compressed (so the IDX parser also runs behind a valid inflate stream). The only expected
// failure is a DataError that names the file; both readings must agree. Anything else (a crash, a
// sanitizer report, another exception, an error without the file's name) is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "memory_file.hpp"

#include <mahpo/data/idx.hpp>

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_idx: %s\n", what);
  std::abort();
}

// The bytes as a gzip member (windowBits 31: zlib's gzip wrapper), the format of the .gz data sets.
std::vector<std::uint8_t> gzip(std::span<const std::uint8_t> bytes) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) finding("deflateInit2");
  std::vector<std::uint8_t> out(deflateBound(&stream, static_cast<uLong>(bytes.size())));
  stream.next_in = const_cast<Bytef*>(bytes.data());
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) finding("deflate did not finish");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// The array, or nothing when read_idx refused the file with a DataError that names it.
std::optional<mahpo::data::IdxArray> read(const std::filesystem::path& path) {
  try {
    return mahpo::data::read_idx(path);
  } catch (const mahpo::data::DataError& error) {
    if (std::string(error.what()).find(path.string()) == std::string::npos) {
      std::fprintf(stderr, "fuzz_idx: a DataError without the file's name: %s\n", error.what());
      std::abort();
    }
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile plain_file("fuzz_idx_plain"), gzip_file("fuzz_idx_gzip");
  const std::span<const std::uint8_t> bytes(data, size);

  const auto plain = read(plain_file.fill(bytes));
  const auto inflated = read(gzip_file.fill(gzip(bytes)));

  // A gzip input is inflated once by the plain reading and once more than that by the other:
  // the two readings see different bytes, so only raw inputs must agree.
  const bool input_is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (!input_is_gzip) {
    if (plain.has_value() != inflated.has_value()) finding("raw and gzip readings disagree on success");
    if (plain && (plain->shape != inflated->shape || plain->elements != inflated->elements)) {
      finding("raw and gzip readings give different arrays");
    }
  }
  if (plain) {  // a successful read holds exactly what its shape announces
    std::size_t count = 1;
    for (std::size_t extent : plain->shape) count *= extent;
    if (plain->shape.empty() || count != plain->elements.size()) finding("shape and element count disagree");
  }
  return 0;
}
