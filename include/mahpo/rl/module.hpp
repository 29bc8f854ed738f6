#pragma once
// Parameters and the Module concept of mahpo::rl.
//
// A `Parameter` is a value and the gradient of the loss with respect to it, both of the same shape
// (biases are 1 x n matrices). A module (Linear, LayerNorm, Mlp, LstmCell, Lstm) follows one
// protocol:
//   - `forward(input)` computes the output and caches what `backward` needs (the last call only);
//   - `backward(d_output)` takes d(loss)/d(output) of that last forward, *adds* d(loss)/d(parameter)
//     into each parameter's gradient and returns d(loss)/d(input);
//   - `parameters()` lists pointers to its parameters, in a fixed order;
//   - `zero_gradients()` sets every gradient to zero.
// Gradients accumulate, so several forward/backward pairs (an actor per agent over minibatches,
// or a sum of losses) add up until `zero_gradients()`; the optimizer (`Adam::step`) and
// `clip_gradient_norm` take the `ParameterList`. Modules are plain values: copying one copies
// its weights (handy to keep the policy from before an update); pointers from `parameters()` point
// into the module, so take them again after moving or copying it.

#include <concepts>
#include <cstddef>
#include <utility>
#include <vector>

#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

struct Parameter {
  Matrix value;
  Matrix gradient;  // same shape as value

  Parameter() = default;
  explicit Parameter(Matrix initial) : value(std::move(initial)), gradient(xt::zeros<double>(value.shape())) {}
};

using ParameterList = std::vector<Parameter*>;

// What every mahpo::rl module provides (see the comment at the top of this header).
template <typename M>
concept Module = requires(M& module) {
  { module.parameters() } -> std::same_as<ParameterList>;
  {module.zero_gradients()};
};

inline void zero_gradients(const ParameterList& parameters) {
  for (Parameter* parameter : parameters) parameter->gradient.fill(0.0);
}

// The number of scalars the parameters hold.
inline std::size_t parameter_count(const ParameterList& parameters) {
  std::size_t count = 0;
  for (const Parameter* parameter : parameters) count += parameter->value.size();
  return count;
}

// Concatenates parameter lists (an actor's and a critic's, say) for one optimizer or one norm.
inline ParameterList join(ParameterList first, const ParameterList& second) {
  first.insert(first.end(), second.begin(), second.end());
  return first;
}

}  // namespace mahpo::rl
