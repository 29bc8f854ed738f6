// The trainer's matrix products on the shapes a LeNet step makes (classic_lenet5, batch 32), three
// ways side by side: OpenBLAS (cblas_sgemm), mahpo's kernels (include/mahpo/train/kernels.hpp, at the
// ISA the CPU reports; for conv1 also its direct convolution, direct_conv.hpp, for conv2 its
// convolution through shifted copies, shifted_conv.hpp, and with the batch in the vector lanes,
// lanes_conv.hpp, also for paper_lenet's largest conv2: 6 x 11 x 11 to 16 x 5 x 5) and, for the forward
// products it JIT-compiles, libxsmm 1.17 (its column-major kernel over 64-column blocks of C; version
// 1.17 JIT-compiles no transposed operand). The counter `gflops` is the rate of useful arithmetic
// (2 M N K per product).
#include <mahpo/blas_check.hpp>
#include <mahpo/train/blas.hpp>
#include <mahpo/train/direct_conv.hpp>
#include <mahpo/train/kernels.hpp>
#include <mahpo/train/lanes_conv.hpp>
#include <mahpo/train/shifted_conv.hpp>

#include <benchmark/benchmark.h>

#if MAHPO_HAVE_LIBXSMM
#include <libxsmm.h>
#endif

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace mahpo::train;

// A product C (M x N) = op(A) * op(B) of one kind: nn (A * B), tn (A^T * B), nt (A * B^T).
enum class Kind { nn, tn, nt };
struct Shape {
  const char* name;
  Kind kind;
  std::size_t m, n, k;
};

// The step's products at batch 32: the convolutions over whole-batch im2col columns, the dense layers.
constexpr Shape shapes[] = {
    {"conv1_forward", Kind::nn, 6, 32 * 576, 25},
    {"conv1_weights", Kind::nt, 6, 25, 32 * 576},
    {"conv2_forward", Kind::nn, 16, 32 * 64, 150},
    {"conv2_weights", Kind::nt, 16, 150, 32 * 64},
    {"conv2_input", Kind::tn, 150, 32 * 64, 16},
    {"fc1_forward", Kind::nn, 32, 120, 256},
    {"fc1_weights", Kind::tn, 256, 120, 32},
    {"fc2_input", Kind::nt, 32, 120, 84},
    {"paper_conv2_forward", Kind::nn, 16, 32 * 25, 294},
    {"paper_conv2_weights", Kind::nt, 16, 294, 32 * 25},
    {"paper_conv2_input", Kind::tn, 294, 32 * 25, 16},
};

// The convolution behind a shape's name, at batch 32, and its filters.
kernels::ConvGeometry conv_geometry(const std::string& name) {
  if (name.starts_with("conv1_")) return {1, 32, 28, 28, 5, 0, 24, 24};
  if (name.starts_with("paper_conv2_")) return {6, 32, 11, 11, 7, 0, 5, 5};
  return {6, 32, 12, 12, 5, 0, 8, 8};
}
std::size_t conv_filters(const std::string& name) { return name.starts_with("conv1_") ? 6 : 16; }

struct Operands {
  std::vector<float> a, b, c;
  explicit Operands(const Shape& s) : a(s.m * s.k), b(s.k * s.n), c(s.m * s.n) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (auto& x : a) x = uniform(rng);
    for (auto& x : b) x = uniform(rng);
  }
};

void count(benchmark::State& state, const Shape& s) {
  state.counters["gflops"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(s.m * s.n * s.k) * 1e-9,
                         benchmark::Counter::kIsRate);
}

void openblas(benchmark::State& state, Shape s) {
  set_blas_threads(1);
  Operands x(s);
  for (auto _ : state) {
    gemm(s.kind == Kind::tn, s.kind == Kind::nt, s.m, s.n, s.k, 1.0f, x.a.data(), x.b.data(), 0.0f, x.c.data());
    benchmark::DoNotOptimize(x.c.data());
  }
  count(state, s);
}

void mahpo_kernels(benchmark::State& state, Shape s) {
  Operands x(s);
  state.SetLabel(std::string(kernels::isa_name(kernels::active_isa())));
  for (auto _ : state) {
    switch (s.kind) {
      case Kind::nn:
        kernels::multiply(s.m, s.n, s.k, x.a.data(), s.k, 1, x.b.data(), s.n, x.c.data(), s.n, false);
        break;
      case Kind::tn:
        kernels::multiply(s.m, s.n, s.k, x.a.data(), 1, s.m, x.b.data(), s.n, x.c.data(), s.n, false);
        break;
      case Kind::nt:
        kernels::multiply_transposed(s.m, s.n, s.k, x.a.data(), s.k, x.b.data(), s.k, x.c.data(), s.n, false);
        break;
    }
    benchmark::DoNotOptimize(x.c.data());
  }
  count(state, s);
}

// conv1's two products done by the direct convolution (direct_conv.hpp) from 32 images of 28 x 28:
// the same arithmetic as the im2col shapes, but with no im2col before it (the other rows of
// conv1_forward and conv1_weights exclude the im2col that feeds them).
void direct(benchmark::State& state, Shape s) {
  const kernels::ConvGeometry g{1, 32, 28, 28, 5, 0, 24, 24};
  const std::size_t filters = 6, columns = g.batch * g.out_height * g.out_width;
  std::vector<float> images(g.batch * g.height * g.width), weights(filters * 25), output(filters * columns),
      delta(filters * columns), gradient(weights.size());
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (auto* v : {&images, &weights, &delta})
    for (auto& x : *v) x = uniform(rng);
  state.SetLabel(std::string(kernels::isa_name(kernels::active_isa())));
  for (auto _ : state) {
    if (s.kind == Kind::nn) {
      kernels::direct_forward(g, filters, images.data(), 0, g.batch, weights.data(), output.data(), columns);
      benchmark::DoNotOptimize(output.data());
    } else {
      kernels::direct_weight_gradient(g, filters, images.data(), g.batch, delta.data(), columns, gradient.data());
      benchmark::DoNotOptimize(gradient.data());
    }
  }
  count(state, s);
}

// conv2's three products done through shifted copies (shifted_conv.hpp) from 32 images of 6 x 12 x
// 12: conv2_forward includes making the copies (the im2col of the other rows is not in theirs),
// conv2_input includes adding the copies' gradient back into the maps (the other rows' col2im is not).
void shifted(benchmark::State& state, Shape s) {
  const kernels::ConvGeometry g = conv_geometry(s.name);
  const std::size_t filters = conv_filters(s.name), columns = g.batch * g.out_height * g.out_width;
  std::vector<float> maps(g.channels * g.batch * g.height * g.width),
      weights(filters * g.channels * g.kernel * g.kernel), output(filters * columns), delta(filters * columns),
      gradient(weights.size()), copies(g.batch * kernels::shifted_floats(g));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (auto* v : {&maps, &weights, &delta})
    for (auto& x : *v) x = uniform(rng);
  kernels::shift_copies(g, maps.data(), 0, g.batch, copies.data());
  state.SetLabel(std::string(kernels::isa_name(kernels::active_isa())));
  for (auto _ : state) {
    if (s.kind == Kind::nn) {
      kernels::shift_copies(g, maps.data(), 0, g.batch, copies.data());
      kernels::shifted_forward(g, filters, copies.data(), 0, g.batch, weights.data(), output.data(), columns);
      benchmark::DoNotOptimize(output.data());
    } else if (s.kind == Kind::nt) {
      kernels::shifted_weight_gradient(g, filters, copies.data(), g.batch, delta.data(), columns, gradient.data());
      benchmark::DoNotOptimize(gradient.data());
    } else {
      kernels::shifted_input_gradient(g, filters, weights.data(), delta.data(), columns, 0, g.batch, maps.data());
      benchmark::DoNotOptimize(maps.data());
    }
  }
  count(state, s);
}

// conv2's three products with the batch in the vector lanes (lanes_conv.hpp): conv2_forward includes
// packing the maps and writing the output back to CNHW; the gradients start from deltas packed once
// (packing them, a transpose of the output's size, is not counted), conv2_input includes adding the
// packed gradient back into the maps.
void lanes(benchmark::State& state, Shape s) {
  const kernels::ConvGeometry g = conv_geometry(s.name);
  const std::size_t filters = conv_filters(s.name), plane = g.out_height * g.out_width;
  const std::size_t width = kernels::vector_floats(kernels::active_isa()), groups = (g.batch + width - 1) / width;
  std::vector<float> maps(g.channels * g.batch * g.height * g.width),
      weights(filters * g.channels * g.kernel * g.kernel), output(filters * g.batch * plane), delta(output.size()),
      gradient(weights.size()), packed(kernels::lanes_floats(g)), packed_delta(groups * filters * plane * width),
      work(g.channels * g.height * g.width * width);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (auto* v : {&maps, &weights, &delta})
    for (auto& x : *v) x = uniform(rng);
  kernels::pack_lanes(g, maps.data(), packed.data());
  kernels::detail::pack_lanes(g, delta.data(), filters, plane, packed_delta.data());
  using Pass = kernels::detail::LanesCall::Pass;
  kernels::detail::LanesCall call{
      .pass = s.kind == Kind::nt ? Pass::weight_gradient : Pass::input_gradient, .g = g, .filters = filters};
  call.lanes = packed.data();
  call.weights = weights.data();
  call.delta = packed_delta.data();
  call.gradient = s.kind == Kind::nt ? gradient.data() : maps.data();
  call.work = work.data();
  call.taps = kernels::detail::lanes_taps(g, width);
  state.SetLabel(std::string(kernels::isa_name(kernels::active_isa())));
  for (auto _ : state) {
    if (s.kind == Kind::nn) {
      kernels::pack_lanes(g, maps.data(), packed.data());
      kernels::lanes_forward(g, filters, packed.data(), weights.data(), output.data());
      benchmark::DoNotOptimize(output.data());
    } else {
      kernels::detail::dispatch_lanes(call);
      benchmark::DoNotOptimize(call.gradient);
    }
  }
  count(state, s);
}

#if MAHPO_HAVE_LIBXSMM
// Row-major C = A * B is column-major C^T = B^T * A^T: libxsmm's (m, n, k) = (block of N, M, K).
void libxsmm(benchmark::State& state, Shape s) {
  Operands x(s);
  constexpr libxsmm_blasint block = 64;
  const auto m = static_cast<libxsmm_blasint>(s.m), n = static_cast<libxsmm_blasint>(s.n),
             k = static_cast<libxsmm_blasint>(s.k);
  const float alpha = 1.0f, beta = 0.0f;
  const libxsmm_blasint lda = n, ldb = k, ldc = n;
  const auto full = libxsmm_smmdispatch(std::min(block, n), m, k, &lda, &ldb, &ldc, &alpha, &beta, nullptr, nullptr);
  const auto tail =
      n % block ? libxsmm_smmdispatch(n % block, m, k, &lda, &ldb, &ldc, &alpha, &beta, nullptr, nullptr) : full;
  if (!full || !tail) {
    state.SkipWithError("libxsmm did not JIT-compile this shape");
    return;
  }
  for (auto _ : state) {
    for (libxsmm_blasint j = 0; j < n; j += block) {
      (j + block <= n ? full : tail)(x.b.data() + j, x.a.data(), x.c.data() + j);
    }
    benchmark::DoNotOptimize(x.c.data());
  }
  count(state, s);
}
#endif

const int registered = [] {
  for (const auto& s : shapes) {
    const std::string name = s.name;
    benchmark::RegisterBenchmark((name + "/openblas").c_str(), openblas, s);
    benchmark::RegisterBenchmark((name + "/mahpo").c_str(), mahpo_kernels, s);
    if (name.starts_with("conv1_")) benchmark::RegisterBenchmark((name + "/mahpo_direct").c_str(), direct, s);
    if (name.starts_with("conv")) benchmark::RegisterBenchmark((name + "/mahpo_shifted").c_str(), shifted, s);
    if (name.find("conv2_") != std::string::npos) {
      benchmark::RegisterBenchmark((name + "/mahpo_lanes").c_str(), lanes, s);
    }
#if MAHPO_HAVE_LIBXSMM
    if (s.kind == Kind::nn) benchmark::RegisterBenchmark((name + "/libxsmm").c_str(), libxsmm, s);
#endif
  }
  return 0;
}();

// The core's FP32 peak, measured (issue 40): `ghz` is the clock the benchmark ran at (a chain of 40
// dependent integer additions per loop, one cycle each); `peak_gflops` is the arithmetic peak at that
// clock: 2 FMA units x 16 lanes (AVX-512; 8 under AVX2) x 2 operations (a multiply and an add) per
// cycle; `fma_gflops` is what 16 independent chains of vfmadd231ps reach (the peak, if the core has
// the two FMA units and runs 512-bit ones at full rate). A product's `gflops` divided by either says
// how close to the core's limit it runs.
#if defined(__x86_64__)
double clock_ghz() {
  constexpr std::uint64_t loops = 20'000'000;
  std::uint64_t counter = loops, value = 0;
  const auto start = std::chrono::steady_clock::now();
  asm volatile(
      "1:\n"
      ".rept 40\n"
      "add $1, %1\n"
      ".endr\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(counter), "+r"(value)
      :
      : "cc");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 40.0 * static_cast<double>(loops) / seconds / 1e9;
}

// Rounds of 16 independent FMAs on zero registers (no denormals, no dependence between rounds' chains
// but their own); returns the operations per second.
template <bool Wide>
[[gnu::target("avx512f,avx2,fma")]] double fma_rate(std::uint64_t rounds) {
  const auto start = std::chrono::steady_clock::now();
#define MAHPO_FMA(r) "vfmadd231ps %%zmm16, %%zmm17, %%zmm" #r "\n"
#define MAHPO_FMA_Y(r) "vfmadd231ps %%ymm14, %%ymm15, %%ymm" #r "\n"
  if constexpr (Wide) {
    asm volatile(
        "vxorps %%zmm16, %%zmm16, %%zmm16\n vxorps %%zmm17, %%zmm17, %%zmm17\n"
        "1:\n" MAHPO_FMA(0) MAHPO_FMA(1) MAHPO_FMA(2) MAHPO_FMA(3) MAHPO_FMA(4) MAHPO_FMA(5) MAHPO_FMA(6) MAHPO_FMA(7)
            MAHPO_FMA(8) MAHPO_FMA(9) MAHPO_FMA(10) MAHPO_FMA(11) MAHPO_FMA(12) MAHPO_FMA(13) MAHPO_FMA(14)
                MAHPO_FMA(15) "dec %0\n jnz 1b\n"
        : "+r"(rounds)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
          "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "cc");
  } else {
    asm volatile(
        "vxorps %%ymm14, %%ymm14, %%ymm14\n vxorps %%ymm15, %%ymm15, %%ymm15\n"
        "1:\n" MAHPO_FMA_Y(0) MAHPO_FMA_Y(1) MAHPO_FMA_Y(2) MAHPO_FMA_Y(3) MAHPO_FMA_Y(4) MAHPO_FMA_Y(5) MAHPO_FMA_Y(6)
            MAHPO_FMA_Y(7) MAHPO_FMA_Y(8) MAHPO_FMA_Y(9) MAHPO_FMA_Y(10) MAHPO_FMA_Y(11) MAHPO_FMA_Y(12)
                MAHPO_FMA_Y(13) "dec %0\n jnz 1b\n"
        : "+r"(rounds)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
          "xmm13", "xmm14", "xmm15", "cc");
  }
#undef MAHPO_FMA
#undef MAHPO_FMA_Y
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void core_peak(benchmark::State& state) {
  const bool wide = __builtin_cpu_supports("avx512f");
  if (!__builtin_cpu_supports("fma")) return state.SkipWithError("the CPU has no FMA");
  constexpr std::uint64_t rounds = 10'000'000;
  const int chains = wide ? 16 : 14, lanes = wide ? 16 : 8;
  double ghz = 0.0, seconds = 0.0;
  for (auto _ : state) {
    ghz += clock_ghz();
    seconds += wide ? fma_rate<true>(rounds) : fma_rate<false>(rounds);
  }
  const auto runs = static_cast<double>(state.iterations());
  state.counters["ghz"] = ghz / runs;
  state.counters["peak_gflops"] = ghz / runs * 2 * lanes * 2;
  state.counters["fma_gflops"] = 2.0 * lanes * chains * static_cast<double>(rounds) * runs / seconds / 1e9;
  state.SetLabel(wide ? "avx512: 2 FMA x 16 lanes x 2" : "avx2: 2 FMA x 8 lanes x 2");
}
BENCHMARK(core_peak)->Unit(benchmark::kMillisecond);
#endif

}  // namespace

// Before the first benchmark: a note on stderr when OpenBLAS runs kernels older than the CPU's.
[[maybe_unused]] const bool blas_checked = (mahpo::warn_if_blas_is_slow(), true);

BENCHMARK_MAIN();
