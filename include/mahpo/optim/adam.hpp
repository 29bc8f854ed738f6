#pragma once
// The Adam update (Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015, Algorithm 1),
// shared by the CNN trainer (float) and the RL toolkit (double): one formula, two precisions.
//
//   m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2,
//   w -= lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
//
// written as PyTorch's torch.optim.Adam computes it (epsilon added to the bias-corrected root), so
// the RL searchers' updates, and the journals they replay, are the same as before the trainer shared it.

#include <cmath>
#include <concepts>
#include <cstddef>
#include <span>

#include <mahpo/train/formulas.hpp>

namespace mahpo::optim {

template <std::floating_point T>
struct AdamStep {
  T beta1 = T(0.9);
  T beta2 = T(0.999);
  T learning_rate = T(0);
  T correction1 = T(1);  // 1 - beta1^t
  T correction2 = T(1);  // 1 - beta2^t
  T epsilon = T(1e-8);

  // The coefficients of step t (1, 2, ...).
  static AdamStep at(std::size_t t, double learning_rate, double beta1, double beta2, double epsilon) {
    const double correction1 = 1.0 - std::pow(beta1, static_cast<double>(t));
    const double correction2 = 1.0 - std::pow(beta2, static_cast<double>(t));
    return {static_cast<T>(beta1),       static_cast<T>(beta2),       static_cast<T>(learning_rate),
            static_cast<T>(correction1), static_cast<T>(correction2), static_cast<T>(epsilon)};
  }

  // One element: the moments m and v and the weight w, from the gradient g.
  void operator()(T& w, T g, T& m, T& v) const {
    train::formulas::adam_update(w, g, m, v, learning_rate, beta1, beta2, correction1, correction2, epsilon);
  }

  // Every element of one tensor (all spans of one length).
  void operator()(std::span<T> weights, std::span<const T> gradients, std::span<T> first, std::span<T> second) const {
    for (std::size_t i = 0; i < weights.size(); ++i) (*this)(weights[i], gradients[i], first[i], second[i]);
  }
};

}  // namespace mahpo::optim
