#include <catch2/catch.hpp>

#include <mahpo/data/dataset.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <set>
#include <vector>

#include "idx_files.hpp"

using namespace mahpo::data;
using Catch::Contains;
using test_idx::idx_bytes;

namespace {
// `count` 2x2 images whose first pixel is the image's index, labels index % 10.
ImageSet numbered(std::size_t count) {
  ImageSet set;
  set.images = xt::xtensor<std::uint8_t, 3>::from_shape({count, 2, 2});
  set.images.fill(0);
  for (std::size_t i = 0; i < count; ++i) {
    set.images(i, 0, 0) = static_cast<std::uint8_t>(i);
    set.labels.push_back(static_cast<std::uint8_t>(i % 10));
  }
  return set;
}

std::vector<std::size_t> first_pixels(const ImageSet& set) {
  std::vector<std::size_t> ids;
  for (std::size_t i = 0; i < set.size(); ++i) ids.push_back(set.images(i, 0, 0));
  return ids;
}
}  // namespace

TEST_CASE("without a seed the last images are held out") {
  const auto [train, validation] = split_train_validation(numbered(100), {.validation_size = 10});
  CHECK(train.size() == 90);
  CHECK(validation.size() == 10);
  CHECK(first_pixels(validation) == std::vector<std::size_t>{90, 91, 92, 93, 94, 95, 96, 97, 98, 99});
  CHECK(train.labels[89] == 9);
}

TEST_CASE("a seeded split is deterministic, disjoint and complete") {
  const auto full = numbered(200);
  const auto [train_a, validation_a] = split_train_validation(full, {.validation_size = 50, .seed = 7});
  const auto [train_b, validation_b] = split_train_validation(full, {.validation_size = 50, .seed = 7});
  const auto [train_c, validation_c] = split_train_validation(full, {.validation_size = 50, .seed = 8});
  CHECK(first_pixels(validation_a) == first_pixels(validation_b));
  CHECK(first_pixels(validation_a) != first_pixels(validation_c));
  std::set<std::size_t> all;
  for (auto id : first_pixels(train_a)) all.insert(id);
  for (auto id : first_pixels(validation_a)) all.insert(id);
  CHECK(all.size() == 200);
  for (std::size_t i = 0; i < validation_a.size(); ++i) {  // labels travel with their images
    CHECK(validation_a.labels[i] == validation_a.images(i, 0, 0) % 10);
  }
}

TEST_CASE("a validation set must leave training images") {
  CHECK_THROWS_WITH(split_train_validation(numbered(10), {.validation_size = 10}),
                    Contains("leaves no training images"));
}

TEST_CASE("image and label files must agree") {
  test_idx::Folder folder;
  const auto images = folder.write("images", idx_bytes({3, 2, 2}, std::vector<std::uint8_t>(12, 1)));
  const auto labels = folder.write("labels", idx_bytes({4}, {0, 1, 2, 3}));
  CHECK_THROWS_WITH(load_image_set(images, labels, 10),
                    Contains(images.string() + " holds 3 images but " + labels.string() + " holds 4 labels"));
  const auto bad_labels = folder.write("bad_labels", idx_bytes({3}, {0, 12, 2}));
  CHECK_THROWS_WITH(load_image_set(images, bad_labels, 10),
                    Contains("label 12 at position 1 is not below the 10 classes"));
  CHECK_THROWS_WITH(load_image_set(labels, labels, 10), Contains("expected images of rank 3"));
  CHECK_THROWS_WITH(load_image_set(images, images, 10), Contains("expected labels of rank 1"));
  const auto good_labels = folder.write("good_labels", idx_bytes({3}, {0, 1, 1}));
  const auto set = load_image_set(images, good_labels, 10);
  CHECK(set.size() == 3);
  CHECK(set.class_counts(3) == std::vector<std::size_t>{1, 2, 0});
}

TEST_CASE("an image file whose header says 0 images, rows or columns is refused at load, naming the file") {
  test_idx::Folder folder;
  const auto labels = folder.write("labels", idx_bytes({3}, {0, 1, 2}));
  for (const std::vector<std::uint32_t>& shape : {std::vector<std::uint32_t>{3, 0, 28}, {3, 28, 0}, {3, 0, 0}}) {
    const auto images = folder.write("flat-images", idx_bytes(shape, {}));
    CHECK_THROWS_WITH(load_image_set(images, labels, 10),
                      Contains(images.string() + ": the header announces 3 images of " + std::to_string(shape[1]) +
                               "x" + std::to_string(shape[2]) + " pixels"));
  }
  const auto no_images = folder.write("no-images", idx_bytes({0, 28, 28}, {}));
  const auto no_labels = folder.write("no-labels", idx_bytes({0}, {}));
  CHECK_THROWS_WITH(load_image_set(no_images, no_labels, 10),
                    Contains(no_images.string() + ": the header announces 0 images"));
  // Through load_dataset too: the training images of a folder laid out as MNIST.
  std::filesystem::create_directories(folder.path() / "mnist");
  std::vector<std::uint8_t> ten(10);
  for (std::size_t i = 0; i < ten.size(); ++i) ten[i] = static_cast<std::uint8_t>(i);
  const auto train_images = folder.write("mnist/train-images-idx3-ubyte", idx_bytes({10, 0, 28}, {}));
  folder.write("mnist/train-labels-idx1-ubyte", idx_bytes({10}, ten));
  folder.write("mnist/t10k-images-idx3-ubyte", idx_bytes({10, 4, 4}, test_idx::counting(160)));
  folder.write("mnist/t10k-labels-idx1-ubyte", idx_bytes({10}, ten));
  CHECK_THROWS_WITH(load_dataset("mnist", {.validation_size = 5}, folder.path()),
                    Contains(train_images.string() + ": the header announces 10 images of 0x28 pixels"));
}

TEST_CASE("unknown or missing data sets are explained") {
  CHECK_THROWS_WITH(load_dataset("cifar10"), Contains("unknown data set 'cifar10'; mahpo knows: mnist, fashion-mnist"));
  test_idx::Folder empty;
  CHECK_THROWS_WITH(load_dataset("mnist", {}, empty.path()),
                    Contains("data set 'mnist' not found") && Contains("run scripts/setup.sh"));
}

TEST_CASE("a data set loads from files the test writes, raw or gzipped") {
  test_idx::Folder folder;
  std::filesystem::create_directories(folder.path() / "mnist");
  std::vector<std::uint8_t> labels(30);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  folder.write("mnist/train-images-idx3-ubyte", idx_bytes({30, 4, 4}, test_idx::counting(30 * 16)));
  folder.write_gz("mnist/train-labels-idx1-ubyte.gz", idx_bytes({30}, labels));
  folder.write_gz("mnist/t10k-images-idx3-ubyte.gz", idx_bytes({10, 4, 4}, test_idx::counting(160)));
  folder.write("mnist/t10k-labels-idx1-ubyte",
               idx_bytes({10}, std::vector<std::uint8_t>(labels.begin(), labels.begin() + 10)));
  const auto dataset = load_dataset("mnist", {.validation_size = 5}, folder.path());
  CHECK(dataset.train.size() == 25);
  CHECK(dataset.validation.size() == 5);
  CHECK(dataset.test.size() == 10);
  CHECK(dataset.train.rows() == 4);
  CHECK(dataset.validation.labels == std::vector<std::uint8_t>{5, 6, 7, 8, 9});
}

// The real data sets, installed by scripts/setup.sh.
TEST_CASE("MNIST has 60,000 + 10,000 images of 28x28 in 10 classes", "[real-data]") {
  const auto mnist = load_dataset("mnist");
  CHECK(mnist.classes == 10);
  CHECK(mnist.train.size() + mnist.validation.size() == 60000);
  CHECK(mnist.validation.size() == 5000);
  CHECK(mnist.test.size() == 10000);
  CHECK(mnist.train.rows() == 28);
  CHECK(mnist.train.columns() == 28);
  CHECK(mnist.test.rows() == 28);
  std::vector<std::size_t> train_counts = mnist.train.class_counts(10);
  const auto validation_counts = mnist.validation.class_counts(10);
  for (std::size_t c = 0; c < 10; ++c) train_counts[c] += validation_counts[c];
  // The class counts published with MNIST.
  CHECK(train_counts == std::vector<std::size_t>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949});
  CHECK(mnist.test.class_counts(10) == std::vector<std::size_t>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009});
}

TEST_CASE("Fashion-MNIST has 60,000 + 10,000 images of 28x28 in 10 balanced classes", "[real-data]") {
  const auto fashion = load_dataset("fashion-mnist");
  CHECK(fashion.train.size() + fashion.validation.size() == 60000);
  CHECK(fashion.test.size() == 10000);
  CHECK(fashion.train.rows() == 28);
  CHECK(fashion.train.columns() == 28);
  std::vector<std::size_t> train_counts = fashion.train.class_counts(10);
  const auto validation_counts = fashion.validation.class_counts(10);
  for (std::size_t c = 0; c < 10; ++c) train_counts[c] += validation_counts[c];
  CHECK(train_counts == std::vector<std::size_t>(10, 6000));
  CHECK(fashion.test.class_counts(10) == std::vector<std::size_t>(10, 1000));
}

TEST_CASE("training and test images of different sizes are refused when loaded, not at every trial") {
  test_idx::Folder folder;
  std::filesystem::create_directories(folder.path() / "mnist");
  std::vector<std::uint8_t> labels(30);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  folder.write("mnist/train-images-idx3-ubyte", idx_bytes({30, 4, 4}, test_idx::counting(30 * 16)));
  folder.write("mnist/train-labels-idx1-ubyte", idx_bytes({30}, labels));
  folder.write("mnist/t10k-images-idx3-ubyte", idx_bytes({10, 5, 4}, test_idx::counting(200)));
  folder.write("mnist/t10k-labels-idx1-ubyte",
               idx_bytes({10}, std::vector<std::uint8_t>(labels.begin(), labels.begin() + 10)));
  CHECK_THROWS_WITH(load_dataset("mnist", {.validation_size = 5}, folder.path()),
                    Contains("the test images are 5x4, the training images 4x4"));
}
