#pragma once
// PPO-LSTM: model-based reinforcement learning for hyperparameter optimization (Wu, Chen & Liu,
// "Efficient hyperparameter optimization through model-based reinforcement learning",
// Neurocomputing, 2020).
//
// One agent writes a config one hyperparameter at a time, in the space's order of free
// parameters (T = S::dimension steps). At step t it reads an input embedding of the previous
// action, runs a stacked LSTM and, through an output embedding, draws u_t ~ N(mu_t, sigma_t);
// the action a_t = tanh(u_t) in (-1, 1) (or, with PpoLstmSquash::mean, seed 001's clip(h_t, -1, 1),
// h_t ~ N(tanh(mu_t), sigma_t)) becomes the parameter's unit-cube coordinate (a_t + 1) / 2,
// and S::from_unit_cube decodes the assembled point (integers rounded, log reals on log scale,
// categoricals binned by their decode). The reward is the validation accuracy (the goal-signed
// value, -loss) at the last step and 0 before, with gamma 1, so every step's return is the
// episode's reward. The agent learns with PPO's clipped objective (Schulman et al., 2017).
//
// A reward model, an ensemble of small MLPs whose mean is the prediction, is fitted to every real
// (unit-cube config, reward) pair told so far. After each update on real episodes the agent makes
// "imagined" PPO updates on episodes the model scores; these go on until the KL divergence between
// the policy from before them and the current one exceeds `kl_threshold`, or `max_model_updates`
// were made; then the agent returns to real evaluations. Measured (median best of seeds 0-19, trials
// one at a time, defaults otherwise), the model helps at 200 trials: LeNet quadratic 0.9789 vs
// 0.9701 without it (better on 16 of 20 seeds), Hartmann-6 -3.015 vs -2.552 (17 of 20); not at 50
// (0.9464 vs 0.9498, -1.718 vs -1.697), and on Branin it hurts (0.630 vs 0.570 at 200).
//
// Defaults (PpoLstmOptions): Adam with learning rate 0.007, a 2-wide input embedding, 3 LSTM
// layers of 35 units (the paper's); PPO clip 0.2, 4 epochs per update on 4 real episodes,
// entropy coefficient 0.01, gradient-norm clip 1; an ensemble of 3 MLPs (2 ReLU layers of 16,
// 50 warm-started Adam steps per fit, learning rate 0.01), KL threshold 0.02, at most 10
// model-based updates of 16 imagined episodes per round, the model used once 2 x T usable real
// trials were told.
//
// Where the paper is not explicit, what we chose:
// - Input: at step t the features [a_{t-1} (0 at t = 0), one-hot(t)] go through a Linear layer
//   to the embedding (no activation), so the embedding carries the previous action and which
//   hyperparameter is asked for (a per-step bias of the embedding).
// - Output embedding: a Linear layer from the top LSTM state to the mean mu_t (gain 0.01, so the
//   first policy is centred); the log-std is a state-independent parameter per hyperparameter
//   (as PPO's continuous-control policies), starting at 0: tanh(N(0, 1)) is close to uniform on
//   (-1, 1). It is kept in [-5, 1] after each step, so sampling never stops entirely.
// - No critic: with one reward per episode and gamma 1 the baseline is the batch's mean. An
//   episode's return is the normal score of its reward's rank among every usable real reward told
//   so far, Phi^-1((rank + 1/2) / n) (ties share their mean rank; a failed trial ranks below them
//   all, Phi^-1(1/2 / (n + 1))), as MAPPO's ranked rewards: accuracies that differ by tiny amounts
//   stay apart and a diverged trial at chance level is one rank lower, not a reward scale of its
//   own. The reward model is fitted to the same normal scores, so the advantage of an episode is
//   its score (real) or predicted score (imagined) minus the batch's mean: one scale for both.
// - PPO's pi_old is the policy at the start of each update: old log-probabilities are recomputed
//   then (episodes asked while other updates ran are treated as on-policy). Each epoch is one
//   full batch (no minibatches); every step of every episode is one sample with its own ratio.
//   One Adam serves real and imagined updates alike.
// - Pending trials: ask() samples from the current policy whatever is pending. A real update runs
//   as soon as `episodes_per_update` told episodes wait, on those episodes in id order.
// - Failed and diverged trials (and a usable one whose value is not finite) get the worst usable
//   real reward told so far (0 if there is none) in the agent's update; they are not fitted by the
//   reward model and don't move the running reward moments.
// - The reward model: `reward_model_ensemble` MLPs from different initializations, inputs
//   2x - 1 of the snapped unit-cube point, targets standardized by their mean and std at each fit,
//   `reward_model_steps` full-batch Adam steps on the mean squared error per fit, warm-started
//   from the previous fit. Imagined episodes are scored at their snapped points.
// - The KL rule: KL(before || now) of the action distributions (Gaussian KL, exact for the
//   tanh-squashed ones too; see below for PpoLstmSquash::mean), averaged over every step of the
//   latest imagined batch's episodes; checked after each model-based update, which is kept even
//   when it crosses the threshold.
// - Everything draws from one std::mt19937_64 seeded from SearchOptions::seed.
//
// A deviation from seed 001, measured: the paper squashes the mean (mu' = tanh(mu), h ~ N(mu',
// sigma), h rescaled to the range); we squash the draw by default (PpoLstmSquash::sample): it did
// as well or better (within 0.001 where the mean's median was higher). Median best of seeds 0-19
// with the reward model, sample vs mean:
//   initial log-std 0:  LeNet quadratic 0.9644 vs 0.9595 at 100 trials, 0.9789 vs 0.9797 at 200;
//                       Hartmann-6 -2.453 vs -1.959 at 100, -3.015 vs -2.724 at 200.
//   initial log-std -1: LeNet quadratic 0.9866 vs 0.9841 at 100, 0.9890 vs 0.9893 at 200;
//                       Hartmann-6 -2.951 vs -2.901 at 100, -3.208 vs -3.193 at 200.
// (With the mean squashed, sigma 1 puts a third of the draws on the bounds.) For PpoLstmSquash::mean
// the head's log-density keeps its tanh correction of the draw, a constant that cancels in PPO's
// ratio, and the KL rule's Gaussian KL bounds the clipped actions' KL from above.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>

#include <mahpo/objective.hpp>
#include <mahpo/rl/actor_loss.hpp>
#include <mahpo/rl/adam.hpp>
#include <mahpo/rl/gradient_clipping.hpp>
#include <mahpo/rl/linear.hpp>
#include <mahpo/rl/lstm.hpp>
#include <mahpo/rl/mlp.hpp>
#include <mahpo/rl/module.hpp>
#include <mahpo/rl/squashed_gaussian_head.hpp>
#include <mahpo/rl/tensor.hpp>
#include <mahpo/search/history.hpp>
#include <mahpo/search/ppo/episodes.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/search/unit_cube.hpp>

namespace mahpo::search {

// Where the tanh goes: on the draw (every action inside (-1, 1)) or on the mean (seed 001's form).
enum class PpoLstmSquash {
  sample,  // a = tanh(u), u ~ N(mu, sigma)
  mean,    // a = clip(h, -1, 1), h ~ N(tanh(mu), sigma)
};
NLOHMANN_JSON_SERIALIZE_ENUM(PpoLstmSquash, {{PpoLstmSquash::sample, "sample"}, {PpoLstmSquash::mean, "mean"}})

struct PpoLstmOptions {
  double learning_rate = 0.007;           // Adam's, for the agent (Wu et al.)
  std::size_t lstm_units = 35;            // per layer (Wu et al.)
  std::size_t lstm_layers = 3;            // (Wu et al.)
  std::size_t embedding = 2;              // width of the input embedding (Wu et al.)
  std::size_t episodes_per_update = 4;    // real episodes per PPO update
  std::size_t ppo_epochs = 4;             // passes over each batch
  double clip = 0.2;                      // PPO's epsilon
  double entropy_coefficient = 0.01;      // of the Gaussian's entropy bonus
  double max_gradient_norm = 1.0;         // global gradient-norm clip
  double initial_log_std = 0.0;           // of every hyperparameter's Gaussian
  bool use_reward_model = true;           // imagined updates between real ones
  std::size_t reward_model_ensemble = 3;  // MLPs averaged
  std::size_t reward_model_hidden = 16;   // units of each of their 2 hidden ReLU layers
  std::size_t reward_model_steps = 50;    // Adam steps per fit, from the last fit's weights
  double reward_model_learning_rate = 0.01;
  double kl_threshold = 0.02;          // model-based updates stop once KL(before || now) exceeds it
  std::size_t max_model_updates = 10;  // ... or after this many in a row
  std::size_t imagined_episodes = 16;  // per model-based update
  std::size_t min_real_for_model = 0;  // usable real trials before the model is used; 0: 2 x dimension
  PpoLstmSquash squash = PpoLstmSquash::sample;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PpoLstmOptions, learning_rate, lstm_units, lstm_layers, embedding,
                                   episodes_per_update, ppo_epochs, clip, entropy_coefficient, max_gradient_norm,
                                   initial_log_std, use_reward_model, reward_model_ensemble, reward_model_hidden,
                                   reward_model_steps, reward_model_learning_rate, kl_threshold, max_model_updates,
                                   imagined_episodes, min_real_for_model, squash)

namespace ppo_lstm::detail {

inline constexpr double min_log_std = -5.0;
inline constexpr double max_log_std = 1.0;

// The action in [-1, 1] of a stored draw (u or h, see PpoLstmSquash).
inline double squashed_action(double draw, PpoLstmSquash squash) {
  return squash == PpoLstmSquash::sample ? std::tanh(draw) : std::clamp(draw, -1.0, 1.0);
}

// Rows of a list of equally wide matrices, one under the other.
inline rl::Matrix stack_rows(const std::vector<rl::Matrix>& parts) {
  if (parts.empty()) return rl::Matrix::from_shape({0, 0});
  const std::size_t rows = parts.front().shape()[0], columns = parts.front().shape()[1];
  rl::Matrix stacked = rl::Matrix::from_shape({rows * parts.size(), columns});
  for (std::size_t p = 0; p < parts.size(); ++p)
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < columns; ++j) stacked(p * rows + i, j) = parts[p](i, j);
  return stacked;
}

// The inverse of stack_rows: `parts` blocks of equal height.
inline std::vector<rl::Matrix> split_rows(const rl::Matrix& stacked, std::size_t parts) {
  const std::size_t rows = stacked.shape()[0] / parts, columns = stacked.shape()[1];
  std::vector<rl::Matrix> result(parts, rl::Matrix::from_shape({rows, columns}));
  for (std::size_t p = 0; p < parts; ++p)
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < columns; ++j) result[p](i, j) = stacked(p * rows + i, j);
  return result;
}

// The agent's action distributions along B episodes, one row per (step t, episode b) at t * B + b.
// `mean` is the Gaussian's: mu (squash sample) or tanh(mu) (squash mean).
struct Distributions {
  rl::Matrix mean;     // (T B) x 1
  rl::Matrix log_std;  // (T B) x 1
};

// The agent: input embedding -> stacked LSTM -> output embedding (mean), a log-std per step.
// Episodes are B x T matrices of the Gaussian's draws (u or h, see PpoLstmSquash).
class Policy {
 public:
  Policy() = default;
  Policy(std::size_t steps, const PpoLstmOptions& options, std::mt19937_64& rng)
      : steps_(steps),
        input_embedding_(1 + steps, options.embedding, 1.0, rng),
        lstm_(rl::LstmOptions{options.embedding, options.lstm_units, options.lstm_layers}, rng),
        output_(options.lstm_units, 1, 0.01, rng),
        log_std_(xt::zeros<double>({std::size_t{1}, steps})),
        squash_(options.squash) {
    log_std_.value.fill(options.initial_log_std);
  }

  std::size_t steps() const { return steps_; }

  // Draws `batch` episodes (B x T draws), feeding each action back in.
  rl::Matrix sample(std::size_t batch, const rl::SquashedGaussianHead& head, std::mt19937_64& rng) const {
    auto state = lstm_.initial_state(batch);
    rl::Matrix episodes = rl::Matrix::from_shape({batch, steps_});
    rl::Matrix previous = xt::zeros<double>({batch, std::size_t{1}});
    for (std::size_t t = 0; t < steps_; ++t) {
      const rl::Matrix top = lstm_.predict_step(input_embedding_.predict(step_input(previous, t)), state);
      const rl::Matrix mean = squashed(output_.predict(top));
      const rl::Matrix log_std = xt::full_like(mean, log_std_.value(0, t));
      const rl::SquashedSample drawn = head.sample(mean, log_std, rng);
      for (std::size_t b = 0; b < batch; ++b) {
        episodes(b, t) = drawn.pre_squash(b, 0);
        previous(b, 0) = squashed_action(drawn.pre_squash(b, 0), squash_);
      }
    }
    return episodes;
  }

  // The distributions along given episodes, without caching.
  Distributions predict(const rl::Matrix& episodes) const {
    const std::size_t batch = episodes.shape()[0];
    const rl::Matrix embedded = input_embedding_.predict(inputs(episodes));
    const std::vector<rl::Matrix> per_step = split_rows(embedded, steps_);
    auto state = lstm_.initial_state(batch);
    std::vector<rl::Matrix> tops;
    for (const auto& input : per_step) tops.push_back(lstm_.predict_step(input, state));
    return {squashed(output_.predict(stack_rows(tops))), log_stds(batch)};
  }

  // The distributions along given episodes, cached for backward.
  Distributions forward(const rl::Matrix& episodes) {
    const std::size_t batch = episodes.shape()[0];
    const rl::Matrix embedded = input_embedding_.forward(inputs(episodes));
    const std::vector<rl::Matrix> tops = lstm_.forward(split_rows(embedded, steps_));
    rl::Matrix mean = squashed(output_.forward(stack_rows(tops)));
    if (squash_ == PpoLstmSquash::mean) last_squashed_mean_ = mean;
    return {std::move(mean), log_stds(batch)};
  }

  // Adds the parameter gradients given d(loss)/d(mean) and d(loss)/d(log_std) of the last forward.
  void backward(const rl::Matrix& mean_gradient, const rl::Matrix& log_std_gradient) {
    const std::size_t batch = mean_gradient.shape()[0] / steps_;
    rl::Matrix output_gradient = mean_gradient;
    if (squash_ == PpoLstmSquash::mean)  // d tanh(mu) / d mu = 1 - tanh(mu)^2
      for (std::size_t k = 0; k < output_gradient.size(); ++k)
        output_gradient.flat(k) *= 1.0 - last_squashed_mean_.flat(k) * last_squashed_mean_.flat(k);
    const rl::Matrix top_gradient = output_.backward(output_gradient);
    const std::vector<rl::Matrix> input_gradients = lstm_.backward(split_rows(top_gradient, steps_));
    input_embedding_.backward(stack_rows(input_gradients));
    for (std::size_t t = 0; t < steps_; ++t)  // one log-std per step, shared by the batch
      for (std::size_t b = 0; b < batch; ++b) log_std_.gradient(0, t) += log_std_gradient(t * batch + b, 0);
  }

  rl::ParameterList parameters() {
    rl::ParameterList list = rl::join(input_embedding_.parameters(), lstm_.parameters());
    list = rl::join(std::move(list), output_.parameters());
    list.push_back(&log_std_);
    return list;
  }
  void zero_gradients() { rl::zero_gradients(parameters()); }

  void clamp_log_std() {
    for (auto& x : log_std_.value) x = std::clamp(x, min_log_std, max_log_std);
  }

  const rl::Matrix& log_std() const { return log_std_.value; }

 private:
  std::size_t steps_ = 0;
  rl::Linear input_embedding_;
  rl::Lstm lstm_;
  rl::Linear output_;
  rl::Parameter log_std_;  // 1 x T
  PpoLstmSquash squash_ = PpoLstmSquash::sample;
  rl::Matrix last_squashed_mean_;  // tanh(mu) of the last forward, for backward (squash mean)

  rl::Matrix squashed(rl::Matrix output) const {
    if (squash_ == PpoLstmSquash::mean)
      for (auto& x : output) x = std::tanh(x);
    return output;
  }

  // Step t's features for a batch: [previous action, one-hot(t)].
  rl::Matrix step_input(const rl::Matrix& previous_action, std::size_t t) const {
    const std::size_t batch = previous_action.shape()[0];
    rl::Matrix input = xt::zeros<double>({batch, 1 + steps_});
    for (std::size_t b = 0; b < batch; ++b) {
      input(b, 0) = t == 0 ? 0.0 : previous_action(b, 0);
      input(b, 1 + t) = 1.0;
    }
    return input;
  }

  // Every step's features, stacked: row t * B + b.
  rl::Matrix inputs(const rl::Matrix& episodes) const {
    const std::size_t batch = episodes.shape()[0];
    rl::Matrix all = xt::zeros<double>({steps_ * batch, 1 + steps_});
    for (std::size_t t = 0; t < steps_; ++t)
      for (std::size_t b = 0; b < batch; ++b) {
        all(t * batch + b, 0) = t == 0 ? 0.0 : squashed_action(episodes(b, t - 1), squash_);
        all(t * batch + b, 1 + t) = 1.0;
      }
    return all;
  }

  rl::Matrix log_stds(std::size_t batch) const {
    rl::Matrix all = rl::Matrix::from_shape({steps_ * batch, std::size_t{1}});
    for (std::size_t t = 0; t < steps_; ++t)
      for (std::size_t b = 0; b < batch; ++b) all(t * batch + b, 0) = log_std_.value(0, t);
    return all;
  }
};

// Episodes' draws stacked as the policy's rows: (T B) x 1, row t * B + b.
inline rl::Matrix stacked_actions(const rl::Matrix& episodes) {
  const std::size_t batch = episodes.shape()[0], steps = episodes.shape()[1];
  rl::Matrix stacked = rl::Matrix::from_shape({steps * batch, std::size_t{1}});
  for (std::size_t t = 0; t < steps; ++t)
    for (std::size_t b = 0; b < batch; ++b) stacked(t * batch + b, 0) = episodes(b, t);
  return stacked;
}

// KL(first || second) of the action distributions, averaged over every step of the episodes.
// KL of two Gaussians per step: exact for tanh-squashed draws, an upper bound for clipped ones
// (clipping is a many-to-one map; data-processing inequality, Cover & Thomas, 2006, thm 2.8.1)
inline double mean_kl(const Policy& first, const Policy& second, const rl::Matrix& episodes,
                      const rl::SquashedGaussianHead& head) {
  const Distributions a = first.predict(episodes), b = second.predict(episodes);
  const rl::Matrix kl = head.kl_divergence(a.mean, a.log_std, b.mean, b.log_std);
  double total = 0.0;
  for (double x : kl) total += x;
  return kl.size() == 0 ? 0.0 : total / static_cast<double>(kl.size());
}

// Every step's advantage, row t * B + b: with gamma 1 and the reward at the end every step's return is R.
inline rl::Vector step_advantages(const rl::Vector& episode_advantages, std::size_t steps) {
  const std::size_t batch = episode_advantages.size();
  rl::Vector result = rl::Vector::from_shape({steps * batch});
  for (std::size_t t = 0; t < steps; ++t)
    for (std::size_t b = 0; b < batch; ++b) result(t * batch + b) = episode_advantages(b);
  return result;
}

// PPO's loss on B episodes: zeroes the policy's gradients, then adds d(loss)/d(parameters) of
// the last forward (every step of every episode is one sample with its own ratio). pi_old's
// log-probabilities are `old_log_probabilities` (rows as the policy's); when it is empty they are
// set to the policy's own, as at an update's first epoch. With squash mean the head's tanh
// correction depends on the draw alone, so it cancels in the ratio: the gradients are the Gaussian's.
// PPO's clipped surrogate minus the entropy bonus (Schulman et al., 2017, eq. 9)
inline rl::GaussianActorLoss loss_gradient(Policy& policy, const rl::SquashedGaussianHead& head,
                                           const rl::Matrix& episodes, rl::Matrix& old_log_probabilities,
                                           const rl::Vector& step_advantages, const rl::ActorLossOptions& options) {
  policy.zero_gradients();
  const rl::Matrix actions = stacked_actions(episodes);
  const Distributions now = policy.forward(episodes);
  if (old_log_probabilities.size() == 0) old_log_probabilities = head.log_probabilities(now.mean, now.log_std, actions);
  rl::GaussianActorLoss loss = rl::squashed_gaussian_actor_loss(head, now.mean, now.log_std, actions,
                                                                old_log_probabilities, step_advantages, options);
  policy.backward(loss.mean_gradient, loss.log_std_gradient);
  return loss;
}

// The same loss's value through `predict` (no cache, no gradients): what finite differences read.
inline double loss_value(const Policy& policy, const rl::SquashedGaussianHead& head, const rl::Matrix& episodes,
                         const rl::Matrix& old_log_probabilities, const rl::Vector& step_advantages,
                         const rl::ActorLossOptions& options) {
  const Distributions now = policy.predict(episodes);
  return rl::squashed_gaussian_actor_loss(head, now.mean, now.log_std, stacked_actions(episodes), old_log_probabilities,
                                          step_advantages, options)
      .total;
}

// The reward model: an ensemble of MLPs regressing the reward on the unit-cube point; the
// prediction is the members' mean. Each fit standardizes the targets and runs full-batch Adam on
// the mean squared error, starting from the previous fit's weights.
class RewardModel {
 public:
  RewardModel() = default;
  RewardModel(std::size_t inputs, std::size_t members, std::size_t hidden, double learning_rate, std::mt19937_64& rng) {
    const rl::MlpOptions shape{.sizes = {inputs, hidden, hidden, 1}, .activation = rl::MlpActivation::relu};
    for (std::size_t m = 0; m < members; ++m) {
      members_.emplace_back(shape, rng);
      optimizers_.emplace_back(rl::AdamOptions{.learning_rate = learning_rate});
    }
  }

  std::size_t members() const { return members_.size(); }

  // `steps` Adam steps per member on (points, targets); returns the members' mean squared error
  // after them, in standardized units. Points are rows of the unit cube.
  double fit(const rl::Matrix& points, const rl::Vector& targets, std::size_t steps) {
    const std::size_t n = targets.size();
    if (points.shape()[0] != n)
      throw std::invalid_argument(
          fmt::format("mahpo::ppo_lstm: the reward model got {} points and {} targets", points.shape()[0], n));
    if (n == 0) return 0.0;
    mean_ = xt::mean(targets)();
    const double variance = xt::variance(targets)();
    scale_ = variance > 1e-24 ? std::sqrt(variance) : 1.0;
    const rl::Matrix x = centred(points);
    double error = 0.0;
    for (std::size_t m = 0; m < members_.size(); ++m) {
      for (std::size_t step = 0; step <= steps; ++step) {
        members_[m].zero_gradients();
        const rl::Matrix prediction = members_[m].forward(x);
        rl::Matrix gradient = rl::Matrix::from_shape({n, std::size_t{1}});
        double squared = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
          const double residual = prediction(i, 0) - (targets(i) - mean_) / scale_;
          squared += residual * residual;
          gradient(i, 0) = residual / static_cast<double>(n);  // d/dprediction of the mean of residual^2 / 2
        }
        if (step == steps) {  // the error after the last step; no update
          error += squared / static_cast<double>(n);
          break;
        }
        members_[m].backward(gradient);
        optimizers_[m].step(members_[m].parameters());
      }
    }
    return error / static_cast<double>(members_.size());
  }

  // The ensemble's mean prediction at each row of `points`, in the targets' units.
  rl::Vector predict(const rl::Matrix& points) const {
    const std::size_t n = points.shape()[0];
    rl::Vector result = xt::zeros<double>({n});
    const rl::Matrix x = centred(points);
    for (const auto& member : members_) {
      const rl::Matrix prediction = member.predict(x);
      for (std::size_t i = 0; i < n; ++i) result(i) += prediction(i, 0);
    }
    for (std::size_t i = 0; i < n; ++i) result(i) = mean_ + scale_ * result(i) / static_cast<double>(members_.size());
    return result;
  }

 private:
  std::vector<rl::Mlp> members_;
  std::vector<rl::Adam> optimizers_;
  double mean_ = 0.0, scale_ = 1.0;

  static rl::Matrix centred(const rl::Matrix& points) {
    rl::Matrix x = points;
    for (auto& v : x) v = 2.0 * v - 1.0;
    return x;
  }
};

inline PpoLstmOptions validated(PpoLstmOptions o, std::size_t dimension) {
  const auto fail = [](std::string message) { throw std::invalid_argument("mahpo::ppo_lstm: " + message); };
  if (!(o.learning_rate > 0.0) || !std::isfinite(o.learning_rate))
    fail(fmt::format("learning_rate {} must be a positive number", o.learning_rate));
  if (o.lstm_units == 0 || o.lstm_layers == 0 || o.embedding == 0)
    fail(fmt::format("lstm_units ({}), lstm_layers ({}) and embedding ({}) must be positive", o.lstm_units,
                     o.lstm_layers, o.embedding));
  if (o.episodes_per_update == 0) fail("episodes_per_update must be at least 1");
  if (o.ppo_epochs == 0) fail("ppo_epochs must be at least 1");
  if (!(o.clip > 0.0 && o.clip < 1.0)) fail(fmt::format("clip {} must be in (0, 1)", o.clip));
  if (!(o.entropy_coefficient >= 0.0) || !std::isfinite(o.entropy_coefficient))
    fail(fmt::format("entropy_coefficient {} must be >= 0", o.entropy_coefficient));
  if (!(o.max_gradient_norm > 0.0)) fail(fmt::format("max_gradient_norm {} must be > 0", o.max_gradient_norm));
  if (!(o.initial_log_std >= min_log_std && o.initial_log_std <= max_log_std))
    fail(fmt::format("initial_log_std {} must be in [{}, {}]", o.initial_log_std, min_log_std, max_log_std));
  if (o.use_reward_model) {
    if (o.reward_model_ensemble == 0 || o.reward_model_hidden == 0 || o.reward_model_steps == 0)
      fail(
          fmt::format("reward_model_ensemble ({}), reward_model_hidden ({}) and reward_model_steps ({}) must all "
                      "be positive",
                      o.reward_model_ensemble, o.reward_model_hidden, o.reward_model_steps));
    if (!(o.reward_model_learning_rate > 0.0) || !std::isfinite(o.reward_model_learning_rate))
      fail(fmt::format("reward_model_learning_rate {} must be a positive number", o.reward_model_learning_rate));
    if (!(o.kl_threshold > 0.0)) fail(fmt::format("kl_threshold {} must be > 0", o.kl_threshold));
    if (o.max_model_updates == 0) fail("max_model_updates must be at least 1 (or set use_reward_model = false)");
    if (o.imagined_episodes < 2)
      fail(fmt::format("imagined_episodes {} must be at least 2 (advantages are relative to the batch)",
                       o.imagined_episodes));
  }
  if (o.min_real_for_model == 0) o.min_real_for_model = std::max<std::size_t>(2 * dimension, 1);
  return o;
}

}  // namespace ppo_lstm::detail

template <typename S>
class PpoLstm {
 public:
  using space_type = S;
  static constexpr std::string_view name = "ppo_lstm";
  static_assert(S::dimension > 0, "mahpo::ppo_lstm: the space needs at least one free parameter");

  explicit PpoLstm(SearchOptions options = {}, PpoLstmOptions ppo = {})
      : options_(options),
        ppo_(ppo_lstm::detail::validated(ppo, S::dimension)),
        history_(options.goal),
        rng_(options.seed),
        policy_(S::dimension, ppo_, rng_),
        optimizer_(rl::AdamOptions{.learning_rate = ppo_.learning_rate}) {
    if (ppo_.use_reward_model)
      reward_model_ = ppo_lstm::detail::RewardModel(S::dimension, ppo_.reward_model_ensemble, ppo_.reward_model_hidden,
                                                    ppo_.reward_model_learning_rate, rng_);
  }

  // One episode of the current policy.
  Trial<S> ask() {
    const rl::Matrix episode = policy_.sample(1, head_, rng_);
    std::vector<double> actions(S::dimension);
    for (std::size_t t = 0; t < S::dimension; ++t) actions[t] = episode(0, t);
    episodes_.push_back(std::move(actions));
    return history_.add(S::from_unit_cube(unit_point(episode, 0)), options_.budget);
  }

  void tell(std::size_t id, const Result& result) {
    const auto& entry = history_.tell(id, result, name);
    rewards_.tell(id, has_reward(entry), -entry.loss);  // -loss: the goal-signed value
    waiting_.push_back(id);
    if (waiting_.size() < ppo_.episodes_per_update) return;
    real_update(ppo::detail::take_batch(waiting_, ppo_.episodes_per_update));
    if (ppo_.use_reward_model) model_based_updates();
  }

  // The pending trial `id` was run with `config` (see Searcher::replace): its episode becomes the
  // draws that give `config` (the squash inverted: atanh, kept finite, or the clipped value itself);
  // the update computes their log-probabilities then, as for sampled episodes.
  void replace(std::size_t id, const Config<S>& config) {
    history_.replace(id, config, name);
    const auto point = S::to_unit_cube(config);
    for (std::size_t t = 0; t < S::dimension; ++t) {
      const double action = std::clamp(2.0 * point[t] - 1.0, -1.0 + 1e-6, 1.0 - 1e-6);
      episodes_[id][t] = ppo_.squash == PpoLstmSquash::sample ? std::atanh(action) : action;
    }
  }

  const SearchOptions& options() const { return options_; }
  nlohmann::json options_json() const { return ppo_; }
  const PpoLstmOptions& ppo_options() const { return ppo_; }
  const History<S>& history() const { return history_; }

  std::size_t real_updates() const { return real_updates_; }
  std::size_t model_updates() const { return model_updates_; }  // all rounds together
  std::size_t model_rounds() const { return model_rounds_; }    // rounds with at least one model-based update
  std::size_t model_updates_in_last_round() const { return last_round_updates_; }
  double last_kl() const { return last_kl_; }  // KL(before || now) at the end of the last round
  const ppo_lstm::detail::Policy& policy() const { return policy_; }

 private:
  SearchOptions options_;
  PpoLstmOptions ppo_;
  History<S> history_;
  std::mt19937_64 rng_;
  rl::SquashedGaussianHead head_;
  ppo_lstm::detail::Policy policy_;
  rl::Adam optimizer_;
  ppo_lstm::detail::RewardModel reward_model_;
  ppo::detail::EpisodeRewards rewards_;
  std::vector<std::vector<double>> episodes_;  // each trial's draws, by id
  std::vector<std::size_t> waiting_;           // told trials no update has used yet
  std::size_t real_updates_ = 0, model_updates_ = 0, model_rounds_ = 0, last_round_updates_ = 0;
  double last_kl_ = 0.0;

  // Row b of B x T draws as a unit-cube point: (a + 1) / 2.
  std::array<double, S::dimension> unit_point(const rl::Matrix& episodes, std::size_t b) const {
    std::array<double, S::dimension> point{};
    for (std::size_t t = 0; t < S::dimension; ++t)
      point[t] = 0.5 * (ppo_lstm::detail::squashed_action(episodes(b, t), ppo_.squash) + 1.0);
    return point;
  }

  static bool has_reward(const Observation<S>& entry) { return entry.usable() && std::isfinite(entry.loss); }

  // Episode advantages: the returns (normal scores) minus the batch's mean, a REINFORCE baseline
  // (Williams, 1992) in place of a critic.
  static rl::Vector advantages(const rl::Vector& returns) { return returns - xt::mean(returns)(); }

  void real_update(const std::vector<std::size_t>& ids) {
    rl::Vector returns = rl::Vector::from_shape({ids.size()});
    rl::Matrix episodes = rl::Matrix::from_shape({ids.size(), S::dimension});
    for (std::size_t b = 0; b < ids.size(); ++b) {
      returns(b) = rewards_.normal_score(ids[b]);
      for (std::size_t t = 0; t < S::dimension; ++t) episodes(b, t) = episodes_[ids[b]][t];
    }
    ppo_update(episodes, advantages(returns));
    ++real_updates_;
  }

  // Imagined updates on episodes the reward model scores, until the policy has moved past the KL
  // threshold from where it started or the cap is reached.
  void model_based_updates() {
    std::vector<const Observation<S>*> real;
    for (const auto& entry : history_.entries())
      if (has_reward(entry)) real.push_back(&entry);
    if (real.size() < ppo_.min_real_for_model) return;
    rl::Matrix points = rl::Matrix::from_shape({real.size(), S::dimension});
    rl::Vector targets = rl::Vector::from_shape({real.size()});
    for (std::size_t i = 0; i < real.size(); ++i) {
      for (std::size_t k = 0; k < S::dimension; ++k) points(i, k) = real[i]->point[k];
      targets(i) = rewards_.normal_score(real[i]->id);
    }
    reward_model_.fit(points, targets, ppo_.reward_model_steps);

    const ppo_lstm::detail::Policy before = policy_;
    last_round_updates_ = 0;
    for (std::size_t update = 0; update < ppo_.max_model_updates; ++update) {
      const rl::Matrix episodes = policy_.sample(ppo_.imagined_episodes, head_, rng_);
      rl::Matrix imagined = rl::Matrix::from_shape({ppo_.imagined_episodes, S::dimension});
      for (std::size_t b = 0; b < ppo_.imagined_episodes; ++b) {
        const auto snapped = snap<S>(unit_point(episodes, b));  // scored where the config really is
        for (std::size_t k = 0; k < S::dimension; ++k) imagined(b, k) = snapped[k];
      }
      ppo_update(episodes, advantages(reward_model_.predict(imagined)));
      ++last_round_updates_;
      ++model_updates_;
      last_kl_ = ppo_lstm::detail::mean_kl(before, policy_, episodes, head_);
      if (last_kl_ > ppo_.kl_threshold) break;
    }
    ++model_rounds_;
  }

  // PPO epochs on B episodes (B x T draws) with one advantage per episode.
  void ppo_update(const rl::Matrix& episodes, const rl::Vector& episode_advantages) {
    const rl::Vector step_advantages = ppo_lstm::detail::step_advantages(episode_advantages, S::dimension);
    const rl::ActorLossOptions loss_options{.clip = ppo_.clip, .entropy_coefficient = ppo_.entropy_coefficient};
    rl::Matrix old_log_probabilities;  // pi_old: the policy as the update starts (set at the first epoch)
    const auto no_undo = [] {};
    ppo::detail::run_epochs(ppo_.ppo_epochs, 0.0, [&](std::size_t) {  // no KL stop: the paper's fixed epochs
      const double kl = ppo_lstm::detail::loss_gradient(policy_, head_, episodes, old_log_probabilities,
                                                        step_advantages, loss_options)
                            .approx_kl;
      const rl::ParameterList parameters = policy_.parameters();
      rl::clip_gradient_norm(parameters, ppo_.max_gradient_norm);
      optimizer_.step(parameters);
      policy_.clamp_log_std();
      return kl;
    }, no_undo);
  }
};

// PpoLstm of a topology or anything else that is not a Space: one readable error (NotASpace).
template <typename S>
  requires(!SearchSpace<S>)
class PpoLstm<S> : public NotASpace<S> {
 public:
  using NotASpace<S>::NotASpace;
};

}  // namespace mahpo::search
