#pragma once
// MAPPO: multi-agent PPO hyperparameter search, one agent per tunable layer of a CNN topology
// (the MAPPO-HPO paper, Ma & Joe: centralized training, decentralized execution; PPO with the
// defaults of Yu et al., 2022, "The Surprising Effectiveness of PPO in Cooperative Multi-Agent
// Games", and their onpolicy reference code).
//
// Agents. `Mappo<Topology>` takes a LeNet<...> topology (mahpo/nn/lenet.hpp). Its
// `tunable_layers` (the layers with at least one free hyperparameter, the Training element
// included) are the agents, in layer order; the types fix, at compile time, how many agents there
// are (`agent_count`), which free dimensions of the topology's space each one sets
// (`agent_dimensions`, `agent_names`) and where those sit in the space. Adding a layer with a
// free hyperparameter to a topology adds an agent, with no other change.
// Each agent's action is one index per free dimension of its layer, each dimension cut into a
// finite action set by Discretization<space> with resolution `bins` (8): an integer keeps every
// value when it has at most `bins`, else `bins` levels evenly spread in its scale; a real gets
// `bins` levels (log-spaced on a log scale); a categorical keeps its values.
//
// An episode is one ask(): the agents act in order, each sampling from its own policy (a separate
// actor per agent: Mlp hidden {64, 64}, ReLU, orthogonal init, logits gain 0.01, then a
// CategoricalHead over its dimensions). Agent i observes the action of agent i - 1 (the one-hots
// of its dimensions; agent 0 sees a start token) and a one-hot agent id. The joint action is the
// config (Discretization::at). All agents share one reward, the trial's value.
//
// Centralized critic. The paper's critic sees the joint action. Used as agent i's baseline,
// V(joint action) would include agent i's own action: the advantage R - V(a_1..a_N) is then no
// longer an unbiased policy gradient weight (and is 0 for everyone once the critic is right).
// So the critic sees the joint action *as it stands when agent i acts*: the episode is N steps,
// the state at step i is the one-hots of agents 0..i-1's actions plus agent i's id (one Mlp over
// the whole joint-action layout, later agents' blocks zero), the reward comes at the last step,
// and GAE runs over the N steps with gamma 1 and lambda 0.95. At lambda 1 agent i's advantage is
// R - V(a_1..a_{i-1}), a baseline that does not depend on its own action.
//
// Training. tell() stores the reward: the value when maximizing, -value when minimizing. Every
// `episodes_per_update` (8) told episodes a PPO update runs on a batch of them, with the MAPPO
// reference defaults: clipped surrogate with per-dimension ratios, clip 0.2, 10 epochs of one full
// batch each (num_mini_batch 1), Adam with learning rate 5e-4 for each actor and for the critic,
// entropy coefficient 0.01, gradient norms clipped at 10 (each actor and the critic on their own),
// value normalization (ValueNormalizer), clipped Huber value loss (delta 10), advantages
// normalized over the batch's N x K steps. All of these are MappoOptions.
//
// Choices the references leave open, or where mahpo differs:
// - Concurrency: ask() never waits; episodes may be pending in any number. A batch is the first K
//   told episodes not yet used, in id order; an episode asked under an older policy keeps the
//   log-probabilities it was sampled with, and PPO's ratio clipping handles the gap.
// - The critic's values are computed at the start of each update with the current critic (the
//   reference computes them during the rollout, which may be several updates old here); those
//   are the "old" values of the clipped value loss.
// - Failed and diverged trials get the worst reward of any usable trial told so far, read when
//   their batch is trained (0 when there is none yet): a configuration that breaks training is as
//   bad as the worst one seen. A non-finite value counts as failed.
// - Reward normalization (on by default, not in the reference): CNN accuracies differ in the
//   third digit, so each batch's rewards are updated into an exact running mean and variance
//   (rl::RunningMeanStd) and replaced by (r - mean) / std before GAE. The critic then learns
//   differences of order 1, not 0.01, which its initial output noise would swamp.
// - The value normalizer is updated once per PPO update with the batch's returns (the reference
//   updates it at every value loss of the 10 epochs, with the same batch: the same weights).
// - Everything runs on one std::mt19937_64 seeded with SearchOptions::seed (weights first, then
//   the episodes' samples), so a seed and a sequence of asks and tells give the same trials.

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cmath>
#include <cstddef>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/hana/for_each.hpp>
#include <boost/hana/unpack.hpp>
#include <fmt/format.h>

#include <mahpo/objective.hpp>
#include <mahpo/rl/actor_loss.hpp>
#include <mahpo/rl/adam.hpp>
#include <mahpo/rl/advantages.hpp>
#include <mahpo/rl/categorical_head.hpp>
#include <mahpo/rl/gradient_clipping.hpp>
#include <mahpo/rl/mlp.hpp>
#include <mahpo/rl/ppo.hpp>
#include <mahpo/rl/running_mean_std.hpp>
#include <mahpo/rl/tensor.hpp>
#include <mahpo/rl/value_normalizer.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/space/discretization.hpp>

namespace mahpo::search {

struct MappoOptions {
  std::size_t bins = 8;                  // the most actions of a wide integer or a real dimension
  std::size_t episodes_per_update = 8;   // K: told episodes per PPO update
  std::size_t ppo_epochs = 10;           // passes over each batch
  double clip = 0.2;                     // PPO's epsilon, for the surrogate and the value clipping
  double actor_learning_rate = 5e-4;     // Adam, each actor
  double critic_learning_rate = 5e-4;    // Adam, the critic
  double entropy_coefficient = 0.01;     // the entropy bonus
  double max_gradient_norm = 10.0;       // global norm clipping, each actor and the critic
  bool value_normalization = true;       // ValueNormalizer on the critic's targets
  bool reward_normalization = true;      // running mean/std of rewards (see the header comment)
  bool advantage_normalization = true;   // advantages centred and scaled over the batch
  bool value_clipping = true;            // the clipped value loss
  double huber_delta = 10.0;             // Huber value loss
  double gae_lambda = 0.95;              // GAE over the agents' steps (gamma is 1)
  std::vector<std::size_t> hidden_sizes{64, 64};  // of every actor and of the critic
  rl::Activation activation = rl::Activation::relu;
};

// What the last PPO update did (for logs and benchmarks).
struct MappoUpdateStats {
  std::size_t episodes = 0;     // in the batch
  double mean_reward = 0.0;     // before normalization
  double policy_loss = 0.0;     // clipped surrogate, mean over agents, last epoch
  double value_loss = 0.0;      // last epoch
  double entropy = 0.0;         // mean over agents and dimensions, last epoch
  double approx_kl = 0.0;       // mean over agents, last epoch
  double clip_fraction = 0.0;   // mean over agents, last epoch
  double seconds = 0.0;         // wall time of the update
};

namespace detail {

// Whether each parameter of a (layer) space is fixed, in its order.
template <typename Sub>
constexpr std::array<bool, Sub::size> mappo_fixed_flags() {
  return hana::unpack(Sub::parameters, [](auto... parameter) {
    return std::array<bool, Sub::size>{decltype(parameter)::type::is_fixed...};
  });
}

template <typename T>
concept MappoTopology = requires {
  typename T::space;
  T::tunable_layers;
  { T::tunable_count } -> std::convertible_to<std::size_t>;
};

// The agents of a topology, from its types: one per tunable layer, in layer order.
template <typename Topology>
struct MappoLayout {
  using space_type = typename Topology::space;
  static constexpr std::size_t agent_count = Topology::tunable_count;
  static constexpr std::size_t dimension = space_type::dimension;

  // Free dimensions of each agent's layer.
  static constexpr std::array<std::size_t, agent_count> dimensions =
      hana::unpack(Topology::tunable_layers, [](auto... layer) {
        return std::array<std::size_t, agent_count>{decltype(layer)::type::space::dimension...};
      });
  static constexpr std::array<std::string_view, agent_count> names =
      hana::unpack(Topology::tunable_layers, [](auto... layer) {
        return std::array<std::string_view, agent_count>{std::string_view(decltype(layer)::type::name)...};
      });
  // Where agent a's dimensions start in the flat, agent-ordered list of all dimensions.
  static constexpr std::array<std::size_t, agent_count + 1> offsets = [] {
    std::array<std::size_t, agent_count + 1> result{};
    for (std::size_t a = 0; a < agent_count; ++a) result[a + 1] = result[a] + dimensions[a];
    return result;
  }();
  // For the k-th dimension in agent order, its free position (unit-cube coordinate) in the space.
  static constexpr std::array<std::size_t, dimension> positions = [] {
    std::array<std::size_t, dimension> result{};
    std::size_t k = 0;
    hana::for_each(Topology::tunable_layers, [&](auto layer) {
      using Sub = typename decltype(layer)::type::space;
      constexpr auto fixed = mappo_fixed_flags<Sub>();
      for (std::size_t j = 0; j < Sub::size; ++j) {
        if (!fixed[j]) result[k++] = space_type::free_position(space_type::find(Sub::names[j]));
      }
    });
    return result;
  }();

  static constexpr bool covers_space() {
    if (offsets[agent_count] != dimension) return false;
    std::array<bool, dimension> seen{};
    for (std::size_t position : positions) {
      if (position >= dimension || seen[position]) return false;
      seen[position] = true;
    }
    return true;
  }
};

}  // namespace detail

template <typename Topology>
class Mappo {
  static_assert(detail::MappoTopology<Topology>,
                "mahpo::Mappo: the topology must be a mahpo::nn::LeNet<...> (it needs space, tunable_layers and "
                "tunable_count)");
  static_assert(Topology::tunable_count >= 1,
                "mahpo::Mappo: the topology has no layer with a free hyperparameter, so there is no agent");
  using layout = detail::MappoLayout<Topology>;
  static_assert(layout::covers_space(), "mahpo::Mappo: every free dimension of the space must belong to one agent");

 public:
  using topology_type = Topology;
  using space_type = typename Topology::space;
  static constexpr std::string_view name = "mappo";

  static constexpr std::size_t agent_count = layout::agent_count;
  static constexpr std::array<std::size_t, agent_count> agent_dimensions = layout::dimensions;
  static constexpr std::array<std::string_view, agent_count> agent_names = layout::names;

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
      for (std::size_t k = layout::offsets[a]; k < layout::offsets[a + 1]; ++k)
        sizes.push_back(counts[layout::positions[k]]);
      heads_.emplace_back(sizes);
      joint_offsets_.push_back(joint);
      joint += heads_.back().logit_count();
    }
    critic_input_size_ = joint + agent_count;
    for (std::size_t a = 0; a < agent_count; ++a) {
      actors_.emplace_back(network_options(observation_size(a), heads_[a].logit_count(), 0.01), rng_);
      actor_optimizers_.emplace_back(rl::AdamOptions{.learning_rate = mappo_.actor_learning_rate});
    }
    critic_ = rl::Mlp(network_options(critic_input_size_, 1, 1.0), rng_);
    critic_optimizer_ = rl::Adam(rl::AdamOptions{.learning_rate = mappo_.critic_learning_rate});
  }

  // Runs one episode: every agent acts in order, sampling from its policy.
  Trial<space_type> ask() {
    Episode episode;
    episode.actions.resize(layout::dimension);
    episode.log_probabilities.resize(layout::dimension);
    for (std::size_t a = 0; a < agent_count; ++a) {
      const rl::Matrix logits = actors_[a].predict(observation(a, episode.actions));
      const rl::Actions actions = heads_[a].sample(logits, rng_);
      const rl::Matrix log_probabilities = heads_[a].log_probabilities(logits, actions);
      for (std::size_t d = 0; d < agent_dimensions[a]; ++d) {
        episode.actions[layout::offsets[a] + d] = actions(0, d);
        episode.log_probabilities[layout::offsets[a] + d] = log_probabilities(0, d);
      }
    }
    episodes_.push_back(std::move(episode));
    return history_.add(config_of(episodes_.back().actions), options_.budget);
  }

  // Stores the shared reward; runs a PPO update when K told episodes wait.
  void tell(std::size_t id, const Result& result) {
    const auto& entry = history_.tell(id, result, name);
    Episode& episode = episodes_[id];
    const double reward = -entry.loss;  // the value when maximizing, -value when minimizing
    episode.failed = !(entry.usable() && std::isfinite(reward));
    if (!episode.failed) {
      episode.reward = reward;
      worst_reward_ = worst_reward_ ? std::min(*worst_reward_, reward) : reward;
    }
    waiting_.insert(id);
    if (waiting_.size() >= mappo_.episodes_per_update) {
      std::vector<std::size_t> batch;
      for (auto it = waiting_.begin(); batch.size() < mappo_.episodes_per_update; it = waiting_.erase(it))
        batch.push_back(*it);
      update(batch);
    }
  }

  const SearchOptions& options() const { return options_; }
  const MappoOptions& mappo_options() const { return mappo_; }
  const History<space_type>& history() const { return history_; }
  const Discretization<space_type>& discretization() const { return discretization_; }

  // Actions of each dimension of agent a, in its layer's order.
  const std::vector<std::size_t>& action_counts(std::size_t agent) const { return heads_.at(agent).sizes(); }
  // Agent a's actor input: the previous agent's one-hots (a start token for agent 0) and its id.
  std::size_t observation_size(std::size_t agent) const {
    return (agent == 0 ? 1 : heads_.at(agent - 1).logit_count()) + agent_count;
  }
  // The critic's input: every agent's one-hots side by side, then the acting agent's id.
  std::size_t critic_input_size() const { return critic_input_size_; }

  std::size_t updates() const { return updates_; }
  const MappoUpdateStats& last_update() const { return last_update_; }
  double update_seconds() const { return update_seconds_; }  // all updates so far

  // The config of the agents' most likely actions, each seeing its predecessor's.
  Config<space_type> greedy_config() const {
    std::vector<std::size_t> actions(layout::dimension);
    for (std::size_t a = 0; a < agent_count; ++a) {
      const rl::Actions mode = heads_[a].mode(actors_[a].predict(observation(a, actions)));
      for (std::size_t d = 0; d < agent_dimensions[a]; ++d) actions[layout::offsets[a] + d] = mode(0, d);
    }
    return config_of(actions);
  }

 private:
  struct Episode {
    std::vector<std::size_t> actions;         // one index per free dimension, agents in order
    std::vector<double> log_probabilities;    // of each action when it was sampled
    double reward = 0.0;
    bool failed = false;
  };

  SearchOptions options_;
  MappoOptions mappo_;
  History<space_type> history_;
  std::mt19937_64 rng_;
  Discretization<space_type> discretization_;
  std::vector<rl::CategoricalHead> heads_;
  std::vector<std::size_t> joint_offsets_;  // agent a's one-hots in the critic's input
  std::size_t critic_input_size_ = 0;
  std::vector<rl::Mlp> actors_;
  std::vector<rl::Adam> actor_optimizers_;
  rl::Mlp critic_;
  rl::Adam critic_optimizer_;
  rl::ValueNormalizer value_normalizer_;
  rl::RunningMeanStd reward_statistics_;
  std::vector<Episode> episodes_;  // by trial id
  std::set<std::size_t> waiting_;  // told, not yet trained on
  std::optional<double> worst_reward_;
  std::size_t updates_ = 0;
  MappoUpdateStats last_update_;
  double update_seconds_ = 0.0;

  static MappoOptions validated(MappoOptions m) {
    const auto require = [](bool ok, std::string message) {
      if (!ok) throw std::invalid_argument("mahpo::mappo: " + message);
    };
    require(m.bins >= 2, fmt::format("bins {} must be at least 2", m.bins));
    require(m.episodes_per_update >= 1, "episodes_per_update must be at least 1");
    require(m.ppo_epochs >= 1, "ppo_epochs must be at least 1");
    require(m.clip > 0.0 && std::isfinite(m.clip), fmt::format("clip {} must be > 0", m.clip));
    require(m.actor_learning_rate > 0.0 && std::isfinite(m.actor_learning_rate),
            fmt::format("actor_learning_rate {} must be > 0", m.actor_learning_rate));
    require(m.critic_learning_rate > 0.0 && std::isfinite(m.critic_learning_rate),
            fmt::format("critic_learning_rate {} must be > 0", m.critic_learning_rate));
    require(m.entropy_coefficient >= 0.0 && std::isfinite(m.entropy_coefficient),
            fmt::format("entropy_coefficient {} must be >= 0", m.entropy_coefficient));
    require(m.max_gradient_norm > 0.0, fmt::format("max_gradient_norm {} must be > 0", m.max_gradient_norm));
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

  Config<space_type> config_of(const std::vector<std::size_t>& actions) const {
    std::array<std::size_t, layout::dimension> indices{};
    for (std::size_t k = 0; k < layout::dimension; ++k) indices[layout::positions[k]] = actions[k];
    return discretization_.at(std::span<const std::size_t>(indices));
  }

  // Sets the one-hots of agent a's actions (from the agent-ordered `actions`) at cell(at), cell(at + 1), ...
  template <typename Cell>
  void write_one_hots(std::size_t agent, const std::vector<std::size_t>& actions, Cell&& cell, std::size_t at) const {
    for (std::size_t d = 0; d < agent_dimensions[agent]; ++d)
      cell(at + heads_[agent].offset(d) + actions[layout::offsets[agent] + d]) = 1.0;
  }

  // Agent a's observation, a 1 x observation_size(a) row.
  rl::Matrix observation(std::size_t agent, const std::vector<std::size_t>& actions) const {
    rl::Matrix row = xt::zeros<double>({std::size_t{1}, observation_size(agent)});
    fill_observation(agent, actions, row, 0);
    return row;
  }

  void fill_observation(std::size_t agent, const std::vector<std::size_t>& actions, rl::Matrix& matrix,
                        std::size_t r) const {
    const auto cell = [&](std::size_t j) -> double& { return matrix(r, j); };
    std::size_t previous = 1;
    if (agent == 0) {
      cell(0) = 1.0;  // the start token
    } else {
      write_one_hots(agent - 1, actions, cell, 0);
      previous = heads_[agent - 1].logit_count();
    }
    cell(previous + agent) = 1.0;
  }

  // The critic's state at agent a's step: agents 0..a-1's one-hots and a's id.
  void fill_state(std::size_t agent, const std::vector<std::size_t>& actions, rl::Matrix& matrix,
                  std::size_t r) const {
    const auto cell = [&](std::size_t j) -> double& { return matrix(r, j); };
    for (std::size_t earlier = 0; earlier < agent; ++earlier)
      write_one_hots(earlier, actions, cell, joint_offsets_[earlier]);
    cell(critic_input_size_ - agent_count + agent) = 1.0;
  }

  void update(const std::vector<std::size_t>& batch) {
    const auto start = std::chrono::steady_clock::now();
    const std::size_t episodes = batch.size(), n = agent_count, steps = episodes * n;
    rl::Vector rewards = rl::Vector::from_shape({episodes});
    for (std::size_t b = 0; b < episodes; ++b) {
      const Episode& episode = episodes_[batch[b]];
      rewards(b) = episode.failed ? worst_reward_.value_or(0.0) : episode.reward;
    }
    MappoUpdateStats stats;
    stats.episodes = episodes;
    for (double r : rewards) stats.mean_reward += r / static_cast<double>(episodes);
    if (mappo_.reward_normalization) {
      reward_statistics_.update(rewards);
      rewards = reward_statistics_.normalize(rewards);
    }

    // Steps are episode-major (row b * n + i: episode b, agent i), the order GAE reads.
    rl::Matrix states = xt::zeros<double>({steps, critic_input_size_});
    for (std::size_t b = 0; b < episodes; ++b)
      for (std::size_t i = 0; i < n; ++i) fill_state(i, episodes_[batch[b]].actions, states, b * n + i);
    const rl::Vector old_values = rl::column(critic_.predict(states));
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
    rl::AdvantagesAndReturns estimates = rl::gae(step_rewards, values, next_values, dones, 1.0, mappo_.gae_lambda);
    const rl::Vector advantages =
        mappo_.advantage_normalization ? rl::normalize_advantages(estimates.advantages) : estimates.advantages;
    rl::Vector targets = estimates.returns;
    if (mappo_.value_normalization) {
      value_normalizer_.update(estimates.returns);
      targets = value_normalizer_.normalize(estimates.returns);
    }

    // Each agent's rows of the batch.
    struct AgentBatch {
      rl::Matrix observations;
      rl::Actions actions;
      rl::Matrix old_log_probabilities;
      rl::Vector advantages;
    };
    std::vector<AgentBatch> agents(n);
    for (std::size_t a = 0; a < n; ++a) {
      AgentBatch& data = agents[a];
      const std::size_t dims = agent_dimensions[a];
      data.observations = xt::zeros<double>({episodes, observation_size(a)});
      data.actions = rl::Actions::from_shape({episodes, dims});
      data.old_log_probabilities = rl::Matrix::from_shape({episodes, dims});
      data.advantages = rl::Vector::from_shape({episodes});
      for (std::size_t b = 0; b < episodes; ++b) {
        const Episode& episode = episodes_[batch[b]];
        fill_observation(a, episode.actions, data.observations, b);
        for (std::size_t d = 0; d < dims; ++d) {
          data.actions(b, d) = episode.actions[layout::offsets[a] + d];
          data.old_log_probabilities(b, d) = episode.log_probabilities[layout::offsets[a] + d];
        }
        data.advantages(b) = advantages(b * n + a);
      }
    }

    const rl::ActorLossOptions actor_options{.clip = mappo_.clip, .entropy_coefficient = mappo_.entropy_coefficient};
    const rl::ValueLossOptions value_options{.clip = mappo_.clip,
                                             .clip_values = mappo_.value_clipping,
                                             .huber = true,
                                             .huber_delta = mappo_.huber_delta};
    for (std::size_t epoch = 0; epoch < mappo_.ppo_epochs; ++epoch) {
      const bool last = epoch + 1 == mappo_.ppo_epochs;
      for (std::size_t a = 0; a < n; ++a) {
        const AgentBatch& data = agents[a];
        rl::Mlp& actor = actors_[a];
        actor.zero_gradients();
        // PPO clipped surrogate minus the entropy bonus (Schulman et al., 2017, eq. 9).
        const rl::CategoricalActorLoss loss = rl::categorical_actor_loss(
            heads_[a], actor.forward(data.observations), data.actions, data.old_log_probabilities, data.advantages,
            actor_options);
        actor.backward(loss.logits_gradient);
        rl::clip_gradient_norm(actor.parameters(), mappo_.max_gradient_norm);
        actor_optimizers_[a].step(actor.parameters());
        if (last) {
          const double share = 1.0 / static_cast<double>(n);
          stats.policy_loss += share * loss.policy;
          stats.entropy += share * loss.entropy;
          stats.approx_kl += share * loss.approx_kl;
          stats.clip_fraction += share * loss.clip_fraction;
        }
      }
      critic_.zero_gradients();
      // Clipped Huber value loss on normalized targets (Yu et al., 2022).
      const rl::ValueLoss value_loss =
          rl::ppo_value_loss(rl::column(critic_.forward(states)), old_values, targets, value_options);
      critic_.backward(rl::as_column(value_loss.gradient));
      rl::clip_gradient_norm(critic_.parameters(), mappo_.max_gradient_norm);
      critic_optimizer_.step(critic_.parameters());
      if (last) stats.value_loss = value_loss.loss;
    }
    ++updates_;
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    update_seconds_ += stats.seconds;
    last_update_ = stats;
  }
};

}  // namespace mahpo::search
