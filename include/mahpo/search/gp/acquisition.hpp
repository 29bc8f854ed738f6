#pragma once
// GP-BO's acquisition functions on a posterior of standardized losses: log expected improvement
// (Ament et al. 2023) and the lower confidence bound (GP-UCB, Srinivas et al. 2010), with gradients.

#include <cmath>
#include <cstddef>
#include <span>

#include <nlohmann/json.hpp>

#include <mahpo/search/gp/special_functions.hpp>

namespace mahpo::search::gp {

enum class AcquisitionKind { log_ei, ucb };
NLOHMANN_JSON_SERIALIZE_ENUM(AcquisitionKind, {{AcquisitionKind::log_ei, "log_ei"}, {AcquisitionKind::ucb, "ucb"}})

}  // namespace mahpo::search::gp

namespace mahpo::search::gp::detail {

// The acquisition to maximize at a posterior (mean, variance) of standardized losses, and its
// gradient from the mean's and the variance's gradients.
struct Acquisition {
  AcquisitionKind kind = AcquisitionKind::log_ei;
  double beta = 2.0;
  double best = 0.0;  // the lowest standardized loss

  double operator()(double mean, double variance) const {
    const double sigma = std::sqrt(variance);
    if (kind == AcquisitionKind::ucb) return -(mean - beta * sigma);
    return log_ei(mean, sigma, best);
  }

  double operator()(double mean, double variance, std::span<const double> mean_gradient,
                    std::span<const double> variance_gradient, std::span<double> gradient) const {
    const double sigma = std::sqrt(variance);
    if (kind == AcquisitionKind::ucb) {
      for (std::size_t d = 0; d < gradient.size(); ++d) {
        gradient[d] = -mean_gradient[d] + beta * variance_gradient[d] / (2.0 * sigma);
      }
      return -(mean - beta * sigma);
    }
    // d log EI = (log h)'(z) dz + dsigma / sigma, dz = -(dmean + z dsigma) / sigma.
    const double z = (best - mean) / sigma;
    const LogH h = log_h(z);
    for (std::size_t d = 0; d < gradient.size(); ++d) {
      const double sigma_gradient = variance_gradient[d] / (2.0 * sigma);
      gradient[d] = h.derivative * (-mean_gradient[d] - z * sigma_gradient) / sigma + sigma_gradient / sigma;
    }
    return h.value + std::log(sigma);
  }
};

}  // namespace mahpo::search::gp::detail
