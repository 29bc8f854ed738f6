#pragma once
// The instruction set the hand-vectorized code paths use (the trainer's kernels, TPE's joint
// scores): the widest the CPU supports, or a narrower one that MAHPO_ISA (sse2, avx2 or avx512)
// asks for. A header-only library cannot choose its users' compiler flags, so each such path is
// compiled for each ISA (`[[gnu::target]]`) and picked at run time.

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mahpo {

enum class Isa { sse2, avx2, avx512 };

inline std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return "avx512";
    case Isa::avx2:
      return "avx2";
    case Isa::sse2:
      return "sse2";
  }
  return "sse2";
}

// The floats in one vector register of `isa`.
inline std::size_t vector_floats(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return 16;
    case Isa::avx2:
      return 8;
    case Isa::sse2:
      return 4;
  }
  return 4;
}

// The widest ISA this CPU (and its operating system) supports.
inline Isa best_isa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return Isa::avx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::sse2;
}

namespace detail {
// The ISA in use: the best one, unless MAHPO_ISA (sse2, avx2 or avx512) asks for a narrower one (a
// wider one than the CPU has gives the CPU's best; any other value is an error).
inline Isa& current_isa() {
  static Isa isa = [] {
    const Isa best = best_isa();
    const char* asked = std::getenv("MAHPO_ISA");
    if (asked == nullptr || *asked == '\0') return best;
    for (const Isa candidate : {Isa::sse2, Isa::avx2, Isa::avx512}) {
      if (std::string_view(asked) == isa_name(candidate)) return std::min(candidate, best);
    }
    throw std::invalid_argument("mahpo: MAHPO_ISA must be sse2, avx2 or avx512, got '" + std::string(asked) + "'");
  }();
  return isa;
}
}  // namespace detail

inline Isa active_isa() { return detail::current_isa(); }

// Uses `isa` from now on (capped at what the CPU supports); returns the ISA now in use. For tests and
// benchmarks that compare the kernels of each ISA; not thread-safe against running products.
inline Isa use_isa(Isa isa) {
  detail::current_isa() = std::min(isa, best_isa());
  return detail::current_isa();
}

}  // namespace mahpo
