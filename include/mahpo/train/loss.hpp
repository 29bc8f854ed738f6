#pragma once
// Softmax cross-entropy over a batch of logits (N x classes), averaged over the batch.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <mahpo/train/formulas.hpp>

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
    total += formulas::softmax_cross_entropy_row(logits.data() + n * classes, static_cast<int>(classes), labels[n],
                                                 inverse_batch, gradient.data() + n * classes);
  }
  return total / static_cast<double>(batch);
}

}  // namespace mahpo::train
