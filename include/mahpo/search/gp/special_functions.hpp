#pragma once
// The special functions GP-BO's acquisition needs, computed stably far into the tails: erfcx,
// log(1 - exp(a)), log h(z) of expected improvement and log EI itself; the normal quantile.

#include <cmath>
#include <limits>
#include <numbers>

namespace mahpo::search::gp::detail {

// erfcx(x) = exp(x^2) erfc(x). From 12 on (erfc underflows past 26, and exp(x^2) loses digits) the
// asymptotic series (Abramowitz & Stegun 7.1.23), whose 11th term is below 1e-17 there.
inline double erfcx(double x) {
  if (x < 0.0) return 2.0 * std::exp(x * x) - erfcx(-x);  // erfc(-x) = 2 - erfc(x)
  if (x < 12.0) return std::exp(x * x) * std::erfc(x);
  const double inverse = 1.0 / (2.0 * x * x);
  double term = 1.0, sum = 1.0;
  for (int k = 1; k <= 10; ++k) {
    term *= -(2.0 * k - 1.0) * inverse;
    sum += term;
  }
  return sum / (x * std::sqrt(std::numbers::pi));
}

// log(1 - exp(a)) for a < 0, accurate at both ends (Mächler 2012, "Accurately computing log(1 - exp(-|a|))").
inline double log1mexp(double a) {
  return a > -std::numbers::ln2 ? std::log(-std::expm1(a)) : std::log1p(-std::exp(a));
}

// log h(z) with h(z) = phi(z) + z Phi(z), so that EI = sigma h(z) (Jones et al. 1998), and its
// derivative Phi(z) / h(z). Below z = -1 the erfcx form of Ament et al. 2023 (their log_h) avoids the
// cancellation; below -1/sqrt(eps) its asymptote -z^2/2 - log(2 pi)/2 - 2 log|z|.
struct LogH {
  double value;
  double derivative;
};

inline LogH log_h(double z) {
  constexpr double half_log_2pi = 0.91893853320467274178;  // log(2 pi) / 2
  const double half_log_pi_2 = 0.5 * std::log(std::numbers::pi / 2.0);
  const double inv_sqrt2 = 1.0 / std::numbers::sqrt2;
  if (z > -1.0) {
    const double pdf = std::exp(-0.5 * z * z - half_log_2pi);
    const double cdf = 0.5 * std::erfc(-z * inv_sqrt2);
    const double h = pdf + z * cdf;
    return {std::log(h), cdf / h};
  }
  const double scaled = erfcx(-z * inv_sqrt2);  // Phi(z) = scaled exp(-z^2/2) / 2
  double value;
  if (z > -1.0 / std::sqrt(std::numeric_limits<double>::epsilon())) {
    value = -0.5 * z * z - half_log_2pi + log1mexp(std::log(scaled * -z) + half_log_pi_2);
  } else {
    value = -0.5 * z * z - half_log_2pi - 2.0 * std::log(-z);
  }
  const double log_cdf = std::log(0.5 * scaled) - 0.5 * z * z;
  return {value, std::exp(log_cdf - value)};
}

// The standard normal quantile Phi^-1(p), p in (0, 1): Newton's method on Phi(z) = p kept inside a
// shrinking bracket (bisection when a step would leave it); to 1e-12 in z.
inline double normal_quantile(double p) {
  double low = -40.0, high = 40.0, z = 0.0;
  for (int step = 0; step < 100; ++step) {
    const double cdf = 0.5 * std::erfc(-z / std::numbers::sqrt2);
    if (cdf < p) {
      low = z;
    } else {
      high = z;
    }
    const double density = std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi);
    double next = density > 0.0 ? z - (cdf - p) / density : 0.5 * (low + high);
    if (!(next > low && next < high)) next = 0.5 * (low + high);
    if (std::abs(next - z) < 1e-12) return next;
    z = next;
  }
  return z;
}

// log EI of a loss to minimize, below `best`: log h(z) + log sigma, z = (best - mean) / sigma.
inline double log_ei(double mean, double sigma, double best) {
  return log_h((best - mean) / sigma).value + std::log(sigma);
}

}  // namespace mahpo::search::gp::detail
