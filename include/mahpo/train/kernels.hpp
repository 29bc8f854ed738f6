#pragma once
// The trainer's matrix kernels: the small, skinny products of a LeNet (6 or 16 filters against a few
// thousand im2col columns, a few hundred dense units against a batch), chosen at run time for what
// the CPU reports: AVX-512, AVX2 + FMA, or the SSE2 every x86-64 CPU has.
//
// Why not OpenBLAS: its kernels are picked by CPU model, and a model it does not know (Debian's
// 0.3.21 on recent Xeons) falls back to SSE3; its packing and beta passes also cost more than the
// product itself at these sizes. Why not xsimd: its SIMD types exist only for the instruction sets
// the whole translation unit is compiled for, and a header-only library cannot choose its users'
// flags. Here each kernel is one template over the GCC/Clang vector type of the ISA's width,
// instantiated inside a function compiled for that ISA (`[[gnu::target]]`); everything below those
// entry points is inlined into them, so no wide vector crosses a function boundary.
//
// The products (row-major, `accumulate` adds to C instead of overwriting it):
//   multiply(...):            C (M x N) = A (M x K) * B (K x N), where A(i, k) = a[i * a_row + k * a_column],
//                             so A may be read transposed (a_row = 1, a_column = lda);
//   multiply_transposed(...): C (M x N) = A (M x K) * B^T, B being N x K: one dot product of two
//                             contiguous rows per element (weight gradients, over long K).
// Measured against OpenBLAS and libxsmm on the LeNet shapes in bench/bench_kernels.cpp.

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <mahpo/isa.hpp>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // wide vectors only live inside the ISA-specific entry points
#endif

namespace mahpo::train::kernels {

using mahpo::active_isa;
using mahpo::best_isa;
using mahpo::Isa;
using mahpo::isa_name;
using mahpo::use_isa;
using mahpo::vector_floats;

namespace detail {

// The vector of Width floats (an alias template would drop the attribute, hence one type per width).
template <int Width>
struct vector_of;
template <>
struct vector_of<4> {
  typedef float type __attribute__((vector_size(16)));
};
template <>
struct vector_of<8> {
  typedef float type __attribute__((vector_size(32)));
};
template <>
struct vector_of<16> {
  typedef float type __attribute__((vector_size(64)));
};
template <int Width>
using vector = typename vector_of<Width>::type;

// Unaligned loads and stores; by reference, so that no wide vector is passed by value.
template <typename V>
[[gnu::always_inline]] inline void load(V& v, const float* p) {
  std::memcpy(&v, p, sizeof(V));
}

template <typename V>
[[gnu::always_inline]] inline void store(float* p, const V& v) {
  std::memcpy(p, &v, sizeof(V));
}

// Rows x (Vectors * width of V) of C from A's rows and B's columns; V may be plain float (one column).
template <typename V, int Rows, int Vectors>
[[gnu::always_inline]] inline void multiply_tile(std::size_t k_size, const float* a, std::size_t a_row,
                                                 std::size_t a_column, const float* b, std::size_t ldb, float* c,
                                                 std::size_t ldc, bool accumulate) {
  constexpr int width = static_cast<int>(sizeof(V) / sizeof(float));
  V sum[Rows][Vectors];
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) sum[r][v] = V{};
  }
  for (std::size_t k = 0; k < k_size; ++k) {
    V column[Vectors];
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) load(column[v], b + k * ldb + v * width);
    const float* a_k = a + k * a_column;
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      const V value = a_k[r * a_row] - V{};  // a broadcast (x - 0 is x exactly, so it folds)
#pragma GCC unroll 4
      for (int v = 0; v < Vectors; ++v) sum[r][v] += value * column[v];
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) {
      float* target = c + r * ldc + v * width;
      if (accumulate) {
        V old;
        load(old, target);
        sum[r][v] += old;
      }
      store(target, sum[r][v]);
    }
  }
}

// All of C's rows for one block of columns, `Rows` rows at a time.
template <typename V, int Rows, int Vectors>
[[gnu::always_inline]] inline void multiply_columns(std::size_t m, std::size_t k, const float* a, std::size_t a_row,
                                                    std::size_t a_column, const float* b, std::size_t ldb, float* c,
                                                    std::size_t ldc, bool accumulate) {
  // A single row left over would run at a third of a tile's rate (as many loads of B per row as
  // products): the last Rows + 1 rows then go as two tiles of about half that height.
  const std::size_t split = Rows > 1 && m > Rows && m % Rows == 1 ? Rows + 1 : 0;
  std::size_t i = 0;
  for (; i + Rows + split <= m; i += Rows) {
    multiply_tile<V, Rows, Vectors>(k, a + i * a_row, a_row, a_column, b, ldb, c + i * ldc, ldc, accumulate);
  }
  if (split) {
    constexpr int upper = (Rows + 1) / 2, lower = Rows + 1 - upper;
    multiply_tile<V, upper, Vectors>(k, a + i * a_row, a_row, a_column, b, ldb, c + i * ldc, ldc, accumulate);
    i += upper;
    multiply_tile<V, lower, Vectors>(k, a + i * a_row, a_row, a_column, b, ldb, c + i * ldc, ldc, accumulate);
    return;
  }
  const std::size_t left = m - i;
  const float* a_i = a + i * a_row;
  float* c_i = c + i * ldc;
  // The remaining rows, one tile of the right height (Rows is at most 8).
  switch (left) {
    case 7:
      if constexpr (Rows > 7) multiply_tile<V, 7, Vectors>(k, a_i, a_row, a_column, b, ldb, c_i, ldc, accumulate);
      break;
    case 6:
      if constexpr (Rows > 6) multiply_tile<V, 6, Vectors>(k, a_i, a_row, a_column, b, ldb, c_i, ldc, accumulate);
      break;
    case 5:
      if constexpr (Rows > 5) multiply_tile<V, 5, Vectors>(k, a_i, a_row, a_column, b, ldb, c_i, ldc, accumulate);
      break;
    case 4:
      if constexpr (Rows > 4) multiply_tile<V, 4, Vectors>(k, a_i, a_row, a_column, b, ldb, c_i, ldc, accumulate);
      break;
    case 3:
      if constexpr (Rows > 3) multiply_tile<V, 3, Vectors>(k, a_i, a_row, a_column, b, ldb, c_i, ldc, accumulate);
      break;
    case 2:
      if constexpr (Rows > 2) multiply_tile<V, 2, Vectors>(k, a_i, a_row, a_column, b, ldb, c_i, ldc, accumulate);
      break;
    case 1:
      multiply_tile<V, 1, Vectors>(k, a_i, a_row, a_column, b, ldb, c_i, ldc, accumulate);
      break;
    default:
      break;
  }
}

// Columns in blocks of `Vectors` vectors, then of two, then one vector, then 4 floats, then one at a
// time. A block of B that more than one tile of rows reads is first copied to `panel` (k x block
// floats): B's rows are often thousands of floats apart, and a few dozen such rows already collide
// in the L1 cache.
template <int Width, int Rows, int Vectors>
[[gnu::always_inline]] inline void multiply(std::size_t m, std::size_t n, std::size_t k, const float* a,
                                            std::size_t a_row, std::size_t a_column, const float* b, std::size_t ldb,
                                            float* c, std::size_t ldc, bool accumulate, float* panel) {
  using V = vector<Width>;
  constexpr std::size_t block = Vectors * Width;
  const bool pack = m > Rows && ldb != block;
  std::size_t j = 0;
  for (; j + block <= n; j += block) {
    const float* source = b + j;
    std::size_t stride = ldb;
    if (pack) {
      for (std::size_t row = 0; row < k; ++row)
        std::memcpy(panel + row * block, b + row * ldb + j, sizeof(float) * block);
      source = panel;
      stride = block;
    }
    multiply_columns<V, Rows, Vectors>(m, k, a, a_row, a_column, source, stride, c + j, ldc, accumulate);
  }
  if constexpr (Vectors > 2) {
    if (j + 2 * Width <= n) {
      multiply_columns<V, Rows, 2>(m, k, a, a_row, a_column, b + j, ldb, c + j, ldc, accumulate);
      j += 2 * Width;
    }
  }
  if constexpr (Vectors > 1) {
    if (j + Width <= n) {
      multiply_columns<V, Rows, 1>(m, k, a, a_row, a_column, b + j, ldb, c + j, ldc, accumulate);
      j += Width;
    }
  }
  if constexpr (Width > 8) {
    if (j + 8 <= n) {
      multiply_columns<vector<8>, Rows, 1>(m, k, a, a_row, a_column, b + j, ldb, c + j, ldc, accumulate);
      j += 8;
    }
  }
  if constexpr (Width > 4) {
    if (j + 4 <= n) {
      multiply_columns<vector<4>, Rows, 1>(m, k, a, a_row, a_column, b + j, ldb, c + j, ldc, accumulate);
      j += 4;
    }
  }
  for (; j < n; ++j) multiply_columns<float, Rows, 1>(m, k, a, a_row, a_column, b + j, ldb, c + j, ldc, accumulate);
}

template <typename V>
[[gnu::always_inline]] inline float horizontal_sum(const V& v) {
  constexpr int width = static_cast<int>(sizeof(V) / sizeof(float));
  float total = 0.0f;
#pragma GCC unroll 16
  for (int i = 0; i < width; ++i) total += v[i];
  return total;
}

// RowsA x RowsB dot products of A's and B's contiguous rows.
template <typename V, int RowsA, int RowsB>
[[gnu::always_inline]] inline void dot_tile(std::size_t k_size, const float* a, std::size_t lda, const float* b,
                                            std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
  constexpr std::size_t width = sizeof(V) / sizeof(float);
  V sum[RowsA][RowsB];
#pragma GCC unroll 4
  for (int r = 0; r < RowsA; ++r) {
#pragma GCC unroll 4
    for (int s = 0; s < RowsB; ++s) sum[r][s] = V{};
  }
  std::size_t k = 0;
  for (; k + width <= k_size; k += width) {
    V row_b[RowsB];
#pragma GCC unroll 4
    for (int s = 0; s < RowsB; ++s) load(row_b[s], b + s * ldb + k);
#pragma GCC unroll 4
    for (int r = 0; r < RowsA; ++r) {
      V row_a;
      load(row_a, a + r * lda + k);
#pragma GCC unroll 4
      for (int s = 0; s < RowsB; ++s) sum[r][s] += row_a * row_b[s];
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < RowsA; ++r) {
#pragma GCC unroll 4
    for (int s = 0; s < RowsB; ++s) {
      float total = horizontal_sum(sum[r][s]);
      for (std::size_t t = k; t < k_size; ++t) total += a[r * lda + t] * b[s * ldb + t];
      float& target = c[r * ldc + s];
      target = accumulate ? target + total : total;
    }
  }
}

template <typename V, int RowsA, int RowsB>
[[gnu::always_inline]] inline void dot_rows(std::size_t n, std::size_t k, const float* a, std::size_t lda,
                                            const float* b, std::size_t ldb, float* c, std::size_t ldc,
                                            bool accumulate) {
  std::size_t j = 0;
  for (; j + RowsB <= n; j += RowsB) {
    dot_tile<V, RowsA, RowsB>(k, a, lda, b + j * ldb, ldb, c + j, ldc, accumulate);
  }
  for (; j < n; ++j) dot_tile<V, RowsA, 1>(k, a, lda, b + j * ldb, ldb, c + j, ldc, accumulate);
}

template <int Width, int RowsA, int RowsB>
[[gnu::always_inline]] inline void multiply_transposed(std::size_t m, std::size_t n, std::size_t k, const float* a,
                                                       std::size_t lda, const float* b, std::size_t ldb, float* c,
                                                       std::size_t ldc, bool accumulate) {
  using V = vector<Width>;
  std::size_t i = 0;
  for (; i + RowsA <= m; i += RowsA) {
    dot_rows<V, RowsA, RowsB>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate);
  }
  for (; i < m; ++i) dot_rows<V, 1, RowsB>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate);
}

// Keeps `v` in a register: the compiler would otherwise fold its load into each of the FMAs that use
// it, one load per FMA, and the loads, not the FMAs, would set the pace.
template <typename V>
[[gnu::always_inline]] inline void in_register(V& v) {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)  // clang checks "v" against the file's ISA
  __asm__("" : "+v"(v));
#else
  (void)v;
#endif
}

// A convolution's weight gradient, one vector of its output plane: sum[f][t] += delta[f] * the pixel
// vector at pixels + t step, for Filters filters (deltas `filter_stride` floats apart, times `mask`
// where given) and K taps along a kernel row (step 1, direct_conv.hpp) or column (step Wo,
// shifted_conv.hpp). The pixel vector is loaded once for all Filters FMAs (in_register).
template <typename V, int Filters, int K>
[[gnu::always_inline]] inline void gradient_sums(const float* pixels, std::size_t step, const float* delta,
                                                 std::size_t filter_stride, const V* mask, V (&sum)[Filters][K]) {
  V deltas[Filters];
#pragma GCC unroll 8
  for (int f = 0; f < Filters; ++f) {
    load(deltas[f], delta + f * filter_stride);
    if (mask) deltas[f] *= *mask;
  }
#pragma GCC unroll 8
  for (int t = 0; t < K; ++t) {
    V pixel;
    load(pixel, pixels + t * step);
    in_register(pixel);
#pragma GCC unroll 8
    for (int f = 0; f < Filters; ++f) sum[f][t] += deltas[f] * pixel;
  }
}

// Copies (or adds) `count` floats. A copy moves whole vectors, the last one overlapping the one
// before; a row shorter than a vector (a LeNet's 10- or 14-float rows under AVX-512) goes as two
// overlapping vectors of 8 or of 4. An addition cannot overlap: vectors of Width, then at most one
// of 8 and one of 4, then up to 3 floats one at a time. No loop over short pieces, so the compiler
// does not turn a tail into a call to memcpy (measured: 8 % of a training step when it did).
// Rows of up to 4 vectors go as straight code: the compiler turns a copy loop into a call to memmove
// (measured: 4 % of a training step for LeNet's 24-float rows).
template <typename V>
[[gnu::always_inline]] inline void copy_vector(const float* __restrict source, float* __restrict target) {
  V v;
  load(v, source);
  store(target, v);
}

template <typename V>
[[gnu::always_inline]] inline void copy_overlapping(const float* __restrict source, std::size_t count,
                                                    float* __restrict target) {
  constexpr std::size_t width = sizeof(V) / sizeof(float);
  if (count > 4 * width) {
    std::size_t i = 0;
    for (; i + width < count; i += width) copy_vector<V>(source + i, target + i);
  } else {
    copy_vector<V>(source, target);
    if (count > 2 * width) copy_vector<V>(source + width, target + width);
    if (count > 3 * width) copy_vector<V>(source + 2 * width, target + 2 * width);
  }
  copy_vector<V>(source + count - width, target + count - width);
}

template <typename V>
[[gnu::always_inline]] inline void add_vector(const float* __restrict source, float* __restrict target) {
  V v, old;
  load(v, source);
  load(old, target);
  v += old;
  store(target, v);
}

template <int Width, bool Add>
[[gnu::always_inline]] inline void move_row(const float* __restrict source, std::size_t count,
                                            float* __restrict target) {
  if constexpr (!Add) {
    if (count >= Width) return copy_overlapping<vector<Width>>(source, count, target);
    if constexpr (Width > 8) {
      if (count >= 8) return copy_overlapping<vector<8>>(source, count, target);
    }
    if constexpr (Width > 4) {
      if (count >= 4) return copy_overlapping<vector<4>>(source, count, target);
    }
  }
  std::size_t i = 0;
  if constexpr (Add) {
    for (; i + Width <= count; i += Width) add_vector<vector<Width>>(source + i, target + i);
    if constexpr (Width > 8) {
      if (i + 8 <= count) {
        add_vector<vector<8>>(source + i, target + i);
        i += 8;
      }
    }
    if constexpr (Width > 4) {
      if (i + 4 <= count) {
        add_vector<vector<4>>(source + i, target + i);
        i += 4;
      }
    }
  }
  switch (count - i) {
    case 3:
      target[i + 2] = Add ? target[i + 2] + source[i + 2] : source[i + 2];
      [[fallthrough]];
    case 2:
      target[i + 1] = Add ? target[i + 1] + source[i + 1] : source[i + 1];
      [[fallthrough]];
    case 1:
      target[i] = Add ? target[i] + source[i] : source[i];
      break;
    default:
      break;
  }
}

}  // namespace detail

// What a convolution's forward pass applies to each filter's sums before it stores them: the bias
// (none when null), then ReLU (formulas::relu: x < 0 ? 0 : x) when `relu` is set. Applied in
// registers, it saves a pass over the output.
struct ForwardEpilogue {
  const float* bias = nullptr;
  bool relu = false;
  ForwardEpilogue from(std::size_t filter) const { return {bias ? bias + filter : nullptr, relu}; }
};

namespace detail {
template <typename V>
[[gnu::always_inline]] inline void apply_epilogue(V& sum, const ForwardEpilogue& epilogue, std::size_t filter) {
  if (epilogue.bias == nullptr) return;
  sum += epilogue.bias[filter] - V{};
  if (epilogue.relu) {
    using Mask = decltype(sum < sum);
    sum = reinterpret_cast<V>(reinterpret_cast<Mask>(sum) & ~(sum < V{}));  // NaN and -0 stay, as in relu
  }
}
}  // namespace detail

// A stride-1 convolution's geometry over a CNHW tensor: `pad` zeros above and left of each map, the
// output out_height x out_width (any zeros below and right follow from it).
struct ConvGeometry {
  std::size_t channels = 1, batch = 1, height = 1, width = 1;
  std::size_t kernel = 1, pad = 0, out_height = 1, out_width = 1;
};

namespace detail {

// Whether the convolution reads no zeros: no padding, and the output as large as the kernel allows.
inline bool is_valid(const ConvGeometry& g) {
  return g.pad == 0 && g.out_height + g.kernel == g.height + 1 && g.out_width + g.kernel == g.width + 1;
}

// For the images [first, last): columns[(c, ky, kx)][(n - first, y, x)] = input[c][n][y + ky - pad][x + kx - pad]
// (0 outside the map) when Adjoint is false; when it is true, the adjoint:
// input[c][n][y + ky - pad][x + kx - pad] += columns[(c, ky, kx)][(n - first, y, x)]. The rows of
// `columns` are `ld` floats apart.
// The images [first, last) of `input`, each map copied into the middle of a zero map of the padded
// size: returns the geometry of a valid convolution over `maps` (CNHW, last - first images).
template <int Width>
[[gnu::always_inline]] inline ConvGeometry pad_maps(const ConvGeometry& g, const float* input, std::size_t first,
                                                    std::size_t last, float* maps) {
  const ConvGeometry padded{g.channels, last - first,   g.out_height + g.kernel - 1, g.out_width + g.kernel - 1,
                            g.kernel,   0,              g.out_height,                g.out_width};
  // The map's columns land at [pad, pad + width) of each padded row, cut at the padded width.
  const std::size_t x_last = std::min(padded.width, g.pad + g.width);
  const std::size_t span = x_last > g.pad ? x_last - g.pad : 0;
  const std::size_t size = padded.channels * padded.batch * padded.height * padded.width;
  const vector<Width> zero{};
  std::size_t i = 0;
  for (; i + Width <= size; i += Width) store(maps + i, zero);
  for (; i < size; ++i) maps[i] = 0.0f;
  for (std::size_t c = 0; c < g.channels; ++c) {
    for (std::size_t n = first; n < last; ++n) {
      const float* map = input + (c * g.batch + n) * g.height * g.width;
      float* out = maps + (c * padded.batch + n - first) * padded.height * padded.width + g.pad;
      for (std::size_t y = g.pad; y < padded.height && y - g.pad < g.height; ++y) {
        if (span > 0) move_row<Width, false>(map + (y - g.pad) * g.width, span, out + y * padded.width);
      }
    }
  }
  return padded;
}

// A padded convolution (not its adjoint) with `maps` given first copies the group's maps into
// padded maps there: a map per image and channel, against a zero fill and a branch per row of each
// of the k x k column rows. (Only 'same' convolutions pad; the benchmark networks are valid ones, so
// this path's speed is not in bench_trainer's figures; its results are in the kernel tests.)
template <int Width, bool Adjoint>
[[gnu::always_inline]] inline void im2col(const ConvGeometry& geometry, const float* input_in, float* input_out,
                                          std::size_t first, std::size_t last, const float* columns_in,
                                          float* columns_out, std::size_t ld, float* maps = nullptr) {
  ConvGeometry g = geometry;  // a copy: stores through the float pointers cannot change it
  if (!Adjoint && maps != nullptr && !is_valid(g)) {
    g = pad_maps<Width>(geometry, input_in, first, last, maps);
    input_in = maps;
    last -= first;
    first = 0;
  }
  const std::size_t plane = g.out_height * g.out_width;
  // A valid copy (no padding: every span is a whole output row) reads each source row once for all k
  // offsets. The adjoint never goes that way: it would add the k shifted rows into one row one after
  // the other, each vector load overlapping the store just before it, and a load that a store only
  // partly covers waits for the store to retire (measured: a fifth of a training step). Below, the k
  // offsets are k passes over the group, so the rows added in a row are far apart.
  if (!Adjoint && is_valid(g)) {
    for (std::size_t c = 0; c < g.channels; ++c) {
      for (std::size_t ky = 0; ky < g.kernel; ++ky) {
        const std::size_t row = (c * g.kernel + ky) * g.kernel * ld;
        for (std::size_t n = first; n < last; ++n) {
          const std::size_t source_plane = (c * g.batch + n) * g.height * g.width + ky * g.width;
          for (std::size_t y = 0; y < g.out_height; ++y) {
            const std::size_t source = source_plane + y * g.width, target = row + (n - first) * plane + y * g.out_width;
            for (std::size_t kx = 0; kx < g.kernel; ++kx) {
              if constexpr (Adjoint) {
                move_row<Width, true>(columns_in + target + kx * ld, g.out_width, input_out + source + kx);
              } else {
                move_row<Width, false>(input_in + source + kx, g.out_width, columns_out + target + kx * ld);
              }
            }
          }
        }
      }
    }
    return;
  }
  for (std::size_t c = 0; c < g.channels; ++c) {
    for (std::size_t ky = 0; ky < g.kernel; ++ky) {
      for (std::size_t kx = 0; kx < g.kernel; ++kx) {
        const std::size_t row = ((c * g.kernel + ky) * g.kernel + kx) * ld;
        // x + kx - pad in [0, width)  <=>  x in [pad - kx, width + pad - kx)
        const std::size_t x_first = g.pad > kx ? g.pad - kx : 0;
        const std::size_t x_last = std::min(g.out_width, g.width + g.pad - kx);
        const std::size_t span = x_last > x_first ? x_last - x_first : 0;
        for (std::size_t n = first; n < last; ++n) {
          const std::size_t source_plane = (c * g.batch + n) * g.height * g.width;
          const std::size_t at = row + (n - first) * plane;
          for (std::size_t y = 0; y < g.out_height; ++y) {
            const std::size_t input_row = y + ky;  // the padded row index
            const bool inside = input_row >= g.pad && input_row < g.height + g.pad && span > 0;
            const std::size_t source = inside ? source_plane + (input_row - g.pad) * g.width + x_first + kx - g.pad : 0;
            const std::size_t target = at + y * g.out_width;
            if constexpr (Adjoint) {
              if (inside) move_row<Width, true>(columns_in + target + x_first, span, input_out + source);
            } else if (inside && span == g.out_width) {
              move_row<Width, false>(input_in + source, span, columns_out + target);
            } else {
              float* out = columns_out + target;
              for (std::size_t x = 0; x < g.out_width; ++x) out[x] = 0.0f;
              if (inside) move_row<Width, false>(input_in + source, span, out + x_first);
            }
          }
        }
      }
    }
  }
}

// The entry points, one per ISA. Tiles of C (rows x vectors): AVX-512 has 32 vector registers, 8 x 2
// accumulators (measured on a Zen 5 against 6 x 4 for at most 6 rows and 8 x 3 otherwise, with 6 x 4
// and 8 x 3 dot products: training 3-8 % slower; 6 x 4 alone for at most 6 rows: within noise);
// AVX2 and SSE2 have 16: AVX2 3 x 4 (measured
// against 6 x 2, 4 x 3 and 5 x 2 on the trainer: 403 k, 411 k, 409 k, 430 k instructions per image,
// and the fastest steps), SSE2 6 x 2. Dot products: 4 x 4 (AVX-512) and 3 x 4.
#if defined(__x86_64__) || defined(__i386__)
[[gnu::target("avx512f,avx512vl,avx512dq,avx2,fma")]] inline void multiply_avx512(
    std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t a_row, std::size_t a_column,
    const float* b, std::size_t ldb, float* c, std::size_t ldc, bool accumulate, float* panel) {
  multiply<16, 8, 2>(m, n, k, a, a_row, a_column, b, ldb, c, ldc, accumulate, panel);
}
[[gnu::target("avx2,fma")]] inline void multiply_avx2(std::size_t m, std::size_t n, std::size_t k, const float* a,
                                                      std::size_t a_row, std::size_t a_column, const float* b,
                                                      std::size_t ldb, float* c, std::size_t ldc, bool accumulate,
                                                      float* panel) {
  // Up to 6 rows (a LeNet's first convolution) fit one 6 x 2 tile: no second tile, no packing.
  if (m <= 6) return multiply<8, 6, 2>(m, n, k, a, a_row, a_column, b, ldb, c, ldc, accumulate, panel);
  multiply<8, 3, 4>(m, n, k, a, a_row, a_column, b, ldb, c, ldc, accumulate, panel);
}
[[gnu::target("avx512f,avx512vl,avx512dq,avx2,fma")]] inline void im2col_avx512(
    const ConvGeometry& g, const float* input_in, float* input_out, std::size_t first, std::size_t last,
    const float* columns_in, float* columns_out, std::size_t ld, bool adjoint, float* maps) {
  if (adjoint) return im2col<16, true>(g, input_in, input_out, first, last, columns_in, columns_out, ld);
  im2col<16, false>(g, input_in, input_out, first, last, columns_in, columns_out, ld, maps);
}
[[gnu::target("avx2,fma")]] inline void im2col_avx2(const ConvGeometry& g, const float* input_in, float* input_out,
                                                    std::size_t first, std::size_t last, const float* columns_in,
                                                    float* columns_out, std::size_t ld, bool adjoint, float* maps) {
  if (adjoint) return im2col<8, true>(g, input_in, input_out, first, last, columns_in, columns_out, ld);
  im2col<8, false>(g, input_in, input_out, first, last, columns_in, columns_out, ld, maps);
}
[[gnu::target("avx512f,avx512vl,avx512dq,avx2,fma")]] inline void multiply_transposed_avx512(
    std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda, const float* b, std::size_t ldb,
    float* c, std::size_t ldc, bool accumulate) {
  multiply_transposed<16, 4, 4>(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}
[[gnu::target("avx2,fma")]] inline void multiply_transposed_avx2(std::size_t m, std::size_t n, std::size_t k,
                                                                 const float* a, std::size_t lda, const float* b,
                                                                 std::size_t ldb, float* c, std::size_t ldc,
                                                                 bool accumulate) {
  multiply_transposed<8, 3, 4>(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}
#endif
inline void multiply_sse2(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t a_row,
                          std::size_t a_column, const float* b, std::size_t ldb, float* c, std::size_t ldc,
                          bool accumulate, float* panel) {
  multiply<4, 6, 2>(m, n, k, a, a_row, a_column, b, ldb, c, ldc, accumulate, panel);
}
inline void im2col_sse2(const ConvGeometry& g, const float* input_in, float* input_out, std::size_t first,
                        std::size_t last, const float* columns_in, float* columns_out, std::size_t ld, bool adjoint,
                        float* maps) {
  if (adjoint) return im2col<4, true>(g, input_in, input_out, first, last, columns_in, columns_out, ld);
  im2col<4, false>(g, input_in, input_out, first, last, columns_in, columns_out, ld, maps);
}
inline void multiply_transposed_sse2(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
                                     const float* b, std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
  multiply_transposed<4, 3, 4>(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

// delta = gradient where output > 0, else 0 (ReLU's gradient; a copy when `relu` is false), and the
// sum of delta (a bias's gradient) in 8 partial sums, then the tail, then the partials in order: the
// order of the scalar loop this replaced, so the sum is the same to the bit on every ISA.
[[gnu::always_inline]] inline float relu_gradient_sum(const float* output, const float* gradient, std::size_t count,
                                                      float* delta, bool relu) {
  using V = vector<8>;
  using Mask = decltype(V{} > V{});
  V partial{};
  std::size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    V g;
    load(g, gradient + i);
    if (relu) {
      V o;
      load(o, output + i);
      g = reinterpret_cast<V>(reinterpret_cast<Mask>(g) & (o > V{}));
    }
    store(delta + i, g);
    partial += g;
  }
  float total = 0.0f;
  for (; i < count; ++i) {
    delta[i] = !relu || output[i] > 0.0f ? gradient[i] : 0.0f;
    total += delta[i];
  }
  for (int j = 0; j < 8; ++j) total += partial[j];
  return total;
}
#if defined(__x86_64__) || defined(__i386__)
[[gnu::target("avx2,fma")]] inline float relu_gradient_sum_avx2(const float* output, const float* gradient,
                                                                std::size_t count, float* delta, bool relu) {
  return relu_gradient_sum(output, gradient, count, delta, relu);
}
#endif
inline float relu_gradient_sum_sse2(const float* output, const float* gradient, std::size_t count, float* delta,
                                    bool relu) {
  return relu_gradient_sum(output, gradient, count, delta, relu);
}

}  // namespace detail

// ReLU's gradient from the layer's output (a copy when `relu` is false) into `delta`, returning the
// sum of delta; 8 floats a vector on AVX-512 too (the sum's order is that of 8 partial sums).
inline float relu_gradient_sum(const float* output, const float* gradient, std::size_t count, float* delta,
                               bool relu) {
#if defined(__x86_64__) || defined(__i386__)
  if (active_isa() != Isa::sse2) return detail::relu_gradient_sum_avx2(output, gradient, count, delta, relu);
#endif
  return detail::relu_gradient_sum_sse2(output, gradient, count, delta, relu);
}

namespace detail {
// Per-thread scratch space of at least `size` floats (grown, never shrunk: no allocation per step).
inline float* scratch(std::vector<float>& buffer, std::size_t size) {
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}
inline thread_local std::vector<float> panel_buffer, transpose_buffer, padded_buffer;
}  // namespace detail

// C (M x N) (+)= A * B with A(i, k) = a[i * a_row + k * a_column] and B row-major with row stride ldb.
inline void multiply(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t a_row,
                     std::size_t a_column, const float* b, std::size_t ldb, float* c, std::size_t ldc,
                     bool accumulate) {
  if (m == 0 || n == 0) return;
  float* panel = detail::scratch(detail::panel_buffer, k * 64);  // the widest block: 4 x 16 floats
  switch (active_isa()) {
#if defined(__x86_64__) || defined(__i386__)
    case Isa::avx512:
      return detail::multiply_avx512(m, n, k, a, a_row, a_column, b, ldb, c, ldc, accumulate, panel);
    case Isa::avx2:
      return detail::multiply_avx2(m, n, k, a, a_row, a_column, b, ldb, c, ldc, accumulate, panel);
#endif
    default:
      return detail::multiply_sse2(m, n, k, a, a_row, a_column, b, ldb, c, ldc, accumulate, panel);
  }
}

// im2col for the images [first, last) of `input` (CNHW): `columns` is (C k k) x ((last - first) Ho Wo),
// its rows `ld` floats apart (at least (last - first) Ho Wo). A padded convolution goes through
// padded copies of the group's maps (detail::pad_maps).
inline void im2col(const ConvGeometry& g, const float* input, std::size_t first, std::size_t last, float* columns,
                   std::size_t ld) {
  float* maps = nullptr;
  if (!detail::is_valid(g)) {
    const std::size_t padded = (g.out_height + g.kernel - 1) * (g.out_width + g.kernel - 1);
    maps = detail::scratch(detail::padded_buffer, g.channels * (last - first) * padded);
  }
  switch (active_isa()) {
#if defined(__x86_64__) || defined(__i386__)
    case Isa::avx512:
      return detail::im2col_avx512(g, input, nullptr, first, last, nullptr, columns, ld, false, maps);
    case Isa::avx2:
      return detail::im2col_avx2(g, input, nullptr, first, last, nullptr, columns, ld, false, maps);
#endif
    default:
      return detail::im2col_sse2(g, input, nullptr, first, last, nullptr, columns, ld, false, maps);
  }
}

// The adjoint of im2col: adds `columns` (the gradient of im2col's output) into `input_gradient`.
inline void col2im(const ConvGeometry& g, const float* columns, std::size_t ld, std::size_t first, std::size_t last,
                   float* input_gradient) {
  switch (active_isa()) {
#if defined(__x86_64__) || defined(__i386__)
    case Isa::avx512:
      return detail::im2col_avx512(g, nullptr, input_gradient, first, last, columns, nullptr, ld, true, nullptr);
    case Isa::avx2:
      return detail::im2col_avx2(g, nullptr, input_gradient, first, last, columns, nullptr, ld, true, nullptr);
#endif
    default:
      return detail::im2col_sse2(g, nullptr, input_gradient, first, last, columns, nullptr, ld, true, nullptr);
  }
}

// A * B^T as dot products costs a horizontal sum per element of C (about 10 instructions); as A
// times a transposed copy of B it costs the copy, N x K scalar moves. The dot products win when K
// exceeds a few times M (measured in bench/bench_kernels.cpp: fc2_input and conv2_weights).
inline bool prefer_dot_products(std::size_t m, std::size_t k) { return k > 4 * m; }

// C (M x N) (+)= A * B^T with A (M x K, row stride lda) and B (N x K, row stride ldb).
inline void multiply_transposed(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
                                const float* b, std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
  if (!prefer_dot_products(m, k)) {
    // In 16 x 16 blocks: the 16 rows read and the 16 rows written stay in the L1 cache (a whole
    // row of B at a time wrote K rows of the copy, 120 for a LeNet's first dense layer).
    float* transposed = detail::scratch(detail::transpose_buffer, k * n);
    constexpr std::size_t block = 16;
    for (std::size_t j0 = 0; j0 < n; j0 += block) {
      const std::size_t j1 = std::min(n, j0 + block);
      for (std::size_t t0 = 0; t0 < k; t0 += block) {
        const std::size_t t1 = std::min(k, t0 + block);
        for (std::size_t j = j0; j < j1; ++j) {
          for (std::size_t t = t0; t < t1; ++t) transposed[t * n + j] = b[j * ldb + t];
        }
      }
    }
    return multiply(m, n, k, a, lda, 1, transposed, n, c, ldc, accumulate);
  }
  switch (active_isa()) {
#if defined(__x86_64__) || defined(__i386__)
    case Isa::avx512:
      return detail::multiply_transposed_avx512(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    case Isa::avx2:
      return detail::multiply_transposed_avx2(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
#endif
    default:
      return detail::multiply_transposed_sse2(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
  }
}

}  // namespace mahpo::train::kernels

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
