// Runs a fixed number of training steps (or evaluation passes) of a benchmark network on random
// images, for instruction counts that noise cannot move:
//   valgrind --tool=callgrind build/bench/trainer_steps classic_lenet5 32 train 20
// and the same with 120 steps: the difference over 100 x 32 images is the instructions per image,
// setup excluded. scripts/instructions_per_image.sh does exactly that.
#include <mahpo/mahpo.hpp>

#include "trainer_fixtures.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace mahpo;

nn::NetworkSpec network(const std::string& name) {
  if (name == "classic_lenet5") return bench::classic_lenet5();
  if (name == "paper_lenet_largest") return bench::paper_lenet_largest();
  throw std::invalid_argument("trainer_steps: the network is classic_lenet5 or paper_lenet_largest, got " + name);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    fmt::print(stderr, "usage: trainer_steps NETWORK BATCH train|evaluate STEPS\n");
    return 2;
  }
  const auto spec = network(argv[1]);
  const auto batch = static_cast<std::size_t>(std::stoul(argv[2]));
  const bool training = std::string(argv[3]) == "train";
  const auto steps = static_cast<std::size_t>(std::stoul(argv[4]));

  const std::size_t count = 1024;
  const data::ImageSet images = bench::random_images(count);

  train::Trainer trainer(spec, train::TrainerOptions{.batch_size = batch, .evaluation_batch = batch});
  train::Optimizer optimizer(train::Sgd{}, trainer.network().parameters());
  std::vector<std::size_t> indices(batch);
  std::size_t cursor = 0;
  double total = 0.0;
  const std::vector<float> input(batch * 28 * 28, 0.5f);
  for (std::size_t step = 0; step < steps; ++step) {
    for (auto& index : indices) index = cursor++ % count;
    if (training) {
      total += trainer.step(optimizer, images, indices, 0.01);
    } else {
      total += trainer.network().forward(input, batch, false)[0];
    }
  }
  fmt::print("{} steps of {} at batch {} ({}), ISA {}: checksum {}\n", steps, argv[1], batch, argv[3],
             train::kernels::isa_name(train::kernels::active_isa()), total);
}
