#pragma once
// The seeds of the randomized tests (tagged [seeded]): a test that judges random draws takes every
// seed through seed(k). CI runs batch 0, where seed(k) == k; tools/seed_sweep.py sets
// MAHPO_TEST_SEED_BATCH=b to run the same claim on batch b's seeds, k + b * batch_stride, disjoint from
// every other batch's, and records the share of batches on which each claim holds (docs/testing.md).

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace mahpo::testing {

inline constexpr std::uint64_t batch_stride = 1'000'003;  // prime, above any k a test uses

// The batch of this run: MAHPO_TEST_SEED_BATCH, 0 when unset.
inline std::uint64_t seed_batch() {
  static const std::uint64_t batch = [] {
    const char* text = std::getenv("MAHPO_TEST_SEED_BATCH");
    if (text == nullptr || *text == '\0') return std::uint64_t{0};
    std::size_t used = 0;
    const unsigned long long value = std::stoull(text, &used);
    if (text[used] != '\0' || value > 4000) {
      throw std::invalid_argument(std::string("MAHPO_TEST_SEED_BATCH must be a number from 0 to 4000, got ") + text);
    }
    return static_cast<std::uint64_t>(value);
  }();
  return batch;
}

// The k-th seed of this run's batch.
inline std::uint64_t seed(std::uint64_t k) { return k + seed_batch() * batch_stride; }

}  // namespace mahpo::testing
