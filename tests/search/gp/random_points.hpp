#pragma once
// Seeded uniform points of [0, 1]^dimension, row-major, for the GP parts' tests.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "../../seeds.hpp"

namespace mahpo::testing {

inline std::vector<double> random_points(std::size_t count, std::size_t dimension, std::uint64_t seed) {
  std::mt19937_64 rng(mahpo::testing::seed(seed));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> points(count * dimension);
  for (double& value : points) value = unit(rng);
  return points;
}

}  // namespace mahpo::testing
