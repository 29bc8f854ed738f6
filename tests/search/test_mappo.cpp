// Mappo<T>: agents from a topology's or a grouped space's names, Gaussian and grid episodes,
// determinism, PPO updates (on-policy batches and reuse), rewards by rank and by value, options,
// and search quality against random search.

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/ppo/mappo.hpp>
#include <mahpo/search/random.hpp>

#include "../seeds.hpp"

namespace {

using namespace mahpo;
using search::Mappo;
using search::MappoActions;
using search::MappoOptions;
using search::MappoRewards;
using search::SearchOptions;

// A topology whose every dimension is discrete, so random search and MAPPO see the same finite set.
using discrete_lenet =
    nn::LeNet<nn::Conv<"conv1", Int<"conv_size", 2, 7>, Categorical<"filters", 4, 8, 16, 32>>, nn::MaxPool<2>,
              nn::Conv<"conv2", Int<"conv_size", 2, 5>, Categorical<"filters", 8, 16, 32>>, nn::MaxPool<2>,
              nn::Dense<"fc1", Categorical<"units", 64, 128, 256, 512>, Categorical<"dropout_rate", 0.0, 0.25, 0.5>>,
              nn::Output<10>,
              nn::Training<Categorical<"batch_size", 16, 32, 64>, Categorical<"learning_rate", 0.001, 0.01, 0.1>>>;

// The same with a third convolution: one more agent, nothing else to change.
using three_conv_lenet =
    nn::LeNet<nn::Conv<"conv1", Int<"conv_size", 2, 7>, Categorical<"filters", 4, 8, 16, 32>>, nn::MaxPool<2>,
              nn::Conv<"conv2", Int<"conv_size", 2, 5>, Categorical<"filters", 8, 16, 32>>,
              nn::Conv<"conv3", Int<"conv_size", 2, 4>, Fixed<"filters", 32>>, nn::MaxPool<2>,
              nn::Dense<"fc1", Categorical<"units", 64, 128, 256, 512>, Categorical<"dropout_rate", 0.0, 0.25, 0.5>>,
              nn::Output<10>,
              nn::Training<Categorical<"batch_size", 16, 32, 64>, Categorical<"learning_rate", 0.001, 0.01, 0.1>>>;

// The share of dimensions at the known best per-layer combination: conv1 6x6 with 16 filters, conv2
// 3x3 with 32, fc1 256 units with dropout 0.25, batch 32, learning rate 0.01 (and conv3 3x3).
template <typename S>
double share_at_target(const Config<S>& config) {
  double hits = 0.0, dimensions = 8.0;
  hits += config.template get<"conv1.conv_size">() == 6 ? 1.0 : 0.0;
  hits += config.template get<"conv1.filters">() == 16 ? 1.0 : 0.0;
  hits += config.template get<"conv2.conv_size">() == 3 ? 1.0 : 0.0;
  hits += config.template get<"conv2.filters">() == 32 ? 1.0 : 0.0;
  hits += config.template get<"fc1.units">() == 256 ? 1.0 : 0.0;
  hits += config.template get<"fc1.dropout_rate">() == 0.25 ? 1.0 : 0.0;
  hits += config.template get<"training.batch_size">() == 32 ? 1.0 : 0.0;
  hits += config.template get<"training.learning_rate">() == 0.01 ? 1.0 : 0.0;
  if constexpr (S::template contains<"conv3.conv_size">) {
    hits += config.template get<"conv3.conv_size">() == 3 ? 1.0 : 0.0;
    dimensions += 1.0;
  }
  return hits / dimensions;
}

Result result_of(double value, Status status = Status::ok) {
  Result result;
  result.value = value;
  result.status = status;
  return result;
}

struct RunSummary {
  double best = -1e300;
  double last_mean = 0.0;  // mean value of the last 50 episodes
};

// Asks and tells `episodes` trials one at a time; value(config) is maximized.
template <typename T, typename Value>
RunSummary run(T& searcher, Value&& value, std::size_t episodes) {
  RunSummary summary;
  for (std::size_t k = 0; k < episodes; ++k) {
    const auto trial = searcher.ask();
    const double v = value(trial.config);
    summary.best = std::max(summary.best, v);
    if (k + 50 >= episodes) summary.last_mean += v / 50.0;
    searcher.tell(trial.id, result_of(v));
  }
  return summary;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

template <typename T>
bool contains_value(const std::vector<T>& levels, const T& value) {
  return std::find(levels.begin(), levels.end(), value) != levels.end();
}

}  // namespace

TEST_CASE("mappo: paper_lenet has four agents with the shapes of its types", "[search][mappo]") {
  using M = Mappo<nn::paper_lenet>;
  STATIC_REQUIRE(M::agent_count == 4);
  STATIC_REQUIRE(M::agent_dimensions == std::array<std::size_t, 4>{1, 1, 2, 2});
  STATIC_REQUIRE(M::agent_names == std::array<std::string_view, 4>{"conv1", "conv2", "fc1", "training"});
  STATIC_REQUIRE(M::name == "mappo");

  const M mappo({}, MappoOptions::paper());
  CHECK(mappo.action_counts(0) == std::vector<std::size_t>{6});  // conv_size 2..7, every value
  CHECK(mappo.action_counts(1) == std::vector<std::size_t>{6});
  CHECK(mappo.action_counts(2) == std::vector<std::size_t>{8, 8});  // hidden 124..1024 and dropout: 8 bins
  CHECK(mappo.action_counts(3) == std::vector<std::size_t>{8, 8});  // batch 16..32 (17 values) and lr: 8 bins
  // Observations: the previous agent's one-hots (a start token for the first) and a 4-way agent id.
  CHECK(mappo.observation_size(0) == 1 + 4);
  CHECK(mappo.observation_size(1) == 6 + 4);
  CHECK(mappo.observation_size(2) == 6 + 4);
  CHECK(mappo.observation_size(3) == 16 + 4);
  CHECK(mappo.critic_input_size() == 6 + 6 + 16 + 16 + 4);

  const auto& batch = mappo.discretization().levels<"training.batch_size">();
  CHECK(batch.size() == 8);
  CHECK(batch.front() == 16);
  CHECK(batch.back() == 32);
  const auto& rates = mappo.discretization().levels<"training.learning_rate">();
  REQUIRE(rates.size() == 8);
  CHECK(rates.front() == Approx(1e-4));
  CHECK(rates.back() == Approx(0.1));
  for (std::size_t k = 1; k + 1 < rates.size(); ++k) CHECK(rates[k + 1] / rates[k] == Approx(rates[1] / rates[0]));

  MappoOptions four_bins = MappoOptions::paper();
  four_bins.bins = 4;
  const Mappo<nn::paper_lenet> coarse({}, four_bins);
  CHECK(coarse.action_counts(0) == std::vector<std::size_t>{4});  // 6 sizes > 4 bins: 4 levels
  CHECK(coarse.action_counts(3) == std::vector<std::size_t>{4, 4});

  // Gaussian actions (the default): one number per dimension in observations and the critic.
  const M gaussian;
  CHECK(gaussian.observation_size(0) == 1 + 4);
  CHECK(gaussian.observation_size(1) == 1 + 4);
  CHECK(gaussian.observation_size(2) == 1 + 4);
  CHECK(gaussian.observation_size(3) == 2 + 4);
  CHECK(gaussian.critic_input_size() == 1 + 1 + 2 + 2 + 4);
  REQUIRE(gaussian.action_std(2).size() == 2);
  CHECK(gaussian.action_std(2)[0] == Approx(0.3));
}

TEST_CASE("mappo: agents from any grouped space", "[search][mappo]") {
  // A flat space: one agent per parameter.
  using Flat = Mappo<problems::Hartmann6::space>;
  STATIC_REQUIRE(Flat::agent_count == 6);
  STATIC_REQUIRE(Flat::agent_names == std::array<std::string_view, 6>{"x1", "x2", "x3", "x4", "x5", "x6"});
  // Prefixed groups, fixed parameters left out, a group's members need not be neighbours.
  using Grouped = Concat<Prefixed<"a", Space<Real<"x", 0.0, 1.0>, Fixed<"k", 3>, Int<"y", 1, 9>>>,
                         Prefixed<"b", Space<Categorical<"z", 1, 2, 4>>>, Space<Real<"a.w", 0.0, 2.0>>,
                         Prefixed<"c", Space<Fixed<"u", 1>>>>;
  using G = Mappo<Grouped>;
  STATIC_REQUIRE(G::agent_count == 2);
  STATIC_REQUIRE(G::agent_names == std::array<std::string_view, 2>{"a", "b"});
  STATIC_REQUIRE(G::agent_dimensions == std::array<std::size_t, 2>{3, 1});
  // A topology and its own space make the same agents.
  STATIC_REQUIRE(Mappo<nn::paper_lenet::space>::agent_names == Mappo<nn::paper_lenet>::agent_names);

  G mappo(SearchOptions{.seed = 2});
  std::set<double> widths;
  for (int k = 0; k < 30; ++k) {
    const auto trial = mappo.ask();
    CHECK(trial.config.get<"a.k">() == 3);
    CHECK(trial.config.get<"a.w">() >= 0.0);
    CHECK(trial.config.get<"a.w">() <= 2.0);
    widths.insert(trial.config.get<"a.w">());
    mappo.tell(trial.id, result_of(trial.config.get<"a.x">() - std::abs(trial.config.get<"a.w">() - 1.5)));
  }
  CHECK(widths.size() >= 25);  // a real keeps its range: not a grid
  CHECK(mappo.updates() == 30 / 4);
}

TEST_CASE("mappo: a layer with a free hyperparameter adds an agent, nothing else changes", "[search][mappo]") {
  using Two = Mappo<discrete_lenet>;
  using Three = Mappo<three_conv_lenet>;
  STATIC_REQUIRE(Two::agent_count == 4);
  STATIC_REQUIRE(Three::agent_count == 5);
  STATIC_REQUIRE(Three::agent_names == std::array<std::string_view, 5>{"conv1", "conv2", "conv3", "fc1", "training"});
  STATIC_REQUIRE(Three::agent_dimensions == std::array<std::size_t, 5>{2, 2, 1, 2, 2});

  Three mappo(SearchOptions{.seed = 4}, MappoOptions::paper());
  CHECK(mappo.action_counts(2) == std::vector<std::size_t>{3});
  CHECK(mappo.observation_size(3) == 3 + 5);  // fc1 sees conv3's one action
  CHECK(mappo.critic_input_size() == (6 + 4) + (4 + 3) + 3 + (4 + 3) + (3 + 3) + 5);
  std::set<std::int64_t> conv3_sizes;
  for (int k = 0; k < 40; ++k) {
    const auto trial = mappo.ask();
    conv3_sizes.insert(trial.config.get<"conv3.conv_size">());
    CHECK(trial.config.get<"conv3.filters">() == 32);
    mappo.tell(trial.id, result_of(share_at_target(trial.config)));
  }
  CHECK(conv3_sizes == std::set<std::int64_t>{2, 3, 4});
  CHECK(mappo.updates() == 40 / 8);
}

TEST_CASE("mappo: grid episodes are configs on the action grid", "[search][mappo][seeded]") {
  Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 7}, MappoOptions::paper());
  const auto& discretization = mappo.discretization();
  std::set<std::int64_t> conv1_sizes;
  for (int k = 0; k < 100; ++k) {
    const auto trial = mappo.ask();
    const auto& config = trial.config;
    REQUIRE_NOTHROW(Config<nn::paper_lenet::space>(config.values()));
    CHECK(trial.id == static_cast<std::size_t>(k));
    CHECK(contains_value(discretization.levels<"fc1.hidden_size">(), config.get<"fc1.hidden_size">()));
    CHECK(contains_value(discretization.levels<"fc1.dropout_rate">(), config.get<"fc1.dropout_rate">()));
    CHECK(contains_value(discretization.levels<"training.batch_size">(), config.get<"training.batch_size">()));
    CHECK(contains_value(discretization.levels<"training.learning_rate">(), config.get<"training.learning_rate">()));
    conv1_sizes.insert(config.get<"conv1.conv_size">());
    mappo.tell(trial.id, problems::LeNetQuadratic{}(config));
  }
  CHECK(conv1_sizes.size() == 6);  // an untrained policy explores every action
  REQUIRE_NOTHROW(Config<nn::paper_lenet::space>(mappo.greedy_config().values()));
}

TEST_CASE("mappo: Gaussian episodes reach every level, off the grid", "[search][mappo][seeded]") {
  Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = mahpo::testing::seed(7)});
  std::set<std::int64_t> conv1_sizes, hidden_sizes;
  for (int k = 0; k < 100; ++k) {
    const auto trial = mappo.ask();
    REQUIRE_NOTHROW(Config<nn::paper_lenet::space>(trial.config.values()));
    conv1_sizes.insert(trial.config.get<"conv1.conv_size">());
    hidden_sizes.insert(trial.config.get<"fc1.hidden_size">());
    mappo.tell(trial.id, problems::LeNetQuadratic{}(trial.config));
  }
  CHECK(conv1_sizes.size() >= 3);
  CHECK(hidden_sizes.size() > 50);  // 8 grid levels would cap this at 8
  REQUIRE_NOTHROW(Config<nn::paper_lenet::space>(mappo.greedy_config().values()));

  // Every level, the bounds included, is an action: a wide untrained policy reaches all six sizes.
  Mappo<nn::paper_lenet> wide(SearchOptions{.seed = mahpo::testing::seed(7)}, MappoOptions{.initial_std = 1.0});
  std::set<std::int64_t> wide_sizes;
  for (int k = 0; k < 100; ++k) wide_sizes.insert(wide.ask().config.get<"conv1.conv_size">());
  CHECK(wide_sizes == std::set<std::int64_t>{2, 3, 4, 5, 6, 7});
}

TEST_CASE("mappo: the same seed and the same tells give the same trials", "[search][mappo][seeded]") {
  // Three pending at a time, told in a seeded shuffled order: batches mix policies.
  const bool paper = GENERATE(false, true);
  INFO((paper ? "paper preset" : "default"));
  const auto trials = [paper](std::uint64_t seed) {
    MappoOptions options = paper ? MappoOptions::paper() : MappoOptions{};
    options.episodes_per_update = 4;
    Mappo<discrete_lenet> mappo(SearchOptions{.seed = seed}, options);
    std::vector<Config<discrete_lenet::space>> asked;
    std::vector<search::Trial<discrete_lenet::space>> pending;
    std::mt19937_64 order(mahpo::testing::seed(99));
    while (asked.size() < 40) {
      while (pending.size() < 3) {
        pending.push_back(mappo.ask());
        asked.push_back(pending.back().config);
      }
      const std::size_t k = std::uniform_int_distribution<std::size_t>(0, pending.size() - 1)(order);
      mappo.tell(pending[k].id, result_of(share_at_target(pending[k].config)));
      pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(k));
    }
    CHECK(mappo.updates() >= 9);
    return asked;
  };
  const auto first = trials(21), again = trials(21), other = trials(22);
  CHECK(first == again);
  CHECK(first != other);
}

namespace {
// The paper's on-policy batches.
MappoOptions paper_with_batch(std::size_t episodes) {
  MappoOptions options = MappoOptions::paper();
  options.episodes_per_update = episodes;
  return options;
}
}  // namespace

TEST_CASE("mappo: paper preset: a PPO update runs on every K told episodes, the first K in id order",
          "[search][mappo]") {
  Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 3}, paper_with_batch(4));
  std::vector<search::Trial<nn::paper_lenet::space>> trials;
  for (int k = 0; k < 10; ++k) trials.push_back(mappo.ask());
  const auto tell = [&](std::size_t id) { mappo.tell(id, result_of(0.1 * static_cast<double>(id))); };

  tell(9);
  tell(5);
  tell(1);
  CHECK(mappo.updates() == 0);
  tell(3);  // told: 1, 3, 5, 9
  REQUIRE(mappo.updates() == 1);
  CHECK(mappo.last_update().episodes == 4);
  CHECK(mappo.last_update().mean_reward == Approx((0.1 + 0.3 + 0.5 + 0.9) / 4));
  CHECK(mappo.last_update().epochs == 10);  // no KL stop in the paper preset
  CHECK(mappo.last_update().seconds > 0.0);

  tell(0);
  tell(2);
  tell(4);
  tell(6);
  tell(8);  // waiting: 0, 2, 4, 6, 8: the first four make the batch
  REQUIRE(mappo.updates() == 2);
  CHECK(mappo.last_update().mean_reward == Approx((0.0 + 0.2 + 0.4 + 0.6) / 4));
  tell(7);  // waiting: 7, 8
  CHECK(mappo.updates() == 2);
  CHECK(mappo.update_seconds() > 0.0);

  // Asks go on while trials are pending, from the updated policy.
  for (int k = 0; k < 6; ++k) trials.push_back(mappo.ask());
  for (std::size_t id = 10; id < 12; ++id) tell(id);
  CHECK(mappo.updates() == 3);
  CHECK(mappo.history().pending() == 4);
}

TEST_CASE("mappo: by default every update trains on the newest told episodes, until the KL stop", "[search][mappo]") {
  MappoOptions options;
  options.episodes_per_update = 4;
  options.replay = 10;
  Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 3}, options);
  for (std::size_t k = 0; k < 4; ++k) mappo.tell(mappo.ask().id, result_of(0.1 * static_cast<double>(k)));
  REQUIRE(mappo.updates() == 1);
  CHECK(mappo.last_update().episodes == 4);
  CHECK(mappo.last_update().mean_reward == Approx((0.0 + 0.1 + 0.2 + 0.3) / 4));
  for (std::size_t k = 4; k < 12; ++k) mappo.tell(mappo.ask().id, result_of(0.1 * static_cast<double>(k)));
  REQUIRE(mappo.updates() == 3);
  CHECK(mappo.last_update().episodes == 10);  // episodes 2..11
  CHECK(mappo.last_update().mean_reward == Approx(0.65));

  // A target KL of 0 never stops the epochs; a tiny one stops them after the first step.
  const auto epochs_run = [](double target_kl) {
    MappoOptions kl;
    kl.target_kl = target_kl;
    Mappo<nn::paper_lenet> searcher(SearchOptions{.seed = 5}, kl);
    for (std::size_t k = 0; k < 8; ++k) {
      const auto trial = searcher.ask();
      searcher.tell(trial.id, problems::LeNetQuadratic{}(trial.config));
    }
    REQUIRE(searcher.updates() == 2);
    return searcher.last_update();
  };
  CHECK(epochs_run(0.0).epochs == 15);
  const auto stopped = epochs_run(1e-9);
  CHECK(stopped.epochs == 0);  // the first step already crosses 1.5e-9, and is taken back
  CHECK(stopped.approx_kl <= 1.5e-9);
}

TEST_CASE("mappo: an update never leaves the policy past 1.5 x target_kl: the step that crosses it is taken back",
          "[search][mappo][seeded]") {
  // Large steps (Adam 3e-2) against a small target, so that single epochs overshoot it. The KL is
  // measured here, exactly, between the policy before the tell that ran the update and after it, on
  // the update's batch (the newest `replay` told episodes).
  MappoOptions options;
  options.actor_learning_rate = 3e-2;
  options.target_kl = 0.01;
  options.reward_model = false;
  std::size_t stopped = 0, updates = 0;
  for (std::uint64_t seed = 0; seed < 3; ++seed) {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = mahpo::testing::seed(seed)}, options);
    std::vector<std::size_t> told;
    for (std::size_t k = 0; k < 60; ++k) {
      const auto trial = mappo.ask();
      const auto before = mappo.policy();
      const std::size_t updates_before = mappo.updates();
      mappo.tell(trial.id, problems::LeNetQuadratic{}(trial.config));
      told.push_back(trial.id);
      if (mappo.updates() == updates_before) continue;
      ++updates;
      const std::size_t size = std::min(options.replay, told.size());
      const std::vector<std::size_t> batch(told.end() - static_cast<std::ptrdiff_t>(size), told.end());
      const double kl = mappo.policy_kl(before, batch);
      CAPTURE(seed, k, mappo.last_update().epochs);
      CHECK(kl <= 1.5 * options.target_kl + 1e-12);
      CHECK(kl == Approx(mappo.last_update().approx_kl).margin(1e-12));
      stopped += mappo.last_update().epochs < options.ppo_epochs ? 1 : 0;
    }
  }
  CAPTURE(updates, stopped);
  CHECK(stopped * 2 >= updates);  // the stop is what holds most updates
}

TEST_CASE("mappo: a flat batch stays a small step: the advantages' deviation is floored", "[search][mappo][seeded]") {
  // 60 trials of the LeNet quadratic, then every trial diverges (0.1): once the newest 32 told
  // episodes, the batch, are all diverged (and the critic has seen that), nothing is left to learn,
  // and the policy should stay where it is over the last 40 (and not shrink its stds). Without the
  // floor (the reference's normalization, epsilon alone) the critic's leftover errors are scaled up
  // to unit advantages, and the policy walks away as fast as it learnt before.
  const auto drift = [](double floor, std::uint64_t seed) {
    MappoOptions options;
    options.advantage_floor = floor;
    options.reward_model = false;
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = mahpo::testing::seed(seed)}, options);
    for (std::size_t k = 0; k < 60; ++k) {
      const auto trial = mappo.ask();
      mappo.tell(trial.id, problems::LeNetQuadratic{}(trial.config));
    }
    for (std::size_t k = 0; k < 60; ++k) mappo.tell(mappo.ask().id, result_of(0.1));
    const auto start = mappo.policy();
    std::vector<std::size_t> ids;
    for (std::size_t k = 0; k < 40; ++k) {
      const auto trial = mappo.ask();
      mappo.tell(trial.id, result_of(0.1));
      ids.push_back(trial.id);
    }
    return mappo.policy_kl(start, ids);
  };
  for (std::uint64_t seed = 0; seed < 3; ++seed) {
    const double floored = drift(MappoOptions{}.advantage_floor, seed), unfloored = drift(0.0, seed);
    CAPTURE(seed, floored, unfloored);
    CHECK(floored < 1e-3);
    CHECK(unfloored > 0.05);
  }
}

TEST_CASE("mappo: imagined updates never move the policy past model_kl from the last policy checked on real rewards",
          "[search][mappo][seeded]") {
  MappoOptions options;
  options.max_model_updates = 20;
  std::size_t rounds = 0, cut = 0, made = 0;
  for (std::uint64_t seed = 0; seed < 3; ++seed) {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = mahpo::testing::seed(seed)}, options);
    for (std::size_t k = 0; k < 80; ++k) {
      const auto trial = mappo.ask();
      const std::size_t rounds_before = mappo.model_rounds();
      mappo.tell(trial.id, problems::LeNetQuadratic{}(trial.config));
      if (mappo.model_rounds() == rounds_before) continue;
      const auto& round = mappo.last_model_round();
      const double kl = mappo.policy_kl(round.checked, mappo.policy(), round.probe);
      CAPTURE(seed, k, round.updates);
      CHECK(kl <= options.model_kl);
      CHECK(kl == Approx(round.kl).margin(1e-12));
      ++rounds;
      made += round.updates;
      cut += round.updates < options.max_model_updates ? 1 : 0;
    }
  }
  CAPTURE(rounds, made, cut);
  CHECK(rounds >= 3 * 15);   // a round after every real update once 12 trials were told
  CHECK(made > rounds);      // imagined updates happen ...
  CHECK(cut * 2 >= rounds);  // ... and the bound, not the cap, ends most rounds
}

TEST_CASE("mappo: the default clips each agent's joint ratio, the paper preset each dimension's", "[search][mappo]") {
  // PPO's ratio of an agent's action is the product over its dimensions, clipped once; the MAPPO
  // reference code clips each dimension's (docs/mappo.md: the held-out evaluation of both).
  CHECK(Mappo<nn::paper_lenet>().options_json().at("ratio") == "joint");
  CHECK(Mappo<nn::paper_lenet>(SearchOptions{}, MappoOptions::paper()).options_json().at("ratio") == "per_dimension");
  // Old options without the key read as today's default.
  nlohmann::json old = MappoOptions{};
  old.erase("ratio");
  CHECK(old.get<MappoOptions>().ratio == rl::Ratio::joint);
}

TEST_CASE("mappo: only the ranks of the values matter: a monotone change of the objective asks the same trials",
          "[search][mappo]") {
  // Ranked rewards and a reward model of their normal scores: exp(40 v) (a diverged 0.1 becomes
  // e^-36 of the best) or v itself give the same search.
  const auto configs = [](auto transform) {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 11});
    std::vector<Config<nn::paper_lenet::space>> asked;
    for (std::size_t k = 0; k < 40; ++k) {
      const auto trial = mappo.ask();
      asked.push_back(trial.config);
      const double value = problems::LeNetQuadratic{}(trial.config).value;
      mappo.tell(trial.id, result_of(transform(k % 7 == 3 ? 0.1 : value)));
    }
    return asked;
  };
  const auto plain = configs([](double v) { return v; });
  const auto stretched = configs([](double v) { return std::exp(40.0 * v); });
  CHECK(plain == stretched);
}

TEST_CASE("mappo: updates move the policy towards what is rewarded", "[search][mappo][seeded]") {
  // After 40 told episodes, 100 asks: how many pick conv1 = 7 (1 in 6 for an untrained categorical
  // policy), and the greedy config's conv1; five seeds each, judged by the median and a count.
  const auto after_training = [](const MappoOptions& options, auto reward, std::uint64_t seed) {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = mahpo::testing::seed(seed)}, options);
    for (int k = 0; k < 40; ++k) {
      const auto trial = mappo.ask();
      mappo.tell(trial.id, result_of(reward(trial.config.get<"conv1.conv_size">())));
    }
    int sevens = 0;
    for (int k = 0; k < 100; ++k) sevens += mappo.ask().config.get<"conv1.conv_size">() == 7 ? 1 : 0;
    return std::pair{static_cast<double>(sevens), mappo.greedy_config().get<"conv1.conv_size">() == 7};
  };
  const auto judge = [&](const MappoOptions& options, auto reward) {
    std::vector<double> sevens;
    int greedy_sevens = 0;
    for (std::uint64_t seed = 0; seed < 5; ++seed) {
      const auto [count, greedy] = after_training(options, reward, seed);
      sevens.push_back(count);
      greedy_sevens += greedy ? 1 : 0;
    }
    CAPTURE(sevens, greedy_sevens);
    CHECK(median(sevens) > 30.0);  // almost twice an untrained policy's 1 in 6
    CHECK(greedy_sevens >= 4);
  };
  // The paper preset's categorical agents, rewarded for conv1 = 7 alone.
  judge(paper_with_batch(4), [](std::int64_t size) { return size == 7 ? 1.0 : 0.0; });
  // The default's ordinal Gaussian agents start centred (conv1 4-5) and seldom try the edge in 40
  // episodes, so a reward at 7 alone is rarely seen (docs/testing.md: with issue 38's 8 prior
  // startup episodes it is learnt on 3 of 5 seeds, those whose startup drew a 7); a reward that
  // grows towards 7 is seen by every episode, and the policy climbs it.
  judge(MappoOptions{}, [](std::int64_t size) { return static_cast<double>(size - 2) / 5.0; });
}

TEST_CASE("mappo: ranked rewards are mid-rank quantiles, failed trials take the floor", "[search][mappo]") {
  search::ppo::detail::EpisodeRewards rewards;
  rewards.tell(0, true, 0.9);
  CHECK(rewards.quantile(0, 0.0) == 0.5);  // alone
  rewards.tell(2, true, 0.1);
  rewards.tell(1, false, 0.0);
  rewards.tell(3, true, 0.5);
  rewards.tell(4, true, 0.5);
  CHECK(rewards.told() == std::vector<std::size_t>{0, 2, 1, 3, 4});
  CHECK(rewards.quantile(0, 0.0) == 1.0);
  CHECK(rewards.quantile(2, 0.0) == 0.0);
  CHECK(rewards.quantile(3, 0.0) == 0.5);  // ties share ranks 1 and 2 of 0..3
  CHECK(rewards.quantile(4, 0.0) == 0.5);
  CHECK(rewards.quantile(1, 0.1) == 0.1);  // failed: the floor, whatever the values' scale
  CHECK(rewards.reward_or_worst(1) == 0.1);

  // A chance-level outlier does not squeeze the good values together, as z-scores would.
  search::ppo::detail::EpisodeRewards accuracies;
  const std::vector<double> values{0.97, 0.975, 0.98, 0.985, 0.1};
  for (std::size_t id = 0; id < values.size(); ++id) accuracies.tell(id, true, values[id]);
  CHECK(accuracies.quantile(3, 0.0) - accuracies.quantile(0, 0.0) == Approx(0.75));
}

TEST_CASE("mappo: rewards follow the goal, failed trials get the worst reward", "[search][mappo]") {
  SECTION("maximize: failed and diverged count as the worst usable value") {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 1}, paper_with_batch(4));
    for (int k = 0; k < 4; ++k) mappo.ask();
    mappo.tell(0, result_of(0.4));
    mappo.tell(1, result_of(std::nan(""), Status::failed));
    mappo.tell(2, result_of(0.2));
    mappo.tell(3, result_of(0.9, Status::diverged));
    REQUIRE(mappo.updates() == 1);
    CHECK(mappo.last_update().mean_reward == Approx((0.4 + 0.2 + 0.2 + 0.2) / 4));
  }
  SECTION("minimize: the reward is -value") {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 1, .goal = mahpo::Goal::minimize}, paper_with_batch(4));
    for (int k = 0; k < 4; ++k) mappo.ask();
    mappo.tell(0, result_of(2.0));
    mappo.tell(1, result_of(4.0));
    mappo.tell(2, result_of(0.0, Status::failed));
    mappo.tell(3, result_of(3.0, Status::pruned));  // pruned values are usable
    REQUIRE(mappo.updates() == 1);
    CHECK(mappo.last_update().mean_reward == Approx((-2.0 - 4.0 - 4.0 - 3.0) / 4));
  }
  SECTION("before any usable value a failed trial's reward is 0; a NaN value counts as failed") {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 1}, paper_with_batch(2));
    for (int k = 0; k < 2; ++k) mappo.ask();
    mappo.tell(0, result_of(0.0, Status::failed));
    mappo.tell(1, result_of(std::nan("")));
    REQUIRE(mappo.updates() == 1);
    CHECK(mappo.last_update().mean_reward == 0.0);
    CHECK(std::isfinite(mappo.last_update().value_loss));
  }
}

TEST_CASE("mappo: options are checked", "[search][mappo]") {
  const auto rejects = [](MappoOptions options, std::string_view what) {
    INFO(what);
    CHECK_THROWS_WITH(Mappo<nn::paper_lenet>({}, options),
                      Catch::Contains("mahpo::mappo") && Catch::Contains(std::string(what)));
  };
  rejects({.bins = 1}, "bins");
  rejects({.initial_std = 0.0}, "initial_std");
  rejects({.initial_std = 0.1, .min_std = 0.2}, "min_std");
  rejects({.episodes_per_update = 0}, "episodes_per_update");
  rejects({.ppo_epochs = 0}, "ppo_epochs");
  rejects({.target_kl = -0.01}, "target_kl");
  rejects({.clip = 0.0}, "clip");
  rejects({.actor_learning_rate = -1e-3}, "actor_learning_rate");
  rejects({.critic_learning_rate = 0.0}, "critic_learning_rate");
  rejects({.entropy_coefficient = -0.1}, "entropy_coefficient");
  rejects({.max_gradient_norm = 0.0}, "max_gradient_norm");
  rejects({.failed_quantile = 1.5}, "failed_quantile");
  rejects({.huber_delta = 0.0}, "huber_delta");
  rejects({.gae_lambda = 1.5}, "gae_lambda");
  rejects({.hidden_sizes = {}}, "hidden_sizes");
  rejects({.hidden_sizes = {64, 0}}, "hidden size");
  CHECK_NOTHROW(Mappo<nn::paper_lenet>({}, MappoOptions{.bins = 2, .episodes_per_update = 1, .hidden_sizes = {8}}));
}

TEST_CASE("mappo: beats random search on a problem whose optimum is a per-layer combination",
          "[search][mappo][seeded]") {
  // The value is the share of dimensions at their target; random search reaches about 3/4 in 200.
  std::vector<double> mappo_best, random_best;
  int greedy_at_optimum = 0;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    Mappo<discrete_lenet> mappo(SearchOptions{.seed = mahpo::testing::seed(seed)}, MappoOptions::paper());
    mappo_best.push_back(run(mappo, share_at_target<discrete_lenet::space>, 200).best);
    greedy_at_optimum += share_at_target(mappo.greedy_config()) == 1.0 ? 1 : 0;
    search::Random<discrete_lenet::space> random(SearchOptions{.seed = mahpo::testing::seed(seed)});
    random_best.push_back(run(random, share_at_target<discrete_lenet::space>, 200).best);
  }
  INFO("median best: mappo " << median(mappo_best) << ", random " << median(random_best));
  CHECK(median(mappo_best) > median(random_best));
  CHECK(median(mappo_best) == 1.0);
  CHECK(greedy_at_optimum >= 4);  // the learned policy, not luck

  // The added agent learns too.
  Mappo<three_conv_lenet> three(SearchOptions{.seed = mahpo::testing::seed(0)}, MappoOptions::paper());
  run(three, share_at_target<three_conv_lenet::space>, 200);
  CHECK(share_at_target(three.greedy_config()) >= 8.0 / 9.0);
}

TEST_CASE("mappo: beats random search, and its own grid's best, on LeNetQuadratic", "[search][mappo][seeded]") {
  // The paper preset's 8-level grid holds no config above 0.9858 here; the default's ordinal
  // Gaussian actions are not capped by it.
  const problems::LeNetQuadratic problem;
  const auto value = [&](const Config<nn::paper_lenet::space>& config) { return problem(config).value; };
  double grid_best = -1e300;
  for (const auto& config : nn::paper_lenet::space::grid(8)) grid_best = std::max(grid_best, value(config));
  CHECK(grid_best < 0.986);
  std::vector<double> mappo_best, random_best, paper_best;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = mahpo::testing::seed(seed)});
    mappo_best.push_back(run(mappo, value, 200).best);
    Mappo<nn::paper_lenet> paper(SearchOptions{.seed = mahpo::testing::seed(seed)}, MappoOptions::paper());
    paper_best.push_back(run(paper, value, 200).best);
    search::Random<nn::paper_lenet::space> random(SearchOptions{.seed = mahpo::testing::seed(seed)});
    random_best.push_back(run(random, value, 200).best);
  }
  INFO("median best: mappo " << median(mappo_best) << ", paper preset " << median(paper_best) << ", random "
                             << median(random_best) << ", grid's best " << grid_best);
  CHECK(median(mappo_best) > median(random_best));
  CHECK(median(paper_best) > median(random_best));
  CHECK(median(mappo_best) > grid_best);
}

TEST_CASE("mappo: beats random search on Branin and Hartmann-6 (flat spaces, one agent per parameter)",
          "[search][mappo][seeded]") {
  const auto median_best = [](auto make, auto problem, std::size_t trials) {
    std::vector<double> best;
    for (std::uint64_t seed = 0; seed < 9; ++seed) {                            // 5 seeds held on 56 of 60 batches
      auto searcher = make(SearchOptions{.seed = mahpo::testing::seed(seed)});  // maximizes -value
      best.push_back(-run(
                          searcher, [&](const auto& config) { return -problem(config).value; }, trials)
                          .best);
    }
    return median(best);
  };
  using B = problems::Branin::space;
  using H = problems::Hartmann6::space;
  const auto mappo_branin = [](SearchOptions o) { return Mappo<B>(o); };
  const auto random_branin = [](SearchOptions o) { return search::Random<B>(o); };
  const auto mappo_hartmann = [](SearchOptions o) { return Mappo<H>(o); };
  const auto random_hartmann = [](SearchOptions o) { return search::Random<H>(o); };
  const double branin = median_best(mappo_branin, problems::Branin{}, 100);
  const double branin_random = median_best(random_branin, problems::Branin{}, 100);
  INFO("Branin, 100 trials: mappo " << branin << ", random " << branin_random);
  CHECK(branin < branin_random);
  const double hartmann = median_best(mappo_hartmann, problems::Hartmann6{}, 100);
  const double hartmann_random = median_best(random_hartmann, problems::Hartmann6{}, 100);
  INFO("Hartmann-6, 100 trials: mappo " << hartmann << ", random " << hartmann_random);
  CHECK(hartmann < hartmann_random);
}

TEST_CASE("mappo: paper preset: reward normalization lets it learn accuracy-sized differences",
          "[search][mappo][seeded]") {
  // Accuracies 0.97 + 0.02 * share: the differences a CNN search sees. Without normalization the
  // critic's initial noise swamps them; with it, learning matches the unit-scale problem.
  const auto accuracy = [](const Config<discrete_lenet::space>& config) {
    return 0.97 + 0.02 * share_at_target(config);
  };
  const auto learned_share = [&](bool normalize) {
    std::vector<double> shares;
    for (std::uint64_t seed = 0; seed < 5; ++seed) {
      MappoOptions options = MappoOptions::paper();
      options.rewards = normalize ? MappoRewards::normalized : MappoRewards::raw;
      Mappo<discrete_lenet> mappo(SearchOptions{.seed = mahpo::testing::seed(seed)}, options);
      shares.push_back((run(mappo, accuracy, 200).last_mean - 0.97) / 0.02);
    }
    return median(shares);
  };
  const double with = learned_share(true), without = learned_share(false);
  INFO("share at target over the last 50 episodes: normalized " << with << ", raw " << without);
  CHECK(with > 0.9);
  CHECK(with > without + 0.1);
}
