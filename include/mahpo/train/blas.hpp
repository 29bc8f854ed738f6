#pragma once
// Row-major sgemm and the thread count of OpenBLAS. The trainer does not use them (its products run
// on mahpo's kernels, kernels.hpp); bench/bench_kernels.cpp compares the two with this sgemm.
//
// The CBLAS declarations come from xtensor-blas's bundled copy (the one its xlinalg.hpp uses), not
// from OpenBLAS's <cblas.h>: the two declare the same enums, so a program that includes both (the
// trainer and the GP or RL code) would not compile.

#include <xtensor-blas/xblas.hpp>

#include <cstddef>

extern "C" void openblas_set_num_threads(int threads);  // OpenBLAS's own API (not in CBLAS)

namespace mahpo::train {

// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major.
inline void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
                 const float* a, const float* b, float beta, float* c) {
  const auto lda = static_cast<int>(transpose_a ? m : k);
  const auto ldb = static_cast<int>(transpose_b ? k : n);
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, lda, b, ldb, beta, c,
              static_cast<int>(n));
}

// OpenBLAS's thread count is process-wide: the trainer sets it before it trains.
inline void set_blas_threads(std::size_t threads) { openblas_set_num_threads(static_cast<int>(threads)); }

}  // namespace mahpo::train
