#pragma once
// The tensor types of mahpo::rl and the few matrix products its modules need.
//
// Everything is double precision. A batch is a `Matrix` of batch x features (row i = sample i);
// per-sample scalars (values, rewards, advantages) are a `Vector` of length batch; discrete actions
// are an `Actions` matrix of batch x action dimensions. Products go to BLAS through xtensor-blas
// (`xt::blas::gemm`), with the transposes done by BLAS, not by copies.

#include <cmath>
#include <cstddef>
#include <stdexcept>

#include <fmt/format.h>
#include <xtensor-blas/xlinalg.hpp>  // brings xblas.hpp, xlapack.hpp and the cxxblas macros they need
#include <xtensor/xtensor.hpp>

namespace mahpo::rl {

using Matrix = xt::xtensor<double, 2>;        // batch x features
using Vector = xt::xtensor<double, 1>;        // one number per sample
using Actions = xt::xtensor<std::size_t, 2>;  // batch x action dimensions (categorical indices)

enum class Transpose { no, yes };

// result = beta * result + op(a) * op(b); result must already have the product's shape when beta != 0.
inline void multiply_into(const Matrix& a, Transpose transpose_a, const Matrix& b, Transpose transpose_b,
                          Matrix& result, double beta = 0.0) {
  const bool ta = transpose_a == Transpose::yes, tb = transpose_b == Transpose::yes;
  const std::size_t rows = ta ? a.shape()[1] : a.shape()[0];
  const std::size_t inner = ta ? a.shape()[0] : a.shape()[1];
  const std::size_t inner_b = tb ? b.shape()[1] : b.shape()[0];
  const std::size_t columns = tb ? b.shape()[0] : b.shape()[1];
  if (inner != inner_b)
    throw std::invalid_argument(
        fmt::format("mahpo::rl: cannot multiply {}x{} by {}x{}", rows, inner, inner_b, columns));
  if (result.shape()[0] != rows || result.shape()[1] != columns) {
    if (beta != 0.0)
      throw std::invalid_argument(fmt::format("mahpo::rl: accumulating a {}x{} product into a {}x{} matrix", rows,
                                              columns, result.shape()[0], result.shape()[1]));
    result = Matrix::from_shape({rows, columns});
  }
  if (rows == 0 || columns == 0) return;
  if (inner == 0) {  // the empty sum is zero; BLAS might not touch the result
    if (beta == 0.0)
      result.fill(0.0);
    else
      result *= beta;
    return;
  }
  xt::blas::gemm(a, b, result, ta, tb, 1.0, beta);
}

// op(a) * op(b) as a new matrix.
inline Matrix multiply(const Matrix& a, Transpose transpose_a, const Matrix& b, Transpose transpose_b) {
  Matrix result;
  multiply_into(a, transpose_a, b, transpose_b, result);
  return result;
}

// a * b.
inline Matrix multiply(const Matrix& a, const Matrix& b) { return multiply(a, Transpose::no, b, Transpose::no); }

// A vector as a batch x 1 matrix (a critic's output gradient, say).
inline Matrix as_column(const Vector& values) {
  Matrix column = Matrix::from_shape({values.size(), 1});
  for (std::size_t i = 0; i < values.size(); ++i) column(i, 0) = values(i);
  return column;
}

// Column j of a matrix as a vector (a critic's batch x 1 output, say).
inline Vector column(const Matrix& matrix, std::size_t j = 0) {
  if (j >= matrix.shape()[1])
    throw std::invalid_argument(fmt::format("mahpo::rl: column {} of a matrix with {} columns", j, matrix.shape()[1]));
  Vector values = Vector::from_shape({matrix.shape()[0]});
  for (std::size_t i = 0; i < values.size(); ++i) values(i) = matrix(i, j);
  return values;
}

// KL(old || new) of two one-dimensional Gaussians given by their means and log standard deviations:
// log(s_new / s_old) + (s_old^2 + (m_old - m_new)^2) / (2 s_new^2) - 1/2.
inline double gaussian_kl(double old_mean, double old_log_std, double new_mean, double new_log_std) {
  const double variance_ratio = std::exp(2.0 * (old_log_std - new_log_std));
  const double shift = (old_mean - new_mean) * std::exp(-new_log_std);
  return new_log_std - old_log_std + 0.5 * (variance_ratio + shift * shift) - 0.5;
}

}  // namespace mahpo::rl
