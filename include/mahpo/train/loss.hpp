#pragma once
// Softmax cross-entropy over a batch of logits (N x classes), averaged over the batch.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mahpo::train {

// Returns the mean loss and writes d(loss)/d(logits) = (softmax - one_hot) / N into `gradient`.
// A non-finite logit gives a non-finite loss, which the trainer reports as divergence.
inline double softmax_cross_entropy(std::span<const float> logits, std::span<const std::uint8_t> labels,
                                    std::size_t classes, std::vector<float>& gradient) {
  const std::size_t batch = labels.size();
  if (gradient.size() < batch * classes) gradient.resize(batch * classes);
  double total = 0.0;
  const float inverse_batch = 1.0f / static_cast<float>(batch);
  for (std::size_t n = 0; n < batch; ++n) {
    const float* z = logits.data() + n * classes;
    float* g = gradient.data() + n * classes;
    const float top = *std::max_element(z, z + classes);
    double sum = 0.0;
    for (std::size_t k = 0; k < classes; ++k) sum += std::exp(static_cast<double>(z[k] - top));
    const double log_sum = std::log(sum) + top;
    total += log_sum - z[labels[n]];
    for (std::size_t k = 0; k < classes; ++k) {
      const double p = std::exp(static_cast<double>(z[k]) - log_sum);
      g[k] = static_cast<float>(p) * inverse_batch;
    }
    g[labels[n]] -= inverse_batch;
  }
  return total / static_cast<double>(batch);
}

}  // namespace mahpo::train
