#pragma once
// What a TPE searcher can be told besides its rules (tpe/rules.hpp) and the SearchOptions.

#include <cstddef>
#include <optional>

#include <nlohmann/json.hpp>

namespace mahpo::search {

// How a real coordinate's kernels are scored (see tpe/tpe.hpp): `density`, the mixture's density
// (Optuna from 3.5, hyperopt); `unscaled`, each kernel without its 1 / sigma (Optuna 3.1 to 3.4,
// whose _truncnorm.logpdf drops log(scale)); `rules`, the rules' own choice (tpe/rules.hpp).
enum class KernelHeight { rules, density, unscaled };
NLOHMANN_JSON_SERIALIZE_ENUM(KernelHeight, {{KernelHeight::rules, "rules"},
                                            {KernelHeight::density, "density"},
                                            {KernelHeight::unscaled, "unscaled"}})

struct TpeOptions {
  std::size_t startup_trials = 10;                   // prior draws until this many usable trials are told
  std::size_t candidates = 24;                       // draws from l(x) scored per ask (per coordinate when univariate)
  double prior_weight = 1.0;                         // the prior kernel's weight, against 1 per recent observation
  bool consider_magic_clip = true;                   // bandwidths at least 1 / min(100, n + 2)
  bool consider_endpoints = false;                   // the domain's ends count as neighbours of the outer kernels
  std::optional<bool> multivariate;                  // joint kernels (Optuna's multivariate TPE); unset: the rules'
                                                     // choice (tpe::Optuna: yes, as Optuna 5; the others: no)
  bool constant_liar = true;                         // pending trials join the above group (as Optuna 5)
  KernelHeight kernel_height = KernelHeight::rules;  // real coordinates' kernels: with or without 1 / sigma
  bool optuna_stream = false;  // draw as Optuna's TPESampler(seed) (5.0 for tpe::Optuna, 3.1 for tpe::Optuna3):
                               // its trials, trial for trial (tpe/optuna_stream.hpp)
};

// As JSON (journals record it): kernel_height only when it is not `rules`, optuna_stream only when
// set, so that journals written before they existed still match a resumed study's options; missing keys read as the
// defaults (multivariate: null or missing, the rules' choice).
inline void to_json(nlohmann::json& json, const TpeOptions& options) {
  json = {{"startup_trials", options.startup_trials},
          {"candidates", options.candidates},
          {"prior_weight", options.prior_weight},
          {"consider_magic_clip", options.consider_magic_clip},
          {"consider_endpoints", options.consider_endpoints},
          {"multivariate", options.multivariate ? nlohmann::json(*options.multivariate) : nlohmann::json(nullptr)},
          {"constant_liar", options.constant_liar}};
  if (options.kernel_height != KernelHeight::rules) json["kernel_height"] = options.kernel_height;
  if (options.optuna_stream) json["optuna_stream"] = true;
}

inline void from_json(const nlohmann::json& json, TpeOptions& options) {
  const TpeOptions defaults;
  options.startup_trials = json.value("startup_trials", defaults.startup_trials);
  options.candidates = json.value("candidates", defaults.candidates);
  options.prior_weight = json.value("prior_weight", defaults.prior_weight);
  options.consider_magic_clip = json.value("consider_magic_clip", defaults.consider_magic_clip);
  options.consider_endpoints = json.value("consider_endpoints", defaults.consider_endpoints);
  options.multivariate.reset();
  if (const auto found = json.find("multivariate"); found != json.end() && !found->is_null()) {
    options.multivariate = found->get<bool>();
  }
  options.constant_liar = json.value("constant_liar", defaults.constant_liar);
  options.kernel_height = json.value("kernel_height", defaults.kernel_height);
  options.optuna_stream = json.value("optuna_stream", defaults.optuna_stream);
}

}  // namespace mahpo::search
