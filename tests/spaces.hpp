#pragma once
// Spaces shared by the tests.

#include <mahpo/space/space.hpp>

namespace test_spaces {

using Mixed = mahpo::Space<mahpo::Int<"batch_size", 16, 32>, mahpo::LogReal<"learning_rate", 1e-4, 0.1>,
                           mahpo::Categorical<"activation", "relu", "tanh", "sigmoid">, mahpo::Fixed<"filters", 6>,
                           mahpo::Real<"dropout_rate", 0.5, 0.9>, mahpo::LogInt<"hidden_size", 124, 1024>>;

using Layer = mahpo::Space<mahpo::Int<"kernel_size", 2, 7>, mahpo::Real<"dropout_rate", 0.5, 0.9>>;

}  // namespace test_spaces
