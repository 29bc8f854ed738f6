// Mappo<Topology>: agents from the topology's types, episodes on the action grid, determinism,
// PPO updates every K told episodes, rewards, options, and search quality against random search.

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
#include <vector>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/mappo.hpp>
#include <mahpo/search/random.hpp>

namespace {

using namespace mahpo;
using search::Mappo;
using search::MappoOptions;
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

  const M mappo;
  CHECK(mappo.action_counts(0) == std::vector<std::size_t>{6});     // conv_size 2..7, every value
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

  const Mappo<nn::paper_lenet> coarse({}, MappoOptions{.bins = 4});
  CHECK(coarse.action_counts(0) == std::vector<std::size_t>{4});  // 6 sizes > 4 bins: 4 levels
  CHECK(coarse.action_counts(3) == std::vector<std::size_t>{4, 4});
}

TEST_CASE("mappo: a layer with a free hyperparameter adds an agent, nothing else changes", "[search][mappo]") {
  using Two = Mappo<discrete_lenet>;
  using Three = Mappo<three_conv_lenet>;
  STATIC_REQUIRE(Two::agent_count == 4);
  STATIC_REQUIRE(Three::agent_count == 5);
  STATIC_REQUIRE(Three::agent_names == std::array<std::string_view, 5>{"conv1", "conv2", "conv3", "fc1", "training"});
  STATIC_REQUIRE(Three::agent_dimensions == std::array<std::size_t, 5>{2, 2, 1, 2, 2});

  Three mappo(SearchOptions{.seed = 4});
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
  CHECK(mappo.updates() == 5);
}

TEST_CASE("mappo: episodes are configs on the action grid", "[search][mappo]") {
  Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 7});
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

TEST_CASE("mappo: the same seed and the same tells give the same trials", "[search][mappo]") {
  // Three pending at a time, told in a seeded shuffled order: batches mix policies.
  const auto trials = [](std::uint64_t seed) {
    Mappo<discrete_lenet> mappo(SearchOptions{.seed = seed}, MappoOptions{.episodes_per_update = 4});
    std::vector<Config<discrete_lenet::space>> asked;
    std::vector<search::Trial<discrete_lenet::space>> pending;
    std::mt19937_64 order(99);
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

TEST_CASE("mappo: a PPO update runs on every K told episodes, the first K in id order", "[search][mappo]") {
  Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 3}, MappoOptions{.episodes_per_update = 4});
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
  CHECK(mappo.last_update().approx_kl > 0.0);  // the policy moved
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

TEST_CASE("mappo: rewards follow the goal; failed trials get the worst reward", "[search][mappo]") {
  SECTION("maximize: failed and diverged count as the worst usable value") {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 1}, MappoOptions{.episodes_per_update = 4});
    for (int k = 0; k < 4; ++k) mappo.ask();
    mappo.tell(0, result_of(0.4));
    mappo.tell(1, result_of(std::nan(""), Status::failed));
    mappo.tell(2, result_of(0.2));
    mappo.tell(3, result_of(0.9, Status::diverged));
    REQUIRE(mappo.updates() == 1);
    CHECK(mappo.last_update().mean_reward == Approx((0.4 + 0.2 + 0.2 + 0.2) / 4));
  }
  SECTION("minimize: the reward is -value") {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 1, .goal = search::Goal::minimize},
                                 MappoOptions{.episodes_per_update = 4});
    for (int k = 0; k < 4; ++k) mappo.ask();
    mappo.tell(0, result_of(2.0));
    mappo.tell(1, result_of(4.0));
    mappo.tell(2, result_of(0.0, Status::failed));
    mappo.tell(3, result_of(3.0, Status::pruned));  // pruned values are usable
    REQUIRE(mappo.updates() == 1);
    CHECK(mappo.last_update().mean_reward == Approx((-2.0 - 4.0 - 4.0 - 3.0) / 4));
  }
  SECTION("before any usable value a failed trial's reward is 0; a NaN value counts as failed") {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = 1}, MappoOptions{.episodes_per_update = 2});
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
    CHECK_THROWS_WITH(Mappo<nn::paper_lenet>({}, options), Catch::Contains("mahpo::mappo") && Catch::Contains(std::string(what)));
  };
  rejects({.bins = 1}, "bins");
  rejects({.episodes_per_update = 0}, "episodes_per_update");
  rejects({.ppo_epochs = 0}, "ppo_epochs");
  rejects({.clip = 0.0}, "clip");
  rejects({.actor_learning_rate = -1e-3}, "actor_learning_rate");
  rejects({.critic_learning_rate = 0.0}, "critic_learning_rate");
  rejects({.entropy_coefficient = -0.1}, "entropy_coefficient");
  rejects({.max_gradient_norm = 0.0}, "max_gradient_norm");
  rejects({.huber_delta = 0.0}, "huber_delta");
  rejects({.gae_lambda = 1.5}, "gae_lambda");
  rejects({.hidden_sizes = {}}, "hidden_sizes");
  rejects({.hidden_sizes = {64, 0}}, "hidden size");
  CHECK_NOTHROW(Mappo<nn::paper_lenet>({}, MappoOptions{.bins = 2, .episodes_per_update = 1, .hidden_sizes = {8}}));
}

TEST_CASE("mappo: beats random search on a problem whose optimum is a per-layer combination", "[search][mappo]") {
  // The value is the share of dimensions at their target; random search reaches about 3/4 in 200.
  std::vector<double> mappo_best, random_best;
  int greedy_at_optimum = 0;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    Mappo<discrete_lenet> mappo(SearchOptions{.seed = seed});
    mappo_best.push_back(run(mappo, share_at_target<discrete_lenet::space>, 200).best);
    greedy_at_optimum += share_at_target(mappo.greedy_config()) == 1.0 ? 1 : 0;
    search::Random<discrete_lenet::space> random(SearchOptions{.seed = seed});
    random_best.push_back(run(random, share_at_target<discrete_lenet::space>, 200).best);
  }
  INFO("median best: mappo " << median(mappo_best) << ", random " << median(random_best));
  CHECK(median(mappo_best) > median(random_best));
  CHECK(median(mappo_best) == 1.0);
  CHECK(greedy_at_optimum >= 4);  // the learned policy, not luck

  // The added agent learns too.
  Mappo<three_conv_lenet> three(SearchOptions{.seed = 0});
  run(three, share_at_target<three_conv_lenet::space>, 200);
  CHECK(share_at_target(three.greedy_config()) >= 8.0 / 9.0);
}

TEST_CASE("mappo: beats random search on LeNetQuadratic", "[search][mappo]") {
  const problems::LeNetQuadratic problem;
  const auto value = [&](const Config<nn::paper_lenet::space>& config) { return problem(config).value; };
  std::vector<double> mappo_best, random_best;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    Mappo<nn::paper_lenet> mappo(SearchOptions{.seed = seed});
    mappo_best.push_back(run(mappo, value, 200).best);
    search::Random<nn::paper_lenet::space> random(SearchOptions{.seed = seed});
    random_best.push_back(run(random, value, 200).best);
  }
  INFO("median best: mappo " << median(mappo_best) << ", random " << median(random_best));
  CHECK(median(mappo_best) > median(random_best));
}

TEST_CASE("mappo: reward normalization lets it learn accuracy-sized differences", "[search][mappo]") {
  // Accuracies 0.97 + 0.02 * share: the differences a CNN search sees. Without normalization the
  // critic's initial noise swamps them; with it, learning matches the unit-scale problem.
  const auto accuracy = [](const Config<discrete_lenet::space>& config) {
    return 0.97 + 0.02 * share_at_target(config);
  };
  const auto learned_share = [&](bool normalize) {
    std::vector<double> shares;
    for (std::uint64_t seed = 0; seed < 5; ++seed) {
      Mappo<discrete_lenet> mappo(SearchOptions{.seed = seed}, MappoOptions{.reward_normalization = normalize});
      shares.push_back((run(mappo, accuracy, 200).last_mean - 0.97) / 0.02);
    }
    return median(shares);
  };
  const double with = learned_share(true), without = learned_share(false);
  INFO("share at target over the last 50 episodes: normalized " << with << ", raw " << without);
  CHECK(with > 0.9);
  CHECK(with > without + 0.1);
}
