#include <mahpo/mahpo.hpp>

#include <iostream>
#include <random>

using Training = mahpo::Space<mahpo::Int<"batch_size", 16, 32>, mahpo::LogReal<"learning_rate", 1e-4, 0.1>>;

int main() {
  std::mt19937_64 rng(7);
  const auto config = Training::sample(rng);
  std::cout << config << '\n';
  return Training::config_type::from_json(config.to_json()) == config ? 0 : 1;
}
