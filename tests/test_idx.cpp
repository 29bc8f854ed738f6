#include <catch2/catch.hpp>

#include <mahpo/data/idx.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idx_files.hpp"

using Catch::Contains;
using mahpo::data::DataError;
using mahpo::data::read_idx;
using test_idx::counting;
using test_idx::idx_bytes;

TEST_CASE("read_idx reads raw files") {
  test_idx::Folder folder;
  const auto path = folder.write("images", idx_bytes({3, 4, 5}, counting(60)));
  const auto array = read_idx(path);
  CHECK(array.shape == std::vector<std::size_t>{3, 4, 5});
  CHECK(array.elements == counting(60));
  const auto labels = read_idx(folder.write("labels", idx_bytes({6}, {0, 1, 2, 3, 4, 5})));
  CHECK(labels.shape == std::vector<std::size_t>{6});
  CHECK(labels.elements == std::vector<std::uint8_t>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("read_idx reads gzipped files to the same array") {
  test_idx::Folder folder;
  const auto bytes = idx_bytes({10, 28, 28}, counting(10 * 28 * 28));
  const auto raw = read_idx(folder.write("images", bytes));
  const auto packed_path = folder.write_gz("images.gz", bytes);
  REQUIRE(folder.read(packed_path).size() < bytes.size());  // it really is compressed
  const auto packed = read_idx(packed_path);
  CHECK(packed.shape == raw.shape);
  CHECK(packed.elements == raw.elements);
}

TEST_CASE("every IDX error names the file and the problem") {
  test_idx::Folder folder;
  const auto path_text = [&](const char* name) { return (folder.path() / name).string(); };

  CHECK_THROWS_WITH(read_idx(folder.path() / "absent"), Contains(path_text("absent")) && Contains("no such file"));
  CHECK_THROWS_WITH(read_idx(folder.write("empty", {})), Contains(path_text("empty")) && Contains("too short"));
  CHECK_THROWS_WITH(read_idx(folder.write("magic", {1, 2, 8, 1, 0, 0, 0, 1, 9})),
                    Contains(path_text("magic")) && Contains("not an IDX file"));
  CHECK_THROWS_WITH(read_idx(folder.write("float", idx_bytes({2}, {0, 0}, 0x0D))),
                    Contains(path_text("float")) && Contains("0x0d (float) is not supported"));
  CHECK_THROWS_WITH(read_idx(folder.write("rank0", {0, 0, 8, 0})), Contains("rank 0"));

  auto short_header = idx_bytes({3, 4, 5}, {});
  short_header.resize(10);
  CHECK_THROWS_WITH(read_idx(folder.write("header", short_header)),
                    Contains(path_text("header")) && Contains("truncated header"));

  auto truncated = idx_bytes({3, 4, 5}, counting(60));
  truncated.resize(truncated.size() - 7);
  CHECK_THROWS_WITH(read_idx(folder.write("truncated", truncated)),
                    Contains(path_text("truncated")) && Contains("announces 60 elements (3x4x5), the file holds 53"));

  auto longer = idx_bytes({3, 4, 5}, counting(61));
  CHECK_THROWS_WITH(read_idx(folder.write("longer", longer)), Contains(path_text("longer")) && Contains("goes on"));
}

TEST_CASE("damaged gzip files are errors, not crashes") {
  test_idx::Folder folder;
  const auto bytes = idx_bytes({20, 28, 28}, counting(20 * 28 * 28));
  auto packed = folder.read(folder.write_gz("good.gz", bytes));

  auto cut = packed;
  cut.resize(cut.size() / 2);
  CHECK_THROWS_AS(read_idx(folder.write("cut.gz", cut)), DataError);
  CHECK_THROWS_WITH(read_idx(folder.write("cut.gz", cut)), Contains(folder.path().string()));

  auto flipped = packed;
  for (std::size_t i = flipped.size() / 3; i < flipped.size() / 3 + 16; ++i) flipped[i] ^= 0x5A;
  CHECK_THROWS_AS(read_idx(folder.write("flipped.gz", flipped)), DataError);

  auto no_trailer = packed;
  no_trailer.resize(no_trailer.size() - 4);  // the length field of the gzip trailer is gone
  CHECK_THROWS_AS(read_idx(folder.write("no_trailer.gz", no_trailer)), DataError);
}

namespace {

// The largest resident set this process has had, in MiB.
long peak_mib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

// Runs read_idx(path) in a child process; true when it threw DataError naming the file and "truncated"
// and the child's memory stayed under `limit_mib` (the header's size is not trusted with memory).
bool refused_cheaply(const std::filesystem::path& path, long limit_mib) {
  const pid_t child = ::fork();
  if (child == 0) {
    bool named = false;
    try {
      read_idx(path);
    } catch (const DataError& error) {
      const std::string message = error.what();
      named = message.find(path.string()) != std::string::npos && message.find("truncated") != std::string::npos;
    } catch (...) {
    }
    ::_exit(named && peak_mib() < limit_mib ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

TEST_CASE("a short file announcing billions of elements is refused before the memory is taken") {
  test_idx::Folder folder;
  const long before = peak_mib();
  // 8 bytes: a label file announcing 0xFFFFFFFF labels (4 GiB), raw and gzipped.
  const auto labels = idx_bytes({0xFFFFFFFFu}, {});
  CHECK(refused_cheaply(folder.write("labels", labels), before + 200));
  CHECK(refused_cheaply(folder.write_gz("labels.gz", labels), before + 200));
  // 16 bytes: 0xFFFFFFFF images of 16x16 (1 TiB), once std::bad_alloc without a file name.
  const auto images = idx_bytes({0xFFFFFFFFu, 16, 16}, {});
  CHECK(refused_cheaply(folder.write("images", images), before + 200));
  CHECK(refused_cheaply(folder.write_gz("images.gz", images), before + 200));
  // A gzipped file with some of its data: read in chunks, refused when the data ends.
  const auto partial = idx_bytes({0xFFFFFFFFu}, counting(1000));
  CHECK(refused_cheaply(folder.write_gz("partial.gz", partial), before + 200));
}
