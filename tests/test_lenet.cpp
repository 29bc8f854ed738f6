#include <catch2/catch.hpp>

#include <mahpo/nn/lenet.hpp>

#include <type_traits>

using namespace mahpo;
using namespace mahpo::nn;

TEST_CASE("paper_lenet's space is Table 2 of the MAPPO paper, qualified by layer") {
  using S = paper_lenet::space;
  STATIC_REQUIRE(S::size == 8);
  STATIC_REQUIRE(S::dimension == 6);
  STATIC_REQUIRE(std::is_same_v<S::parameter<"conv1.conv_size">, Int<"conv1.conv_size", 2, 7>>);
  STATIC_REQUIRE(std::is_same_v<S::parameter<"conv2.conv_size">, Int<"conv2.conv_size", 2, 7>>);
  STATIC_REQUIRE(std::is_same_v<S::parameter<"fc1.hidden_size">, Int<"fc1.hidden_size", 124, 1024>>);
  STATIC_REQUIRE(std::is_same_v<S::parameter<"fc1.dropout_rate">, Real<"fc1.dropout_rate", 0.5, 0.9>>);
  STATIC_REQUIRE(std::is_same_v<S::parameter<"training.batch_size">, Int<"training.batch_size", 16, 32>>);
  STATIC_REQUIRE(std::is_same_v<S::parameter<"training.learning_rate">, LogReal<"training.learning_rate", 1e-4, 0.1>>);
}

TEST_CASE("the layers that carry hyperparameters are listed at compile time") {
  STATIC_REQUIRE(paper_lenet::tunable_count == 4);  // conv1, conv2, fc1, training
  STATIC_REQUIRE(classic_lenet5::tunable_count == 0);
  STATIC_REQUIRE(boost::hana::at_c<2>(paper_lenet::tunable_layers) ==
                 boost::hana::type_c<Dense<"fc1", Int<"hidden_size", 124, 1024>, Real<"dropout_rate", 0.5, 0.9>>>);
}

TEST_CASE("a config gives the network, batch size and learning rate") {
  paper_lenet::config_type config;
  config.set<"conv1.conv_size">(3).set<"conv2.conv_size">(7).set<"fc1.hidden_size">(1024);
  config.set<"fc1.dropout_rate">(0.5).set<"training.batch_size">(16).set<"training.learning_rate">(0.01);
  const auto network = paper_lenet::network(config);
  CHECK(network.describe() ==
        "input 1x28x28 > conv 6x3x3 > maxpool 2 > conv 16x7x7 > maxpool 2 > dense 1024 (dropout 0.5) > output 10");
  CHECK(paper_lenet::batch_size(config) == 16);
  CHECK(paper_lenet::learning_rate(config) == 0.01);
  CHECK(paper_lenet::classes() == 10);
  CHECK(classic_lenet5::network({}).describe() ==
        "input 1x28x28 > conv 6x5x5 > maxpool 2 > conv 16x5x5 > maxpool 2 > dense 120 (dropout 0) > dense 84 "
        "(dropout 0) > output 10");
}

TEST_CASE("every kernel-size pair of the paper's space fits 28x28") {
  for (const auto& config : paper_lenet::space::discretize({6, 6, 1, 1, 1, 1}).grid()) {
    REQUIRE_NOTHROW(paper_lenet::network(config));
  }
}

TEST_CASE("a config that shrinks a feature map below 1x1 is rejected before training") {
  using Deep = LeNet<Conv<"conv1", Int<"kernel_size", 2, 20>, Fixed<"filters", 4>>, MaxPool<2>,
                     Conv<"conv2", Int<"kernel_size", 2, 20>, Fixed<"filters", 4>>, MaxPool<2>,
                     Dense<"fc1", Fixed<"units", 10>, Fixed<"dropout_rate", 0.0>>, Output<10>,
                     Training<Fixed<"batch_size", 8>, Fixed<"learning_rate", 0.1>>>;
  Deep::config_type config;
  config.set<"conv1.kernel_size">(20).set<"conv2.kernel_size">(5);
  CHECK_THROWS_WITH(Deep::network(config),
                    Catch::Contains("layer 3: a 5x5 convolution does not fit a 4x4 feature map"));
  config.set<"conv2.kernel_size">(4);
  CHECK_THROWS_WITH(Deep::network(config), Catch::Contains("layer 4: a 2x2 pooling shrinks a 1x1 feature map"));
  config.set<"conv2.kernel_size">(3);
  CHECK_NOTHROW(Deep::network(config));
  CHECK_THROWS_AS(Deep::network(config, InputShape{1, 10, 10}), ConfigError);
}

TEST_CASE("a 'same' convolution keeps the map's size, so deeper stacks fit") {
  using Padded = LeNet<Conv<"conv1", Fixed<"kernel_size", 5>, Fixed<"filters", 6>, Padding::same>, MaxPool<2>,
                       Conv<"conv2", Fixed<"kernel_size", 5>, Fixed<"filters", 16>>, MaxPool<2>,
                       Dense<"fc1", Fixed<"units", 120>, Fixed<"dropout_rate", 0.0>>, Output<10>,
                       Training<Fixed<"batch_size", 8>, Fixed<"learning_rate", 0.1>>>;
  const auto network = Padded::network({});
  CHECK(network.describe() ==
        "input 1x28x28 > conv 6x5x5 same > maxpool 2 > conv 16x5x5 > maxpool 2 > dense 120 (dropout 0) > output 10");
  CHECK_NOTHROW(check_network({{1, 3, 3}, {ConvSpec{7, 2, Padding::same}, OutputSpec{10}}}));
  CHECK_THROWS_WITH(check_network({{1, 3, 3}, {ConvSpec{7, 2}, OutputSpec{10}}}),
                    Catch::Contains("a 7x7 convolution does not fit a 3x3 feature map"));
}

TEST_CASE("hand-made network specs are checked") {
  CHECK_THROWS_WITH(check_network({{}, {ConvSpec{3, 4}}}), Catch::Contains("must end with an Output layer"));
  CHECK_THROWS_WITH(check_network({{}, {DenseSpec{10, 0.0}, ConvSpec{3, 4}, OutputSpec{10}}}),
                    Catch::Contains("convolution after a dense layer"));
  CHECK_THROWS_WITH(check_network({{}, {DenseSpec{10, 1.0}, OutputSpec{10}}}), Catch::Contains("dropout rate 1"));
  CHECK_THROWS_WITH(check_network({{}, {OutputSpec{10}, DenseSpec{10, 0.0}}}), Catch::Contains("must come last"));
}
