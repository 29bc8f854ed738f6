#pragma once
// Classification metrics (confusion matrix, accuracy, Cohen's kappa) and memory accounting.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <sys/resource.h>

namespace mahpo::train {

// counts[truth][prediction]
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(std::size_t classes = 0) : classes_(classes), counts_(classes * classes, 0) {}

  void add(std::size_t truth, std::size_t prediction) { add_count(truth, prediction, 1); }

  // `count` images of class `truth` predicted as `prediction` (counts a device made, for instance).
  void add_count(std::size_t truth, std::size_t prediction, std::size_t count) {
    if (truth >= classes_ || prediction >= classes_)
      throw std::out_of_range("mahpo: class index outside the confusion matrix");
    counts_[truth * classes_ + prediction] += count;
    total_ += count;
  }

  std::size_t classes() const { return classes_; }
  std::size_t total() const { return total_; }
  std::size_t at(std::size_t truth, std::size_t prediction) const { return counts_[truth * classes_ + prediction]; }

  double accuracy() const {
    if (total_ == 0) return 0.0;
    std::size_t correct = 0;
    for (std::size_t k = 0; k < classes_; ++k) correct += at(k, k);
    return static_cast<double>(correct) / static_cast<double>(total_);
  }

  // Cohen's kappa (Cohen, 1960): (p_o - p_e) / (1 - p_e), p_e from the row and column marginals.
  // 1 when both agree perfectly on a single class (p_e = 1).
  double kappa() const {
    if (total_ == 0) return 0.0;
    const double n = static_cast<double>(total_);
    double expected = 0.0;
    for (std::size_t k = 0; k < classes_; ++k) {
      double row = 0.0, column = 0.0;
      for (std::size_t j = 0; j < classes_; ++j) {
        row += static_cast<double>(at(k, j));
        column += static_cast<double>(at(j, k));
      }
      expected += (row / n) * (column / n);
    }
    const double observed = accuracy();
    return expected >= 1.0 ? 1.0 : (observed - expected) / (1.0 - expected);
  }

 private:
  std::size_t classes_;
  std::vector<std::size_t> counts_;
  std::size_t total_ = 0;
};

// The process's peak resident set size in bytes (Linux reports kilobytes).
inline std::size_t peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;
}

}  // namespace mahpo::train
