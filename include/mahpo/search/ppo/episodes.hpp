#pragma once
// What the RL searchers (Mappo, PpoLstm) share about episodes: their rewards, how a batch of told
// episodes is taken, and the PPO epoch loop.
//
// EpisodeRewards: the rewards an RL searcher's episodes earned, kept by trial id: the raw reward (the value when
// maximizing, -value when minimizing), whether it is usable (a failed, diverged or non-finite
// trial is not), the order of the tells, and the two ways a reward is read back:
// - `reward_or_worst`: the raw reward, a failed trial's being the worst usable reward told so far
//   (0 before any): a configuration that breaks training is as bad as the worst one seen;
// - `quantile`: the reward's mid-rank among every usable reward told so far, in [0, 1] (ties
//   share their mean rank; 0.5 while there is one), a failed trial's being `failed_quantile`;
// - `normal_score`: the normal score of that mid-rank among the n usable rewards,
//   Phi^-1((rank + 1/2) / n), a failed trial's Phi^-1(1/2 / (n + 1)), below every usable one
//   (0 before any usable reward).

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <optional>
#include <vector>

#include <mahpo/search/gp/special_functions.hpp>

namespace mahpo::search::ppo::detail {

class EpisodeRewards {
 public:
  void tell(std::size_t id, bool usable, double reward) {
    if (id >= rewards_.size()) {
      rewards_.resize(id + 1, 0.0);
      usable_.resize(id + 1, false);
    }
    rewards_[id] = reward;
    usable_[id] = usable;
    told_.push_back(id);
    if (!usable) return;
    worst_ = worst_ ? std::min(*worst_, reward) : reward;
    sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), reward), reward);
  }

  // Ids in the order they were told.
  const std::vector<std::size_t>& told() const { return told_; }
  bool usable(std::size_t id) const { return usable_.at(id); }

  double reward_or_worst(std::size_t id) const { return usable_.at(id) ? rewards_[id] : worst_.value_or(0.0); }

  double normal_score(std::size_t id) const {
    const std::size_t count = sorted_.size();
    if (count == 0) return 0.0;
    if (!usable_.at(id)) return gp::detail::normal_quantile(0.5 / static_cast<double>(count + 1));
    return gp::detail::normal_quantile((mid_rank(id) + 0.5) / static_cast<double>(count));
  }

  double quantile(std::size_t id, double failed_quantile) const {
    if (!usable_.at(id)) return failed_quantile;
    const std::size_t count = sorted_.size();
    if (count < 2) return 0.5;
    return mid_rank(id) / static_cast<double>(count - 1);
  }

 private:
  // A usable reward's rank among the usable ones, from 0, ties sharing their mean rank.
  double mid_rank(std::size_t id) const {
    const auto [low, high] = std::equal_range(sorted_.begin(), sorted_.end(), rewards_[id]);
    const double below = static_cast<double>(low - sorted_.begin());
    const double ties = static_cast<double>(high - low);
    return below + 0.5 * (ties - 1.0);
  }

  std::vector<double> rewards_;  // by id
  std::vector<bool> usable_;     // by id
  std::vector<std::size_t> told_;
  std::vector<double> sorted_;  // the usable rewards, ascending
  std::optional<double> worst_;
};

// Takes the first `count` waiting ids in id order out of `waiting` (an on-policy batch: the
// same batch whatever order the tells came in).
inline std::vector<std::size_t> take_batch(std::vector<std::size_t>& waiting, std::size_t count) {
  std::sort(waiting.begin(), waiting.end());
  std::vector<std::size_t> batch(waiting.begin(), waiting.begin() + static_cast<std::ptrdiff_t>(count));
  waiting.erase(waiting.begin(), waiting.begin() + static_cast<std::ptrdiff_t>(count));
  return batch;
}

// PPO's epoch loop with a KL stop that keeps the policy inside the bound: step(epoch) runs one epoch
// and returns the KL divergence of the policy it produced from the policy the update started from;
// past 1.5 x target_kl (when > 0, Stable-Baselines3's threshold) undo() takes that epoch's step back
// and the loop stops, so the policy an update leaves never lies past the threshold (Stable-Baselines3
// judges the policy it steps *from*, and so keeps one step past it). Returns the epochs kept.
template <typename Step, typename Undo>
std::size_t run_epochs(std::size_t epochs, double target_kl, Step&& step, Undo&& undo) {
  for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
    const double kl = step(epoch);
    if (target_kl > 0.0 && kl > 1.5 * target_kl) {
      undo();
      return epoch;
    }
  }
  return epochs;
}

}  // namespace mahpo::search::ppo::detail
