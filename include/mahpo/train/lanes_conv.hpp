#pragma once
// Convolution with the batch in the vector lanes. Width images (the ISA's vector width) are laid
// out pixel by pixel,
//   lanes[c][y][x][i] = map[c][first + i][y][x]   (i < Width; zero past the batch's end),
// so that every tap of every output pixel is one whole vector, whatever the plane's size, and each
// pass is a product of broadcast weights and vectors with nothing copied per tap:
//   forward:         out[f][p] = sum over taps t = (c, ky, kx) of w[f][t] lanes[c][p + (ky, kx)],
//                    P pixels x F filters summed in registers, then the bias and ReLU;
//   weight gradient: w'[f][t] += sum over images and p of delta[f][p] lanes[c][p + (ky, kx)],
//                    F filters x T taps summed in registers over the batch, then across the lanes;
//   input gradient:  gradient[c][p + (ky, kx)] += sum over f of w[f][t] delta[f][p], for each pixel
//                    the filters' deltas in registers and T taps summed over them at a time.
// Packing and unpacking (the maps, the deltas, the output, the maps' gradient) transpose Width x
// Width blocks in registers. The layer packs its input once in forward and keeps it for backward.
// It takes this path under AVX-512 for a several-channel layer (classic_lenet5's conv2: 6 maps of
// 12x12 to 16 of 8x8) and, under every ISA, where the plane is too small for shifted copies
// (paper_lenet's largest conv2: 6 maps of 11x11 to 16 of 5x5 by 7x7 filters, where im2col wrote 49
// copies of every 5-float row): lanes_convolution_chosen below.

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include <mahpo/train/kernels.hpp>
#include <mahpo/train/shifted_conv.hpp>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // wide vectors only live inside the ISA-specific entry points
#endif

namespace mahpo::train::kernels {

namespace detail {

// What one call of the ISA's entry point does, and on what.
struct LanesCall {
  enum class Pass { pack, forward, weight_gradient, input_gradient } pass = Pass::forward;
  ConvGeometry g;
  std::size_t filters = 0;
  const float* lanes = nullptr;    // the packed input, group after group
  const float* weights = nullptr;  // filters x C x k x k
  const float* dense = nullptr;    // pack: channels x (N pixels), CNHW
  std::size_t channels = 0, pixels = 0;  // pack
  float* packed = nullptr;         // pack: group after group, channels x pixels vectors each
  float* output = nullptr;         // forward: filters x (N Ho Wo)
  ForwardEpilogue epilogue;        // forward
  const float* delta = nullptr;    // gradients: the packed deltas, filters x Ho Wo vectors per group
  float* gradient = nullptr;       // weight gradient (+=), or the maps' gradient (CNHW, +=)
  float* work = nullptr;           // one group's packed output (forward) or maps' gradient (input gradient)
  const std::size_t* taps = nullptr;  // gradients: where each tap (c, ky, kx) reads, relative to its pixel
};

// The index into (a, b) of lane j of the lower (row i) or upper (row i + H) result of swapping the
// H-float blocks between rows i and i + H of a Width x Width block: the lower row keeps its even
// blocks and takes the upper row's even ones as its odd, the upper row the converse.
template <int Width, int H, bool Upper>
constexpr int swapped_lane(std::size_t j) {
  const int lane = static_cast<int>(j), block = lane / H, offset = lane % H;
  if constexpr (Upper) return block % 2 == 0 ? (block + 1) * H + offset : Width + lane;
  return block % 2 == 0 ? lane : Width + (block - 1) * H + offset;
}

template <typename V, int Width, int H, bool Upper, std::size_t... J>
[[gnu::always_inline]] inline void swap_blocks(const V& a, const V& b, V& out, std::index_sequence<J...>) {
  out = __builtin_shufflevector(a, b, swapped_lane<Width, H, Upper>(J)...);
}

template <typename V, int Width, int H>
[[gnu::always_inline]] inline void transpose_stage(V (&m)[Width]) {
#pragma GCC unroll 16
  for (int i = 0; i < Width; ++i) {
    if ((i & H) != 0) continue;
    const V a = m[i], b = m[i + H];
    swap_blocks<V, Width, H, false>(a, b, m[i], std::make_index_sequence<Width>{});
    swap_blocks<V, Width, H, true>(a, b, m[i + H], std::make_index_sequence<Width>{});
  }
}

// Transposes a Width x Width block held as Width vectors (row r becomes column r): the blocks of
// half the width swapped across the diagonal, then those of a quarter within each half, and so on.
template <typename V, int Width>
[[gnu::always_inline]] inline void transpose(V (&m)[Width]) {
  if constexpr (Width >= 16) transpose_stage<V, Width, 8>(m);
  if constexpr (Width >= 8) transpose_stage<V, Width, 4>(m);
  transpose_stage<V, Width, 2>(m);
  transpose_stage<V, Width, 1>(m);
}

// packed[q][i] = rows[i stride + q] for q < pixels, i < count, and zero for count <= i < Width: Width
// images' rows into pixel vectors, a Width x Width block at a time, the pixels past the last whole
// block one by one.
template <int Width>
[[gnu::always_inline]] inline void pack_rows(const float* rows, std::size_t stride, std::size_t count,
                                             std::size_t pixels, float* packed) {
  using V = vector<Width>;
  std::size_t q = 0;
  for (; q + Width <= pixels; q += Width) {
    V m[Width];
#pragma GCC unroll 16
    for (int i = 0; i < Width; ++i) {
      m[i] = V{};
      if (static_cast<std::size_t>(i) < count) load(m[i], rows + i * stride + q);
    }
    transpose<V, Width>(m);
#pragma GCC unroll 16
    for (int j = 0; j < Width; ++j) store(packed + (q + j) * Width, m[j]);
  }
  for (; q < pixels; ++q) {
    for (std::size_t i = 0; i < Width; ++i) packed[q * Width + i] = i < count ? rows[i * stride + q] : 0.0f;
  }
}

// rows[i stride + q] = (or += where Add) packed[q][i] for q < pixels, i < count: pack_rows backwards.
template <int Width, bool Add>
[[gnu::always_inline]] inline void unpack_rows(const float* packed, std::size_t pixels, float* rows,
                                               std::size_t stride, std::size_t count) {
  using V = vector<Width>;
  std::size_t q = 0;
  for (; q + Width <= pixels; q += Width) {
    V m[Width];
#pragma GCC unroll 16
    for (int j = 0; j < Width; ++j) load(m[j], packed + (q + j) * Width);
    transpose<V, Width>(m);
#pragma GCC unroll 16
    for (int i = 0; i < Width; ++i) {
      if (static_cast<std::size_t>(i) >= count) break;
      float* target = rows + i * stride + q;
      if constexpr (Add) {
        V old;
        load(old, target);
        m[i] += old;
      }
      store(target, m[i]);
    }
  }
  for (; q < pixels; ++q) {
    for (std::size_t i = 0; i < count; ++i) {
      if constexpr (Add) {
        rows[i * stride + q] += packed[q * Width + i];
      } else {
        rows[i * stride + q] = packed[q * Width + i];
      }
    }
  }
}

// The batch's `channels` x `pixels` maps (CNHW) packed, group after group.
template <int Width>
[[gnu::always_inline]] inline void lanes_pack(const LanesCall& call) {
  const std::size_t batch = call.g.batch, group_floats = call.channels * call.pixels * Width;
  for (std::size_t first = 0, group = 0; first < batch; first += Width, ++group) {
    const std::size_t count = std::min<std::size_t>(Width, batch - first);
    for (std::size_t c = 0; c < call.channels; ++c) {
      pack_rows<Width>(call.dense + (c * batch + first) * call.pixels, call.pixels, count, call.pixels,
                       call.packed + group * group_floats + c * call.pixels * Width);
    }
  }
}

// P pixels x F filters of one group: every tap, then the epilogue, then out to the dense layout.
template <int Width, int P, int F>
[[gnu::always_inline]] inline void lanes_forward_tile(const LanesCall& call, const float* lanes,
                                                      const std::size_t (&pixel)[P], std::size_t f0) {
  using V = vector<Width>;
  const ConvGeometry& g = call.g;
  const std::size_t k = g.kernel, taps = g.channels * k * k;
  V sum[P][F];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
#pragma GCC unroll 8
    for (int f = 0; f < F; ++f) sum[p][f] = V{};
  }
  const float* w = call.weights + f0 * taps;
  for (std::size_t c = 0; c < g.channels; ++c) {
    for (std::size_t ky = 0; ky < k; ++ky) {
      const float* row = lanes + ((c * g.height + ky) * g.width) * Width;
      for (std::size_t kx = 0; kx < k; ++kx, ++w) {
        V in[P];
#pragma GCC unroll 8
        for (int p = 0; p < P; ++p) load(in[p], row + (pixel[p] + kx) * Width);
#pragma GCC unroll 8
        for (int f = 0; f < F; ++f) {
          const V weight = w[f * taps] - V{};  // a broadcast
#pragma GCC unroll 8
          for (int p = 0; p < P; ++p) sum[p][f] += weight * in[p];
        }
      }
    }
  }
  const std::size_t plane = g.out_height * g.out_width;
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
    const std::size_t o = pixel[p] / g.width * g.out_width + pixel[p] % g.width;
#pragma GCC unroll 8
    for (int f = 0; f < F; ++f) {
      apply_epilogue(sum[p][f], call.epilogue, f0 + f);
      store(call.work + ((f0 + f) * plane + o) * Width, sum[p][f]);
    }
  }
}

template <int Width, int P, int F>
[[gnu::always_inline]] inline void lanes_forward_pixels(const LanesCall& call, const float* lanes,
                                                        const std::size_t (&pixel)[P]) {
  std::size_t f = 0;
  for (; f + F <= call.filters; f += F) lanes_forward_tile<Width, P, F>(call, lanes, pixel, f);
  for (; f < call.filters; ++f) lanes_forward_tile<Width, P, 1>(call, lanes, pixel, f);
}

// A pixel's place in the packed map: the output pixel (oy, ox) reads tap (0, 0) at oy W + ox.
inline std::size_t lanes_pixel(const ConvGeometry& g, std::size_t p) {
  return p / g.out_width * g.width + p % g.out_width;
}

template <int Width, int P, int F>
[[gnu::always_inline]] inline void lanes_forward(const LanesCall& call) {
  const ConvGeometry& g = call.g;
  const std::size_t plane = g.out_height * g.out_width, group_floats = g.channels * g.height * g.width * Width;
  for (std::size_t first = 0, group = 0; first < g.batch; first += Width, ++group) {
    const float* lanes = call.lanes + group * group_floats;
    const std::size_t count = std::min<std::size_t>(Width, g.batch - first);
    std::size_t p = 0;
    for (; p + P <= plane; p += P) {
      std::size_t pixel[P];
      for (int i = 0; i < P; ++i) pixel[i] = lanes_pixel(g, p + i);
      lanes_forward_pixels<Width, P, F>(call, lanes, pixel);
    }
    for (; p < plane; ++p) {
      const std::size_t pixel[1] = {lanes_pixel(g, p)};
      lanes_forward_pixels<Width, 1, F>(call, lanes, pixel);
    }
    for (std::size_t f = 0; f < call.filters; ++f) {  // the group's packed output to CNHW
      unpack_rows<Width, false>(call.work + f * plane * Width, plane, call.output + (f * g.batch + first) * plane,
                                plane, count);
    }
  }
}

// F filters x T taps of the weight gradient, summed over every group and pixel in registers.
template <int Width, int F, int T>
[[gnu::always_inline]] inline void lanes_weight_tile(const LanesCall& call, std::size_t f0,
                                                     const std::size_t (&tap)[T], std::size_t t0) {
  using V = vector<Width>;
  const ConvGeometry& g = call.g;
  const std::size_t plane = g.out_height * g.out_width, groups = (g.batch + Width - 1) / Width;
  const std::size_t group_floats = g.channels * g.height * g.width * Width, delta_floats = call.filters * plane * Width;
  V sum[F][T];
#pragma GCC unroll 8
  for (int f = 0; f < F; ++f) {
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) sum[f][t] = V{};
  }
  for (std::size_t group = 0; group < groups; ++group) {
    const float* lanes = call.lanes + group * group_floats;
    const float* delta = call.delta + group * delta_floats + f0 * plane * Width;
    for (std::size_t oy = 0; oy < g.out_height; ++oy) {
      for (std::size_t ox = 0; ox < g.out_width; ++ox, delta += Width) {
        const float* at = lanes + (oy * g.width + ox) * Width;
        V d[F];
#pragma GCC unroll 8
        for (int f = 0; f < F; ++f) load(d[f], delta + f * plane * Width);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          V in;
          load(in, at + tap[t]);
#pragma GCC unroll 8
          for (int f = 0; f < F; ++f) sum[f][t] += d[f] * in;
        }
      }
    }
  }
  const std::size_t taps = g.channels * g.kernel * g.kernel;
#pragma GCC unroll 8
  for (int f = 0; f < F; ++f) {
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      float total = 0.0f;
      for (int i = 0; i < Width; ++i) total += sum[f][t][i];
      call.gradient[(f0 + f) * taps + t0 + t] += total;
    }
  }
}

template <int Width, int F, int T>
[[gnu::always_inline]] inline void lanes_weight_taps(const LanesCall& call, std::size_t f0) {
  const std::size_t taps = call.g.channels * call.g.kernel * call.g.kernel;
  std::size_t t = 0;
  for (; t + T <= taps; t += T) {
    std::size_t tap[T];
    for (int i = 0; i < T; ++i) tap[i] = call.taps[t + i];
    lanes_weight_tile<Width, F, T>(call, f0, tap, t);
  }
  for (; t < taps; ++t) {
    const std::size_t tap[1] = {call.taps[t]};
    lanes_weight_tile<Width, F, 1>(call, f0, tap, t);
  }
}

template <int Width, int F, int T>
[[gnu::always_inline]] inline void lanes_weight_gradient(const LanesCall& call) {
  std::size_t f = 0;
  for (; f + F <= call.filters; f += F) lanes_weight_taps<Width, F, T>(call, f);
  for (; f < call.filters; ++f) lanes_weight_taps<Width, 1, T>(call, f);
}

// T taps of one pixel's share of a group's input gradient, summed over F filters (deltas in registers).
template <typename V, int F, int T>
[[gnu::always_inline]] inline void lanes_input_taps(const V (&d)[F], const float* w, std::size_t taps,
                                                    const std::size_t* tap, float* at) {
  V sum[T];
#pragma GCC unroll 8
  for (int i = 0; i < T; ++i) sum[i] = V{};
#pragma GCC unroll 16
  for (int f = 0; f < F; ++f) {
#pragma GCC unroll 8
    for (int i = 0; i < T; ++i) sum[i] += (w[f * taps + i] - V{}) * d[f];  // a broadcast weight
  }
#pragma GCC unroll 8
  for (int i = 0; i < T; ++i) {
    V old;
    load(old, at + tap[i]);
    store(at + tap[i], old + sum[i]);
  }
}

// One pixel's share of a group's input gradient from the filters [f0, f0 + F), T taps at a time.
template <int Width, int F, int T>
[[gnu::always_inline]] inline void lanes_input_pixel(const LanesCall& call, const float* delta, std::size_t f0,
                                                     float* at) {
  using V = vector<Width>;
  const ConvGeometry& g = call.g;
  const std::size_t plane = g.out_height * g.out_width, taps = g.channels * g.kernel * g.kernel;
  V d[F];
#pragma GCC unroll 16
  for (int f = 0; f < F; ++f) load(d[f], delta + (f0 + f) * plane * Width);
  const float* w = call.weights + f0 * taps;
  std::size_t t = 0;
  for (; t + T <= taps; t += T) lanes_input_taps<V, F, T>(d, w + t, taps, call.taps + t, at);
  for (; t < taps; ++t) lanes_input_taps<V, F, 1>(d, w + t, taps, call.taps + t, at);
}

template <int Width, int F, int T>
[[gnu::always_inline]] inline void lanes_input_gradient(const LanesCall& call) {
  const ConvGeometry& g = call.g;
  const std::size_t plane = g.out_height * g.out_width, pixels = g.height * g.width;
  const std::size_t delta_floats = call.filters * plane * Width;
  for (std::size_t first = 0, group = 0; first < g.batch; first += Width, ++group) {
    std::fill_n(call.work, g.channels * pixels * Width, 0.0f);
    const float* delta = call.delta + group * delta_floats;
    for (std::size_t p = 0; p < plane; ++p) {
      float* at = call.work + lanes_pixel(g, p) * Width;
      std::size_t f = 0;
      for (; f + F <= call.filters; f += F) lanes_input_pixel<Width, F, T>(call, delta + p * Width, f, at);
      for (; f < call.filters; ++f) lanes_input_pixel<Width, 1, T>(call, delta + p * Width, f, at);
    }
    const std::size_t count = std::min<std::size_t>(Width, g.batch - first);
    for (std::size_t c = 0; c < g.channels; ++c) {
      unpack_rows<Width, true>(call.work + c * pixels * Width, pixels, call.gradient + (c * g.batch + first) * pixels,
                               pixels, count);
    }
  }
}

// Tiles per ISA: forward P pixels x F filters, weight gradient F filters x T taps, input gradient
// F filters x T taps (AVX-512 has 32 vector registers, AVX2 and SSE2 16).
template <int Width, int ForwardP, int ForwardF, int WeightF, int WeightT, int InputF, int InputT>
[[gnu::always_inline]] inline void lanes_convolution(const LanesCall& call) {
  switch (call.pass) {
    case LanesCall::Pass::pack:
      return lanes_pack<Width>(call);
    case LanesCall::Pass::forward:
      return lanes_forward<Width, ForwardP, ForwardF>(call);
    case LanesCall::Pass::weight_gradient:
      return lanes_weight_gradient<Width, WeightF, WeightT>(call);
    case LanesCall::Pass::input_gradient:
      return lanes_input_gradient<Width, InputF, InputT>(call);
  }
}

#if defined(__x86_64__) || defined(__i386__)
[[gnu::target("avx512f,avx512vl,avx512dq,avx2,fma")]] inline void lanes_convolution_avx512(const LanesCall& call) {
  lanes_convolution<16, 3, 8, 4, 6, 16, 8>(call);
}
[[gnu::target("avx2,fma")]] inline void lanes_convolution_avx2(const LanesCall& call) {
  lanes_convolution<8, 3, 4, 2, 5, 4, 8>(call);
}
#endif
inline void lanes_convolution_sse2(const LanesCall& call) { lanes_convolution<4, 3, 4, 2, 5, 8, 6>(call); }

inline void dispatch_lanes(const LanesCall& call) {
  switch (active_isa()) {
#if defined(__x86_64__) || defined(__i386__)
    case Isa::avx512:
      return lanes_convolution_avx512(call);
    case Isa::avx2:
      return lanes_convolution_avx2(call);
#endif
    default:
      return lanes_convolution_sse2(call);
  }
}

inline thread_local std::vector<float> lanes_delta_buffer, lanes_work_buffer;

// Packs the batch's `channels` maps of `pixels` floats (CNHW; g gives the batch) into `packed`.
inline void pack_lanes(const ConvGeometry& g, const float* dense, std::size_t channels, std::size_t pixels,
                       float* packed) {
  LanesCall call{.pass = LanesCall::Pass::pack, .g = g};
  call.dense = dense;
  call.channels = channels;
  call.pixels = pixels;
  call.packed = packed;
  dispatch_lanes(call);
}
inline thread_local std::vector<std::size_t> lanes_tap_buffer;

// Where each tap t = (c, ky, kx) reads in a packed group (floats), relative to its output pixel's place.
inline const std::size_t* lanes_taps(const ConvGeometry& g, std::size_t width) {
  const std::size_t k = g.kernel;
  lanes_tap_buffer.resize(g.channels * k * k);
  for (std::size_t t = 0; t < lanes_tap_buffer.size(); ++t) {
    lanes_tap_buffer[t] = ((t / (k * k) * g.height + t / k % k) * g.width + t % k) * width;
  }
  return lanes_tap_buffer.data();
}

}  // namespace detail

// Whether the batch-in-lanes path applies: several input channels, no padding, and at least a
// vector's width of images (fewer would leave lanes idle).
inline bool lanes_convolution_fits(const ConvGeometry& g) {
  return g.channels > 1 && detail::is_valid(g) && g.batch >= vector_floats(active_isa());
}

// Whether a layer takes the batch-in-lanes path: where it fits, under AVX-512 before shifted copies
// (`bench_kernels --benchmark_filter=conv2`, classic_lenet5's conv2, GFLOP/s lanes / shifted: forward
// 233 / 191, weight gradient 198 / 221, input gradient 188 / 135), under AVX2 and SSE2 only where
// shifted copies do not fit (AVX2: 121 / 100, 80 / 111, 71 / 85).
inline bool lanes_convolution_chosen(const ConvGeometry& g) {
  return lanes_convolution_fits(g) && (active_isa() == Isa::avx512 || !shifted_convolution_fits(g));
}

// Floats of the packed input of a batch: one group of width images per vector width, C H W vectors each.
inline std::size_t lanes_floats(const ConvGeometry& g) {
  const std::size_t width = vector_floats(active_isa());
  return (g.batch + width - 1) / width * g.channels * g.height * g.width * width;
}

// The batch's maps (CNHW) packed for the passes below (lanes_floats(g) floats).
inline void pack_lanes(const ConvGeometry& g, const float* input, float* lanes) {
  detail::pack_lanes(g, input, g.channels, g.height * g.width, lanes);
}

// output (filters x (N Ho Wo)) = the convolution of the packed batch with `weights` (filters x C x k
// x k), then `epilogue`.
inline void lanes_forward(const ConvGeometry& g, std::size_t filters, const float* lanes, const float* weights,
                          float* output, const ForwardEpilogue& epilogue = {}) {
  detail::LanesCall call{.pass = detail::LanesCall::Pass::forward, .g = g, .filters = filters};
  call.lanes = lanes;
  call.weights = weights;
  call.output = output;
  call.epilogue = epilogue;
  const std::size_t width = vector_floats(active_isa());
  call.work = detail::scratch(detail::lanes_work_buffer, filters * g.out_height * g.out_width * width);
  detail::dispatch_lanes(call);
}

// From delta (filters x (N Ho Wo)) and the packed batch: the weight gradient (+= into
// `weight_gradient`, filters x C x k x k) and, where `input_gradient` is not null, the maps'
// gradient (+= into it, CNHW).
inline void lanes_backward(const ConvGeometry& g, std::size_t filters, const float* lanes, const float* weights,
                           const float* delta, float* weight_gradient, float* input_gradient) {
  const std::size_t width = vector_floats(active_isa()), plane = g.out_height * g.out_width;
  const std::size_t groups = (g.batch + width - 1) / width, delta_floats = filters * plane * width;
  float* packed = detail::scratch(detail::lanes_delta_buffer, groups * delta_floats);
  detail::pack_lanes(g, delta, filters, plane, packed);
  detail::LanesCall call{.pass = detail::LanesCall::Pass::weight_gradient, .g = g, .filters = filters};
  call.lanes = lanes;
  call.weights = weights;
  call.delta = packed;
  call.taps = detail::lanes_taps(g, width);
  call.gradient = weight_gradient;
  detail::dispatch_lanes(call);
  if (input_gradient == nullptr) return;
  call.pass = detail::LanesCall::Pass::input_gradient;
  call.gradient = input_gradient;
  call.work = detail::scratch(detail::lanes_work_buffer, g.channels * g.height * g.width * width);
  detail::dispatch_lanes(call);
}

}  // namespace mahpo::train::kernels

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
