// The trainer's matrix products on the shapes a LeNet step makes (classic_lenet5, batch 32), three
// ways side by side: OpenBLAS (cblas_sgemm), mahpo's kernels (include/mahpo/train/kernels.hpp, at the
// ISA the CPU reports) and, for the forward products it JIT-compiles, libxsmm 1.17 (its column-major
// kernel over 64-column blocks of C; version 1.17 JIT-compiles no transposed operand). The counter
// `gflops` is the rate of useful arithmetic (2 M N K per product).
#include <mahpo/blas_check.hpp>
#include <mahpo/train/blas.hpp>
#include <mahpo/train/kernels.hpp>

#include <benchmark/benchmark.h>

#if MAHPO_HAVE_LIBXSMM
#include <libxsmm.h>
#endif

#include <cstddef>
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
    {"conv1_forward", Kind::nn, 6, 32 * 576, 25},  {"conv1_weights", Kind::nt, 6, 25, 32 * 576},
    {"conv2_forward", Kind::nn, 16, 32 * 64, 150}, {"conv2_weights", Kind::nt, 16, 150, 32 * 64},
    {"conv2_input", Kind::tn, 150, 32 * 64, 16},   {"fc1_forward", Kind::nn, 32, 120, 256},
    {"fc1_weights", Kind::tn, 256, 120, 32},       {"fc2_input", Kind::nt, 32, 120, 84},
};

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
#if MAHPO_HAVE_LIBXSMM
    if (s.kind == Kind::nn) benchmark::RegisterBenchmark((name + "/libxsmm").c_str(), libxsmm, s);
#endif
  }
  return 0;
}();

}  // namespace

// Before the first benchmark: a note on stderr when OpenBLAS runs kernels older than the CPU's.
[[maybe_unused]] const bool blas_checked = (mahpo::warn_if_blas_is_slow(), true);

BENCHMARK_MAIN();
