// A typed search space of one's own: sample it, print it, map it to the unit cube, walk its grid.
#include <mahpo/mahpo.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <random>

using namespace mahpo;

using Convolution = Space<Int<"kernel_size", 2, 7>, Categorical<"activation", "relu", "tanh">>;
using Training = Space<Int<"batch_size", 16, 32>, LogReal<"learning_rate", 1e-4, 0.1>, Fixed<"momentum", 0.9>>;
using Network = Concat<Prefixed<"conv1", Convolution>, Prefixed<"conv2", Convolution>, Training>;

int main() {
  fmt::print("{} parameters, {} searched:\n{}", Network::size, Network::dimension, Network::describe());

  std::mt19937_64 rng(2024);
  auto config = Network::sample(rng);
  fmt::print("\na sample:      {}\n", config.to_string());
  fmt::print("as JSON:       {}\n", config.to_json().dump());
  fmt::print("in [0,1]^{}:    {::.3f}\n", Network::dimension, Network::to_unit_cube(config));

  const std::int64_t kernel = config.get<"conv2.kernel_size">();  // checked at compile time
  config.set<"conv2.kernel_size">(kernel == 7 ? 2 : kernel + 1);
  fmt::print("conv2 changed: {}\n", config.to_string());

  const auto actions = Network::discretize(3);
  fmt::print("\nat 3 values per dimension: actions per dimension {}, {} grid points\n", actions.counts(),
             actions.size());
  return 0;
}
