#pragma once
// Gradient-norm clipping (Pascanu et al., 2013), as torch.nn.utils.clip_grad_norm_ does it: the
// global L2 norm over all gradients; if it exceeds max_norm, every gradient is scaled by
// max_norm / (norm + 1e-6). Returns the norm before clipping (worth logging). The MAPPO reference
// default max_norm is 10.

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include <mahpo/rl/module.hpp>

namespace mahpo::rl {

// The global L2 norm of the gradients.
inline double gradient_norm(const ParameterList& parameters) {
  double sum = 0.0;
  for (const Parameter* p : parameters)
    for (double g : p->gradient) sum += g * g;
  return std::sqrt(sum);
}

inline double clip_gradient_norm(const ParameterList& parameters, double max_norm) {
  if (!(max_norm > 0.0))
    throw std::invalid_argument(fmt::format("mahpo::rl::clip_gradient_norm: max_norm {} must be > 0", max_norm));
  const double norm = gradient_norm(parameters);
  const double scale = max_norm / (norm + 1e-6);
  if (scale < 1.0)
    for (Parameter* p : parameters) p->gradient *= scale;
  return norm;
}

}  // namespace mahpo::rl
