#pragma once
// Layer normalization over the features of each sample (Ba et al., 2016):
// output = gain * (input - mean) / sqrt(variance + epsilon) + shift, with the row's mean and
// (biased) variance; gain starts at 1, shift at 0, epsilon 1e-5 (PyTorch's default, used by the
// MAPPO reference code). Follows the Module protocol of mahpo/rl/module.hpp.

#include <cmath>
#include <cstddef>
#include <stdexcept>

#include <fmt/format.h>

#include <xtensor/xmath.hpp>

#include <mahpo/rl/module.hpp>
#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

class LayerNorm {
 public:
  Parameter gain;   // 1 x features
  Parameter shift;  // 1 x features

  LayerNorm() = default;
  explicit LayerNorm(std::size_t features, double epsilon = 1e-5)
      : gain(xt::ones<double>({std::size_t{1}, features})),
        shift(xt::zeros<double>({std::size_t{1}, features})),
        epsilon_(epsilon) {}

  std::size_t features() const { return gain.value.shape()[1]; }

  Matrix predict(const Matrix& input) const {
    Matrix normalized, inverse_deviation;
    return normalize(input, normalized, inverse_deviation);
  }

  Matrix forward(const Matrix& input) { return normalize(input, normalized_, inverse_deviation_); }

  Matrix backward(const Matrix& output_gradient) {
    const std::size_t batch = normalized_.shape()[0], n = features();
    if (output_gradient.shape()[0] != batch || output_gradient.shape()[1] != n)
      throw std::invalid_argument("mahpo::rl::LayerNorm: backward's gradient does not match the last forward");
    Matrix input_gradient = Matrix::from_shape({batch, n});
    for (std::size_t i = 0; i < batch; ++i) {
      // d(input) = (d(xhat) - mean(d(xhat)) - xhat * mean(d(xhat) * xhat)) / sigma, d(xhat) = d(output) * gain
      double mean_gradient = 0.0, mean_projection = 0.0;
      for (std::size_t j = 0; j < n; ++j) {
        const double dy = output_gradient(i, j);
        gain.gradient(0, j) += dy * normalized_(i, j);
        shift.gradient(0, j) += dy;
        const double dxhat = dy * gain.value(0, j);
        mean_gradient += dxhat;
        mean_projection += dxhat * normalized_(i, j);
      }
      mean_gradient /= static_cast<double>(n);
      mean_projection /= static_cast<double>(n);
      for (std::size_t j = 0; j < n; ++j) {
        const double dxhat = output_gradient(i, j) * gain.value(0, j);
        input_gradient(i, j) = (dxhat - mean_gradient - normalized_(i, j) * mean_projection) * inverse_deviation_(i, 0);
      }
    }
    return input_gradient;
  }

  ParameterList parameters() { return {&gain, &shift}; }
  void zero_gradients() { rl::zero_gradients(parameters()); }

 private:
  double epsilon_ = 1e-5;
  Matrix normalized_;         // batch x features, (input - mean) / sigma
  Matrix inverse_deviation_;  // batch x 1, 1 / sigma

  Matrix normalize(const Matrix& input, Matrix& normalized, Matrix& inverse_deviation) const {
    const std::size_t batch = input.shape()[0], n = features();
    if (input.shape()[1] != n)
      throw std::invalid_argument(
          fmt::format("mahpo::rl::LayerNorm: input has {} features, the layer takes {}", input.shape()[1], n));
    normalized = Matrix::from_shape({batch, n});
    inverse_deviation = Matrix::from_shape({batch, 1});
    Matrix output = Matrix::from_shape({batch, n});
    const Vector mean = xt::mean(input, {1});
    const Vector variance = xt::variance(input, {1});
    for (std::size_t i = 0; i < batch; ++i) {
      inverse_deviation(i, 0) = 1.0 / std::sqrt(variance(i) + epsilon_);
      for (std::size_t j = 0; j < n; ++j) {
        normalized(i, j) = (input(i, j) - mean(i)) * inverse_deviation(i, 0);
        output(i, j) = gain.value(0, j) * normalized(i, j) + shift.value(0, j);
      }
    }
    return output;
  }
};

}  // namespace mahpo::rl
