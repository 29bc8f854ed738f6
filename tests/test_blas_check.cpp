// The note on slow OpenBLAS kernels: which CPU and core pairs get it, and what it tells the user.
#include <catch2/catch.hpp>

#include <mahpo/blas_check.hpp>

using mahpo::slow_blas_message;

TEST_CASE("OpenBLAS kernels older than the CPU are reported with what to do") {
  const auto avx512 = slow_blas_message(true, true, "Prescott");  // the Xeon seen here: SSE3 kernels
  REQUIRE(avx512.has_value());
  CHECK_THAT(*avx512, Catch::Contains("AVX-512") && Catch::Contains("'Prescott'") &&
                          Catch::Contains("OPENBLAS_CORETYPE=SkylakeX"));
  const auto avx2 = slow_blas_message(true, false, "Sandybridge");
  REQUIRE(avx2.has_value());
  CHECK_THAT(*avx2, Catch::Contains("AVX2") && Catch::Contains("OPENBLAS_CORETYPE=Haswell"));
  CHECK(slow_blas_message(true, true, "Haswell").has_value());  // AVX2 kernels on an AVX-512 CPU

  CHECK_FALSE(slow_blas_message(true, true, "SkylakeX").has_value());
  CHECK_FALSE(slow_blas_message(true, true, "SAPPHIRERAPIDS").has_value());  // any case
  CHECK_FALSE(slow_blas_message(true, false, "Zen").has_value());
  CHECK_FALSE(slow_blas_message(true, false, "Haswell").has_value());
  CHECK_FALSE(slow_blas_message(false, false, "Prescott").has_value());  // an old CPU: old kernels fit
}

TEST_CASE("the note is printed at most once and never throws") {
  CHECK_NOTHROW(mahpo::warn_if_blas_is_slow());
  CHECK_NOTHROW(mahpo::warn_if_blas_is_slow());
}
