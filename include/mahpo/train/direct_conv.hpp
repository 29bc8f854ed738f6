#pragma once
// Direct convolution for a single-channel input (a LeNet's first layer): the forward pass and the
// weight gradient straight from the images, with no im2col columns. For one input channel, im2col
// writes k x k shifted copies of every image (25 for a 5x5 kernel) and the products read them back,
// twice in training (forward, and the weight gradient after the whole batch's forward); the copies
// of a batch of 32 outgrow the L2 cache. Here each output vector is summed in registers from k x k
// unaligned loads of the image, and each weight's gradient is summed in a register over the batch.
//
// The loops are templates over the GCC vector type of the ISA's width (kernels.hpp), instantiated
// in one entry point per ISA; `direct_convolution_fits` says when the direct path applies.

#include <algorithm>
#include <cstddef>

#include <mahpo/train/kernels.hpp>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // wide vectors only live inside the ISA-specific entry points
#endif

namespace mahpo::train::kernels {

namespace detail {

// The kernel sizes the direct path is compiled for (the paper's space: 2-7).
inline constexpr std::size_t direct_min_kernel = 2, direct_max_kernel = 7;

// Rows output rows of Filters filters at one vector position x: Rows x Filters sums in registers,
// independent chains of K x K FMAs each (one row alone leaves the FMA units waiting on latency).
template <typename V, int Filters, int K, int Rows>
[[gnu::always_inline]] inline void forward_tile(const float* image, std::size_t width, const float* weights,
                                                float* out, std::size_t out_width, std::size_t filter_stride,
                                                const ForwardEpilogue& epilogue) {
  V sum[Rows][Filters];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 8
    for (int f = 0; f < Filters; ++f) sum[r][f] = V{};
  }
#pragma GCC unroll 7
  for (int ky = 0; ky < K; ++ky) {
#pragma GCC unroll 7
    for (int kx = 0; kx < K; ++kx) {
      V pixels[Rows];
#pragma GCC unroll 8
      for (int r = 0; r < Rows; ++r) load(pixels[r], image + (r + ky) * width + kx);
#pragma GCC unroll 8
      for (int f = 0; f < Filters; ++f) {
        const V w = weights[f * K * K + ky * K + kx] - V{};  // a broadcast
#pragma GCC unroll 8
        for (int r = 0; r < Rows; ++r) sum[r][f] += w * pixels[r];
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 8
    for (int f = 0; f < Filters; ++f) {
      apply_epilogue(sum[r][f], epilogue, f);
      store(out + f * filter_stride + r * out_width, sum[r][f]);
    }
  }
}

// output[f][n][y][x] (rows of `filter_stride` floats per filter) = sum over ky, kx of
// weights[f][ky][kx] * input[n][y + ky][x + kx], for the images [first, last) and the Filters
// filters from `weights`, two output rows at a time. A row's last vector overlaps the one before
// when the width is not a multiple of the vector's (the overlap is written twice, the same values).
template <int Width, int Filters, int K>
[[gnu::always_inline]] inline void direct_forward(const ConvGeometry& g, const float* input, std::size_t first,
                                                  std::size_t last, const float* weights, float* output,
                                                  std::size_t filter_stride, const ForwardEpilogue& epilogue) {
  using V = vector<Width>;
  const std::size_t plane = g.out_height * g.out_width;
  for (std::size_t n = first; n < last; ++n) {
    const float* image = input + n * g.height * g.width;
    float* out = output + n * plane;
    for (std::size_t x0 = 0; x0 < g.out_width; x0 += Width) {
      const std::size_t x = std::min(x0, g.out_width - Width);
      std::size_t y = 0;
      for (; y + 2 <= g.out_height; y += 2) {
        forward_tile<V, Filters, K, 2>(image + y * g.width + x, g.width, weights, out + y * g.out_width + x,
                                       g.out_width, filter_stride, epilogue);
      }
      if (y < g.out_height) {
        forward_tile<V, Filters, K, 1>(image + y * g.width + x, g.width, weights, out + y * g.out_width + x,
                                       g.out_width, filter_stride, epilogue);
      }
    }
  }
}

// gradient[f][ky][kx] += sum over the images [0, images), y, x of delta[f][n][y][x] *
// input[n][y + ky][x + kx], for Filters filters (delta's rows `filter_stride` floats apart). One
// pass over the batch per kernel row ky keeps Filters x k sums in registers; a row's last vector,
// overlapping the one before, counts only its new lanes (the others multiplied by 0).
template <int Width, int Filters, int K>
[[gnu::always_inline]] inline void direct_weight_gradient(const ConvGeometry& g, const float* input,
                                                          std::size_t images, const float* delta,
                                                          std::size_t filter_stride, float* gradient) {
  using V = vector<Width>;
  constexpr std::size_t k = K, taps = k * k;
  const std::size_t plane = g.out_height * g.out_width;
  const std::size_t whole = g.out_width / Width * Width;  // lanes [0, whole) come from whole vectors
  const std::size_t tail = g.out_width - Width;           // where the overlapping last vector starts
  V mask;
  for (int i = 0; i < Width; ++i) mask[i] = tail + static_cast<std::size_t>(i) >= whole ? 1.0f : 0.0f;
  for (std::size_t ky = 0; ky < k; ++ky) {
    V sum[Filters][K];
#pragma GCC unroll 8
    for (int f = 0; f < Filters; ++f) {
#pragma GCC unroll 8
      for (int kx = 0; kx < K; ++kx) sum[f][kx] = V{};
    }
    for (std::size_t n = 0; n < images; ++n) {
      const float* image = input + n * g.height * g.width;
      const float* d_image = delta + n * plane;
      for (std::size_t y = 0; y < g.out_height; ++y) {
        const float* row = image + (y + ky) * g.width;
        const float* d_row = d_image + y * g.out_width;
        for (std::size_t x = 0; x < whole; x += Width)
          gradient_sums<V, Filters, K>(row + x, 1, d_row + x, filter_stride, nullptr, sum);
        if (whole < g.out_width) gradient_sums<V, Filters, K>(row + tail, 1, d_row + tail, filter_stride, &mask, sum);
      }
    }
#pragma GCC unroll 8
    for (int f = 0; f < Filters; ++f) {
      for (std::size_t kx = 0; kx < k; ++kx) gradient[f * taps + ky * k + kx] += horizontal_sum(sum[f][kx]);
    }
  }
}

// Every filter, 6 (forward) or Group (weight gradient) at a time, then the rest one at a time.
template <int Width, int Group, int K>
[[gnu::always_inline]] inline void direct_filters(const ConvGeometry& g, std::size_t filters, const float* input,
                                                  std::size_t first, std::size_t last, const float* weights,
                                                  float* output, std::size_t filter_stride, const float* delta,
                                                  float* gradient, const ForwardEpilogue& epilogue) {
  constexpr std::size_t taps = K * K;
  std::size_t f = 0;
  if (delta == nullptr) {
    for (; f + 6 <= filters; f += 6)
      direct_forward<Width, 6, K>(g, input, first, last, weights + f * taps, output + f * filter_stride,
                                  filter_stride, epilogue.from(f));
    for (; f < filters; ++f)
      direct_forward<Width, 1, K>(g, input, first, last, weights + f * taps, output + f * filter_stride,
                                  filter_stride, epilogue.from(f));
    return;
  }
  for (; f + Group <= filters; f += Group)
    direct_weight_gradient<Width, Group, K>(g, input, last, delta + f * filter_stride, filter_stride,
                                            gradient + f * taps);
  for (; f < filters; ++f)
    direct_weight_gradient<Width, 1, K>(g, input, last, delta + f * filter_stride, filter_stride, gradient + f * taps);
}

// The kernel size as a template argument (2 to 7; direct_convolution_fits keeps to these).
template <int Width, int Group>
[[gnu::always_inline]] inline void direct_convolution(const ConvGeometry& g, std::size_t filters,
                                                      const float* input, std::size_t first, std::size_t last,
                                                      const float* weights, float* output, std::size_t filter_stride,
                                                      const float* delta, float* gradient,
                                                      const ForwardEpilogue& epilogue) {
  switch (g.kernel) {
    case 2:
      return direct_filters<Width, Group, 2>(g, filters, input, first, last, weights, output, filter_stride, delta,
                                             gradient, epilogue);
    case 3:
      return direct_filters<Width, Group, 3>(g, filters, input, first, last, weights, output, filter_stride, delta,
                                             gradient, epilogue);
    case 4:
      return direct_filters<Width, Group, 4>(g, filters, input, first, last, weights, output, filter_stride, delta,
                                             gradient, epilogue);
    case 5:
      return direct_filters<Width, Group, 5>(g, filters, input, first, last, weights, output, filter_stride, delta,
                                             gradient, epilogue);
    case 6:
      return direct_filters<Width, Group, 6>(g, filters, input, first, last, weights, output, filter_stride, delta,
                                             gradient, epilogue);
    default:
      return direct_filters<Width, Group, 7>(g, filters, input, first, last, weights, output, filter_stride, delta,
                                             gradient, epilogue);
  }
}

// The entry points, one per ISA. The weight gradient's filter group: 3 filters x up to 7 sums are 21
// of AVX-512's 32 vector registers; AVX2's 16 take 2 filters' 5 (kernels up to 5x5 there), SSE2 1.
#if defined(__x86_64__) || defined(__i386__)
[[gnu::target("avx512f,avx512vl,avx512dq,avx2,fma")]] inline void direct_convolution_avx512(
    const ConvGeometry& g, std::size_t filters, const float* input, std::size_t first, std::size_t last,
    const float* weights, float* output, std::size_t filter_stride, const float* delta, float* gradient,
    const ForwardEpilogue& epilogue) {
  direct_convolution<16, 3>(g, filters, input, first, last, weights, output, filter_stride, delta, gradient,
                            epilogue);
}
[[gnu::target("avx2,fma")]] inline void direct_convolution_avx2(
    const ConvGeometry& g, std::size_t filters, const float* input, std::size_t first, std::size_t last,
    const float* weights, float* output, std::size_t filter_stride, const float* delta, float* gradient,
    const ForwardEpilogue& epilogue) {
  direct_convolution<8, 2>(g, filters, input, first, last, weights, output, filter_stride, delta, gradient,
                           epilogue);
}
#endif
inline void direct_convolution_sse2(const ConvGeometry& g, std::size_t filters, const float* input, std::size_t first,
                                    std::size_t last, const float* weights, float* output, std::size_t filter_stride,
                                    const float* delta, float* gradient, const ForwardEpilogue& epilogue) {
  direct_convolution<4, 1>(g, filters, input, first, last, weights, output, filter_stride, delta, gradient,
                           epilogue);
}

inline void dispatch_direct(const ConvGeometry& g, std::size_t filters, const float* input, std::size_t first,
                            std::size_t last, const float* weights, float* output, std::size_t filter_stride,
                            const float* delta, float* gradient, const ForwardEpilogue& epilogue = {}) {
  switch (active_isa()) {
#if defined(__x86_64__) || defined(__i386__)
    case Isa::avx512:
      return direct_convolution_avx512(g, filters, input, first, last, weights, output, filter_stride, delta,
                                       gradient, epilogue);
    case Isa::avx2:
      return direct_convolution_avx2(g, filters, input, first, last, weights, output, filter_stride, delta,
                                     gradient, epilogue);
#endif
    default:
      return direct_convolution_sse2(g, filters, input, first, last, weights, output, filter_stride, delta, gradient,
                                     epilogue);
  }
}

}  // namespace detail

// Whether the direct path applies: one input channel, no padding, a kernel of 2 to 7 (AVX-512) or 2
// to 5 (AVX2, SSE2: their weight gradient takes one filter a pass, and with 6x6 or 7x7 kernels that
// was slower than im2col: paper_lenet's largest config under AVX2, -7 %), and output rows at least a
// vector wide (the last vector of a row overlaps the one before).
inline bool direct_convolution_fits(const ConvGeometry& g) {
  const std::size_t width = vector_floats(active_isa()), largest = width == 16 ? detail::direct_max_kernel : 5;
  return g.channels == 1 && detail::is_valid(g) && g.kernel >= detail::direct_min_kernel && g.kernel <= largest &&
         g.out_width >= width;
}

// output (filters x (batch Ho Wo), rows `filter_stride` floats apart) = the convolution of the
// images [first, last) of `input` (1 x N x H x W) with `weights` (filters x k x k), then `epilogue`.
inline void direct_forward(const ConvGeometry& g, std::size_t filters, const float* input, std::size_t first,
                           std::size_t last, const float* weights, float* output, std::size_t filter_stride,
                           const ForwardEpilogue& epilogue = {}) {
  detail::dispatch_direct(g, filters, input, first, last, weights, output, filter_stride, nullptr, nullptr, epilogue);
}

// gradient (filters x k x k) += the weight gradient of the images [0, images): delta is filters x
// (images Ho Wo), rows `filter_stride` floats apart.
inline void direct_weight_gradient(const ConvGeometry& g, std::size_t filters, const float* input,
                                   std::size_t images, const float* delta, std::size_t filter_stride,
                                   float* gradient) {
  detail::dispatch_direct(g, filters, input, 0, images, nullptr, nullptr, filter_stride, delta, gradient);
}

}  // namespace mahpo::train::kernels

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
