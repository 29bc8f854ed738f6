#pragma once
// The trainers' per-element and per-window formulas, written once for both: the CPU trainer's layers
// call them in their loops, and the CUDA kernels (cuda/mahpo/cuda/) call the very same functions per
// thread (they are `__host__ __device__` when nvcc compiles them). So the CPU tests of the trainer
// cover the code a GPU runs, and the two trainers agree to float rounding on the same weights.
//
//   relu, relu_gradient        activation and its gradient (from the output: 0 where it is 0)
//   dropout_bits, dropout_keep counter-based dropout masks: SplitMix64 of (seed + (draw + 1) * gamma)
//   pool_window_2x2            max and winner of a 2 x 2 window (the first maximum in reading order)
//   pool_window                the same for any square window
//   softmax_cross_entropy_row  one image's loss and d(loss)/d(logits)
//   sgd_momentum_update        v = mu v - lr (g + decay w); w += v
//   adam_update                Adam's element update (optim::AdamStep calls it too)
//   normalize_pixel            a byte to the standardized float the networks see
//
// Nothing here allocates, throws or touches the standard library beyond <cmath>'s functions that
// CUDA also provides on the device.

#include <cmath>
#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define MAHPO_HOST_DEVICE __host__ __device__
#else
#define MAHPO_HOST_DEVICE
#endif

namespace mahpo::train::formulas {

// <cmath>'s functions on the host, CUDA's on the device (the same IEEE results for sqrt; exp and log
// within CUDA's documented ulp bounds).
MAHPO_HOST_DEVICE inline float square_root(float x) {
#if defined(__CUDA_ARCH__)
  return sqrtf(x);
#else
  return std::sqrt(x);
#endif
}
MAHPO_HOST_DEVICE inline double square_root(double x) {
#if defined(__CUDA_ARCH__)
  return ::sqrt(x);
#else
  return std::sqrt(x);
#endif
}
MAHPO_HOST_DEVICE inline double exponential(double x) {
#if defined(__CUDA_ARCH__)
  return ::exp(x);
#else
  return std::exp(x);
#endif
}
MAHPO_HOST_DEVICE inline double logarithm(double x) {
#if defined(__CUDA_ARCH__)
  return ::log(x);
#else
  return std::log(x);
#endif
}

// max(x, 0) as std::max(x, 0.0f) computes it: a NaN stays NaN, so a diverged network is noticed.
MAHPO_HOST_DEVICE inline float relu(float x) { return x < 0.0f ? 0.0f : x; }

// The gradient through a ReLU, from its output: the output is positive exactly where the input was.
MAHPO_HOST_DEVICE inline float relu_gradient(float output, float gradient) { return output > 0.0f ? gradient : 0.0f; }

MAHPO_HOST_DEVICE inline float normalize_pixel(std::uint8_t pixel, float scale, float shift) {
  return static_cast<float>(pixel) * scale + shift;
}

// Dropout's random stream is counter-based: draw k of a layer with seed s is SplitMix64's output for
// the state s + (k + 1) * 0x9e3779b97f4a7c15 (Steele, Lea & Flood, OOPSLA 2014), so any thread can
// compute any draw without the draws before it. Draw k decides two units, 2k (low 32 bits) and 2k + 1
// (high 32 bits); a forward pass over `count` units uses (count + 1) / 2 draws and the next pass
// continues after them.
constexpr std::uint64_t splitmix_gamma = 0x9e3779b97f4a7c15ULL;

MAHPO_HOST_DEVICE inline std::uint64_t dropout_bits(std::uint64_t seed, std::uint64_t draw) {
  std::uint64_t z = seed + (draw + 1) * splitmix_gamma;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// keep * 2^32, the bound a 32-bit half must stay below for its unit to be kept.
MAHPO_HOST_DEVICE inline std::uint64_t dropout_threshold(float keep) {
  return static_cast<std::uint64_t>(static_cast<double>(keep) * 4294967296.0);
}

// The mask value of unit `unit` of a pass whose first draw is `first_draw`: 1 / keep or 0.
MAHPO_HOST_DEVICE inline float dropout_mask(std::uint64_t seed, std::uint64_t first_draw, std::uint64_t unit,
                                            std::uint64_t threshold, float scale) {
  const std::uint64_t bits = dropout_bits(seed, first_draw + unit / 2);
  const std::uint64_t half = unit % 2 == 0 ? (bits & 0xffffffffULL) : (bits >> 32);
  return half < threshold ? scale : 0.0f;
}

// The draws a pass over `count` units uses.
MAHPO_HOST_DEVICE inline std::uint64_t dropout_draws(std::uint64_t count) { return (count + 1) / 2; }

// A 2 x 2 window whose top-left value is at `top[0]`, the row below `width` floats further: its
// maximum, and where it is (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right; ties go to the
// first in that order).
struct PoolWinner {
  float value;
  int position;
};

MAHPO_HOST_DEVICE inline PoolWinner pool_window_2x2(const float* top, std::size_t width) {
  PoolWinner best{top[0], 0};
  if (top[1] > best.value) best = {top[1], 1};
  if (top[width] > best.value) best = {top[width], 2};
  if (top[width + 1] > best.value) best = {top[width + 1], 3};
  return best;
}

// The same for a size x size window: position dy * size + dx, the first maximum in reading order.
MAHPO_HOST_DEVICE inline PoolWinner pool_window(const float* top, std::size_t width, std::size_t size) {
  PoolWinner best{top[0], 0};
  for (std::size_t dy = 0; dy < size; ++dy) {
    for (std::size_t dx = 0; dx < size; ++dx) {
      const float value = top[dy * width + dx];
      if (value > best.value) best = {value, static_cast<int>(dy * size + dx)};
    }
  }
  return best;
}

// One image's softmax cross-entropy: returns -log softmax(z)[label] and writes
// (softmax(z) - one_hot(label)) * scale into `gradient` (scale: 1 / batch for a batch mean). Sums in
// double, as a non-finite logit must give a non-finite loss rather than an overflow of its own.
MAHPO_HOST_DEVICE inline double softmax_cross_entropy_row(const float* z, int classes, int label, float scale,
                                                          float* gradient) {
  float top = z[0];
  for (int k = 1; k < classes; ++k) top = z[k] > top ? z[k] : top;
  double sum = 0.0;
  for (int k = 0; k < classes; ++k) sum += exponential(static_cast<double>(z[k] - top));
  const double log_sum = logarithm(sum) + static_cast<double>(top);
  for (int k = 0; k < classes; ++k) {
    gradient[k] = static_cast<float>(exponential(static_cast<double>(z[k]) - log_sum)) * scale;
  }
  gradient[label] -= scale;
  return log_sum - static_cast<double>(z[label]);
}

// The index of the largest of `classes` logits (the first, on ties).
MAHPO_HOST_DEVICE inline int predicted_class(const float* z, int classes) {
  int best = 0;
  for (int k = 1; k < classes; ++k) best = z[k] > z[best] ? k : best;
  return best;
}

// SGD with momentum and L2 weight decay, one element (Sutskever et al., 2013, without the Nesterov
// look-ahead): v = mu v - lr (g + decay w); w += v.
MAHPO_HOST_DEVICE inline void sgd_momentum_update(float& w, float g, float& v, float lr, float mu, float decay) {
  v = mu * v - lr * (g + decay * w);
  w += v;
}

// Adam, one element, with the step's bias corrections c1 = 1 - beta1^t and c2 = 1 - beta2^t computed
// once per step (optim::AdamStep::at): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// w -= lr (m / c1) / (sqrt(v / c2) + epsilon). In float for the trainers, in double for the RL toolkit.
template <typename T>
MAHPO_HOST_DEVICE inline void adam_update(T& w, T g, T& m, T& v, T lr, T beta1, T beta2, T correction1, T correction2,
                                          T epsilon) {
  m = beta1 * m + (T(1) - beta1) * g;
  v = beta2 * v + (T(1) - beta2) * g * g;
  w -= lr * (m / correction1) / (square_root(v / correction2) + epsilon);
}

}  // namespace mahpo::train::formulas
