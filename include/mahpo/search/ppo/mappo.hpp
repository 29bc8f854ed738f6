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
// Training: every `episodes_per_update` told episodes a PPO update runs (clipped surrogate with
// per-dimension ratios, clipped Huber value loss on normalized targets, Adam, gradient norms
// clipped at 10, advantages normalized over the batch).
//
// What the default changes against the paper's algorithm (`MappoOptions::paper()`), and why
// (measured over 30 seeds: docs/benchmarks.md, "Search quality with statistics", and the ablation,
// one change undone at a time, in docs/mappo_ablation.md):
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
//   setting), stopped early once the mean approximate KL exceeds 1.5 x `target_kl`; Adam 3e-3, no
//   entropy bonus (the learned std does the exploring), 32x32 networks (as good as 64x64 here, at
//   half the cost or less).
// - Ordinal Gaussian actions instead of an 8-level grid (whose best config on the LeNet quadratic
//   is 0.9858, below what TPE finds).
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
#include <mahpo/search/ppo/episodes.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/space/discretization.hpp>

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
  double target_kl = 0.05;              // stop an update's epochs past 1.5 x this mean KL; 0: never
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
                        .hidden_sizes = {64, 64}};
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MappoOptions, actions, bins, initial_std, min_std, episodes_per_update, replay,
                                   ppo_epochs, target_kl, clip, actor_learning_rate, critic_learning_rate,
                                   entropy_coefficient, max_gradient_norm, value_normalization, rewards,
                                   failed_quantile, advantage_normalization, value_clipping, huber_delta, gae_lambda,
                                   hidden_sizes, activation)

// What the last PPO update did (for logs and benchmarks).
struct MappoUpdateStats {
  std::size_t episodes = 0;    // in the batch
  std::size_t epochs = 0;      // run (fewer than ppo_epochs when the KL stop ends it)
  double mean_reward = 0.0;    // of the batch, before ranking or normalization
  double policy_loss = 0.0;    // clipped surrogate, mean over agents, last epoch
  double value_loss = 0.0;     // last epoch
  double entropy = 0.0;        // mean over agents and dimensions, last epoch
  double approx_kl = 0.0;      // mean over agents, last epoch, against the policy the update started from
  double clip_fraction = 0.0;  // mean over agents, last epoch
  double seconds = 0.0;        // wall time of the update
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

  static constexpr std::size_t agent_count = agents::count;
  static constexpr std::array<std::size_t, agent_count> agent_dimensions = agents::dimensions;
  static constexpr std::array<std::string_view, agent_count> agent_names = agents::names;

  explicit Mappo(SearchOptions options = {}, MappoOptions mappo = {})
      : options_(options),
        mappo_(validated(std::move(mappo))),
        history_(options.goal),
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
    episodes_.push_back(std::move(episode));
    return history_.add(config_of(episodes_.back().actions), options_.budget);
  }

  // Stores the shared reward; runs a PPO update when K new told episodes wait.
  void tell(std::size_t id, const Result& result) {
    const auto& entry = history_.tell(id, result, name);
    const double reward = -entry.loss;  // the value when maximizing, -value when minimizing
    rewards_.tell(id, entry.usable() && std::isfinite(reward), reward);
    waiting_.push_back(id);
    if (waiting_.size() < mappo_.episodes_per_update) return;
    if (mappo_.replay == 0) {  // on-policy: the first K waiting, in id order
      update(ppo::detail::take_batch(waiting_, mappo_.episodes_per_update));
    } else {  // the newest `replay` told episodes
      waiting_.clear();
      const auto& told = rewards_.told();
      const std::size_t size = std::max(mappo_.replay, mappo_.episodes_per_update);
      update(
          std::vector<std::size_t>(told.end() - static_cast<std::ptrdiff_t>(std::min(size, told.size())), told.end()));
    }
  }

  // The pending trial `id` was run with `config` (see Searcher::replace): its episode becomes the
  // actions that give `config` (the nearest grid levels; Gaussian actions inside [-1, 1]), with their
  // log-probabilities under the current actors, each seeing its predecessor's new actions.
  void replace(std::size_t id, const Config<space_type>& config) {
    history_.replace(id, config, name);
    Episode& episode = episodes_[id];
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

  std::size_t updates() const { return updates_; }
  const MappoUpdateStats& last_update() const { return last_update_; }
  double update_seconds() const { return update_seconds_; }  // all updates so far

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
  struct Episode {
    std::vector<double> actions;            // one per free dimension, agents in order (an index for grid actions)
    std::vector<double> log_probabilities;  // of each action when it was sampled
  };

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
  // agent i) and leaves the critic's states, old values and targets in the arguments.
  rl::Vector critic_targets(const std::vector<std::size_t>& batch, const rl::Vector& rewards, rl::Matrix& states,
                            rl::Vector& old_values, rl::Vector& targets) {
    const std::size_t episodes = batch.size(), n = agent_count, steps = episodes * n;
    states = xt::zeros<double>({steps, critic_input_size_});
    for (std::size_t b = 0; b < episodes; ++b)
      for (std::size_t i = 0; i < n; ++i) fill_state(i, episodes_[batch[b]].actions, states, b * n + i);
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
    return mappo_.advantage_normalization ? rl::normalize_advantages(estimates.advantages) : estimates.advantages;
  }

  // Agent a's rows: observations, actions, the log-probabilities PPO's ratio is taken against
  // and the advantages (weighted by truncated importance ratios when episodes are reused).
  AgentBatch agent_batch(std::size_t agent, const std::vector<std::size_t>& batch, const rl::Vector& advantages) const {
    const std::size_t episodes = batch.size(), dims = agent_dimensions[agent];
    AgentBatch data;
    data.observations = xt::zeros<double>({episodes, observation_size(agent)});
    data.actions = rl::Matrix::from_shape({episodes, dims});
    rl::Matrix behaviour = rl::Matrix::from_shape({episodes, dims});
    data.advantages = rl::Vector::from_shape({episodes});
    for (std::size_t b = 0; b < episodes; ++b) {
      const Episode& episode = episodes_[batch[b]];
      fill_observation(agent, episode.actions, data.observations, b);
      for (std::size_t d = 0; d < dims; ++d) {
        data.actions(b, d) = episode.actions[agents::offsets[agent] + d];
        behaviour(b, d) = episode.log_probabilities[agents::offsets[agent] + d];
      }
      data.advantages(b) = advantages(b * agent_count + agent);
    }
    if (mappo_.replay == 0) {
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
    const rl::ActorLossOptions options{.clip = mappo_.clip, .entropy_coefficient = mappo_.entropy_coefficient};
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

  void update(const std::vector<std::size_t>& batch) {
    const auto start = std::chrono::steady_clock::now();
    MappoUpdateStats stats;
    stats.episodes = batch.size();
    const rl::Vector rewards = shaped_rewards(batch, stats);
    rl::Matrix states;
    rl::Vector old_values, targets;
    const rl::Vector advantages = critic_targets(batch, rewards, states, old_values, targets);
    std::vector<AgentBatch> agent_batches;
    for (std::size_t a = 0; a < agent_count; ++a) agent_batches.push_back(agent_batch(a, batch, advantages));

    const double share = 1.0 / static_cast<double>(agent_count);
    stats.epochs = ppo::detail::run_epochs(mappo_.ppo_epochs, mappo_.target_kl, [&](std::size_t) {
      stats.policy_loss = stats.entropy = stats.approx_kl = stats.clip_fraction = 0.0;
      for (std::size_t a = 0; a < agent_count; ++a) {
        const rl::ActorLoss loss = actor_step(a, agent_batches[a]);
        stats.policy_loss += share * loss.policy;
        stats.entropy += share * loss.entropy;
        stats.approx_kl += share * loss.approx_kl;
        stats.clip_fraction += share * loss.clip_fraction;
      }
      stats.value_loss = critic_step(states, old_values, targets);
      return stats.approx_kl;
    });
    ++updates_;
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    update_seconds_ += stats.seconds;
    last_update_ = stats;
  }
};

}  // namespace mahpo::search
