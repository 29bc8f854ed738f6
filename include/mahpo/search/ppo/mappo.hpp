#pragma once
// MAPPO: multi-agent PPO hyperparameter search, one agent per group of hyperparameters (a layer of
// a CNN topology), all sharing one reward (the MAPPO-HPO paper, Ma & Joe: centralized training,
// decentralized execution; PPO with the defaults of Yu et al., 2022, "The Surprising Effectiveness
// of PPO in Cooperative Multi-Agent Games", and their onpolicy reference code).
//
// Agents. `Mappo<T>` takes a LeNet<...> topology (mahpo/nn/lenet.hpp) or any Space. The agents
// come from the space's parameter names at compile time: every free parameter named
// "<group>.<name>" belongs to the agent of <group> (a space built as
// `Concat<Prefixed<"a", ...>, Prefixed<"b", ...>>`, a topology's layers), a name without a dot is
// an agent of its own (a flat space: one agent per parameter). Agents are ordered by their first
// parameter; `agent_count`, `agent_dimensions` and `agent_names` say what they are. Adding a layer
// with a free hyperparameter to a topology adds an agent, with no other change.
//
// Actions (MappoOptions::actions):
// - `gaussian` (the default): each free dimension is a Gaussian action with a tanh-squashed mean,
//   as seed 001's agent (rl::GaussianHead); the sample, clipped to [-1, 1], is the dimension's
//   unit-cube coordinate (u = (a + 1) / 2), so neighbouring levels are neighbouring actions, a
//   wide integer keeps every value and a real its full range. log_std is a free row per agent
//   (initial `initial_std`, floored at `min_std`). Categoricals too are read from their unit
//   cells in their declared order.
// - `grid` (the paper's): each dimension cut into a finite action set by Discretization<space>
//   with resolution `bins`, one categorical distribution per dimension (rl::CategoricalHead).
// An episode is one ask(): the agents act in order, each from its own actor (Mlp, ReLU, orthogonal
// init, output gain 0.01). Agent i observes the actions of agent i - 1 (one-hots for grid actions,
// the clipped values for Gaussian ones; agent 0 sees a start token) and a one-hot agent id.
//
// Centralized critic. The paper's critic sees the joint action. Used as agent i's baseline,
// V(joint action) would include agent i's own action: the advantage R - V(a_1..a_N) is then no
// longer an unbiased policy gradient weight. So the critic sees the joint action as it stands when
// agent i acts: the episode is N steps, the state at step i is agents 0..i-1's actions (one Mlp
// over the whole joint-action layout, later agents' blocks zero) plus agent i's id, the reward
// comes at the last step, and GAE runs over the N steps with gamma 1 and lambda 0.95.
//
// Training: every `episodes_per_update` told episodes a PPO update runs (clipped surrogate, clipped
// Huber value loss on normalized targets, Adam, gradient norms clipped at 10, advantages normalized
// over the batch). An agent's ratio is that of its joint action, the product over its dimensions,
// clipped once (`rl::Ratio::joint`, PPO as published; the MAPPO reference clips each dimension's,
// `per_dimension`, which the held-out evaluation found no better: docs/mappo.md). The epochs stop
// once the exact KL divergence of the policy from the update's start passes 1.5 x `target_kl`, and
// the epoch that passed it is taken back, so no update leaves the policy past that bound. A flat
// batch, whose advantages' deviation is below `advantage_floor`, moves no actor (the critic still
// learns): normalized, its leftover critic errors would become full-size steps along noise.
//
// Model-based MAPPO (`reward_model`, default on; seed 001's reward model brought to the agents): a
// Gaussian process (mahpo's GP-BO regressor: Matern-5/2, ARD, fitted by marginal likelihood) models
// the normal scores of the ranks of every told value, failed trials ranked below all. After each
// real update a round of imagined updates runs: `imagined_episodes` episodes of the current policy,
// each rewarded with Phi(mean + `model_optimism` x sd) of the model at its config (an optimistic
// quantile, on the scale of the ranked real rewards), one PPO update of `model_ppo_epochs` epochs
// on them; the round ends after `max_model_updates`, or when the policy's KL divergence from the
// policy of the last real update (measured on episodes of that policy) passes `model_kl`, the
// update that passed it being taken back (seed 001's rule). The first `startup_episodes` episodes
// are draws from the space's prior instead of the untrained, centred policy: they cost the policy
// nothing on centred problems and keep a search whose optimum lies off the centre, or behind a
// learning-rate cliff, from spending its first trials where every run diverges; the model learns
// from them at once. `recommended_config()` hands over, of the best tenth of the observed configs,
// the one the model rates highest.
//
// Several objectives (SearchOptions::goals): each episode draws weights on the simplex at its ask,
// and its value is minus ParEGO's augmented Chebyshev scalarization of its losses with them, scaled
// by the bounds observed when it is told (search/scalarization.hpp): the agents, sharing that
// reward, are pulled toward a different part of the front each episode.
//
// What the default changes against the paper's algorithm (`MappoOptions::paper()`), and why
// (the ablation, one change undone at a time, on held-out seeds and off-centre problems:
// bench/mappo_ablation, docs/mappo.md; the earlier changes' first ablation: docs/mappo_ablation.md):
// - Rewards by rank (`MappoRewards::ranked`): an episode's reward is the quantile of its value
//   among every usable value told so far, recomputed at each update; a failed or diverged trial
//   gets `failed_quantile`. Real CNN searches end ~18 % of trials at chance: scaled by value
//   (z-scored), those outliers make the differences between good configs invisible; ranks keep
//   them apart and make the scale of the objective irrelevant (Branin's and an accuracy's alike).
// - Sample reuse (`replay`): each update trains on the newest `replay` told episodes, not only
//   the K new ones, so 200 episodes teach more than 25 disjoint batches of 8. The PPO ratio is
//   taken against the policy at the start of the update (one update moves the policy by at most
//   the clip), and each old episode's advantage is weighted by the truncated importance ratio
//   min(1, pi_now(a) / pi_behaviour(a)) per agent, so episodes the policy has moved away from fade
//   out (the sample-reuse form of PPO in Queeney et al., 2021, "Generalized Proximal Policy
//   Optimization with Sample Reuse", with Retrace-style truncation, Munos et al., 2016).
// - A schedule for ~200 episodes: an update every 4 episodes, 15 epochs (the reference's MPE
//   setting) under the KL stop above; Adam 3e-3, no entropy bonus (the learned std does the
//   exploring), 32x32 networks (as good as 64x64 here, at half the cost or less).
// - Ordinal Gaussian actions instead of an 8-level grid (whose best config on the LeNet quadratic
//   is 0.9858, below what TPE finds).
// - Joint ratios, the flat-batch rule, the reward model, its optimism and the prior startup
//   episodes (above).
//
// Choices the references leave open:
// - Concurrency: ask() never waits; episodes may be pending in any number. An episode asked under
//   an older policy keeps the log-probabilities it was sampled with.
// - The critic's values are computed at the start of each update with the current critic; those
//   are the "old" values of the clipped value loss.
// - Normalized rewards (the paper preset): failed and diverged trials get the worst reward of any
//   usable trial told so far (0 when there is none yet); each batch's rewards update an exact
//   running mean and variance and are replaced by (r - mean) / std before GAE.
// - Everything runs on one std::mt19937_64 seeded with SearchOptions::seed (weights first, then
//   the episodes' samples), so a seed and a sequence of asks and tells give the same trials.

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/hana/unpack.hpp>

#include <mahpo/nn/topology.hpp>
#include <mahpo/objective.hpp>
#include <mahpo/rl/actor_loss.hpp>
#include <mahpo/rl/adam.hpp>
#include <mahpo/rl/advantages.hpp>
#include <mahpo/rl/categorical_head.hpp>
#include <mahpo/rl/gaussian_head.hpp>
#include <mahpo/rl/gradient_clipping.hpp>
#include <mahpo/rl/mlp.hpp>
#include <mahpo/rl/ppo.hpp>
#include <mahpo/rl/running_mean_std.hpp>
#include <mahpo/rl/tensor.hpp>
#include <mahpo/rl/value_normalizer.hpp>
#include <mahpo/search/history.hpp>
#include <mahpo/search/gp/regressor.hpp>
#include <mahpo/search/ppo/episodes.hpp>
#include <mahpo/search/scalarization.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/search/unit_cube.hpp>
#include <mahpo/space/discretization.hpp>

namespace mahpo::rl {
NLOHMANN_JSON_SERIALIZE_ENUM(Ratio, {{Ratio::per_dimension, "per_dimension"}, {Ratio::joint, "joint"}})
}  // namespace mahpo::rl

namespace mahpo::search {

enum class MappoActions { gaussian, grid };
enum class MappoRewards { ranked, normalized, raw };
NLOHMANN_JSON_SERIALIZE_ENUM(MappoActions, {{MappoActions::gaussian, "gaussian"}, {MappoActions::grid, "grid"}})
NLOHMANN_JSON_SERIALIZE_ENUM(MappoRewards, {{MappoRewards::ranked, "ranked"},
                                            {MappoRewards::normalized, "normalized"},
                                            {MappoRewards::raw, "raw"}})

struct MappoOptions {
  MappoActions actions = MappoActions::gaussian;
  std::size_t bins = 8;                 // grid actions: the most levels of a wide integer or a real
  double initial_std = 0.3;             // Gaussian actions: std of every dimension at the start, on [-1, 1]
  double min_std = 0.02;                // Gaussian actions: floor of the std
  std::size_t episodes_per_update = 4;  // K: told episodes between PPO updates
  std::size_t replay = 32;              // the newest told episodes each update trains on; 0: the K new ones only
  std::size_t ppo_epochs = 15;          // passes over each batch
  double target_kl = 0.05;              // an update ends (its last epoch taken back) past 1.5 x this KL; 0: never
  double clip = 0.2;                    // PPO's epsilon, for the surrogate and the value clipping
  double actor_learning_rate = 3e-3;    // Adam, each actor (and its log_std)
  double critic_learning_rate = 3e-3;   // Adam, the critic
  double entropy_coefficient = 0.0;     // the entropy bonus
  double max_gradient_norm = 10.0;      // global norm clipping, each actor and the critic
  bool value_normalization = true;      // ValueNormalizer on the critic's targets
  MappoRewards rewards = MappoRewards::ranked;
  double failed_quantile = 0.0;                   // ranked rewards: the reward of a failed or diverged trial
  bool advantage_normalization = true;            // advantages centred and scaled over the batch
  bool value_clipping = true;                     // the clipped value loss
  double huber_delta = 10.0;                      // Huber value loss
  double gae_lambda = 0.95;                       // GAE over the agents' steps (gamma is 1)
  std::vector<std::size_t> hidden_sizes{32, 32};  // of every actor and of the critic
  rl::MlpActivation activation = rl::MlpActivation::relu;
  rl::Ratio ratio = rl::Ratio::joint;              // an agent's PPO ratio: of its joint action, or per dimension
  double advantage_floor = 0.05;  // a batch whose advantages' deviation is below this is flat: the actors skip it

  std::size_t startup_episodes = 8;      // the first episodes drawn from the space's prior, not the policy

  // The reward model (model-based MAPPO; see the header comment).
  bool reward_model = true;              // imagined updates between real ones
  std::size_t model_min_trials = 12;     // told trials before the model is used
  std::size_t imagined_episodes = 32;    // per imagined update
  std::size_t max_model_updates = 8;     // imagined updates per round at most
  double model_kl = 0.2;                 // stop a round where the policy's KL from the last real update passes this
  double model_optimism = 1.0;           // imagined reward: Phi(mean + model_optimism * sd) of the normal scores
  std::size_t model_ppo_epochs = 5;      // epochs of an imagined update

  // The plain algorithm of the MAPPO-HPO paper with the MAPPO reference's PPO settings: an 8-level
  // action grid, a PPO update on every 8 new episodes (10 epochs, no reuse), z-scored rewards.
  static MappoOptions paper() {
    return MappoOptions{.actions = MappoActions::grid,
                        .bins = 8,
                        .episodes_per_update = 8,
                        .replay = 0,
                        .ppo_epochs = 10,
                        .target_kl = 0.0,
                        .actor_learning_rate = 5e-4,
                        .critic_learning_rate = 5e-4,
                        .entropy_coefficient = 0.01,
                        .rewards = MappoRewards::normalized,
                        .hidden_sizes = {64, 64},
                        .ratio = rl::Ratio::per_dimension,
                        .advantage_floor = 0.0,
                        .startup_episodes = 0,
                        .reward_model = false};
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MappoOptions, actions, bins, initial_std, min_std, episodes_per_update,
                                                replay, ppo_epochs, target_kl, clip, actor_learning_rate,
                                                critic_learning_rate, entropy_coefficient, max_gradient_norm,
                                                value_normalization, rewards, failed_quantile, advantage_normalization,
                                                value_clipping, huber_delta, gae_lambda, hidden_sizes, activation, ratio,
                                                advantage_floor, startup_episodes, reward_model, model_min_trials, imagined_episodes,
                                                max_model_updates, model_kl, model_optimism, model_ppo_epochs)

// What the last PPO update did (for logs and benchmarks).
struct MappoUpdateStats {
  std::size_t episodes = 0;    // in the batch
  std::size_t epochs = 0;      // run (fewer than ppo_epochs when the KL stop ends it)
  double mean_reward = 0.0;    // of the batch, before ranking or normalization
  double policy_loss = 0.0;    // clipped surrogate, mean over agents, last epoch
  double value_loss = 0.0;     // last epoch
  double entropy = 0.0;        // mean over agents and dimensions, last epoch
  double approx_kl = 0.0;      // mean over agents of the exact KL of the kept policy from the update's start
  double clip_fraction = 0.0;  // mean over agents, last epoch
  double seconds = 0.0;        // wall time of the update
  bool imagined = false;       // on episodes the reward model scored
  bool flat = false;           // the advantages' deviation was below advantage_floor: no actor stepped
};

namespace mappo::detail {

// The group of a parameter name: what comes before its first dot, or the whole name.
constexpr std::string_view group(std::string_view name) {
  const std::size_t dot = name.find('.');
  return dot == std::string_view::npos ? name : name.substr(0, dot);
}

// The agents of a space, from its parameter names: one per group of free parameters.
template <typename S>
struct Agents {
  static constexpr std::size_t dimension = S::dimension;

  // Free parameter names in unit-cube order.
  static constexpr std::array<std::string_view, dimension> free_names = [] {
    constexpr std::array<bool, S::size> fixed = hana::unpack(S::parameters, [](auto... parameter) {
      return std::array<bool, S::size>{decltype(parameter)::type::is_fixed...};
    });
    std::array<std::string_view, dimension> names{};
    std::size_t k = 0;
    for (std::size_t i = 0; i < S::size; ++i)
      if (!fixed[i]) names[k++] = S::names[i];
    return names;
  }();

  static constexpr std::size_t count = [] {
    std::size_t groups = 0;
    for (std::size_t k = 0; k < dimension; ++k) {
      bool seen = false;
      for (std::size_t j = 0; j < k; ++j) seen = seen || group(free_names[j]) == group(free_names[k]);
      groups += seen ? 0 : 1;
    }
    return groups;
  }();

  static constexpr std::array<std::string_view, count> names = [] {
    std::array<std::string_view, count> result{};
    std::size_t a = 0;
    for (std::size_t k = 0; k < dimension; ++k) {
      bool seen = false;
      for (std::size_t j = 0; j < a; ++j) seen = seen || result[j] == group(free_names[k]);
      if (!seen) result[a++] = group(free_names[k]);
    }
    return result;
  }();

  static constexpr std::array<std::size_t, count> dimensions = [] {
    std::array<std::size_t, count> result{};
    for (std::size_t a = 0; a < count; ++a)
      for (std::size_t k = 0; k < dimension; ++k) result[a] += group(free_names[k]) == names[a] ? 1 : 0;
    return result;
  }();

  // Where agent a's dimensions start in the flat, agent-ordered list of all dimensions.
  static constexpr std::array<std::size_t, count + 1> offsets = [] {
    std::array<std::size_t, count + 1> result{};
    for (std::size_t a = 0; a < count; ++a) result[a + 1] = result[a] + dimensions[a];
    return result;
  }();

  // For the k-th dimension in agent order, its unit-cube coordinate in the space.
  static constexpr std::array<std::size_t, dimension> positions = [] {
    std::array<std::size_t, dimension> result{};
    std::size_t k = 0;
    for (std::size_t a = 0; a < count; ++a)
      for (std::size_t position = 0; position < dimension; ++position)
        if (group(free_names[position]) == names[a]) result[k++] = position;
    return result;
  }();
};

}  // namespace mappo::detail

template <typename T>
class Mappo {
 public:
  using space_type = nn::space_of_t<T>;  // a topology's space, or T itself

 private:
  static_assert(
      SearchSpace<space_type>,
      "mahpo::Mappo: the argument must be a mahpo::Space<...> or a topology with a `space` (mahpo::nn::LeNet<...>)");
  static_assert(space_type::dimension >= 1, "mahpo::Mappo: the space has no free hyperparameter, so there is no agent");
  using agents = mappo::detail::Agents<space_type>;

 public:
  static constexpr std::string_view name = "mappo";
  static constexpr bool multi_objective = true;  // several goals: a random Chebyshev scalarization per episode

  static constexpr std::size_t agent_count = agents::count;
  static constexpr std::array<std::size_t, agent_count> agent_dimensions = agents::dimensions;
  static constexpr std::array<std::string_view, agent_count> agent_names = agents::names;

  explicit Mappo(SearchOptions options = {}, MappoOptions mappo = {})
      : options_(options),
        mappo_(validated(std::move(mappo))),
        history_(goals_of(options)),
        rng_(options.seed),
        discretization_(space_type::discretize(mappo_.bins)) {
    const auto counts = discretization_.counts();
    std::size_t joint = 0;
    for (std::size_t a = 0; a < agent_count; ++a) {
      std::vector<std::size_t> sizes;
      for (std::size_t k = agents::offsets[a]; k < agents::offsets[a + 1]; ++k)
        sizes.push_back(counts[agents::positions[k]]);
      grid_heads_.emplace_back(sizes);
      gaussian_heads_.emplace_back(agent_dimensions[a]);
      log_stds_.emplace_back(
          xt::full_like(xt::zeros<double>({std::size_t{1}, agent_dimensions[a]}), std::log(mappo_.initial_std)));
      joint_offsets_.push_back(joint);
      joint += action_width(a);
    }
    critic_input_size_ = joint + agent_count;
    for (std::size_t a = 0; a < agent_count; ++a) {
      actors_.emplace_back(network_options(observation_size(a), action_width(a), 0.01), rng_);
      actor_optimizers_.emplace_back(rl::AdamOptions{.learning_rate = mappo_.actor_learning_rate});
    }
    critic_ = rl::Mlp(network_options(critic_input_size_, 1, 1.0), rng_);
    critic_optimizer_ = rl::Adam(rl::AdamOptions{.learning_rate = mappo_.critic_learning_rate});
  }

  // Runs one episode: every agent acts in order, sampling from its policy.
  Trial<space_type> ask() {
    if (history_.goals().size() > 1) scalarizations_.push_back(simplex_weights(history_.goals().size(), rng_));
    if (history_.asked() < mappo_.startup_episodes) {  // a prior draw, as the actions that give it
      const Config<space_type> config = space_type::sample(rng_);
      episodes_.push_back(episode_of(config));
      return history_.add(config, options_.budget);
    }
    episodes_.push_back(sample_episode());
    return history_.add(config_of(episodes_.back().actions), options_.budget);
  }

  // Stores the shared reward; runs a PPO update when K new told episodes wait, then, with the reward
  // model, a round of imagined updates.
  void tell(std::size_t id, const Result& result) {
    const auto& entry = history_.tell(id, result, name);
    // The value when maximizing, -value when minimizing; several objectives: minus the episode's
    // scalarization of its losses (search/scalarization.hpp), scaled by the bounds observed so far.
    const double reward = history_.goals().size() == 1 || !entry.usable()
                              ? -entry.loss
                              : -augmented_chebyshev(entry.losses, entry.violation, scalarizations_[id],
                                                     loss_bounds(history_));
    rewards_.tell(id, entry.usable() && std::isfinite(reward), reward);
    waiting_.push_back(id);
    if (waiting_.size() < mappo_.episodes_per_update) return;
    std::vector<std::size_t> batch;
    if (mappo_.replay == 0) {  // on-policy: the first K waiting, in id order
      batch = ppo::detail::take_batch(waiting_, mappo_.episodes_per_update);
    } else {  // the newest `replay` told episodes
      waiting_.clear();
      const auto& told = rewards_.told();
      const std::size_t size = std::max(mappo_.replay, mappo_.episodes_per_update);
      batch.assign(told.end() - static_cast<std::ptrdiff_t>(std::min(size, told.size())), told.end());
    }
    real_update(batch);
    if (mappo_.reward_model) imagined_round();
  }

  // The pending trial `id` was run with `config` (see Searcher::replace): its episode becomes the
  // actions that give `config` (the nearest grid levels; Gaussian actions inside [-1, 1]), with their
  // log-probabilities under the current actors, each seeing its predecessor's new actions.
  void replace(std::size_t id, const Config<space_type>& config) {
    history_.replace(id, config, name);
    episodes_[id] = episode_of(config);
  }

  const SearchOptions& options() const { return options_; }
  nlohmann::json options_json() const { return mappo_; }
  const MappoOptions& mappo_options() const { return mappo_; }
  const History<space_type>& history() const { return history_; }
  const Discretization<space_type>& discretization() const { return discretization_; }

  // Grid actions: the actions of each dimension of agent a, in its group's order.
  const std::vector<std::size_t>& action_counts(std::size_t agent) const { return grid_heads_.at(agent).sizes(); }
  // Agent a's actor input: the previous agent's actions (a start token for agent 0) and its id.
  std::size_t observation_size(std::size_t agent) const {
    return (agent == 0 ? 1 : action_width(agent - 1)) + agent_count;
  }
  // The critic's input: every agent's actions side by side, then the acting agent's id.
  std::size_t critic_input_size() const { return critic_input_size_; }
  // Gaussian actions: agent a's current std per dimension, on [-1, 1].
  std::vector<double> action_std(std::size_t agent) const {
    std::vector<double> stds;
    for (double log_std : log_stds_.at(agent).value) stds.push_back(std::exp(log_std));
    return stds;
  }

  std::size_t updates() const { return updates_; }                  // on real episodes
  const MappoUpdateStats& last_update() const { return last_update_; }  // the last on real episodes
  double update_seconds() const { return update_seconds_; }  // all updates so far, imagined ones and the model's fits

  // Imagined updates so far, and rounds of them (a round follows a real update once the model is used).
  std::size_t model_updates() const { return model_updates_; }
  std::size_t model_rounds() const { return model_rounds_; }

  // One episode: every agent's actions and their log-probabilities when they were drawn.
  struct Episode {
    std::vector<double> actions;            // one per free dimension, agents in order (an index for grid actions)
    std::vector<double> log_probabilities;  // of each action when it was sampled
  };

  // The agents' weights and stds: what an update changes.
  struct Policy {
    std::vector<rl::Mlp> actors;
    std::vector<rl::Parameter> log_stds;
  };
  Policy policy() const { return {actors_, log_stds_}; }

  // The last round of imagined updates: the policy it started from (the last one checked against
  // real rewards), the episodes of that policy its KL rule is measured on, the KL at its end and the
  // updates it kept.
  struct ModelRound {
    Policy checked;
    std::vector<Episode> probe;
    double kl = 0.0;
    std::size_t updates = 0;
  };
  const ModelRound& last_model_round() const { return last_round_; }

  // The mean over agents of KL(from || to) of each agent's action distribution, averaged over the
  // observations of `episodes` (exact for Gaussian and grid actions).
  double policy_kl(const Policy& from, const Policy& to, std::span<const Episode> episodes) const {
    std::vector<const Episode*> batch;
    for (const Episode& episode : episodes) batch.push_back(&episode);
    return policy_kl(from, to, batch);
  }

  // The mean over agents of KL(from || now) of each agent's action distribution, averaged over the
  // observations of the told episodes `ids` (exact for Gaussian and grid actions).
  double policy_kl(const Policy& from, std::span<const std::size_t> ids) const {
    std::vector<const Episode*> batch;
    for (std::size_t id : ids) batch.push_back(&episodes_.at(id));
    return policy_kl(from, policy(), batch);
  }

  // The config the search hands over: with the reward model, of the best tenth of the told configs
  // by observed value (at least one), the one whose predicted reward (the model's mean, no optimism)
  // is highest: the model averages out noise, the observed values keep it off a cliff it smooths
  // over; before the model is used, or without it, the best observed one. Throws when nothing
  // usable was told.
  Config<space_type> recommended_config() {
    const auto* best = history_.best();
    if (best == nullptr) throw std::logic_error("mahpo::mappo: recommended_config() before any usable trial was told");
    if (!mappo_.reward_model || !fit_model()) return best->config;
    const auto candidates = best_observed(history_);
    std::vector<double> points, means(candidates.size()), variances(candidates.size());
    for (const auto* entry : candidates) points.insert(points.end(), entry->point.begin(), entry->point.end());
    model_.predict(points, means, variances);
    return candidates[static_cast<std::size_t>(std::max_element(means.begin(), means.end()) - means.begin())]->config;
  }

  // The config of the agents' most likely actions, each seeing its predecessor's.
  Config<space_type> greedy_config() const {
    std::vector<double> actions(agents::dimension);
    for (std::size_t a = 0; a < agent_count; ++a) {
      const rl::Matrix output = actors_[a].predict(observation(a, actions));
      const rl::Matrix mode =
          gaussian() ? gaussian_heads_[a].mode(output) : rl::Matrix(xt::cast<double>(grid_heads_[a].mode(output)));
      for (std::size_t d = 0; d < agent_dimensions[a]; ++d) actions[agents::offsets[a] + d] = mode(0, d);
    }
    return config_of(actions);
  }

 private:

  // One agent's rows of a batch.
  struct AgentBatch {
    rl::Matrix observations;
    rl::Matrix actions;
    rl::Matrix old_log_probabilities;
    rl::Vector advantages;
  };

  SearchOptions options_;
  MappoOptions mappo_;
  History<space_type> history_;
  std::vector<std::vector<double>> scalarizations_;  // several objectives: each episode's weights, by id
  std::mt19937_64 rng_;
  Discretization<space_type> discretization_;
  std::vector<rl::CategoricalHead> grid_heads_;
  std::vector<rl::GaussianHead> gaussian_heads_;
  std::vector<rl::Parameter> log_stds_;     // Gaussian actions: each agent's 1 x dimensions row
  std::vector<std::size_t> joint_offsets_;  // agent a's actions in the critic's input
  std::size_t critic_input_size_ = 0;
  std::vector<rl::Mlp> actors_;
  std::vector<rl::Adam> actor_optimizers_;
  rl::Mlp critic_;
  rl::Adam critic_optimizer_;
  rl::ValueNormalizer value_normalizer_;
  rl::RunningMeanStd reward_statistics_;
  ppo::detail::EpisodeRewards rewards_;
  std::vector<Episode> episodes_;     // by trial id
  std::vector<std::size_t> waiting_;  // told since the last update
  std::size_t updates_ = 0;
  MappoUpdateStats last_update_;
  double update_seconds_ = 0.0;
  gp::detail::Regressor model_{agents::dimension, 1e-6};  // the reward model: a GP on the rewards' normal scores
  std::size_t model_fitted_on_ = 0;                       // told trials at its last fit
  double model_shift_ = 0.0, model_scale_ = 1.0;          // normal scores = shift + scale * the GP's standardized y
  std::size_t model_updates_ = 0, model_rounds_ = 0;
  ModelRound last_round_;

  bool gaussian() const { return mappo_.actions == MappoActions::gaussian; }

  static MappoOptions validated(MappoOptions m) {
    const auto require = [](bool ok, std::string message) {
      if (!ok) throw std::invalid_argument("mahpo::mappo: " + message);
    };
    const auto positive = [](double x) { return x > 0.0 && std::isfinite(x); };
    require(m.bins >= 2, fmt::format("bins {} must be at least 2", m.bins));
    require(positive(m.initial_std), fmt::format("initial_std {} must be > 0", m.initial_std));
    require(positive(m.min_std) && m.min_std <= m.initial_std,
            fmt::format("min_std {} must be > 0 and at most initial_std {}", m.min_std, m.initial_std));
    require(m.episodes_per_update >= 1, "episodes_per_update must be at least 1");
    require(m.ppo_epochs >= 1, "ppo_epochs must be at least 1");
    require(m.target_kl >= 0.0 && std::isfinite(m.target_kl), fmt::format("target_kl {} must be >= 0", m.target_kl));
    require(positive(m.clip), fmt::format("clip {} must be > 0", m.clip));
    require(positive(m.actor_learning_rate), fmt::format("actor_learning_rate {} must be > 0", m.actor_learning_rate));
    require(positive(m.critic_learning_rate),
            fmt::format("critic_learning_rate {} must be > 0", m.critic_learning_rate));
    require(m.entropy_coefficient >= 0.0 && std::isfinite(m.entropy_coefficient),
            fmt::format("entropy_coefficient {} must be >= 0", m.entropy_coefficient));
    require(m.max_gradient_norm > 0.0, fmt::format("max_gradient_norm {} must be > 0", m.max_gradient_norm));
    require(m.failed_quantile >= 0.0 && m.failed_quantile <= 1.0,
            fmt::format("failed_quantile {} must be in [0, 1]", m.failed_quantile));
    require(m.huber_delta > 0.0, fmt::format("huber_delta {} must be > 0", m.huber_delta));
    require(m.gae_lambda >= 0.0 && m.gae_lambda <= 1.0, fmt::format("gae_lambda {} must be in [0, 1]", m.gae_lambda));
    require(m.advantage_floor >= 0.0 && std::isfinite(m.advantage_floor),
            fmt::format("advantage_floor {} must be >= 0", m.advantage_floor));
    require(m.ratio == rl::Ratio::per_dimension || m.ratio == rl::Ratio::joint, "ratio must be per_dimension or joint");
    if (m.reward_model) {
      require(m.model_min_trials >= 2, fmt::format("model_min_trials {} must be at least 2", m.model_min_trials));
      require(m.imagined_episodes >= 2,
              fmt::format("imagined_episodes {} must be at least 2 (advantages are relative to the batch)",
                          m.imagined_episodes));
      require(m.max_model_updates >= 1, "max_model_updates must be at least 1 (or set reward_model = false)");
      require(positive(m.model_kl), fmt::format("model_kl {} must be > 0", m.model_kl));
      require(m.model_optimism >= 0.0 && std::isfinite(m.model_optimism),
              fmt::format("model_optimism {} must be >= 0", m.model_optimism));
      require(m.model_ppo_epochs >= 1, "model_ppo_epochs must be at least 1");
    }
    require(!m.hidden_sizes.empty(), "hidden_sizes needs at least one hidden layer");
    for (std::size_t size : m.hidden_sizes) require(size >= 1, "every hidden size must be at least 1");
    return m;
  }

  rl::MlpOptions network_options(std::size_t inputs, std::size_t outputs, double output_gain) const {
    std::vector<std::size_t> sizes{inputs};
    sizes.insert(sizes.end(), mappo_.hidden_sizes.begin(), mappo_.hidden_sizes.end());
    sizes.push_back(outputs);
    return {.sizes = std::move(sizes), .activation = mappo_.activation, .output_gain = output_gain};
  }

  // How many numbers agent a's actions take: its actor's outputs (means or logits), and its block
  // in an observation or the critic's state (values or one-hots).
  std::size_t action_width(std::size_t agent) const {
    return gaussian() ? agent_dimensions[agent] : grid_heads_[agent].logit_count();
  }

  // A Gaussian action's unit-cube coordinate.
  static double unit_coordinate(double action) { return 0.5 * (std::clamp(action, -1.0, 1.0) + 1.0); }

  Config<space_type> config_of(const std::vector<double>& actions) const {
    if (gaussian()) {
      std::array<double, agents::dimension> point{};
      for (std::size_t k = 0; k < agents::dimension; ++k) point[agents::positions[k]] = unit_coordinate(actions[k]);
      return space_type::from_unit_cube(std::span<const double>(point));
    }
    std::array<std::size_t, agents::dimension> indices{};
    for (std::size_t k = 0; k < agents::dimension; ++k)
      indices[agents::positions[k]] = static_cast<std::size_t>(actions[k]);
    return discretization_.at(std::span<const std::size_t>(indices));
  }

  // Writes agent a's actions (from the agent-ordered `actions`) at cell(at), cell(at + 1), ...:
  // one-hots for grid actions, the clipped values for Gaussian ones.
  template <typename Cell>
  void write_actions(std::size_t agent, const std::vector<double>& actions, Cell&& cell, std::size_t at) const {
    for (std::size_t d = 0; d < agent_dimensions[agent]; ++d) {
      const double action = actions[agents::offsets[agent] + d];
      if (gaussian())
        cell(at + d) = std::clamp(action, -1.0, 1.0);
      else
        cell(at + grid_heads_[agent].offset(d) + static_cast<std::size_t>(action)) = 1.0;
    }
  }

  // Agent a's observation, a 1 x observation_size(a) row.
  rl::Matrix observation(std::size_t agent, const std::vector<double>& actions) const {
    rl::Matrix row = xt::zeros<double>({std::size_t{1}, observation_size(agent)});
    fill_observation(agent, actions, row, 0);
    return row;
  }

  void fill_observation(std::size_t agent, const std::vector<double>& actions, rl::Matrix& matrix,
                        std::size_t r) const {
    const auto cell = [&](std::size_t j) -> double& { return matrix(r, j); };
    std::size_t previous = 1;
    if (agent == 0) {
      cell(0) = 1.0;  // the start token
    } else {
      write_actions(agent - 1, actions, cell, 0);
      previous = action_width(agent - 1);
    }
    cell(previous + agent) = 1.0;
  }

  // The critic's state at agent a's step: agents 0..a-1's actions and a's id.
  void fill_state(std::size_t agent, const std::vector<double>& actions, rl::Matrix& matrix, std::size_t r) const {
    const auto cell = [&](std::size_t j) -> double& { return matrix(r, j); };
    for (std::size_t earlier = 0; earlier < agent; ++earlier)
      write_actions(earlier, actions, cell, joint_offsets_[earlier]);
    cell(critic_input_size_ - agent_count + agent) = 1.0;
  }

  rl::ParameterList actor_parameters(std::size_t agent) {
    rl::ParameterList parameters = actors_[agent].parameters();
    if (gaussian()) parameters.push_back(&log_stds_[agent]);
    return parameters;
  }

  // Each agent's log-probabilities of its actions in the batch under its current policy.
  rl::Matrix current_log_probabilities(std::size_t agent, const AgentBatch& data) const {
    const rl::Matrix output = actors_[agent].predict(data.observations);
    if (gaussian()) return gaussian_heads_[agent].log_probabilities(output, log_stds_[agent].value, data.actions);
    return grid_heads_[agent].log_probabilities(output, xt::cast<std::size_t>(data.actions));
  }

  // The batch's rewards as PPO sees them: ranked or normalized (see the header comment).
  rl::Vector shaped_rewards(const std::vector<std::size_t>& batch, MappoUpdateStats& stats) {
    const std::size_t episodes = batch.size();
    rl::Vector raw = rl::Vector::from_shape({episodes});
    for (std::size_t b = 0; b < episodes; ++b) raw(b) = rewards_.reward_or_worst(batch[b]);
    for (double r : raw) stats.mean_reward += r / static_cast<double>(episodes);
    switch (mappo_.rewards) {
      case MappoRewards::ranked: {
        rl::Vector ranked = rl::Vector::from_shape({episodes});
        for (std::size_t b = 0; b < episodes; ++b) ranked(b) = rewards_.quantile(batch[b], mappo_.failed_quantile);
        return ranked;
      }
      case MappoRewards::normalized:
        reward_statistics_.update(raw);
        return reward_statistics_.normalize(raw);
      case MappoRewards::raw:
        break;
    }
    return raw;
  }

  // GAE over each episode's agent steps; returns the advantages (row b * n + i: episode b,
  // agent i), not normalized, and leaves the critic's states, old values and targets in the arguments.
  rl::Vector critic_targets(const std::vector<const Episode*>& batch, const rl::Vector& rewards, rl::Matrix& states,
                            rl::Vector& old_values, rl::Vector& targets) {
    const std::size_t episodes = batch.size(), n = agent_count, steps = episodes * n;
    states = xt::zeros<double>({steps, critic_input_size_});
    for (std::size_t b = 0; b < episodes; ++b)
      for (std::size_t i = 0; i < n; ++i) fill_state(i, batch[b]->actions, states, b * n + i);
    old_values = rl::column(critic_.predict(states));
    const rl::Vector values = mappo_.value_normalization ? value_normalizer_.denormalize(old_values) : old_values;
    rl::Vector step_rewards = xt::zeros<double>({steps}), next_values = xt::zeros<double>({steps}),
               dones = xt::zeros<double>({steps});
    for (std::size_t b = 0; b < episodes; ++b)
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t t = b * n + i;
        if (i + 1 == n) {
          step_rewards(t) = rewards(b);  // the shared reward comes at the last agent's step
          dones(t) = 1.0;
        } else {
          next_values(t) = values(t + 1);
        }
      }
    // GAE over the agents' steps, gamma 1 (Schulman et al., 2016).
    const rl::AdvantagesAndReturns estimates =
        rl::gae(step_rewards, values, next_values, dones, 1.0, mappo_.gae_lambda);
    targets = estimates.returns;
    if (mappo_.value_normalization) {
      value_normalizer_.update(estimates.returns);
      targets = value_normalizer_.normalize(estimates.returns);
    }
    return estimates.advantages;
  }

  // Agent a's rows: observations, actions, the log-probabilities PPO's ratio is taken against
  // and the advantages (weighted by truncated importance ratios when episodes are reused).
  AgentBatch agent_batch(std::size_t agent, const std::vector<const Episode*>& batch, const rl::Vector& advantages,
                         bool reused) const {
    const std::size_t episodes = batch.size(), dims = agent_dimensions[agent];
    AgentBatch data;
    data.observations = xt::zeros<double>({episodes, observation_size(agent)});
    data.actions = rl::Matrix::from_shape({episodes, dims});
    rl::Matrix behaviour = rl::Matrix::from_shape({episodes, dims});
    data.advantages = rl::Vector::from_shape({episodes});
    for (std::size_t b = 0; b < episodes; ++b) {
      const Episode& episode = *batch[b];
      fill_observation(agent, episode.actions, data.observations, b);
      for (std::size_t d = 0; d < dims; ++d) {
        data.actions(b, d) = episode.actions[agents::offsets[agent] + d];
        behaviour(b, d) = episode.log_probabilities[agents::offsets[agent] + d];
      }
      data.advantages(b) = advantages(b * agent_count + agent);
    }
    if (!reused) {
      data.old_log_probabilities = std::move(behaviour);
      return data;
    }
    data.old_log_probabilities = current_log_probabilities(agent, data);
    for (std::size_t b = 0; b < episodes; ++b) {
      double log_ratio = 0.0;
      for (std::size_t d = 0; d < dims; ++d) log_ratio += data.old_log_probabilities(b, d) - behaviour(b, d);
      data.advantages(b) *= std::exp(std::min(log_ratio, 0.0));  // min(1, pi_now / pi_behaviour)
    }
    return data;
  }

  // One PPO step of agent a's actor on its batch; returns the loss it stepped on.
  rl::ActorLoss actor_step(std::size_t agent, const AgentBatch& data) {
    const rl::ActorLossOptions options{
        .clip = mappo_.clip, .entropy_coefficient = mappo_.entropy_coefficient, .ratio = mappo_.ratio};
    rl::Mlp& actor = actors_[agent];
    actor.zero_gradients();
    const rl::Matrix output = actor.forward(data.observations);
    rl::ActorLoss summary;
    // PPO clipped surrogate minus the entropy bonus (Schulman et al., 2017, eq. 9).
    if (gaussian()) {
      log_stds_[agent].gradient.fill(0.0);
      const rl::MeanSquashedActorLoss loss =
          rl::gaussian_actor_loss(gaussian_heads_[agent], output, log_stds_[agent].value, data.actions,
                                  data.old_log_probabilities, data.advantages, options);
      actor.backward(loss.output_gradient);
      log_stds_[agent].gradient += loss.log_std_gradient;
      summary = loss;
    } else {
      const rl::CategoricalActorLoss loss =
          rl::categorical_actor_loss(grid_heads_[agent], output, xt::cast<std::size_t>(data.actions),
                                     data.old_log_probabilities, data.advantages, options);
      actor.backward(loss.logits_gradient);
      summary = loss;
    }
    const rl::ParameterList parameters = actor_parameters(agent);
    rl::clip_gradient_norm(parameters, mappo_.max_gradient_norm);
    actor_optimizers_[agent].step(parameters);
    if (gaussian()) {
      const double floor = std::log(mappo_.min_std);
      for (double& log_std : log_stds_[agent].value) log_std = std::max(log_std, floor);
    }
    return summary;
  }

  // One step of the critic's clipped Huber value loss on normalized targets (Yu et al., 2022).
  double critic_step(const rl::Matrix& states, const rl::Vector& old_values, const rl::Vector& targets) {
    const rl::ValueLossOptions options{
        .clip = mappo_.clip, .clip_values = mappo_.value_clipping, .huber = true, .huber_delta = mappo_.huber_delta};
    critic_.zero_gradients();
    const rl::ValueLoss loss = rl::ppo_value_loss(rl::column(critic_.forward(states)), old_values, targets, options);
    critic_.backward(rl::as_column(loss.gradient));
    rl::clip_gradient_norm(critic_.parameters(), mappo_.max_gradient_norm);
    critic_optimizer_.step(critic_.parameters());
    return loss.loss;
  }

  void real_update(const std::vector<std::size_t>& ids) {
    MappoUpdateStats stats;
    const rl::Vector rewards = shaped_rewards(ids, stats);
    std::vector<const Episode*> batch;
    for (std::size_t id : ids) batch.push_back(&episodes_[id]);
    update(batch, rewards, mappo_.replay > 0, mappo_.ppo_epochs, stats);
  }

  // One PPO update on `batch` with its rewards as PPO sees them; `reused`: episodes may come from
  // older policies (their advantages weighted by truncated importance ratios).
  void update(const std::vector<const Episode*>& batch, const rl::Vector& rewards, bool reused, std::size_t epochs,
              MappoUpdateStats stats) {
    const auto start = std::chrono::steady_clock::now();
    stats.episodes = batch.size();
    rl::Matrix states;
    rl::Vector old_values, targets;
    rl::Vector advantages = critic_targets(batch, rewards, states, old_values, targets);
    // A flat batch (every episode about as good as the critic expected) teaches the actors nothing:
    // normalized, its leftover critic errors would become unit-size steps (and Adam keeps the steps'
    // size whatever the scale), so the actors skip it; the critic still learns from it.
    stats.flat = mappo_.advantage_floor > 0.0 && xt::stddev(advantages)() < mappo_.advantage_floor;
    if (mappo_.advantage_normalization) advantages = rl::normalize_advantages(advantages);
    std::vector<AgentBatch> agent_batches;
    for (std::size_t a = 0; a < agent_count; ++a) agent_batches.push_back(agent_batch(a, batch, advantages, reused));

    const Policy start_policy = policy();
    Policy previous;
    double previous_kl = 0.0;
    const double share = 1.0 / static_cast<double>(agent_count);
    const auto epoch = [&](std::size_t) {
      previous = policy();
      previous_kl = stats.approx_kl;
      stats.policy_loss = stats.entropy = stats.clip_fraction = 0.0;
      for (std::size_t a = 0; a < agent_count && !stats.flat; ++a) {
        const rl::ActorLoss loss = actor_step(a, agent_batches[a]);
        stats.policy_loss += share * loss.policy;
        stats.entropy += share * loss.entropy;
        stats.clip_fraction += share * loss.clip_fraction;
      }
      stats.value_loss = critic_step(states, old_values, targets);
      stats.approx_kl = policy_kl(start_policy, agent_batches);
      return stats.approx_kl;
    };
    const auto undo = [&] {  // the epoch that crossed the KL threshold: its step is taken back
      restore(previous);
      stats.approx_kl = previous_kl;
    };
    stats.epochs = ppo::detail::run_epochs(epochs, mappo_.target_kl, epoch, undo);
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    update_seconds_ += stats.seconds;
    if (stats.imagined) return;
    ++updates_;
    last_update_ = stats;
  }

  void restore(const Policy& saved) {
    for (std::size_t a = 0; a < agent_count; ++a) {
      actors_[a] = saved.actors[a];
      log_stds_[a].value = saved.log_stds[a].value;
    }
  }

  // Agent a's KL(from || to) per observation row, summed over its dimensions, averaged over rows.
  double agent_kl(std::size_t agent, const Policy& from, const Policy& to, const rl::Matrix& observations) const {
    const rl::Matrix before = from.actors[agent].predict(observations), after = to.actors[agent].predict(observations);
    const rl::Matrix kl = gaussian() ? gaussian_heads_[agent].kl_divergence(before, from.log_stds[agent].value, after,
                                                                            to.log_stds[agent].value)
                                     : grid_heads_[agent].kl_divergence(before, after);
    const double rows = static_cast<double>(observations.shape()[0]);
    return rows > 0.0 ? xt::sum(kl)() / rows : 0.0;
  }

  // The current policy's KL from `from` on the observations of a batch (the epoch loop's stop).
  double policy_kl(const Policy& from, const std::vector<AgentBatch>& agent_batches) const {
    const Policy now = policy();
    double total = 0.0;
    for (std::size_t a = 0; a < agent_count; ++a) total += agent_kl(a, from, now, agent_batches[a].observations);
    return total / static_cast<double>(agent_count);
  }

  double policy_kl(const Policy& from, const Policy& to, const std::vector<const Episode*>& batch) const {
    double total = 0.0;
    for (std::size_t a = 0; a < agent_count; ++a) {
      rl::Matrix observations = xt::zeros<double>({batch.size(), observation_size(a)});
      for (std::size_t b = 0; b < batch.size(); ++b) fill_observation(a, batch[b]->actions, observations, b);
      total += agent_kl(a, from, to, observations);
    }
    return total / static_cast<double>(agent_count);
  }

  // The actions that give `config` (the nearest grid levels; Gaussian actions inside [-1, 1]), with
  // their log-probabilities under the current actors, each agent seeing its predecessor's actions.
  Episode episode_of(const Config<space_type>& config) const {
    Episode episode;
    episode.actions.resize(agents::dimension);
    episode.log_probabilities.resize(agents::dimension);
    if (gaussian()) {
      const auto point = space_type::to_unit_cube(config);
      for (std::size_t k = 0; k < agents::dimension; ++k) episode.actions[k] = 2.0 * point[agents::positions[k]] - 1.0;
    } else {
      const auto indices = discretization_.nearest(config);
      for (std::size_t k = 0; k < agents::dimension; ++k)
        episode.actions[k] = static_cast<double>(indices[agents::positions[k]]);
    }
    for (std::size_t a = 0; a < agent_count; ++a) {
      const rl::Matrix output = actors_[a].predict(observation(a, episode.actions));
      rl::Matrix log_probabilities;
      if (gaussian()) {
        rl::Matrix actions = rl::Matrix::from_shape({1, agent_dimensions[a]});
        for (std::size_t d = 0; d < agent_dimensions[a]; ++d) actions(0, d) = episode.actions[agents::offsets[a] + d];
        log_probabilities = gaussian_heads_[a].log_probabilities(output, log_stds_[a].value, actions);
      } else {
        rl::Actions actions = rl::Actions::from_shape({1, agent_dimensions[a]});
        for (std::size_t d = 0; d < agent_dimensions[a]; ++d)
          actions(0, d) = static_cast<std::size_t>(episode.actions[agents::offsets[a] + d]);
        log_probabilities = grid_heads_[a].log_probabilities(output, actions);
      }
      for (std::size_t d = 0; d < agent_dimensions[a]; ++d)
        episode.log_probabilities[agents::offsets[a] + d] = log_probabilities(0, d);
    }
    return episode;
  }

  // An episode of the current policy: every agent acts in order.
  Episode sample_episode() {
    Episode episode;
    episode.actions.resize(agents::dimension);
    episode.log_probabilities.resize(agents::dimension);
    for (std::size_t a = 0; a < agent_count; ++a) {
      const rl::Matrix output = actors_[a].predict(observation(a, episode.actions));
      rl::Matrix actions, log_probabilities;
      if (gaussian()) {
        actions = gaussian_heads_[a].sample(output, log_stds_[a].value, rng_);
        log_probabilities = gaussian_heads_[a].log_probabilities(output, log_stds_[a].value, actions);
      } else {
        const rl::Actions indices = grid_heads_[a].sample(output, rng_);
        actions = xt::cast<double>(indices);
        log_probabilities = grid_heads_[a].log_probabilities(output, indices);
      }
      for (std::size_t d = 0; d < agent_dimensions[a]; ++d) {
        episode.actions[agents::offsets[a] + d] = actions(0, d);
        episode.log_probabilities[agents::offsets[a] + d] = log_probabilities(0, d);
      }
    }
    return episode;
  }

  // Fits the reward model to every told trial (usable or not: a failed one ranks below all), when
  // enough were told and something new came in; false while the model can't be used.
  bool fit_model() {
    const std::size_t told = rewards_.told().size();
    if (told < mappo_.model_min_trials) return false;
    if (told == model_fitted_on_) return true;
    std::vector<double> x, y;
    for (std::size_t id : rewards_.told()) {
      const auto& point = history_.entries()[id].point;
      x.insert(x.end(), point.begin(), point.end());
      y.push_back(rewards_.normal_score(id));
    }
    // The GP models y standardized (zero mean, unit sd); model_shift_ and model_scale_ map back.
    model_shift_ = xt::mean(xt::adapt(y))();
    model_scale_ = xt::stddev(xt::adapt(y))();
    if (!(model_scale_ > 1e-12)) model_scale_ = 1.0;
    for (double& v : y) v = (v - model_shift_) / model_scale_;
    gp::detail::fit_on_schedule(model_, x, y, rng_, 2, 30);
    if (!model_.condition(x, y)) return false;
    model_fitted_on_ = told;
    return true;
  }

  // Model-based updates (seed 001's rule brought to the agents): episodes of the current policy
  // scored by the reward model's optimistic prediction, one PPO update on each batch, until the
  // policy's KL from the policy of the last real update passes `model_kl` (the update that passes
  // it is taken back) or `max_model_updates` were made.
  void imagined_round() {
    const auto start = std::chrono::steady_clock::now();
    const bool fitted = fit_model();
    update_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!fitted) return;
    ModelRound round{.checked = policy(), .probe = {}, .kl = 0.0, .updates = 0};
    for (std::size_t b = 0; b < mappo_.imagined_episodes; ++b) round.probe.push_back(sample_episode());
    for (std::size_t u = 0; u < mappo_.max_model_updates; ++u) {
      std::vector<Episode> imagined(mappo_.imagined_episodes);
      std::vector<double> points;
      for (Episode& episode : imagined) {
        episode = sample_episode();
        const auto snapped = space_type::to_unit_cube(config_of(episode.actions));
        points.insert(points.end(), snapped.begin(), snapped.end());
      }
      std::vector<double> means(imagined.size()), variances(imagined.size());
      model_.predict(points, means, variances);
      rl::Vector rewards = rl::Vector::from_shape({imagined.size()});
      MappoUpdateStats stats;
      stats.imagined = true;
      for (std::size_t b = 0; b < imagined.size(); ++b) {
        const double score = means[b] + mappo_.model_optimism * std::sqrt(std::max(variances[b], 0.0));
        // Phi of the optimistic normal score: a quantile, on the scale of the ranked rewards.
        rewards(b) = 0.5 * std::erfc(-(model_shift_ + model_scale_ * score) / std::numbers::sqrt2);
        stats.mean_reward += rewards(b) / static_cast<double>(imagined.size());
      }
      std::vector<const Episode*> batch;
      for (const Episode& episode : imagined) batch.push_back(&episode);
      const Policy before = policy();
      update(batch, rewards, false, mappo_.model_ppo_epochs, stats);
      const double kl = policy_kl(round.checked, policy(), std::span<const Episode>(round.probe));
      if (kl > mappo_.model_kl) {  // past the bound: this update is taken back and the round ends
        restore(before);
        break;
      }
      round.kl = kl;
      ++round.updates;
    }
    model_updates_ += round.updates;
    ++model_rounds_;
    last_round_ = std::move(round);
  }
};

}  // namespace mahpo::search
