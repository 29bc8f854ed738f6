#pragma once
// Optuna's random draws, for TpeOptions::optuna_stream: with them Tpe<S> (tpe::Optuna) asks, trial
// for trial, what optuna.samplers.TPESampler(seed=seed) of Optuna 5 (multivariate, its default) asks
// of a study whose objective suggests S's parameters in order, and Tpe<S, tpe::Optuna3> (univariate)
// what Optuna 3.1's asks: integers exactly, floats and log floats up to the last bits of rounding (a
// few epsilon of the range: mahpo draws in the unit cube, Optuna in the parameter's scale, and the
// two invert log Phi by different root finders). Checked by tests/search/test_tpe_optuna_traces.cpp
// on whole studies recorded from Optuna (tools/record_optuna_traces.py): 200 trials of seeds 0-2 on
// Branin, Hartmann-6 (Optuna 5) and the LeNet quadratic (ints, a float, a log float), every trial's
// parameters within 64 epsilon of their range (at most 21 seen: Branin's x2 under Optuna 5) and its
// value; more seeds by bench/tpe_vs_optuna.py "stream". Categoricals are drawn as Optuna draws them (a startup value: the
// largest of one uniform per choice, its one-hot encoding; a model-based one: a uniform against the
// chosen kernel's cumulative probabilities), but no run has compared them with Optuna's.
//
// Optuna's streams (optuna/samplers/_tpe/sampler.py, _random.py, parzen_estimator.py,
// probability_distributions.py, _truncnorm.py):
// - the startup trials come from its RandomSampler(seed): a numpy RandomState(seed) of its own, one
//   uniform per parameter, low + (high - low) u in the parameter's (log) range;
// - a model-based ask of Optuna 5 draws from the TPE sampler's RandomState(seed): `candidates`
//   kernel indices by numpy's choice with p = the mixture weights (uniforms against the normalized
//   cumulative weights, `searchsorted(side="right")`), then, per parameter of its search space sorted
//   by name (categoricals first), `candidates` uniforms: a categorical's against the kernel's
//   cumulative probabilities, a number's through the truncated normal's inverse CDF (its
//   `_truncnorm.ppf`; Optuna 5 inverts log Phi by Newton's method, 3.1 by 100 bisection steps; here
//   Newton's method from Acklam's guess finds the same root, or a neighbouring double where log Phi
//   is flat to the last bit); the first candidate with the largest log l - log g wins. Optuna 3.1
//   (univariate) draws per parameter in order: `candidates` kernel indices, then `candidates` values;
// - the bandwidths come from the kernel centres ordered by numpy's argsort, whose quicksort leaves an
//   integer's repeated values in an order of its own (numpy_argsort below).
// numpy's legacy RandomState(seed) is MT19937 seeded by init_genrand(seed) (std::mt19937 seeded
// with the same number), and its doubles take 53 bits from two 32-bit outputs.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace mahpo::search::tpe::detail {

class LegacyRandomState {
 public:
  explicit LegacyRandomState(std::uint32_t seed = 0) : engine_(seed) {}

  // numpy's RandomState.random_sample(): a double in [0, 1) from 53 random bits.
  double random_sample() {
    const auto high = static_cast<std::uint32_t>(engine_() >> 5), low = static_cast<std::uint32_t>(engine_() >> 6);
    return (static_cast<double>(high) * 67108864.0 + static_cast<double>(low)) / 9007199254740992.0;
  }

 private:
  std::mt19937 engine_;
};

// numpy 1.24's np.argsort(values), its default kind "quicksort" (numpy/core/src/npysort/quicksort.cpp,
// heapsort.cpp): an introsort whose partitions swap equal values, so ties come out in an order of its
// own. Optuna 3.1 sorts a coordinate's kernel centres with it; the order of an integer's repeated values
// decides which of them takes the gap to a neighbour as its bandwidth.
inline void numpy_argsort(std::span<const double> values, std::vector<std::size_t>& order) {
  const std::size_t size = values.size();
  order.resize(size);
  for (std::size_t i = 0; i < size; ++i) order[i] = i;
  if (size < 2) return;
  const auto less = [&](std::size_t i, std::size_t j) { return values[i] < values[j]; };
  // numpy's aheapsort_, on order[first, first + count) (1-based heap indices, as there).
  const auto heapsort = [&](std::size_t first, std::size_t count) {
    std::size_t* a = order.data() + first - 1;
    const auto sift = [&](std::size_t i, std::size_t n, std::size_t item) {
      for (std::size_t j = 2 * i; j <= n;) {
        if (j < n && less(a[j], a[j + 1])) ++j;
        if (!less(item, a[j])) break;
        a[i] = a[j];
        i = j;
        j += j;
      }
      a[i] = item;
    };
    for (std::size_t l = count / 2; l > 0; --l) sift(l, count, a[l]);
    for (std::size_t n = count; n > 1; --n) {
      const std::size_t item = a[n];
      a[n] = a[1];
      sift(1, n - 1, item);
    }
  };
  constexpr std::ptrdiff_t small_quicksort = 15;  // numpy's SMALL_QUICKSORT
  struct Pending {
    std::ptrdiff_t left, right;
    int depth;
  };
  std::vector<Pending> stack;
  std::ptrdiff_t left = 0, right = static_cast<std::ptrdiff_t>(size) - 1;
  int depth = 2 * static_cast<int>(std::bit_width(size) - 1);  // 2 floor(log2 n), as npy_get_msb
  const auto at = [&](std::ptrdiff_t i) -> std::size_t& { return order[static_cast<std::size_t>(i)]; };
  for (;;) {
    if (depth < 0) {
      heapsort(static_cast<std::size_t>(left), static_cast<std::size_t>(right - left + 1));
    } else {
      while (right - left > small_quicksort) {
        const std::ptrdiff_t middle = left + ((right - left) >> 1);
        if (less(at(middle), at(left))) std::swap(at(middle), at(left));
        if (less(at(right), at(middle))) std::swap(at(right), at(middle));
        if (less(at(middle), at(left))) std::swap(at(middle), at(left));
        const std::size_t pivot = at(middle);
        std::ptrdiff_t i = left, j = right - 1;
        std::swap(at(middle), at(j));
        for (;;) {
          do ++i;
          while (less(at(i), pivot));
          do --j;
          while (less(pivot, at(j)));
          if (i >= j) break;
          std::swap(at(i), at(j));
        }
        std::swap(at(i), at(right - 1));
        --depth;
        if (i - left < right - i) {  // the larger part waits on the stack
          stack.push_back({i + 1, right, depth});
          right = i - 1;
        } else {
          stack.push_back({left, i - 1, depth});
          left = i + 1;
        }
      }
      for (std::ptrdiff_t i = left + 1; i <= right; ++i) {  // insertion sort
        const std::size_t item = at(i);
        std::ptrdiff_t j = i;
        for (; j > left && less(item, at(j - 1)); --j) at(j) = at(j - 1);
        at(j) = item;
      }
    }
    if (stack.empty()) return;
    left = stack.back().left;
    right = stack.back().right;
    depth = stack.back().depth;
    stack.pop_back();
  }
}

// log Phi(a), as Optuna's _log_ndtr_single (the asymptotic series far in the lower tail).
inline double optuna_log_ndtr(double a) {
  const auto ndtr = [](double value) {
    const double x = value / std::numbers::sqrt2;
    if (x < -1.0 / std::numbers::sqrt2) return 0.5 * std::erfc(-x);
    if (x < 1.0 / std::numbers::sqrt2) return 0.5 + 0.5 * std::erf(x);
    return 1.0 - 0.5 * std::erfc(x);
  };
  if (a > 6.0) return -ndtr(-a);
  if (a > -20.0) return std::log(ndtr(a));
  const double log_lhs = -0.5 * a * a - std::log(-a) - 0.5 * std::log(2.0 * std::numbers::pi);
  double last = 0.0, sum = 1.0, numerator = 1.0, factor = 1.0, sign = 1.0;
  const double step = 1.0 / (a * a);
  for (int i = 1; std::abs(last - sum) > std::numeric_limits<double>::epsilon(); ++i) {
    last = sum;
    sign = -sign;
    factor *= step;
    numerator *= 2.0 * i - 1.0;
    sum += sign * numerator * factor;
  }
  return log_lhs + std::log(sum);
}

// numpy's logaddexp.
inline double log_add_exp(double x, double y) {
  if (x == y) return x + std::numbers::ln2;
  const double difference = x - y;
  return difference > 0.0 ? x + std::log1p(std::exp(-difference)) : y + std::log1p(std::exp(difference));
}

// log of N(0, 1)'s mass on [a, b], as Optuna's _log_gauss_mass.
inline double optuna_log_gauss_mass(double a, double b) {
  const auto left = [](double lo, double hi) {  // both in the lower tail
    const double log_hi = optuna_log_ndtr(hi), log_lo = optuna_log_ndtr(lo);
    return log_hi + std::log1p(-std::exp(log_lo - log_hi));
  };
  if (b <= 0.0) return left(a, b);
  if (a > 0.0) return left(-b, -a);
  const auto ndtr = [](double value) { return 0.5 + 0.5 * std::erf(value / std::numbers::sqrt2); };
  return std::log1p(-ndtr(a) - ndtr(-b));
}

// A first guess at Phi^-1(exp(log_p)), relative error below 1.2e-9: Acklam's rational approximation
// (P. J. Acklam, "An algorithm for computing the inverse normal cumulative distribution function",
// 2003), its tails taken from log_p itself so that it holds far below the smallest double.
inline double normal_quantile_guess(double log_p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01, -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                 3.754408661907416e+00};
  const auto tail = [&](double log_tail) {  // the lower tail's x for P(X < x) = exp(log_tail)
    const double q = std::sqrt(-2.0 * log_tail);
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  };
  constexpr double split = 0.02425;
  const double p = std::exp(log_p);
  if (p < split) return tail(log_p);
  if (p > 1.0 - split) return -tail(std::log(-std::expm1(log_p)));
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

// The inverse of log Phi: the root Optuna finds by 100 bisection steps on [-100, 100], found here by
// Newton's method on the concave log Phi from Acklam's guess, kept inside the bracket (a step or two).
inline double optuna_ndtri_exp(double log_p) {
  double low = -100.0, high = 100.0, x = std::clamp(normal_quantile_guess(log_p), low, high);
  for (int step = 0; step < 100; ++step) {
    const double log_cdf = optuna_log_ndtr(x), gap = log_cdf - log_p;
    if (gap == 0.0) return x;
    (gap < 0.0 ? low : high) = x;
    const double slope = std::exp(-0.5 * x * x - 0.5 * std::log(2.0 * std::numbers::pi) - log_cdf);  // phi / Phi
    double next = x - gap / slope;
    if (!(next > low && next < high)) next = 0.5 * (low + high);
    // A step as small as the guess's error leaves an error of its square: below the last bit.
    if (std::abs(next - x) <= 1e-8 * std::max(1.0, std::abs(x))) return next;
    x = next;
  }
  return x;
}

// The q-quantile of N(0, 1) truncated to [a, b], as Optuna 3.1's _truncnorm.ppf.
inline double optuna_truncated_normal_ppf(double q, double a, double b) {
  if (a == b) return std::numeric_limits<double>::quiet_NaN();
  if (q == 0.0) return a;
  if (q == 1.0) return b;
  const double mass = optuna_log_gauss_mass(a, b);
  if (a < 0.0) return optuna_ndtri_exp(log_add_exp(optuna_log_ndtr(a), std::log(q) + mass));
  return -optuna_ndtri_exp(log_add_exp(optuna_log_ndtr(-b), std::log1p(-q) + mass));
}

}  // namespace mahpo::search::tpe::detail
