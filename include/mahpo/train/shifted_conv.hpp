#pragma once
// Convolution through kx-shifted copies of the maps: conv2 of a LeNet (several input channels), and
// the weight gradient of a one-channel layer too. im2col writes one copy of the map per tap (c, ky,
// kx). With the copy's rows cut to the output's width, the copy of tap (c, ky, kx) is the copy of tap
// (c, 0, kx) read ky rows further on; so k copies per channel serve all k x k taps:
//   shifted[c][kx][y][x] = input[c][n][y][x + kx]   (y < height, x < out_width),
// and tap (c, ky, kx)'s im2col row is the Ho Wo floats from shifted[c][kx] + ky Wo. The output plane
// is then summed in registers from vectors of those rows, whatever the row width: a 5x5 layer over 6
// channels copies 30 rows of 12 x 8 floats an image instead of 150 of 8 x 8. Three passes, each a
// template over the GCC vector type of the ISA's width (kernels.hpp), in one entry point per ISA:
//   forward:         output[f][n][p] = sum over (c, ky, kx) of w[f][c][ky][kx] shifted[c][kx][ky Wo + p],
//                    then the bias and ReLU in registers;
//   weight gradient: w'[f][c][ky][kx] += sum over n, p of delta[f][n][p] shifted[c][kx][ky Wo + p];
//   input gradient:  per ky, the im2col rows' gradient sum over f of w[f][c][ky][kx] delta[f][n][p],
//                    added into the copies' gradient ky Wo on, which goes back into the maps.

#include <algorithm>
#include <cstddef>
#include <vector>

#include <mahpo/train/kernels.hpp>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // wide vectors only live inside the ISA-specific entry points
#endif

namespace mahpo::train::kernels {

namespace detail {

inline constexpr std::size_t shifted_min_kernel = 2, shifted_max_kernel = 7;

// What one call of the ISA's entry point does, and on what.
struct ShiftedCall {
  enum class Pass { copy, forward, weight_gradient, input_gradient } pass = Pass::copy;
  ConvGeometry g;
  std::size_t filters = 0, first = 0, last = 0, filter_stride = 0;
  const float* input = nullptr;    // copy: the maps (CNHW)
  float* shifted = nullptr;        // the copies of the images [first, last) (copy writes them; the rest read them)
  const float* weights = nullptr;  // forward, input gradient
  float* output = nullptr;         // forward
  ForwardEpilogue epilogue;        // forward
  const float* delta = nullptr;    // weight and input gradient: filters x (N Ho Wo), rows filter_stride apart
  float* gradient = nullptr;       // weight gradient (+=), or the maps' gradient (input gradient, +=)
  float* work = nullptr;           // input gradient: shifted_work_floats(g, filters, width) floats
};

inline std::size_t shifted_row_floats(const ConvGeometry& g) { return g.height * g.out_width; }

// The vector starts along an output plane of `plane` floats: whole vectors, the last one moved back
// to end at the plane's end (it overlaps the one before when the plane is not a multiple of Width).
template <int Width>
[[gnu::always_inline]] inline std::size_t vector_start(std::size_t i, std::size_t plane) {
  return std::min(i * Width, plane - Width);
}

template <int Width>
[[gnu::always_inline]] inline void shift_copies(const ShiftedCall& call) {
  const ConvGeometry& g = call.g;
  const std::size_t k = g.kernel, rows = shifted_row_floats(g), per_image = g.channels * k * rows;
  for (std::size_t n = call.first; n < call.last; ++n) {
    float* image = call.shifted + (n - call.first) * per_image;
    for (std::size_t c = 0; c < g.channels; ++c) {
      const float* map = call.input + (c * g.batch + n) * g.height * g.width;
      for (std::size_t kx = 0; kx < k; ++kx) {
        float* copy = image + (c * k + kx) * rows;
        for (std::size_t y = 0; y < g.height; ++y) move_row<Width, false>(map + y * g.width + kx, g.out_width,
                                                                           copy + y * g.out_width);
      }
    }
  }
}

// Filters x Vectors sums of one image's plane: the vectors at `start`, all C k k taps.
template <typename V, int Filters, int Vectors>
[[gnu::always_inline]] inline void shifted_forward_tile(const ConvGeometry& g, const float* shifted,
                                                        const float* weights, const std::size_t (&start)[Vectors],
                                                        float* out, std::size_t filter_stride,
                                                        const ForwardEpilogue& epilogue) {
  const std::size_t k = g.kernel, taps = g.channels * k * k, rows = shifted_row_floats(g);
  V sum[Filters][Vectors];
#pragma GCC unroll 8
  for (int f = 0; f < Filters; ++f) {
#pragma GCC unroll 8
    for (int v = 0; v < Vectors; ++v) sum[f][v] = V{};
  }
  for (std::size_t c = 0; c < g.channels; ++c) {
    for (std::size_t kx = 0; kx < k; ++kx) {
      const float* copy = shifted + (c * k + kx) * rows;
      const float* w = weights + c * k * k + kx;
      for (std::size_t ky = 0; ky < k; ++ky, copy += g.out_width, w += k) {
        V pixels[Vectors];
#pragma GCC unroll 8
        for (int v = 0; v < Vectors; ++v) load(pixels[v], copy + start[v]);
#pragma GCC unroll 8
        for (int f = 0; f < Filters; ++f) {
          const V weight = w[f * taps] - V{};  // a broadcast
#pragma GCC unroll 8
          for (int v = 0; v < Vectors; ++v) sum[f][v] += weight * pixels[v];
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int f = 0; f < Filters; ++f) {
#pragma GCC unroll 8
    for (int v = 0; v < Vectors; ++v) {
      apply_epilogue(sum[f][v], epilogue, f);
      store(out + f * filter_stride + start[v], sum[f][v]);
    }
  }
}

template <int Width, int Filters, int Vectors>
[[gnu::always_inline]] inline void shifted_forward_filters(const ShiftedCall& call, const float* shifted, float* out,
                                                   std::size_t f) {
  using V = vector<Width>;
  const ConvGeometry& g = call.g;
  const std::size_t plane = g.out_height * g.out_width, count = (plane + Width - 1) / Width;
  const float* weights = call.weights + f * g.channels * g.kernel * g.kernel;
  out += f * call.filter_stride;
  const ForwardEpilogue epilogue = call.epilogue.from(f);
  std::size_t i = 0;
  for (; i + Vectors <= count; i += Vectors) {
    std::size_t start[Vectors];
    for (int v = 0; v < Vectors; ++v) start[v] = vector_start<Width>(i + v, plane);
    shifted_forward_tile<V, Filters, Vectors>(g, shifted, weights, start, out, call.filter_stride, epilogue);
  }
  for (; i < count; ++i) {
    const std::size_t start[1] = {vector_start<Width>(i, plane)};
    shifted_forward_tile<V, Filters, 1>(g, shifted, weights, start, out, call.filter_stride, epilogue);
  }
}

template <int Width, int Filters, int Vectors>
[[gnu::always_inline]] inline void shifted_forward(const ShiftedCall& call) {
  const ConvGeometry& g = call.g;
  const std::size_t plane = g.out_height * g.out_width;
  const std::size_t per_image = g.channels * g.kernel * shifted_row_floats(g);
  for (std::size_t n = call.first; n < call.last; ++n) {
    const float* shifted = call.shifted + (n - call.first) * per_image;
    float* out = call.output + n * plane;
    std::size_t f = 0;
    for (; f + Filters <= call.filters; f += Filters)
      shifted_forward_filters<Width, Filters, Vectors>(call, shifted, out, f);
    if constexpr (Filters >= 4) {
      if (f + Filters / 2 <= call.filters) {
        shifted_forward_filters<Width, Filters / 2, Vectors>(call, shifted, out, f);
        f += Filters / 2;
      }
    }
    for (; f < call.filters; ++f) shifted_forward_filters<Width, 1, Vectors>(call, shifted, out, f);
  }
}

// Filters filters' gradient for the k taps (c, 0..k-1, kx), summed over the whole batch in
// registers; the plane's last vector, overlapping the one before, counts only its new lanes.
template <int Width, int Filters, int K>
[[gnu::always_inline]] inline void shifted_gradient_row(const ShiftedCall& call, std::size_t f, std::size_t c,
                                                std::size_t kx) {
  using V = vector<Width>;
  const ConvGeometry& g = call.g;
  constexpr std::size_t k = K;
  const std::size_t plane = g.out_height * g.out_width, rows = shifted_row_floats(g), per_image = g.channels * k * rows;
  const std::size_t whole = plane / Width * Width, tail = plane - Width;
  V mask;
  for (int i = 0; i < Width; ++i) mask[i] = tail + static_cast<std::size_t>(i) >= whole ? 1.0f : 0.0f;
  V sum[Filters][K];
#pragma GCC unroll 8
  for (int i = 0; i < Filters; ++i) {
#pragma GCC unroll 8
    for (int ky = 0; ky < K; ++ky) sum[i][ky] = V{};
  }
  const float* delta = call.delta + f * call.filter_stride;
  for (std::size_t n = call.first; n < call.last; ++n) {
    const float* copy = call.shifted + (n - call.first) * per_image + (c * k + kx) * rows;
    const float* d = delta + n * plane;
    for (std::size_t p = 0; p < whole; p += Width)
      gradient_sums<V, Filters, K>(copy + p, g.out_width, d + p, call.filter_stride, nullptr, sum);
    if (whole < plane) gradient_sums<V, Filters, K>(copy + tail, g.out_width, d + tail, call.filter_stride, &mask, sum);
  }
  const std::size_t taps = g.channels * k * k;
#pragma GCC unroll 8
  for (int i = 0; i < Filters; ++i) {
    for (std::size_t ky = 0; ky < k; ++ky)
      call.gradient[(f + i) * taps + (c * k + ky) * k + kx] += horizontal_sum(sum[i][ky]);
  }
}

// Filter groups outside, so that a group's deltas stay in the L1 cache over all (c, kx).
template <int Width, int Group, int K>
[[gnu::always_inline]] inline void shifted_weight_gradient(const ShiftedCall& call) {
  std::size_t f = 0;
  for (; f + Group <= call.filters; f += Group) {
    for (std::size_t c = 0; c < call.g.channels; ++c) {
      for (std::size_t kx = 0; kx < K; ++kx) shifted_gradient_row<Width, Group, K>(call, f, c, kx);
    }
  }
  if constexpr (Group >= 4) {
    if (f + Group / 2 <= call.filters) {
      for (std::size_t c = 0; c < call.g.channels; ++c) {
        for (std::size_t kx = 0; kx < K; ++kx) shifted_gradient_row<Width, Group / 2, K>(call, f, c, kx);
      }
      f += Group / 2;
    }
  }
  for (; f < call.filters; ++f) {
    for (std::size_t c = 0; c < call.g.channels; ++c) {
      for (std::size_t kx = 0; kx < K; ++kx) shifted_gradient_row<Width, 1, K>(call, f, c, kx);
    }
  }
}

// Registers: Group x k sums, Group deltas and a pixel vector; Group is `registers` / (k + 1) filters.
template <int Width, int Registers>
[[gnu::always_inline]] inline void shifted_weight_gradient(const ShiftedCall& call) {
  switch (call.g.kernel) {
    case 2:
      return shifted_weight_gradient<Width, (Registers - 1) / 3, 2>(call);
    case 3:
      return shifted_weight_gradient<Width, (Registers - 1) / 4, 3>(call);
    case 4:
      return shifted_weight_gradient<Width, (Registers - 1) / 5, 4>(call);
    case 5:
      return shifted_weight_gradient<Width, (Registers - 1) / 6, 5>(call);
    case 6:
      return shifted_weight_gradient<Width, (Registers - 1) / 7, 6>(call);
    default:
      return shifted_weight_gradient<Width, (Registers - 1) / 8, 7>(call);
  }
}

// The input gradient's scratch: each filter's deltas of one image, zeros after them up to whole
// vectors; then the gradient of the image's C k copies, rows of (k - 1) Wo floats plus those vectors.
inline std::size_t plane_vectors(const ConvGeometry& g, std::size_t width) {
  return (g.out_height * g.out_width + width - 1) / width;
}
inline std::size_t copy_gradient_floats(const ConvGeometry& g, std::size_t width) {
  return (g.kernel - 1) * g.out_width + plane_vectors(g, width) * width;
}
inline std::size_t shifted_work_floats(const ConvGeometry& g, std::size_t filters, std::size_t width) {
  return filters * plane_vectors(g, width) * width + g.channels * g.kernel * copy_gradient_floats(g, width);
}

// For one ky, Rows x Vectors of the taps' im2col gradient, sum over f of w[f][c][ky][kx] delta[f][p]
// (rows `row[r]`: (c, kx) pairs as c k + kx; the vectors from `first_vector`), added into the
// copies' gradient ky rows on: the tap (c, ky, kx) reads the copy (c, kx) from there.
template <typename V, int Rows, int Vectors>
[[gnu::always_inline]] inline void shifted_input_tile(const ShiftedCall& call, const float* deltas,
                                                      std::size_t delta_floats, std::size_t ky,
                                                      const std::size_t (&row)[Rows], std::size_t first_vector,
                                                      float* copies, std::size_t copy_floats) {
  constexpr std::size_t width = sizeof(V) / sizeof(float);
  const ConvGeometry& g = call.g;
  const std::size_t k = g.kernel, taps = g.channels * k * k;
  std::size_t tap[Rows];  // w[f][c][ky][kx]
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) tap[r] = (row[r] / k * k + ky) * k + row[r] % k;
  V sum[Rows][Vectors];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < Vectors; ++v) sum[r][v] = V{};
  }
  const float* d = deltas + first_vector * width;
  const float* w = call.weights;
  for (std::size_t f = 0; f < call.filters; ++f, d += delta_floats, w += taps) {
    V delta[Vectors];
#pragma GCC unroll 8
    for (int v = 0; v < Vectors; ++v) load(delta[v], d + v * width);
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const V weight = w[tap[r]] - V{};
#pragma GCC unroll 8
      for (int v = 0; v < Vectors; ++v) sum[r][v] += weight * delta[v];
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    float* target = copies + row[r] * copy_floats + ky * g.out_width + first_vector * width;
#pragma GCC unroll 8
    for (int v = 0; v < Vectors; ++v) {
      V old;
      load(old, target + v * width);
      old += sum[r][v];
      store(target + v * width, old);
    }
  }
}

template <int Width, int Rows, int Vectors>
[[gnu::always_inline]] inline void shifted_input_rows(const ShiftedCall& call, const float* deltas,
                                                      std::size_t delta_floats, std::size_t ky,
                                                      const std::size_t (&row)[Rows], float* copies,
                                                      std::size_t copy_floats) {
  using V = vector<Width>;
  const std::size_t count = plane_vectors(call.g, Width);
  std::size_t v = 0;
  for (; v + Vectors <= count; v += Vectors)
    shifted_input_tile<V, Rows, Vectors>(call, deltas, delta_floats, ky, row, v, copies, copy_floats);
  if (Vectors > 2 && v + 2 <= count) {
    shifted_input_tile<V, Rows, 2>(call, deltas, delta_floats, ky, row, v, copies, copy_floats);
    v += 2;
  }
  for (; v < count; ++v) shifted_input_tile<V, Rows, 1>(call, deltas, delta_floats, ky, row, v, copies, copy_floats);
}

// Per image: the deltas padded with zeros to whole vectors, the copies' gradient one ky at a time
// (the rows of a tile are different copies, so its additions never overlap one another), then the
// copies' gradient added back into the maps.
template <int Width, int Rows, int Vectors>
[[gnu::always_inline]] inline void shifted_input_gradient(const ShiftedCall& call) {
  const ConvGeometry& g = call.g;
  const std::size_t k = g.kernel, plane = g.out_height * g.out_width;
  const std::size_t delta_floats = plane_vectors(g, Width) * Width, copy_floats = copy_gradient_floats(g, Width);
  const std::size_t copy_rows = g.channels * k;
  float* deltas = call.work;
  float* copies = deltas + call.filters * delta_floats;
  std::fill_n(deltas, call.filters * delta_floats, 0.0f);  // the zeros after each plane stay
  for (std::size_t n = call.first; n < call.last; ++n) {
    for (std::size_t f = 0; f < call.filters; ++f)
      move_row<Width, false>(call.delta + f * call.filter_stride + n * plane, plane, deltas + f * delta_floats);
    std::fill_n(copies, copy_rows * copy_floats, 0.0f);
    for (std::size_t ky = 0; ky < k; ++ky) {
      std::size_t r = 0;
      for (; r + Rows <= copy_rows; r += Rows) {
        std::size_t row[Rows];
        for (int i = 0; i < Rows; ++i) row[i] = r + i;
        shifted_input_rows<Width, Rows, Vectors>(call, deltas, delta_floats, ky, row, copies, copy_floats);
      }
      for (; r < copy_rows; ++r) {
        const std::size_t row[1] = {r};
        shifted_input_rows<Width, 1, Vectors>(call, deltas, delta_floats, ky, row, copies, copy_floats);
      }
    }
    // Back into the maps: one pass per kx, so that the rows added in a row are a map apart (an
    // addition overlapping the one just before waits for its store: see im2col's adjoint).
    for (std::size_t kx = 0; kx < k; ++kx) {
      for (std::size_t c = 0; c < g.channels; ++c) {
        const float* copy = copies + (c * k + kx) * copy_floats;
        float* map = call.gradient + (c * g.batch + n) * g.height * g.width + kx;
        for (std::size_t y = 0; y < g.height; ++y)
          move_row<Width, true>(copy + y * g.out_width, g.out_width, map + y * g.width);
      }
    }
  }
}

// Tiles per ISA: forward Filters x Vectors, weight gradient Group filters x k taps, input gradient
// Rows x Vectors; AVX-512 has 32 vector registers, AVX2 and SSE2 16.
template <int Width, int Filters, int Vectors, int Registers, int Rows>
[[gnu::always_inline]] inline void shifted_convolution(const ShiftedCall& call) {
  switch (call.pass) {
    case ShiftedCall::Pass::copy:
      return shift_copies<Width>(call);
    case ShiftedCall::Pass::forward:
      return shifted_forward<Width, Filters, Vectors>(call);
    case ShiftedCall::Pass::weight_gradient:
      return shifted_weight_gradient<Width, Registers>(call);
    case ShiftedCall::Pass::input_gradient:
      return shifted_input_gradient<Width, Rows, Vectors>(call);
  }
}

#if defined(__x86_64__) || defined(__i386__)
[[gnu::target("avx512f,avx512vl,avx512dq,avx2,fma")]] inline void shifted_convolution_avx512(
    const ShiftedCall& call) {
  shifted_convolution<16, 4, 4, 30, 6>(call);
}
[[gnu::target("avx2,fma")]] inline void shifted_convolution_avx2(const ShiftedCall& call) {
  shifted_convolution<8, 4, 2, 15, 4>(call);
}
#endif
inline void shifted_convolution_sse2(const ShiftedCall& call) { shifted_convolution<4, 4, 2, 15, 4>(call); }

inline void dispatch_shifted(const ShiftedCall& call) {
  switch (active_isa()) {
#if defined(__x86_64__) || defined(__i386__)
    case Isa::avx512:
      return shifted_convolution_avx512(call);
    case Isa::avx2:
      return shifted_convolution_avx2(call);
#endif
    default:
      return shifted_convolution_sse2(call);
  }
}

inline thread_local std::vector<float> shifted_work_buffer;

}  // namespace detail

// Whether the shifted weight gradient applies, for any number of channels (a one-channel layer's
// forward pass goes direct, direct_conv.hpp): as shifted_convolution_fits otherwise.
inline bool shifted_weight_gradient_fits(const ConvGeometry& g) {
  const std::size_t plane = g.out_height * g.out_width, width = vector_floats(active_isa());
  return detail::is_valid(g) && g.kernel >= detail::shifted_min_kernel && g.kernel <= detail::shifted_max_kernel &&
         (plane % width == 0 ? plane > 0 : plane >= 4 * width);
}

// Whether the shifted path applies: several input channels, no padding, a kernel of 2 to 7, and an
// output plane of whole vectors or of at least 4 (its last vector overlaps the one before, and a
// small plane wastes much of it: paper_lenet's largest config, a 5x5 plane in two vectors of 16,
// trained 1-2 % and evaluated 4 % slower than through im2col, whose columns run on across images).
inline bool shifted_convolution_fits(const ConvGeometry& g) {
  return g.channels > 1 && shifted_weight_gradient_fits(g);
}

// Floats of one image's shifted copies: C k height out_width.
inline std::size_t shifted_floats(const ConvGeometry& g) {
  return g.channels * g.kernel * detail::shifted_row_floats(g);
}

// The shifted copies of the images [first, last) of `input` (CNHW), image n at (n - first) shifted_floats.
inline void shift_copies(const ConvGeometry& g, const float* input, std::size_t first, std::size_t last,
                         float* shifted) {
  detail::ShiftedCall call{.pass = detail::ShiftedCall::Pass::copy, .g = g, .first = first, .last = last};
  call.input = input;
  call.shifted = shifted;
  detail::dispatch_shifted(call);
}

// output (filters x (N Ho Wo), rows `filter_stride` floats apart) = the convolution of the images
// [first, last), from their shifted copies (image n at (n - first) shifted_floats), with `weights`
// (filters x C x k x k), then `epilogue`.
inline void shifted_forward(const ConvGeometry& g, std::size_t filters, const float* shifted, std::size_t first,
                            std::size_t last, const float* weights, float* output, std::size_t filter_stride,
                            const ForwardEpilogue& epilogue = {}) {
  detail::ShiftedCall call{.pass = detail::ShiftedCall::Pass::forward, .g = g, .filters = filters, .first = first,
                           .last = last, .filter_stride = filter_stride};
  call.shifted = const_cast<float*>(shifted);  // read only
  call.weights = weights;
  call.output = output;
  call.epilogue = epilogue;
  detail::dispatch_shifted(call);
}

// gradient (filters x C x k x k) += the weight gradient of the images [0, images), from their
// shifted copies; delta is filters x (images Ho Wo), rows `filter_stride` floats apart.
inline void shifted_weight_gradient(const ConvGeometry& g, std::size_t filters, const float* shifted,
                                    std::size_t images, const float* delta, std::size_t filter_stride,
                                    float* gradient) {
  detail::ShiftedCall call{.pass = detail::ShiftedCall::Pass::weight_gradient, .g = g, .filters = filters,
                           .first = 0, .last = images, .filter_stride = filter_stride};
  call.shifted = const_cast<float*>(shifted);  // read only
  call.delta = delta;
  call.gradient = gradient;
  detail::dispatch_shifted(call);
}

// input_gradient (CNHW) += the gradient of the images [first, last) from the deltas (filters x
// (N Ho Wo), rows `filter_stride` floats apart) and `weights`.
inline void shifted_input_gradient(const ConvGeometry& g, std::size_t filters, const float* weights,
                                   const float* delta, std::size_t filter_stride, std::size_t first, std::size_t last,
                                   float* input_gradient) {
  const std::size_t work = detail::shifted_work_floats(g, filters, vector_floats(active_isa()));
  detail::ShiftedCall call{.pass = detail::ShiftedCall::Pass::input_gradient, .g = g, .filters = filters,
                           .first = first, .last = last, .filter_stride = filter_stride};
  call.weights = weights;
  call.delta = delta;
  call.gradient = input_gradient;
  call.work = detail::scratch(detail::shifted_work_buffer, work);
  detail::dispatch_shifted(call);
}

}  // namespace mahpo::train::kernels

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
