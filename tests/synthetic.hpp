#pragma once
// A small synthetic image classification problem the tests write themselves: 12x12 images, four
// classes, class c puts a bright 4x4 square in quadrant c over faint noise. Linearly separable.

#include <cstdint>
#include <random>

#include <mahpo/data/dataset.hpp>

namespace test_synthetic {

inline mahpo::data::ImageSet quadrants(std::size_t count, std::uint64_t seed) {
  mahpo::data::ImageSet set;
  set.images = xt::xtensor<std::uint8_t, 3>::from_shape({count, 12, 12});
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> noise(0, 60), shift(0, 2);
  for (std::size_t i = 0; i < count; ++i) {
    const auto label = static_cast<std::uint8_t>(i % 4);
    for (std::size_t y = 0; y < 12; ++y) {
      for (std::size_t x = 0; x < 12; ++x) set.images(i, y, x) = static_cast<std::uint8_t>(noise(rng));
    }
    const std::size_t top = (label / 2) * 6 + static_cast<std::size_t>(shift(rng));
    const std::size_t left = (label % 2) * 6 + static_cast<std::size_t>(shift(rng));
    for (std::size_t y = top; y < top + 4; ++y) {
      for (std::size_t x = left; x < left + 4; ++x) set.images(i, y, x) = 230;
    }
    set.labels.push_back(label);
  }
  return set;
}

inline mahpo::data::Dataset quadrant_dataset() {
  mahpo::data::Dataset dataset;
  dataset.name = "quadrants";
  dataset.classes = 4;
  dataset.train = quadrants(800, 1);
  dataset.validation = quadrants(200, 2);
  dataset.test = quadrants(200, 3);
  return dataset;
}

}  // namespace test_synthetic
