#pragma once
// Reads IDX files (the MNIST format), raw or gzip-compressed; zlib tells the two apart.
//
// Format (LeCun et al., "The MNIST database"): two zero bytes, an element-type byte, a rank byte,
// then one big-endian uint32 per dimension, then the elements in row-major order. mahpo reads
// unsigned-byte elements (type 0x08), the type of every MNIST-like file. The header, the sizes and
// the file's length are all checked: a truncated or over-long file is an error, never a crash. The
// header is not trusted with memory: a raw file's announced size is checked against its length
// before anything is allocated, and gzip data is inflated in growing chunks, so a short file that
// announces 4 billion elements costs no more memory than its data.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

#include <mahpo/data/error.hpp>

namespace mahpo::data {

// An IDX array of unsigned bytes: its dimensions and its elements, row-major.
struct IdxArray {
  std::vector<std::size_t> shape;
  std::vector<std::uint8_t> elements;
};

namespace detail {

// A file read through zlib: gzip data is inflated, anything else is passed through as it is.
class ZlibReader {
 public:
  explicit ZlibReader(const std::filesystem::path& path) : path_(path), file_(gzopen(path.c_str(), "rb"), &gzclose) {
    if (!file_) throw DataError(fmt::format("{}: cannot open file", path.string()));
  }

  // True when the file is not gzip data (zlib passes it through as it is).
  bool raw() { return gzdirect(file_.get()) == 1; }

  // Reads up to `count` bytes; fewer only at the end of the data. A damaged stream throws.
  std::size_t read(void* into, std::size_t count) {
    std::size_t done = 0;
    auto* bytes = static_cast<unsigned char*>(into);
    while (done < count) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(count - done, 1u << 30));
      const int got = gzread(file_.get(), bytes + done, chunk);
      if (got < 0) {
        int code = Z_OK;
        const char* message = gzerror(file_.get(), &code);
        throw DataError(fmt::format("{}: corrupt or truncated data ({})", path_.string(), message));
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    // zlib hands out what it could inflate from a cut stream and flags the cut as Z_BUF_ERROR.
    int code = Z_OK;
    const char* message = gzerror(file_.get(), &code);
    if (code != Z_OK) throw DataError(fmt::format("{}: corrupt or truncated data ({})", path_.string(), message));
    return done;
  }

 private:
  std::filesystem::path path_;
  std::unique_ptr<gzFile_s, decltype(&gzclose)> file_;
};

inline std::uint32_t big_endian_u32(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
         std::uint32_t{bytes[3]};
}

inline const char* idx_type_name(unsigned code) {
  switch (code) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "short";
    case 0x0C:
      return "int";
    case 0x0D:
      return "float";
    case 0x0E:
      return "double";
    default:
      return "unknown";
  }
}

}  // namespace detail

// Reads a whole IDX file of unsigned bytes. Throws DataError naming the file and the problem.
inline IdxArray read_idx(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw DataError(fmt::format("{}: no such file", path.string()));
  detail::ZlibReader reader(path);

  unsigned char magic[4];
  if (reader.read(magic, 4) != 4) throw DataError(fmt::format("{}: too short for an IDX header", path.string()));
  if (magic[0] != 0 || magic[1] != 0) {
    throw DataError(fmt::format("{}: not an IDX file (bad magic number {:02x}{:02x}{:02x}{:02x})", path.string(),
                                magic[0], magic[1], magic[2], magic[3]));
  }
  if (magic[2] != 0x08) {
    throw DataError(fmt::format("{}: element type 0x{:02x} ({}) is not supported; mahpo reads unsigned-byte IDX files",
                                path.string(), magic[2], detail::idx_type_name(magic[2])));
  }
  const unsigned rank = magic[3];
  if (rank == 0) throw DataError(fmt::format("{}: an IDX array of rank 0", path.string()));

  IdxArray array;
  std::size_t count = 1;
  for (unsigned axis = 0; axis < rank; ++axis) {
    unsigned char size[4];
    if (reader.read(size, 4) != 4) {
      throw DataError(fmt::format("{}: truncated header (rank {}, dimension {} missing)", path.string(), rank, axis));
    }
    const std::size_t extent = detail::big_endian_u32(size);
    if (extent != 0 && count > (std::size_t{1} << 40) / extent) {
      throw DataError(fmt::format("{}: implausibly large dimensions", path.string()));
    }
    array.shape.push_back(extent);
    count *= extent;
  }

  const std::size_t header_bytes = 4 + 4 * std::size_t{rank};
  std::error_code error;
  const std::uintmax_t file_bytes = std::filesystem::file_size(path, error);
  if (reader.raw() && !error && file_bytes - header_bytes < count) {
    throw DataError(fmt::format("{}: truncated: the header announces {} elements ({}), the file holds {}",
                                path.string(), count, fmt::join(array.shape, "x"), file_bytes - header_bytes));
  }
  // Grows with the data actually read (gzip's own length field is 32 bits and may lie).
  constexpr std::size_t chunk = std::size_t{1} << 24;
  std::size_t got = 0;
  try {
    while (got < count) {
      const std::size_t want = std::min(count - got, std::max(chunk, got));
      array.elements.resize(got + want);
      const std::size_t read = reader.read(array.elements.data() + got, want);
      got += read;
      if (read < want) break;
    }
  } catch (const std::bad_alloc&) {
    throw DataError(
        fmt::format("{}: out of memory for {} elements ({})", path.string(), count, fmt::join(array.shape, "x")));
  }
  if (got != count) {
    throw DataError(fmt::format("{}: truncated: the header announces {} elements ({}), the file holds {}",
                                path.string(), count, fmt::join(array.shape, "x"), got));
  }
  unsigned char extra;
  if (reader.read(&extra, 1) != 0) {
    throw DataError(fmt::format("{}: {} elements expected ({}), but the file goes on after them", path.string(), count,
                                fmt::join(array.shape, "x")));
  }
  return array;
}

}  // namespace mahpo::data
