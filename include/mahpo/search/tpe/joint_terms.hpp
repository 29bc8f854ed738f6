#pragma once
// The vectorized part of the multivariate TPE's scores (tpe/parzen_estimator.hpp): the log term of
// every observation kernel at one point, and the log-sum-exp of such terms. Compiled for AVX-512,
// AVX2 and SSE2 and picked at run time (mahpo/isa.hpp): a long history's score is a few thousand
// kernels times the coordinates per candidate, 48 times per ask. Floating-point contraction is off,
// so every ISA computes the same bits.

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <mahpo/isa.hpp>

#if defined(__clang__)
#define MAHPO_NO_CONTRACTION _Pragma("clang fp contract(off)")
#else
#define MAHPO_NO_CONTRACTION
#endif

namespace mahpo::search::tpe::detail {

// What the terms of n kernels at a point x are made of: per kernel i, log_const[i] plus, per
// coordinate, -z^2 / 2 with z = (x - mu[i]) * inv_sigma[i] (a real coordinate), the kernel's log
// probability of x's choice (a categorical: peak where the kernel's observed choice is x's, else
// base), or a linear integer's log cell mass, read from `table` at clamp(base[i] + cell, lo[i], hi[i])
// (the cell of x; the table holds each kernel's log masses by offset between cells).
struct JointTerms {
  struct Real {
    const double* mu;
    const double* inv_sigma;
    double x;
  };
  struct Categorical {
    const std::int32_t* observed;
    std::int32_t choice;
    double peak, base;
  };
  struct Cell {
    const double* table;
    const std::int32_t* base;
    const std::int32_t* lo;
    const std::int32_t* hi;
    std::int32_t cell;
  };
  std::size_t n = 0;
  const double* log_const = nullptr;
  std::span<const Real> reals;
  std::span<const Categorical> categoricals;
  std::span<const Cell> cells;
};

// exp(s) for s <= 0 (s below -708 is taken as -708, whose exp is 3e-308): s = k ln 2 + r with
// |r| <= ln 2 / 2 (Cody and Waite's split of ln 2, as fdlibm), exp(r) by its Taylor series to r^13
// (the remainder is below 1e-17), times 2^k built in the exponent bits. Within a few ulp of exp.
[[gnu::always_inline]] inline double exp_nonpositive(double s) {
  MAHPO_NO_CONTRACTION
  constexpr double log2e = 1.4426950408889634, ln2_hi = 6.93147180369123816490e-01,
                   ln2_lo = 1.90821492927058770002e-10, shifter = 0x1.8p52;
  s = s < -708.0 ? -708.0 : s;
  const double shifted = s * log2e + shifter;  // k in the low bits
  const double k = shifted - shifter;
  const double r = (s - k * ln2_hi) - k * ln2_lo;
  double p = 1.0 / 6227020800.0;  // 1 / 13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const std::int64_t exponent = std::bit_cast<std::int64_t>(shifted) - std::bit_cast<std::int64_t>(shifter);
  return p * std::bit_cast<double>((exponent + 1023) << 52);
}

[[gnu::always_inline]] inline void fill_joint_terms(const JointTerms& job, double* __restrict out) {
  MAHPO_NO_CONTRACTION
  const std::size_t n = job.n;
  const double* __restrict log_const = job.log_const;
  for (std::size_t i = 0; i < n; ++i) out[i] = log_const[i];
  for (const auto& real : job.reals) {
    const double* __restrict mu = real.mu;
    const double* __restrict inv_sigma = real.inv_sigma;
    const double x = real.x;
    for (std::size_t i = 0; i < n; ++i) {
      const double z = (x - mu[i]) * inv_sigma[i];
      out[i] -= 0.5 * (z * z);
    }
  }
  for (const auto& categorical : job.categoricals) {
    const std::int32_t* __restrict observed = categorical.observed;
    const std::int32_t choice = categorical.choice;
    const double peak = categorical.peak, base = categorical.base;
    for (std::size_t i = 0; i < n; ++i) out[i] += observed[i] == choice ? peak : base;
  }
}

// A linear integer's cell masses, added to out[first, n).
[[gnu::always_inline]] inline void add_cell_masses(const JointTerms::Cell& cell, std::size_t first, std::size_t n,
                                                   double* __restrict out) {
  const std::int32_t at = cell.cell;
  for (std::size_t i = first; i < n; ++i) {
    const std::int32_t index = cell.base[i] + at;
    out[i] += cell.table[index < cell.lo[i] ? cell.lo[i] : (index > cell.hi[i] ? cell.hi[i] : index)];
  }
}

// log(sum exp(terms) + exp(extra)), from the largest term: the max, then the shifted exps, each in
// eight running lanes (a compiler may not reorder one running sum).
[[gnu::always_inline]] inline double log_sum_exp_body(const double* __restrict terms, std::size_t n, double extra) {
  MAHPO_NO_CONTRACTION
  constexpr std::size_t lanes = 8;
  const std::size_t whole = n - n % lanes;
  double tops[lanes];
  for (double& top : tops) top = extra;
  for (std::size_t i = 0; i < whole; i += lanes) {
    for (std::size_t l = 0; l < lanes; ++l) tops[l] = terms[i + l] > tops[l] ? terms[i + l] : tops[l];
  }
  double top = extra;
  for (const double lane : tops) top = lane > top ? lane : top;
  for (std::size_t i = whole; i < n; ++i) top = terms[i] > top ? terms[i] : top;
  double sums[lanes] = {};
  for (std::size_t i = 0; i < whole; i += lanes) {
    for (std::size_t l = 0; l < lanes; ++l) sums[l] += exp_nonpositive(terms[i + l] - top);
  }
  double sum = exp_nonpositive(extra - top);
  for (std::size_t i = whole; i < n; ++i) sum += exp_nonpositive(terms[i] - top);
  for (const double lane : sums) sum += lane;
  return top + std::log(sum);
}

// The tables are read by the CPU's gathers (compilers make single loads of the scalar loop).
#if defined(__x86_64__)
[[gnu::target("avx512f,avx512vl,avx512dq,avx2,fma")]] inline void fill_joint_terms_avx512(const JointTerms& job,
                                                                                         double* out) {
  fill_joint_terms(job, out);
  for (const auto& cell : job.cells) {
    const __m256i at = _mm256_set1_epi32(cell.cell);
    std::size_t i = 0;
    for (; i + 8 <= job.n; i += 8) {
      __m256i index = _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(cell.base + i)), at);
      index = _mm256_max_epi32(index, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cell.lo + i)));
      index = _mm256_min_epi32(index, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cell.hi + i)));
      const __m512d masses = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), 0xFF, index, cell.table, 8);
      _mm512_storeu_pd(out + i, _mm512_add_pd(_mm512_loadu_pd(out + i), masses));
    }
    add_cell_masses(cell, i, job.n, out);
  }
}
[[gnu::target("avx2,fma")]] inline void fill_joint_terms_avx2(const JointTerms& job, double* out) {
  fill_joint_terms(job, out);
  for (const auto& cell : job.cells) {
    const __m128i at = _mm_set1_epi32(cell.cell);
    std::size_t i = 0;
    for (; i + 4 <= job.n; i += 4) {
      __m128i index = _mm_add_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(cell.base + i)), at);
      index = _mm_max_epi32(index, _mm_loadu_si128(reinterpret_cast<const __m128i*>(cell.lo + i)));
      index = _mm_min_epi32(index, _mm_loadu_si128(reinterpret_cast<const __m128i*>(cell.hi + i)));
      const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
      const __m256d masses = _mm256_mask_i32gather_pd(_mm256_setzero_pd(), cell.table, index, all, 8);
      _mm256_storeu_pd(out + i, _mm256_add_pd(_mm256_loadu_pd(out + i), masses));
    }
    add_cell_masses(cell, i, job.n, out);
  }
}
#endif

inline void fill_joint_terms_sse2(const JointTerms& job, double* out) {
  fill_joint_terms(job, out);
  for (const auto& cell : job.cells) add_cell_masses(cell, 0, job.n, out);
}
#if defined(__x86_64__)
[[gnu::target("avx512f,avx512vl,avx512dq,avx2,fma")]] inline double log_sum_exp_avx512(const double* terms,
                                                                                      std::size_t n, double extra) {
  return log_sum_exp_body(terms, n, extra);
}
[[gnu::target("avx2,fma")]] inline double log_sum_exp_avx2(const double* terms, std::size_t n, double extra) {
  return log_sum_exp_body(terms, n, extra);
}
#endif

// The terms of job.n kernels into out[0, n).
inline void joint_terms(const JointTerms& job, double* out) {
  switch (active_isa()) {
#if defined(__x86_64__)
    case Isa::avx512:
      return fill_joint_terms_avx512(job, out);
    case Isa::avx2:
      return fill_joint_terms_avx2(job, out);
#endif
    default:
      return fill_joint_terms_sse2(job, out);
  }
}

// log(sum_i exp(terms[i]) + exp(extra)); extra is finite.
inline double joint_log_sum_exp(std::span<const double> terms, double extra) {
  switch (active_isa()) {
#if defined(__x86_64__)
    case Isa::avx512:
      return log_sum_exp_avx512(terms.data(), terms.size(), extra);
    case Isa::avx2:
      return log_sum_exp_avx2(terms.data(), terms.size(), extra);
#endif
    default:
      break;
  }
  return log_sum_exp_body(terms.data(), terms.size(), extra);
}

}  // namespace mahpo::search::tpe::detail

#undef MAHPO_NO_CONTRACTION
