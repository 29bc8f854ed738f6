// Built with only single_include/ on the include path: the single header stands on its own.
#include <mahpo/mahpo.hpp>

#include <catch2/catch.hpp>

#include <random>

#if __has_include(<mahpo/space/space.hpp>)
#error "this test must see only single_include/, not include/"
#endif

using Training = mahpo::Space<mahpo::Int<"batch_size", 16, 32>, mahpo::LogReal<"learning_rate", 1e-4, 0.1>>;
using Network = mahpo::Concat<mahpo::Prefixed<"conv1", mahpo::Space<mahpo::Int<"kernel_size", 2, 7>>>, Training>;

TEST_CASE("the single header carries spaces, configs and discretizations") {
  std::mt19937_64 rng(5);
  const auto config = Network::sample(rng);
  CHECK(Network::config_type::from_json(config.to_json()) == config);
  CHECK(Network::from_unit_cube(Network::to_unit_cube(config)).get<"conv1.kernel_size">() ==
        config.get<"conv1.kernel_size">());
  CHECK(Network::grid(2).size() == 8);
}

TEST_CASE("the single header carries the data reader") {
  CHECK_THROWS_AS(mahpo::data::read_idx("/nonexistent/mahpo/file"), mahpo::data::DataError);
}
