#pragma once
// Pruners: whether a running trial should stop, from the values trials report as they train.
//
//   auto pruner = std::make_shared<mahpo::study::MedianPruner>();
//   run_study(tpe, objective, {.trials = 100, .pruner = pruner});
//
// The study calls report(id, step, value) for each value a trial reports (TrialContext::report;
// steps count 1, 2, ... from the training's start) and finish(id, status) when the trial ends; the
// goal comes first (set_goal). A user's pruner derives from Pruner and overrides report (and
// finish when it needs the ends). A study calls a pruner under its lock: it need not be thread-safe.
//
// - MedianPruner / PercentilePruner (Optuna's): stop a trial whose best value so far is worse than
//   the percentile of the complete trials' values at the same step.
// - SuccessiveHalvingPruner (asynchronous successive halving, ASHA: Li et al., MLSys 2020): rungs at
//   steps min_resource * eta^(rate + k); at a rung a trial goes on only when it is in the top 1/eta
//   of the values reported there so far (the best one when fewer than eta).
// - HyperbandPruner (Li et al. 2018, in ASHA's asynchronous form): several ASHA brackets, with
//   early-stopping rates 0 .. s_max; a trial joins one bracket (drawn from its id, weighted by the
//   brackets' sizes) and competes only there.
// - PatientPruner (Optuna's): stops only trials that have not improved by min_delta in the last
//   `patience` steps, and only when the wrapped pruner says so (none: then on patience alone).
// - ThresholdPruner: stops a trial whose value leaves [lower, upper] or is not a number.
// Every decision is a lookup in sorted values (a binary search), well under 10 us at 1,000 trials
// (bench/bench_searchers.cpp, pruner/*).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <mahpo/objective.hpp>

namespace mahpo::study {

class Pruner {
 public:
  virtual ~Pruner() = default;
  virtual std::string name() const = 0;
  // Trial `id` reports `value` after `step`; true: stop it now.
  virtual bool report(std::size_t id, std::size_t step, double value) = 0;
  // Trial `id` ended with `status` (ok: complete; pruned, failed, diverged).
  virtual void finish(std::size_t id, Status status) {
    (void)id;
    (void)status;
  }
  // The options, for the journal's header (a resume with another pruner is refused).
  virtual nlohmann::json options_json() const { return nlohmann::json::object(); }
  void set_goal(Goal goal) { goal_ = goal; }
  Goal goal() const { return goal_; }

 protected:
  // Higher is better, whichever the goal; NaN stays NaN.
  double score(double value) const { return goal_ == Goal::maximize ? value : -value; }

 private:
  Goal goal_ = Goal::maximize;
};

namespace detail {

// Scores kept sorted, best first (descending), for rank and percentile lookups.
class SortedScores {
 public:
  void insert(double score) { values_.insert(std::upper_bound(values_.begin(), values_.end(), score, std::greater<>()), score); }
  std::size_t size() const { return values_.size(); }
  // How many values are strictly better than `score`.
  std::size_t better_than(double score) const {
    return static_cast<std::size_t>(std::lower_bound(values_.begin(), values_.end(), score, std::greater<>()) -
                                    values_.begin());
  }
  // numpy's linear-interpolation percentile q in [0, 100] (of the ascending values).
  double percentile(double q) const {
    const std::size_t n = values_.size();
    const double position = q / 100.0 * static_cast<double>(n - 1);
    const auto below = static_cast<std::size_t>(std::floor(position));
    const std::size_t above = std::min(below + 1, n - 1);
    const double low = values_[n - 1 - below], high = values_[n - 1 - above], weight = position - std::floor(position);
    return low + (high - low) * weight;
  }

 private:
  std::vector<double> values_;
};

inline void check_positive(std::string_view pruner, std::string_view what, double value) {
  if (!(value > 0.0) || !std::isfinite(value)) {
    throw std::invalid_argument(fmt::format("mahpo::{}: {} must be a finite number above 0, got {}", pruner, what, value));
  }
}

}  // namespace detail

struct PercentileOptions {
  double percentile = 25.0;       // keep the trials in the best `percentile` %; in (0, 100)
  std::size_t startup_trials = 5;  // prune nothing until this many trials are complete
  std::size_t warmup_steps = 0;   // prune no trial before it reports a step above this
  std::size_t interval_steps = 1;  // decide at every interval_steps-th step after the warm-up
  std::size_t min_trials = 1;      // need at least this many complete trials' values at the step
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PercentileOptions, percentile, startup_trials, warmup_steps, interval_steps,
                                   min_trials)

class PercentilePruner : public Pruner {
 public:
  explicit PercentilePruner(PercentileOptions options = {}) : options_(options) {
    if (!(options_.percentile > 0.0 && options_.percentile < 100.0)) {
      throw std::invalid_argument(
          fmt::format("mahpo::percentile_pruner: the percentile must be in (0, 100), got {}", options_.percentile));
    }
    if (options_.interval_steps == 0) throw std::invalid_argument("mahpo::percentile_pruner: interval_steps must be >= 1");
  }
  std::string name() const override { return "percentile"; }
  nlohmann::json options_json() const override { return options_; }

  bool report(std::size_t id, std::size_t step, double value) override {
    auto& curve = curves_[id];
    const double s = score(value);
    curve.emplace_back(step, s);
    if (complete_ < options_.startup_trials || step <= options_.warmup_steps) return false;
    if ((step - options_.warmup_steps - 1) % options_.interval_steps != 0) return false;
    if (std::isnan(s)) return true;
    double best = -std::numeric_limits<double>::infinity();
    for (const auto& [at, earlier] : curve) {
      if (at <= step && !std::isnan(earlier)) best = std::max(best, earlier);
    }
    const auto found = by_step_.find(step);
    if (found == by_step_.end() || found->second.size() < std::max<std::size_t>(1, options_.min_trials)) return false;
    return best < found->second.percentile(100.0 - options_.percentile);
  }

  void finish(std::size_t id, Status status) override {
    const auto found = curves_.find(id);
    if (status == Status::ok) {
      ++complete_;
      if (found != curves_.end()) {
        // A trial's last value at each step counts (a resumed trial may report a step twice).
        std::map<std::size_t, double> last;
        for (const auto& [step, s] : found->second) last[step] = s;
        for (const auto& [step, s] : last) {
          if (!std::isnan(s)) by_step_[step].insert(s);
        }
      }
    }
    if (found != curves_.end()) curves_.erase(found);
  }

 private:
  PercentileOptions options_;
  std::unordered_map<std::size_t, std::vector<std::pair<std::size_t, double>>> curves_;  // running trials
  std::unordered_map<std::size_t, detail::SortedScores> by_step_;                        // complete trials
  std::size_t complete_ = 0;
};

// The percentile pruner at 50 %: Optuna's default pruner.
struct MedianOptions {
  std::size_t startup_trials = 5;
  std::size_t warmup_steps = 0;
  std::size_t interval_steps = 1;
  std::size_t min_trials = 1;
};

class MedianPruner : public PercentilePruner {
 public:
  explicit MedianPruner(MedianOptions options = {})
      : PercentilePruner({.percentile = 50.0,
                          .startup_trials = options.startup_trials,
                          .warmup_steps = options.warmup_steps,
                          .interval_steps = options.interval_steps,
                          .min_trials = options.min_trials}) {}
  std::string name() const override { return "median"; }
};

struct SuccessiveHalvingPrunerOptions {
  std::size_t min_resource = 1;  // the first rung's step
  double eta = 3.0;              // reduction factor: keep the top 1/eta at each rung; at least 2
  std::size_t min_early_stopping_rate = 0;  // the first rung is at min_resource * eta^rate
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SuccessiveHalvingPrunerOptions, min_resource, eta, min_early_stopping_rate)

class SuccessiveHalvingPruner : public Pruner {
 public:
  explicit SuccessiveHalvingPruner(SuccessiveHalvingPrunerOptions options = {}) : options_(options) {
    if (options_.min_resource == 0) throw std::invalid_argument("mahpo::asha: min_resource must be >= 1");
    if (!(options_.eta >= 2.0) || !std::isfinite(options_.eta)) {
      throw std::invalid_argument(fmt::format("mahpo::asha: eta must be at least 2, got {}", options_.eta));
    }
  }
  std::string name() const override { return "asha"; }
  nlohmann::json options_json() const override { return options_; }

  bool report(std::size_t id, std::size_t step, double value) override {
    const double s = score(value);
    auto& passed = rungs_passed_[id];  // the rungs this trial has reached
    bool stop = false;
    while (true) {
      const double rung_step = static_cast<double>(options_.min_resource) *
                               std::pow(options_.eta, static_cast<double>(options_.min_early_stopping_rate + passed));
      if (static_cast<double>(step) + 1e-9 < rung_step) break;
      if (rungs_.size() <= passed) rungs_.resize(passed + 1);
      auto& rung = rungs_[passed];
      const double at = std::isnan(s) ? -std::numeric_limits<double>::infinity() : s;
      rung.insert(at);
      ++passed;
      // Promotable when its rank is within the top floor(n / eta) (at least the best one).
      const auto keep = std::max<std::size_t>(
          1, static_cast<std::size_t>(std::floor(static_cast<double>(rung.size()) / options_.eta + 1e-9)));
      if (rung.better_than(at) >= keep || std::isnan(s)) {
        stop = true;
        break;
      }
    }
    return stop;
  }

  void finish(std::size_t id, Status) override { rungs_passed_.erase(id); }

 private:
  SuccessiveHalvingPrunerOptions options_;
  std::vector<detail::SortedScores> rungs_;
  std::unordered_map<std::size_t, std::size_t> rungs_passed_;
};

struct HyperbandPrunerOptions {
  std::size_t min_resource = 1;  // the most aggressive bracket's first rung
  std::size_t max_resource = 9;  // the steps of a full trial (a LeNet trial: its epochs)
  double eta = 3.0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(HyperbandPrunerOptions, min_resource, max_resource, eta)

class HyperbandPruner : public Pruner {
 public:
  explicit HyperbandPruner(HyperbandPrunerOptions options = {}) : options_(options) {
    if (options_.min_resource == 0 || options_.max_resource < options_.min_resource) {
      throw std::invalid_argument(fmt::format("mahpo::hyperband_pruner: need 1 <= min_resource ({}) <= max_resource ({})",
                                              options_.min_resource, options_.max_resource));
    }
    if (!(options_.eta >= 2.0) || !std::isfinite(options_.eta)) {
      throw std::invalid_argument(fmt::format("mahpo::hyperband_pruner: eta must be at least 2, got {}", options_.eta));
    }
    const double ratio = static_cast<double>(options_.max_resource) / static_cast<double>(options_.min_resource);
    const auto s_max = static_cast<std::size_t>(std::floor(std::log(ratio) / std::log(options_.eta) + 1e-9));
    for (std::size_t rate = 0; rate <= s_max; ++rate) {
      brackets_.emplace_back(SuccessiveHalvingPrunerOptions{
          .min_resource = options_.min_resource, .eta = options_.eta, .min_early_stopping_rate = rate});
      // Bracket s = s_max - rate starts ceil((s_max + 1) / (s + 1) * eta^s) configs (Li et al. 2018).
      const double s = static_cast<double>(s_max - rate);
      weights_.push_back(static_cast<std::size_t>(
          std::ceil(static_cast<double>(s_max + 1) / (s + 1.0) * std::pow(options_.eta, s) - 1e-9)));
      total_weight_ += weights_.back();
    }
  }
  std::string name() const override { return "hyperband"; }
  nlohmann::json options_json() const override { return options_; }

  // The bracket of a trial: a SplitMix64 hash of its id, weighted by the brackets' sizes.
  std::size_t bracket_of(std::size_t id) const {
    std::uint64_t z = static_cast<std::uint64_t>(id) + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::size_t draw = static_cast<std::size_t>(z % total_weight_);
    for (std::size_t b = 0; b < weights_.size(); ++b) {
      if (draw < weights_[b]) return b;
      draw -= weights_[b];
    }
    return weights_.size() - 1;
  }
  std::size_t brackets() const { return brackets_.size(); }

  bool report(std::size_t id, std::size_t step, double value) override {
    auto& bracket = brackets_[bracket_of(id)];
    bracket.set_goal(goal());
    return bracket.report(id, step, value);
  }
  void finish(std::size_t id, Status status) override { brackets_[bracket_of(id)].finish(id, status); }

 private:
  HyperbandPrunerOptions options_;
  std::vector<SuccessiveHalvingPruner> brackets_;
  std::vector<std::size_t> weights_;
  std::size_t total_weight_ = 0;
};

struct PatientOptions {
  std::size_t patience = 2;  // steps without improvement before the wrapped pruner is asked
  double min_delta = 0.0;    // an improvement smaller than this does not count
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PatientOptions, patience, min_delta)

class PatientPruner : public Pruner {
 public:
  // `wrapped` may be null: the trial then stops on patience alone.
  explicit PatientPruner(std::shared_ptr<Pruner> wrapped, PatientOptions options = {})
      : wrapped_(std::move(wrapped)), options_(options) {
    if (!(options_.min_delta >= 0.0) || !std::isfinite(options_.min_delta)) {
      throw std::invalid_argument(
          fmt::format("mahpo::patient_pruner: min_delta must be a finite number >= 0, got {}", options_.min_delta));
    }
  }
  std::string name() const override { return wrapped_ ? "patient_" + wrapped_->name() : "patient"; }
  nlohmann::json options_json() const override {
    nlohmann::json json = options_;
    if (wrapped_) json["wrapped"] = {{"name", wrapped_->name()}, {"options", wrapped_->options_json()}};
    return json;
  }

  bool report(std::size_t id, std::size_t step, double value) override {
    bool wrapped_says = true;
    if (wrapped_) {
      wrapped_->set_goal(goal());
      wrapped_says = wrapped_->report(id, step, value);  // always told: it keeps its own bookkeeping
    }
    auto& scores = scores_[id];
    scores.push_back(score(value));
    if (scores.size() <= options_.patience) return false;
    const auto split = scores.end() - static_cast<std::ptrdiff_t>(options_.patience);
    double before = -std::numeric_limits<double>::infinity(), after = -std::numeric_limits<double>::infinity();
    for (auto it = scores.begin(); it != split; ++it)
      if (!std::isnan(*it)) before = std::max(before, *it);
    for (auto it = split; it != scores.end(); ++it)
      if (!std::isnan(*it)) after = std::max(after, *it);
    const bool stalled = !(after > before + options_.min_delta);
    return stalled && wrapped_says;
  }

  void finish(std::size_t id, Status status) override {
    scores_.erase(id);
    if (wrapped_) wrapped_->finish(id, status);
  }

 private:
  std::shared_ptr<Pruner> wrapped_;
  PatientOptions options_;
  std::unordered_map<std::size_t, std::vector<double>> scores_;
};

struct ThresholdOptions {
  double lower = -std::numeric_limits<double>::infinity();  // stop below this value
  double upper = std::numeric_limits<double>::infinity();   // ... or above this one
  std::size_t warmup_steps = 0;                             // not before a step above this
};

inline void to_json(nlohmann::json& json, const ThresholdOptions& options) {
  const auto bound = [](double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr); };
  json = {{"lower", bound(options.lower)}, {"upper", bound(options.upper)}, {"warmup_steps", options.warmup_steps}};
}

class ThresholdPruner : public Pruner {
 public:
  explicit ThresholdPruner(ThresholdOptions options) : options_(options) {
    if (std::isnan(options_.lower) || std::isnan(options_.upper) || options_.lower > options_.upper) {
      throw std::invalid_argument(fmt::format("mahpo::threshold_pruner: need lower ({}) <= upper ({})", options_.lower,
                                              options_.upper));
    }
  }
  std::string name() const override { return "threshold"; }
  nlohmann::json options_json() const override { return options_; }
  bool report(std::size_t, std::size_t step, double value) override {
    if (step <= options_.warmup_steps) return false;
    return !std::isfinite(value) || value < options_.lower || value > options_.upper;
  }

 private:
  ThresholdOptions options_;
};

// Pruners by name, for programs that let their user choose one: "none" (null), "median",
// "percentile" (the best 25 %), "asha", "hyperband", "patient" (patience 2 around the median), each
// with its defaults; `steps` is the steps of a full trial (Hyperband's max_resource).
// std::invalid_argument, listing the names, for another.
inline constexpr std::array<std::string_view, 6> pruner_names{"none", "median", "percentile", "asha", "hyperband",
                                                               "patient"};

inline std::shared_ptr<Pruner> make_pruner(std::string_view name, std::size_t steps = 9) {
  if (name == "none") return nullptr;
  if (name == "median") return std::make_shared<MedianPruner>();
  if (name == "percentile") return std::make_shared<PercentilePruner>();
  if (name == "asha") return std::make_shared<SuccessiveHalvingPruner>();
  if (name == "hyperband") {
    return std::make_shared<HyperbandPruner>(HyperbandPrunerOptions{.max_resource = std::max<std::size_t>(1, steps)});
  }
  if (name == "patient") return std::make_shared<PatientPruner>(std::make_shared<MedianPruner>());
  throw std::invalid_argument(fmt::format("mahpo: no pruner is called '{}' (known: {})", name, fmt::join(pruner_names, ", ")));
}

}  // namespace mahpo::study
