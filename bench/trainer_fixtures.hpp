#pragma once
// What the trainer benchmarks share: random images and the two benchmark networks.
#include <mahpo/mahpo.hpp>

#include <cstddef>
#include <cstdint>
#include <random>

namespace mahpo::bench {

// `count` random 28x28 images with random labels: throughput does not depend on what they show.
inline data::ImageSet random_images(std::size_t count) {
  data::ImageSet set;
  set.images = xt::xtensor<std::uint8_t, 3>::from_shape({count, 28, 28});
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int> pixel(0, 255), label(0, 9);
  for (auto& p : set.images) p = static_cast<std::uint8_t>(pixel(rng));
  for (std::size_t i = 0; i < count; ++i) set.labels.push_back(static_cast<std::uint8_t>(label(rng)));
  return set;
}

inline nn::NetworkSpec classic_lenet5() { return nn::classic_lenet5::network({}); }

// The paper space's most expensive config: 7x7 kernels in both convolutions, 1024 hidden units
// (dropout 0.5). tools/bench_pytorch.py builds the same network.
inline nn::NetworkSpec paper_lenet_largest() {
  nn::paper_lenet::config_type config;
  config.set<"conv1.conv_size">(7).set<"conv2.conv_size">(7).set<"fc1.hidden_size">(1024).set<"fc1.dropout_rate">(0.5);
  return nn::paper_lenet::network(config);
}

}  // namespace mahpo::bench
