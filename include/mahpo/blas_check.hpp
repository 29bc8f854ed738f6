#pragma once
// Tells the user, once per process, when OpenBLAS runs older kernels than the CPU allows: Debian's
// OpenBLAS picks its kernels by CPU model, and on a model it does not know (seen on AVX-512 Xeons)
// it falls back to SSE3 ("Prescott") kernels, several times slower. The RL agents and GP-BO use BLAS.
//
// Silent when OPENBLAS_CORETYPE is set (the user chose the kernels) or when the BLAS is not
// OpenBLAS (openblas_get_corename is then absent: it is declared weak).

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

extern "C" __attribute__((weak)) char* openblas_get_corename(void);

namespace mahpo {

// What to tell the user about OpenBLAS's `core` on a CPU with (or without) AVX2 and AVX-512;
// nothing when the kernels fit the CPU.
inline std::optional<std::string> slow_blas_message(bool avx2, bool avx512, std::string_view core) {
  std::string name(core);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  constexpr std::array<std::string_view, 3> avx512_cores{"skylakex", "cooperlake", "sapphirerapids"};
  constexpr std::array<std::string_view, 6> avx2_cores{"haswell",  "zen",        "excavator",
                                                       "skylakex", "cooperlake", "sapphirerapids"};
  const auto among = [&](const auto& cores) { return std::find(cores.begin(), cores.end(), name) != cores.end(); };
  const char* level = avx512 && !among(avx512_cores) ? "AVX-512" : avx2 && !among(avx2_cores) ? "AVX2" : nullptr;
  if (level == nullptr) return std::nullopt;
  return fmt::format(
      "mahpo: this CPU has {} but OpenBLAS runs its '{}' kernels, which are older and slower (OpenBLAS does not "
      "know this CPU model). The RL searchers and GP-BO will be slower than they should. To fix it, start with "
      "OPENBLAS_CORETYPE={} set in the environment, or install a newer OpenBLAS.",
      level, core, avx512 ? "SkylakeX" : "Haswell");
}

// Prints slow_blas_message for this CPU and this OpenBLAS on stderr, once per process.
inline void warn_if_blas_is_slow() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (openblas_get_corename == nullptr || std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
    const char* core = openblas_get_corename();
    if (core == nullptr) return;
    __builtin_cpu_init();
    const auto message = slow_blas_message(__builtin_cpu_supports("avx2"), __builtin_cpu_supports("avx512f"), core);
    if (message) fmt::print(stderr, "{}\n", *message);
  });
}

}  // namespace mahpo
