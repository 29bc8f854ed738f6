// Loads MNIST and Fashion-MNIST and prints each split's shape and class counts.
// (The main example for now; it becomes the MAPPO search once the searchers land.)
#include <mahpo/mahpo.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"mahpo: load the data sets and show their shapes and class counts"};
  std::vector<std::string> names{"mnist", "fashion-mnist"};
  std::size_t validation_size = 5000;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> directory;
  app.add_option("--dataset", names, "data sets to load")->check(CLI::IsMember({"mnist", "fashion-mnist"}));
  app.add_option("--validation-size", validation_size, "training images held out for validation");
  app.add_option("--split-seed", seed, "choose the held-out images at random with this seed (default: the last ones)");
  app.add_option("--data-dir", directory,
                 "folder holding mnist/ and fashion-mnist/ (default: $MAHPO_DATA_DIR or data/)");
  CLI11_PARSE(app, argc, argv);

  try {
    for (const auto& name : names) {
      const auto start = std::chrono::steady_clock::now();
      const auto dataset =
          mahpo::data::load_dataset(name, {.validation_size = validation_size, .seed = seed},
                                    directory ? std::optional<std::filesystem::path>(*directory) : std::nullopt);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print("{} ({} classes, loaded in {:.2f} s)\n", dataset.name, dataset.classes, seconds);
      for (const auto& [split, set] : {std::pair{"train", &dataset.train}, std::pair{"validation", &dataset.validation},
                                       std::pair{"test", &dataset.test}}) {
        fmt::print("  {:<10} {:>6} x {} x {}  class counts {}\n", split, set->size(), set->rows(), set->columns(),
                   set->class_counts(dataset.classes));
      }
    }
  } catch (const std::exception& error) {
    fmt::print(stderr, "error: {}\n", error.what());
    return 1;
  }
  return 0;
}
