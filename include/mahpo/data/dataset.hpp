#pragma once
// Image classification data sets: MNIST and Fashion-MNIST by name, split into train, validation
// and test sets.
//
// Files are looked up in a data directory: $MAHPO_DATA_DIR if set, else the `data/` folder of the
// mahpo source tree (where scripts/setup.sh installs them), else ./data. Each set's four IDX files
// may be raw or gzipped (`name` or `name.gz`). A missing set is an error that names
// scripts/setup.sh.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <xtensor/xtensor.hpp>

#include <mahpo/data/error.hpp>
#include <mahpo/data/idx.hpp>

namespace mahpo::data {

// Images (count x rows x columns, bytes 0..255) and their labels.
struct ImageSet {
  xt::xtensor<std::uint8_t, 3> images;
  std::vector<std::uint8_t> labels;

  std::size_t size() const { return labels.size(); }
  std::size_t rows() const { return images.shape(1); }
  std::size_t columns() const { return images.shape(2); }

  // How many images each class 0..classes-1 has.
  std::vector<std::size_t> class_counts(std::size_t classes) const {
    std::vector<std::size_t> counts(classes, 0);
    for (auto label : labels) {
      if (label < classes) ++counts[label];
    }
    return counts;
  }

  // The images at `indices`, in that order.
  ImageSet subset(std::span<const std::size_t> indices) const {
    ImageSet part;
    part.images = xt::xtensor<std::uint8_t, 3>::from_shape({indices.size(), rows(), columns()});
    part.labels.reserve(indices.size());
    const std::size_t pixels = rows() * columns();
    for (std::size_t i = 0; i < indices.size(); ++i) {
      std::memcpy(part.images.data() + i * pixels, images.data() + indices[i] * pixels, pixels);
      part.labels.push_back(labels[indices[i]]);
    }
    return part;
  }
};

// Reads an image file (rank 3) and its label file (rank 1); their counts must agree and every
// label must be below `classes`.
inline ImageSet load_image_set(const std::filesystem::path& images_path, const std::filesystem::path& labels_path,
                               std::size_t classes) {
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  if (images.shape.size() != 3) {
    throw DataError(fmt::format("{}: expected images of rank 3 (count x rows x columns), got rank {}",
                                images_path.string(), images.shape.size()));
  }
  if (labels.shape.size() != 1) {
    throw DataError(
        fmt::format("{}: expected labels of rank 1, got rank {}", labels_path.string(), labels.shape.size()));
  }
  // A header of 0 images, rows or columns is well-formed IDX, but no network trains on it: refused
  // here, naming the file, rather than by every trial's layer-shape check.
  if (images.shape[0] == 0 || images.shape[1] == 0 || images.shape[2] == 0) {
    throw DataError(fmt::format("{}: the header announces {} images of {}x{} pixels; a data set needs at least one "
                                "image of at least 1x1",
                                images_path.string(), images.shape[0], images.shape[1], images.shape[2]));
  }
  if (images.shape[0] != labels.shape[0]) {
    throw DataError(fmt::format("{} holds {} images but {} holds {} labels", images_path.string(), images.shape[0],
                                labels_path.string(), labels.shape[0]));
  }
  const auto bad = std::find_if(labels.elements.begin(), labels.elements.end(),
                                [&](std::uint8_t label) { return label >= classes; });
  if (bad != labels.elements.end()) {
    throw DataError(fmt::format("{}: label {} at position {} is not below the {} classes", labels_path.string(), *bad,
                                bad - labels.elements.begin(), classes));
  }
  ImageSet set;
  set.images = xt::xtensor<std::uint8_t, 3>::from_shape({images.shape[0], images.shape[1], images.shape[2]});
  std::copy(images.elements.begin(), images.elements.end(), set.images.begin());
  set.labels = std::move(labels.elements);
  return set;
}

// How the training images are split into train and validation sets.
struct SplitOptions {
  std::size_t validation_size = 5000;  // images held out of the training set
  std::optional<std::uint64_t> seed;   // none: hold out the last images; a seed: a random choice
};

struct Dataset {
  std::string name;
  std::size_t classes = 0;
  ImageSet train;
  ImageSet validation;
  ImageSet test;
};

// Splits `full` into train and validation sets; both keep the original order of their images.
inline std::pair<ImageSet, ImageSet> split_train_validation(const ImageSet& full, const SplitOptions& options) {
  if (options.validation_size >= full.size()) {
    throw DataError(fmt::format("a validation set of {} images leaves no training images out of {}",
                                options.validation_size, full.size()));
  }
  std::vector<std::size_t> order(full.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (options.seed) {
    std::mt19937_64 rng(*options.seed);
    std::shuffle(order.begin(), order.end(), rng);
  }
  const auto cut = order.end() - static_cast<std::ptrdiff_t>(options.validation_size);
  std::vector<std::size_t> train(order.begin(), cut);
  std::vector<std::size_t> validation(cut, order.end());
  std::sort(train.begin(), train.end());
  std::sort(validation.begin(), validation.end());
  return {full.subset(train), full.subset(validation)};
}

// The first `train`, `validation` and `test` images of each set (0 keeps a set whole): quick runs on
// a subset, the classes as mixed as the files have them.
inline Dataset take_first(const Dataset& dataset, std::size_t train, std::size_t validation = 0, std::size_t test = 0) {
  const auto first = [](const ImageSet& set, std::size_t count) {
    if (count == 0 || count >= set.size()) return set;
    std::vector<std::size_t> indices(count);
    std::iota(indices.begin(), indices.end(), std::size_t{0});
    return set.subset(indices);
  };
  return Dataset{dataset.name, dataset.classes, first(dataset.train, train), first(dataset.validation, validation),
                 first(dataset.test, test)};
}

// $MAHPO_DATA_DIR, else the source tree's data/ (set by mahpo's CMake build), else ./data.
inline std::filesystem::path data_directory() {
  if (const char* from_environment = std::getenv("MAHPO_DATA_DIR"); from_environment && *from_environment) {
    return from_environment;
  }
#ifdef MAHPO_DEFAULT_DATA_DIRECTORY
  return MAHPO_DEFAULT_DATA_DIRECTORY;
#else
  return "data";
#endif
}

// The data sets mahpo knows by name; each lives in the folder of that name under the data directory.
inline constexpr std::string_view known_datasets[] = {"mnist", "fashion-mnist"};

namespace detail {
inline std::filesystem::path find_idx_file(const std::filesystem::path& folder, std::string_view stem,
                                           std::string_view dataset) {
  for (const auto& candidate : {folder / stem, folder / (std::string(stem) + ".gz")}) {
    if (std::filesystem::exists(candidate)) return candidate;
  }
  throw DataError(
      fmt::format("data set '{}' not found: {} has no {} (nor {}.gz); run scripts/setup.sh to install it, "
                  "or point MAHPO_DATA_DIR at a folder that holds it",
                  dataset, folder.string(), stem, stem));
}
}  // namespace detail

// Loads "mnist" or "fashion-mnist" from `directory` (default: data_directory()).
inline Dataset load_dataset(std::string_view name, const SplitOptions& options = {},
                            const std::optional<std::filesystem::path>& directory = std::nullopt) {
  if (std::find(std::begin(known_datasets), std::end(known_datasets), name) == std::end(known_datasets)) {
    throw DataError(fmt::format("unknown data set '{}'; mahpo knows: {}", name, fmt::join(known_datasets, ", ")));
  }
  const std::filesystem::path folder = directory.value_or(data_directory()) / name;
  constexpr std::size_t classes = 10;
  const auto file = [&](std::string_view stem) { return detail::find_idx_file(folder, stem, name); };

  Dataset dataset;
  dataset.name = std::string(name);
  dataset.classes = classes;
  const ImageSet full = load_image_set(file("train-images-idx3-ubyte"), file("train-labels-idx1-ubyte"), classes);
  std::tie(dataset.train, dataset.validation) = split_train_validation(full, options);
  dataset.test = load_image_set(file("t10k-images-idx3-ubyte"), file("t10k-labels-idx1-ubyte"), classes);
  if (dataset.test.rows() != full.rows() || dataset.test.columns() != full.columns()) {
    throw DataError(fmt::format("{}: the test images are {}x{}, the training images {}x{}; a network takes one size",
                                folder.string(), dataset.test.rows(), dataset.test.columns(), full.rows(),
                                full.columns()));
  }
  return dataset;
}

}  // namespace mahpo::data
