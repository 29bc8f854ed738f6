#pragma once
// Orthogonal initialization (Saxe et al., 2014), the default of the MAPPO reference code for every
// weight matrix (gain sqrt(2) for hidden layers, 0.01 for policy logits, 1 for values).
//
// A rows x cols Gaussian matrix (the taller orientation) is QR-factorized (LAPACK through
// xtensor-blas); Q with its columns' signs fixed by diag(R) is uniformly distributed over the
// matrices with orthonormal columns (Mezzadri, 2007). The result has orthonormal rows when
// rows <= cols (W W^T = gain^2 I) and orthonormal columns otherwise (W^T W = gain^2 I).

#include <algorithm>
#include <cstddef>
#include <random>
#include <tuple>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xtensor.hpp>

#include <mahpo/rl/tensor.hpp>

namespace mahpo::rl {

inline Matrix orthogonal(std::size_t rows, std::size_t columns, double gain, std::mt19937_64& rng) {
  if (rows == 0 || columns == 0) return Matrix::from_shape({rows, columns});
  const std::size_t tall = std::max(rows, columns), wide = std::min(rows, columns);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix gaussian = Matrix::from_shape({tall, wide});
  for (auto& x : gaussian) x = normal(rng);
  auto [q, r] = xt::linalg::qr(gaussian);  // q: tall x wide with orthonormal columns
  Matrix result = Matrix::from_shape({rows, columns});
  for (std::size_t j = 0; j < wide; ++j) {
    const double sign = r(j, j) < 0.0 ? -1.0 : 1.0;
    for (std::size_t i = 0; i < tall; ++i) {
      const double x = gain * sign * q(i, j);
      if (rows >= columns)
        result(i, j) = x;
      else
        result(j, i) = x;
    }
  }
  return result;
}

}  // namespace mahpo::rl
