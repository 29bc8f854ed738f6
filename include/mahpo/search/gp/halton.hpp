#pragma once
// Halton points (Halton 1960) under a Cranley-Patterson random shift: the quasi-random candidates
// GP-BO scores its acquisition on.

#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

namespace mahpo::search::gp::detail {

// The radical inverse of `index` in `base`: coordinate of the Halton sequence (Halton 1960).
inline double radical_inverse(std::size_t index, std::size_t base) {
  double result = 0.0, digit_weight = 1.0 / static_cast<double>(base);
  while (index > 0) {
    result += digit_weight * static_cast<double>(index % base);
    index /= base;
    digit_weight /= static_cast<double>(base);
  }
  return result;
}

inline std::vector<std::size_t> first_primes(std::size_t count) {
  std::vector<std::size_t> primes;
  for (std::size_t candidate = 2; primes.size() < count; ++candidate) {
    bool prime = true;
    for (std::size_t p : primes) {
      if (p * p > candidate) break;
      if (candidate % p == 0) {
        prime = false;
        break;
      }
    }
    if (prime) primes.push_back(candidate);
  }
  return primes;
}

// `count` Halton points in [0, 1]^dimension, shifted by `shift` modulo 1 (Cranley & Patterson 1976),
// row-major.
inline std::vector<double> shifted_halton(std::size_t count, std::span<const double> shift) {
  const std::size_t dimension = shift.size();
  const auto primes = first_primes(dimension);
  std::vector<double> points(count * dimension);
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t d = 0; d < dimension; ++d) {
      const double u = radical_inverse(i + 1, primes[d]) + shift[d];
      points[i * dimension + d] = u - std::floor(u);
    }
  }
  return points;
}

}  // namespace mahpo::search::gp::detail
