// PPO-LSTM: options, configs inside the space (either squash), determinism, the real-update
// batches, the KL rule that ends the model-based updates, the reward model's fit, the whole
// policy's PPO gradient against finite differences, learning without the model, and that it beats
// random search and itself without the reward model on the LeNet quadratic.
#include <catch2/catch.hpp>

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/ppo/ppo_lstm.hpp>
#include <mahpo/search/random.hpp>

#include "../spaces.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "../seeds.hpp"

using namespace mahpo;
using namespace mahpo::search;

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

using Quadratic = problems::LeNetQuadratic;
using LeNetSpace = Quadratic::space;

// Runs `trials` ask/tell rounds of the LeNet quadratic, one trial at a time.
template <typename Searcher>
void run_quadratic(Searcher& searcher, std::size_t trials) {
  const Quadratic problem;
  for (std::size_t k = 0; k < trials; ++k) {
    const auto trial = searcher.ask();
    searcher.tell(trial.id, Result{.value = problem(trial.config).value});
  }
}

// Asks `trials` trials with up to `pending` outstanding, telling them in a seeded shuffled order.
template <typename Searcher>
std::vector<Trial<LeNetSpace>> run_pending(Searcher& searcher, std::size_t trials, std::size_t pending) {
  const Quadratic problem;
  std::vector<Trial<LeNetSpace>> asked, outstanding;
  std::mt19937_64 order(7);
  while (asked.size() < trials || !outstanding.empty()) {
    while (outstanding.size() < pending && asked.size() < trials) {
      asked.push_back(searcher.ask());
      outstanding.push_back(asked.back());
    }
    std::uniform_int_distribution<std::size_t> pick(0, outstanding.size() - 1);
    const std::size_t k = pick(order);
    searcher.tell(outstanding[k].id, Result{.value = problem(outstanding[k].config).value});
    outstanding.erase(outstanding.begin() + static_cast<std::ptrdiff_t>(k));
  }
  return asked;
}

// Adds N(0, scale^2) to every parameter of the policy.
void jitter(ppo_lstm::detail::Policy& policy, double scale, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, scale);
  for (rl::Parameter* parameter : policy.parameters())
    for (double& x : parameter->value) x += normal(rng);
}

// Checks d(loss)/d(parameters) of ppo_lstm::detail::loss_gradient against central differences of
// ppo_lstm::detail::loss_value on about `entries` evenly spaced entries of every parameter. A clip kink inside the
// difference interval shows itself by estimates at steps h and h/2 that disagree; such an entry is
// skipped, every other one must match.
void check_policy_gradient(const PpoLstmOptions& options, std::size_t entries, std::uint64_t seed) {
  constexpr std::size_t steps = LeNetSpace::dimension, batch = 5;
  std::mt19937_64 rng(mahpo::testing::seed(seed));
  const rl::SquashedGaussianHead head;
  ppo_lstm::detail::Policy policy(steps, options, rng);
  jitter(policy, 0.3, rng);  // away from the near-zero output head and the shared initial log-std
  const rl::Matrix episodes = policy.sample(batch, head, rng);
  std::normal_distribution<double> normal(0.0, 1.0);
  const ppo_lstm::detail::Distributions now = policy.predict(episodes);
  rl::Matrix old_log_probabilities =
      head.log_probabilities(now.mean, now.log_std, ppo_lstm::detail::stacked_actions(episodes));
  for (double& x : old_log_probabilities) x += 0.2 * normal(rng);  // ratios inside and outside the clip
  rl::Vector episode_advantages = rl::Vector::from_shape({batch});
  for (double& a : episode_advantages) a = normal(rng);
  const rl::Vector advantages = ppo_lstm::detail::step_advantages(episode_advantages, steps);
  const rl::ActorLossOptions loss_options{.clip = options.clip, .entropy_coefficient = options.entropy_coefficient};

  const rl::GaussianActorLoss loss =
      ppo_lstm::detail::loss_gradient(policy, head, episodes, old_log_probabilities, advantages, loss_options);
  CHECK(loss.clip_fraction > 0.0);  // both regimes of the clipped surrogate are in the loss
  CHECK(loss.clip_fraction < 1.0);
  const auto value = [&] {
    return ppo_lstm::detail::loss_value(policy, head, episodes, old_log_probabilities, advantages, loss_options);
  };
  CHECK(value() == Approx(loss.total).epsilon(1e-12));  // forward and predict agree

  const auto relative = [](double a, double b) { return std::abs(a - b) / std::max(1e-6, std::abs(a) + std::abs(b)); };
  const rl::ParameterList parameters = policy.parameters();
  REQUIRE(parameters.size() == 2 + 3 * options.lstm_layers + 2 + 1);  // embedding, cells, output head, log-std
  std::size_t checked = 0, kinks = 0;
  for (std::size_t p = 0; p < parameters.size(); ++p) {
    rl::Matrix& values = parameters[p]->value;
    const rl::Matrix analytic = parameters[p]->gradient;
    const auto difference = [&](std::size_t k, double step) {
      const double kept = values.flat(k);
      values.flat(k) = kept + step;
      const double up = value();
      values.flat(k) = kept - step;
      const double down = value();
      values.flat(k) = kept;
      return (up - down) / (2.0 * step);
    };
    double largest = 0.0;
    const std::size_t stride = std::max<std::size_t>(1, values.size() / entries);
    for (std::size_t k = p % stride; k < values.size(); k += stride) {
      const double coarse = difference(k, 1e-4), fine = difference(k, 5e-5);
      if (relative(coarse, fine) > 1e-3) {
        ++kinks;
        continue;
      }
      INFO("parameter " << p << ", entry " << k << ": numeric " << fine << ", analytic " << analytic.flat(k));
      CHECK(relative(fine, analytic.flat(k)) < 1e-4);
      largest = std::max(largest, std::abs(fine));
      ++checked;
    }
    INFO("parameter " << p << ": " << values.size() << " entries, stride " << stride);
    CHECK(largest > 1e-6);  // a parameter whose gradient is all zeros checks nothing
  }
  INFO(checked << " entries checked, " << kinks << " skipped at a clip kink");
  CHECK(kinks * 10 <= checked);
}

}  // namespace

TEST_CASE("ppo_lstm's PPO gradient through the whole policy (embedding, LSTM stack, head, log-std) is exact",
          "[gradient][seeded]") {
  SECTION("a small policy, every entry, tanh of the sample") {
    check_policy_gradient({.lstm_units = 5, .lstm_layers = 2}, 1000, 1);
  }
  SECTION("a small policy, every entry, tanh of the mean") {
    check_policy_gradient({.lstm_units = 5, .lstm_layers = 2, .squash = PpoLstmSquash::mean}, 1000, 2);
  }
  SECTION("the default policy (3 x 35 units), about 20 entries of each parameter") { check_policy_gradient({}, 20, 3); }
}

TEST_CASE("ppo_lstm refuses bad options with a message naming the option") {
  const auto refuses = [](PpoLstmOptions options, const std::string& word) {
    try {
      PpoLstm<LeNetSpace> searcher({}, options);
      FAIL("accepted a bad " << word);
    } catch (const std::invalid_argument& error) {
      const std::string message = error.what();
      CHECK(message.find("mahpo::ppo_lstm") != std::string::npos);
      CHECK(message.find(word) != std::string::npos);
    }
  };
  refuses({.learning_rate = 0.0}, "learning_rate");
  refuses({.lstm_units = 0}, "lstm_units");
  refuses({.episodes_per_update = 0}, "episodes_per_update");
  refuses({.ppo_epochs = 0}, "ppo_epochs");
  refuses({.clip = 0.0}, "clip");
  refuses({.entropy_coefficient = -1.0}, "entropy_coefficient");
  refuses({.max_gradient_norm = 0.0}, "max_gradient_norm");
  refuses({.initial_log_std = 3.0}, "initial_log_std");
  refuses({.reward_model_ensemble = 0}, "reward_model_ensemble");
  refuses({.kl_threshold = 0.0}, "kl_threshold");
  refuses({.max_model_updates = 0}, "max_model_updates");
  refuses({.imagined_episodes = 1}, "imagined_episodes");
  CHECK_NOTHROW(PpoLstm<LeNetSpace>({}, {.use_reward_model = false, .max_model_updates = 0}));
  CHECK(PpoLstm<LeNetSpace>().ppo_options().min_real_for_model == 2 * LeNetSpace::dimension);
  CHECK(PpoLstm<LeNetSpace>({}, {.min_real_for_model = 5}).ppo_options().min_real_for_model == 5);
}

TEST_CASE("ppo_lstm's configs stay in the space and reach every value of a categorical", "[seeded]") {
  using S = test_spaces::Mixed;
  PpoLstm<S> searcher(SearchOptions{.seed = mahpo::testing::seed(4)});
  std::set<std::string> activations;
  std::set<std::int64_t> batch_sizes;
  for (std::size_t k = 0; k < 48; ++k) {
    const auto trial = searcher.ask();
    REQUIRE_NOTHROW(Config<S>(trial.config.values()));
    activations.insert(std::string(trial.config.template get<"activation">()));
    batch_sizes.insert(trial.config.template get<"batch_size">());
    const double rate = trial.config.template get<"learning_rate">();
    CHECK((rate >= 1e-4 && rate <= 0.1));
    searcher.tell(trial.id, Result{.value = -std::log(rate)});
  }
  CHECK(activations.size() == 3);
  CHECK(batch_sizes.size() >= 8);
  CHECK(searcher.real_updates() == 12);
}

TEST_CASE("ppo_lstm with the mean squashed (seed 001's form) clips draws onto the bounds, inside the space") {
  using S = test_spaces::Mixed;
  const auto at_bounds = [](PpoLstmSquash squash) {
    PpoLstm<S> searcher(SearchOptions{.seed = 4}, {.squash = squash});
    std::size_t count = 0;
    for (std::size_t k = 0; k < 48; ++k) {
      const auto trial = searcher.ask();
      REQUIRE_NOTHROW(Config<S>(trial.config.values()));
      const double dropout = trial.config.template get<"dropout_rate">();
      CHECK((dropout >= 0.5 && dropout <= 0.9));
      count += dropout <= 0.5 + 1e-9 || dropout >= 0.9 - 1e-9;
      searcher.tell(trial.id, Result{.value = dropout});
    }
    return count;
  };
  CHECK(at_bounds(PpoLstmSquash::mean) >= 8);    // P(|N(0, 1)| > 1) = 0.32 at the start: about 15 of 48
  CHECK(at_bounds(PpoLstmSquash::sample) == 0);  // tanh(u) is never within 1e-9 of +-1 here
}

TEST_CASE("ppo_lstm is deterministic for a seed, with trials pending and told out of order") {
  const auto run = [](std::uint64_t seed) {
    PpoLstm<LeNetSpace> searcher(SearchOptions{.seed = seed});
    auto trials = run_pending(searcher, 40, 3);
    return std::pair{trials, searcher.model_updates()};
  };
  const auto [first, first_updates] = run(21);
  const auto [again, again_updates] = run(21);
  const auto [other, other_updates] = run(22);
  REQUIRE(first.size() == 40);
  bool same = true, same_other = true;
  for (std::size_t k = 0; k < first.size(); ++k) {
    same = same && first[k].config == again[k].config;
    same_other = same_other && first[k].config == other[k].config;
  }
  CHECK(same);
  CHECK_FALSE(same_other);
  CHECK(first_updates == again_updates);
  CHECK(first_updates > 0);
}

TEST_CASE("ppo_lstm updates on every episodes_per_update told episodes, many pending or not") {
  PpoLstm<LeNetSpace> searcher(SearchOptions{.seed = 2}, {.episodes_per_update = 5, .use_reward_model = false});
  run_pending(searcher, 42, 12);
  CHECK(searcher.real_updates() == 8);  // 42 told: 8 batches of 5, 2 left waiting
  CHECK(searcher.model_updates() == 0);

  PpoLstm<LeNetSpace> failing(SearchOptions{.seed = 2});
  const auto fail_every_other = [&](std::size_t trials) {
    for (std::size_t k = 0; k < trials; ++k) {
      const auto trial = failing.ask();
      Result result;
      result.status = trial.id % 2 == 0 ? Status::failed : Status::ok;
      result.value = trial.id % 2 == 0 ? std::nan("") : 0.5 + 0.01 * static_cast<double>(k);
      failing.tell(trial.id, result);
    }
  };
  fail_every_other(20);
  CHECK(failing.real_updates() == 5);
  CHECK(failing.model_rounds() == 0);  // 10 usable trials: the model waits for 2 x 6
  fail_every_other(4);
  CHECK(failing.model_rounds() == 1);
  for (double log_std : failing.policy().log_std()) CHECK(std::isfinite(log_std));
}

TEST_CASE("ppo_lstm uses the reward model only after min_real_for_model usable trials") {
  PpoLstm<LeNetSpace> searcher(SearchOptions{.seed = 6}, {.min_real_for_model = 20});
  run_quadratic(searcher, 16);
  CHECK(searcher.model_rounds() == 0);
  run_quadratic(searcher, 4);
  CHECK(searcher.model_rounds() == 1);
  CHECK(searcher.model_updates() >= 1);
}

TEST_CASE("ppo_lstm's model-based rounds: one update at a tiny threshold, the cap at a huge one") {
  SECTION("a tiny threshold: one model-based update per round (the one that crosses it is kept)") {
    PpoLstm<LeNetSpace> searcher(SearchOptions{.seed = 8}, {.kl_threshold = 1e-12});
    run_quadratic(searcher, 32);
    CHECK(searcher.model_rounds() == 6);  // after 12, 16, ..., 32 told trials
    CHECK(searcher.model_updates() == searcher.model_rounds());
  }
  SECTION("a huge threshold: the cap") {
    PpoLstm<LeNetSpace> searcher(SearchOptions{.seed = 8}, {.kl_threshold = 1e9, .max_model_updates = 4});
    run_quadratic(searcher, 32);
    CHECK(searcher.model_rounds() == 6);
    CHECK(searcher.model_updates() == 4 * searcher.model_rounds());
    CHECK(searcher.model_updates_in_last_round() == 4);
  }
  SECTION("the default: every round ends at the cap or before it, some before") {
    PpoLstm<LeNetSpace> searcher(SearchOptions{.seed = 8});
    const Quadratic problem;
    std::size_t rounds = 0, stopped_early = 0;
    for (std::size_t k = 0; k < 60; ++k) {
      const auto trial = searcher.ask();
      searcher.tell(trial.id, Result{.value = problem(trial.config).value});
      if (searcher.model_rounds() == rounds) continue;
      rounds = searcher.model_rounds();
      const std::size_t updates = searcher.model_updates_in_last_round();
      CHECK((updates >= 1 && updates <= 10));
      stopped_early += updates < 10;
    }
    CHECK(rounds == 13);  // after 12, 16, ..., 60 told trials
    CHECK(stopped_early > 0);
  }
}

TEST_CASE("ppo_lstm's model-based updates stop at the first whose KL from the round's start exceeds the threshold",
          "[seeded]") {
  // One round, at the 16th tell. Runs that differ only in the KL options are the same until it
  // starts, and one capped at j updates ends where an uncapped one is after j updates.
  constexpr std::size_t cap = 6;
  const auto one_round = [](double threshold, std::size_t most, std::size_t min_real = 16) {
    auto searcher = std::make_unique<PpoLstm<LeNetSpace>>(
        SearchOptions{.seed = 8},
        PpoLstmOptions{.kl_threshold = threshold, .max_model_updates = most, .min_real_for_model = min_real});
    run_quadratic(*searcher, 16);
    return searcher;
  };
  const auto before = one_round(1e9, cap, 1000);  // the model is never used: the policy as the round starts
  REQUIRE(before->model_rounds() == 0);
  const rl::SquashedGaussianHead head;
  std::mt19937_64 rng(mahpo::testing::seed(5));
  const rl::Matrix probe = before->policy().sample(256, head, rng);

  std::vector<double> kl_after;  // [j - 1]: the KL a run capped at j updates (no threshold) measured
  for (std::size_t j = 1; j <= cap; ++j) {
    const auto capped = one_round(1e9, j);
    REQUIRE(capped->model_rounds() == 1);
    CHECK(capped->model_updates_in_last_round() == j);
    kl_after.push_back(capped->last_kl());
    // The KL is from the round's start: near one measured on 256 episodes of that policy (within 1.5% here).
    const double reference = ppo_lstm::detail::mean_kl(before->policy(), capped->policy(), probe, head);
    INFO("after " << j << " updates: measured " << capped->last_kl() << ", on 256 episodes " << reference);
    CHECK(capped->last_kl() == Approx(reference).epsilon(0.1));
  }
  std::vector<double> thresholds{0.5 * kl_after.front(), 0.02, 1e9};
  thresholds.insert(thresholds.end(), kl_after.begin(), kl_after.end());  // a KL equal to the threshold goes on
  std::size_t stopped_inside = 0;
  for (double threshold : thresholds) {
    std::size_t expected = cap;
    for (std::size_t j = cap; j >= 1; --j)
      if (kl_after[j - 1] > threshold) expected = j;
    const auto run = one_round(threshold, cap);
    INFO("threshold " << threshold);
    CHECK(run->model_updates_in_last_round() == expected);
    CHECK(run->last_kl() == kl_after[expected - 1]);
    stopped_inside += expected > 1 && expected < cap;
  }
  CHECK(stopped_inside > 0);  // some threshold ends the round neither at the first update nor at the cap
}

TEST_CASE("ppo_lstm's reward model fits a smooth function", "[seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(3));
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const auto f = [](double x, double y) { return 0.9 - (x - 0.3) * (x - 0.3) - 0.5 * (y - 0.7) * (y - 0.7); };
  const auto sample = [&](std::size_t n, rl::Matrix& points, rl::Vector& targets) {
    points = rl::Matrix::from_shape({n, std::size_t{2}});
    targets = rl::Vector::from_shape({n});
    for (std::size_t i = 0; i < n; ++i) {
      points(i, 0) = uniform(rng);
      points(i, 1) = uniform(rng);
      targets(i) = f(points(i, 0), points(i, 1));
    }
  };
  rl::Matrix train, test;
  rl::Vector train_targets, test_targets;
  sample(60, train, train_targets);
  sample(200, test, test_targets);
  const auto test_error = [&](const ppo_lstm::detail::RewardModel& model) {
    const rl::Vector predicted = model.predict(test);
    double error = 0.0;
    for (std::size_t i = 0; i < test_targets.size(); ++i)
      error += (predicted(i) - test_targets(i)) * (predicted(i) - test_targets(i));
    return error / static_cast<double>(test_targets.size());
  };
  double spread = 0.0, mean = 0.0;
  for (double y : test_targets) mean += y;
  mean /= static_cast<double>(test_targets.size());
  for (double y : test_targets) spread += (y - mean) * (y - mean);
  spread /= static_cast<double>(test_targets.size());

  ppo_lstm::detail::RewardModel model(2, 3, 16, 0.01, rng);
  const double first = model.fit(train, train_targets, 1);
  const double first_test = test_error(model);
  double last = first;
  for (int round = 0; round < 8; ++round) last = model.fit(train, train_targets, 50);  // warm-started fits
  CHECK(last < 0.1 * first);
  CHECK(test_error(model) < 0.1 * first_test);
  CHECK(test_error(model) < 0.1 * spread);  // far better than predicting the mean
}

TEST_CASE("ppo_lstm learns from real episodes alone", "[seeded]") {
  using S = Space<Real<"x", 0.0, 1.0>, Real<"y", 0.0, 1.0>>;
  for (std::uint64_t seed : {1, 2, 3}) {
    PpoLstm<S> searcher(SearchOptions{.seed = mahpo::testing::seed(seed)}, {.use_reward_model = false});
    std::vector<double> distances;
    for (std::size_t k = 0; k < 240; ++k) {
      const auto trial = searcher.ask();
      const double x = trial.config.template get<"x">(), y = trial.config.template get<"y">();
      const double distance = std::hypot(x - 0.85, y - 0.2);
      distances.push_back(distance);
      searcher.tell(trial.id, Result{.value = -distance});
    }
    double early = 0.0, late = 0.0;
    for (std::size_t k = 0; k < 40; ++k) {
      early += distances[k] / 40.0;
      late += distances[distances.size() - 1 - k] / 40.0;
    }
    CHECK(late < 0.6 * early);
  }
}

TEST_CASE(
    "ppo_lstm beats random search and itself without the reward model on the LeNet quadratic "
    "(median best of 5 seeds, 200 episodes)",
    "[seeded]") {
  std::vector<double> ppo, without_model, random;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    PpoLstm<LeNetSpace> searcher(SearchOptions{.seed = mahpo::testing::seed(seed)});
    run_quadratic(searcher, 200);
    ppo.push_back(searcher.history().best()->result.value);
    PpoLstm<LeNetSpace> real_only(SearchOptions{.seed = mahpo::testing::seed(seed)}, {.use_reward_model = false});
    run_quadratic(real_only, 200);
    without_model.push_back(real_only.history().best()->result.value);
    Random<LeNetSpace> baseline(SearchOptions{.seed = mahpo::testing::seed(seed)});
    run_quadratic(baseline, 200);
    random.push_back(baseline.history().best()->result.value);
  }
  INFO("ppo_lstm " << median(ppo) << ", without the reward model " << median(without_model) << ", random "
                   << median(random));
  CHECK(median(ppo) > median(random));
  // Seed 001's claim, where it holds (see the header): at 200 trials, not at 50.
  CHECK(median(ppo) > median(without_model));
}

TEST_CASE("ppo_lstm: only the ranks of the values matter: a monotone change of the objective asks the same trials") {
  // Returns are the normal scores of the rewards' ranks and the reward model is fitted to them, so
  // a diverged trial far below the rest (here e^-36 of the best after exp(40 v)) is one rank lower,
  // not a reward scale of its own; with running moments of the raw values the two searches part.
  const auto configs = [](auto transform) {
    PpoLstm<LeNetSpace> searcher(SearchOptions{.seed = 5}, PpoLstmOptions{.min_real_for_model = 8});
    std::vector<std::array<double, LeNetSpace::dimension>> asked;
    for (std::size_t k = 0; k < 40; ++k) {
      const auto trial = searcher.ask();
      asked.push_back(LeNetSpace::to_unit_cube(trial.config));
      const double value = Quadratic{}(trial.config).value;
      searcher.tell(trial.id, Result{.value = transform(k % 7 == 3 ? 0.1 : value)});
    }
    return asked;
  };
  const auto plain = configs([](double v) { return v; });
  const auto stretched = configs([](double v) { return std::exp(40.0 * v); });
  CHECK(plain == stretched);
}
