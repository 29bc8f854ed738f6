#include <catch2/catch.hpp>

#include <mahpo/objectives.hpp>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/train/lenet_objective.hpp>
#include <mahpo/train/trainer.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "seeds.hpp"

#include "synthetic.hpp"

using namespace mahpo;
using namespace mahpo::train;

namespace {
// A small LeNet for 12x12 images with four classes; only the learning rate is searched, over a
// range wide enough to diverge.
using Small = nn::LeNet<nn::Conv<"conv1", Fixed<"kernel_size", 3>, Fixed<"filters", 4>>, nn::MaxPool<2>,
                        nn::Dense<"fc1", Fixed<"units", 16>, Real<"dropout_rate", 0.0, 0.5>>, nn::Output<4>,
                        nn::Training<Fixed<"batch_size", 16>, LogReal<"learning_rate", 1e-3, 1e9>>>;

nn::NetworkSpec small_network() { return Small::network({}, nn::InputShape{1, 12, 12}); }

TrainerOptions options(double learning_rate, std::uint64_t seed = 1) {
  TrainerOptions o;
  o.batch_size = 16;
  o.learning_rate = learning_rate;
  o.seed = seed;
  o.history_every = 25;
  return o;
}
}  // namespace

TEST_CASE("a tiny network learns a separable problem", "[seeded]") {
  const auto dataset = test_synthetic::quadrant_dataset();
  for (const OptimizerKind optimizer : {OptimizerKind{Sgd{}}, OptimizerKind{Adam{}}}) {
    auto o = options(std::holds_alternative<Sgd>(optimizer) ? 0.05 : 0.005, mahpo::testing::seed(1));
    o.optimizer = optimizer;
    Trainer trainer(small_network(), o);
    const auto before = trainer.evaluate(dataset.validation).accuracy;
    const auto report = trainer.train(dataset, {.epochs = 3.0});
    REQUIRE(report.status == Status::ok);
    CHECK(before < 0.8);  // not solved before training (an untrained net scores 0.2-0.6 here)
    CHECK(report.validation.accuracy > 0.95);
    REQUIRE(report.test.has_value());
    CHECK(report.test->accuracy > 0.95);
    CHECK(report.test->kappa > 0.93);
    CHECK(report.history.size() == 6);  // 150 iterations, a point every 25
    CHECK(report.history.front().train_loss > report.history.back().train_loss);
    CHECK(report.iterations == 150);
    CHECK(report.epochs == Approx(3.0));
    CHECK(report.training_seconds > 0.0);
    CHECK(report.seconds_per_100_iterations == Approx(report.training_seconds * 100.0 / 150.0));
    CHECK(report.trainer_bytes > report.parameter_count * sizeof(float) * 3);  // weights, gradients, momentum
    CHECK(report.peak_resident_bytes > report.trainer_bytes);
  }
}

TEST_CASE("training is deterministic for a seed") {
  const auto dataset = test_synthetic::quadrant_dataset();
  const auto run = [&](std::uint64_t seed) {
    auto o = options(0.05, seed);
    Trainer trainer(Small::network(Small::config_type{}.set<"fc1.dropout_rate">(0.3), nn::InputShape{1, 12, 12}), o);
    return trainer.train(dataset, {.iterations = 60});
  };
  const auto a = run(3), b = run(3), c = run(4);
  REQUIRE(a.history.size() == b.history.size());
  for (std::size_t i = 0; i < a.history.size(); ++i) {
    CHECK(a.history[i].train_loss == b.history[i].train_loss);
    CHECK(a.history[i].validation_accuracy == b.history[i].validation_accuracy);
  }
  CHECK(a.final_train_loss == b.final_train_loss);
  CHECK(a.final_train_loss != c.final_train_loss);
}

TEST_CASE("Caffe's inv policy: base_lr * (1 + gamma * iter)^-power") {
  const LearningRatePolicy inv = InvDecay{};  // gamma 0.001, power 0.75
  CHECK(learning_rate_at(inv, 0.01, 0, 100) == 0.01);
  CHECK(learning_rate_at(inv, 0.01, 1000, 100) == Approx(0.01 * std::pow(2.0, -0.75)));
  CHECK(learning_rate_at(inv, 0.01, 10000, 100) == Approx(0.01 * std::pow(11.0, -0.75)));
  CHECK(learning_rate_at(InvDecay{0.0001, 0.5}, 0.1, 30000, 100) == Approx(0.1 / 2.0));
  CHECK(learning_rate_at(FixedRate{}, 0.01, 5000, 100) == 0.01);
  CHECK(learning_rate_at(StepDecay{100, 0.5}, 0.08, 250, 1000) == Approx(0.02));
  CHECK(learning_rate_at(CosineDecay{}, 0.1, 0, 1000) == Approx(0.1));
  CHECK(learning_rate_at(CosineDecay{}, 0.1, 500, 1000) == Approx(0.05));
  CHECK(learning_rate_at(CosineDecay{}, 0.1, 1000, 1000) == Approx(0.0).margin(1e-12));
}

TEST_CASE("a diverging run stops with status diverged and no NaN") {
  const auto dataset = test_synthetic::quadrant_dataset();
  Trainer trainer(small_network(), options(1e9));
  const auto report = trainer.train(dataset, {.epochs = 2.0});
  CHECK(report.status == Status::diverged);
  CHECK_THAT(report.message, Catch::Contains("the training loss became"));
  CHECK(report.iterations < 100);
  CHECK(report.validation.accuracy == 0.0);
  CHECK_FALSE(report.test.has_value());
  for (const auto& point : report.history) CHECK(std::isfinite(point.validation_accuracy));
}

TEST_CASE("Cohen's kappa on a known confusion matrix") {
  // 50 items: 20 agree on "yes", 15 on "no", 5 + 10 disagree: p_o = 0.7, p_e = 0.5, kappa = 0.4.
  ConfusionMatrix matrix(2);
  for (int i = 0; i < 20; ++i) matrix.add(0, 0);
  for (int i = 0; i < 5; ++i) matrix.add(0, 1);
  for (int i = 0; i < 10; ++i) matrix.add(1, 0);
  for (int i = 0; i < 15; ++i) matrix.add(1, 1);
  CHECK(matrix.accuracy() == Approx(0.7));
  CHECK(matrix.kappa() == Approx(0.4));
  ConfusionMatrix perfect(3);
  for (std::size_t k = 0; k < 3; ++k) perfect.add(k, k);
  CHECK(perfect.kappa() == Approx(1.0));
  CHECK_THROWS_AS(perfect.add(3, 0), std::out_of_range);
}

TEST_CASE("bad trainer settings are refused") {
  CHECK_THROWS_WITH(Trainer(small_network(), options(0.0)), Catch::Contains("learning rate must be positive"));
  auto zero_batch = options(0.1);
  zero_batch.batch_size = 0;
  CHECK_THROWS_WITH(Trainer(small_network(), zero_batch), Catch::Contains("batch size"));
  const auto dataset = test_synthetic::quadrant_dataset();
  Trainer wrong_input(nn::classic_lenet5::network({}), options(0.1));
  CHECK_THROWS_WITH(wrong_input.train(dataset, {.epochs = 1.0}),
                    Catch::Contains("784 values per image, the data has 12x12"));
  Trainer trainer(small_network(), options(0.1));
  CHECK_THROWS_AS(trainer.train(dataset, {.epochs = 0.0}), std::invalid_argument);
}

TEST_CASE("LeNetObjective scores a config and reports its metrics") {
  const auto dataset = std::make_shared<const data::Dataset>(test_synthetic::quadrant_dataset());
  LeNetObjective<Small> objective(dataset, {.trainer = {.seed = 2}});
  Small::config_type config;
  config.set<"training.learning_rate">(0.05).set<"fc1.dropout_rate">(0.0);
  const Result result = objective(config, {.epochs = 2.0});
  REQUIRE(result.status == Status::ok);
  CHECK(result.value > 0.9);
  CHECK(result.value == result.metrics["validation_accuracy"].get<double>());
  CHECK(result.metrics["test_accuracy"].get<double>() > 0.9);
  CHECK(result.metrics.contains("test_kappa"));
  // The test confusion matrix: rows by true class, summing to the test set, giving accuracy and kappa.
  const auto& rows = result.metrics["test_confusion"];
  REQUIRE(rows.size() == 4);
  ConfusionMatrix confusion(4);
  for (std::size_t truth = 0; truth < 4; ++truth) {
    REQUIRE(rows[truth].size() == 4);
    for (std::size_t prediction = 0; prediction < 4; ++prediction) {
      for (auto n = rows[truth][prediction].get<std::size_t>(); n > 0; --n) confusion.add(truth, prediction);
    }
  }
  CHECK(confusion.total() == dataset->test.size());
  CHECK(confusion.accuracy() == Approx(result.metrics["test_accuracy"].get<double>()).epsilon(1e-12));
  CHECK(confusion.kappa() == Approx(result.metrics["test_kappa"].get<double>()).epsilon(1e-12));
  CHECK(result.metrics["training_seconds"].get<double>() > 0.0);
  CHECK(result.metrics["network"] == "input 1x12x12 > conv 4x3x3 > maxpool 2 > dense 16 (dropout 0) > output 4");
  CHECK(result.intermediate.size() == 2);  // one point per epoch
  // Size and cost: conv 10x10 pixels x 4 filters x 9 taps, dense 100 x 16, output 16 x 4.
  CHECK(result.metrics["macs_per_image"].get<std::size_t>() == 10 * 10 * 4 * 9 + 100 * 16 + 16 * 4);
  CHECK(result.metrics["parameters"].get<std::size_t>() == (4 * 9 + 4) + (100 * 16 + 16) + (16 * 4 + 4));
  CHECK(nn::parameter_count(Small::network(config, {1, 12, 12})) == result.metrics["parameters"].get<std::size_t>());
  CHECK(nn::multiply_accumulates(Small::network(config, {1, 12, 12})) == 5264);
  const double latency = result.metrics["inference_seconds_per_image"].get<double>();
  CHECK(latency > 0.0);
  CHECK(latency < result.metrics["evaluation_seconds"].get<double>());
  // The metrics as typed objectives: accuracy up, multiply-accumulates down, a bound on latency.
  using Goals = Objectives<Maximize<"validation_accuracy">, Minimize<"macs_per_image">,
                           AtMost<"inference_seconds_per_image", 1.0>>;
  const auto typed = with_objectives<Goals>(objective);
  const Result both = typed(config, {.epochs = 2.0});
  CHECK(both.values == std::vector<double>{both.metrics["validation_accuracy"].get<double>(), 5264.0});
  CHECK(both.constraints.size() == 1);
  CHECK(both.constraints[0] < 0.0);

  config.set<"training.learning_rate">(1e9);
  const Result diverged = objective(config, {.epochs = 1.0});
  CHECK(diverged.status == Status::diverged);
  CHECK(diverged.value == 0.0);
}

TEST_CASE("LeNetObjective turns a rejected config into a failed trial") {
  const auto dataset = std::make_shared<const data::Dataset>(test_synthetic::quadrant_dataset());
  using TooDeep = nn::LeNet<nn::Conv<"conv1", Int<"kernel_size", 3, 13>, Fixed<"filters", 4>>, nn::Output<4>,
                            nn::Training<Fixed<"batch_size", 16>, Fixed<"learning_rate", 0.1>>>;
  LeNetObjective<TooDeep> objective(dataset);
  TooDeep::config_type config;
  config.set<"conv1.kernel_size">(13);
  const Result result = objective(config, {.epochs = 1.0});
  CHECK(result.status == Status::failed);
  CHECK(result.value == 0.0);
  CHECK_THAT(result.message, Catch::Contains("does not fit a 12x12 feature map"));
}

namespace {
// A trainer backend that trains nothing: it records what LeNetObjective built it with.
struct RecordingBackend {
  static constexpr std::string_view backend_name = "recording";
  static inline std::vector<std::pair<nn::NetworkSpec, TrainerOptions>> built;

  RecordingBackend(const nn::NetworkSpec& spec, TrainerOptions options) { built.emplace_back(spec, options); }

  TrainingReport train(const data::Dataset&, const Budget& budget) {
    TrainingReport report;
    report.iterations = budget.iterations;
    report.validation.accuracy = 0.25 + 0.5 * built.back().second.learning_rate;
    return report;
  }
};
static_assert(TrainerBackend<RecordingBackend>);
static_assert(TrainerBackend<Trainer>);
static_assert(!TrainerBackend<int>);
}  // namespace

TEST_CASE("LeNetObjective trains on the backend it is given, with the config's batch and rate and the options' rest") {
  const auto dataset = std::make_shared<const data::Dataset>(test_synthetic::quadrant_dataset());
  TrainerOptions shared;
  shared.seed = 17;
  shared.history_every = 3;
  shared.micro_batch = 8;
  shared.evaluate_test = false;
  shared.optimizer = Adam{.beta1 = 0.8};
  LeNetObjective<Small, RecordingBackend> objective(dataset, {.trainer = shared});
  RecordingBackend::built.clear();
  Small::config_type config;
  config.set<"training.learning_rate">(0.5).set<"fc1.dropout_rate">(0.25);
  const Result result = objective(config, {.iterations = 7});
  REQUIRE(RecordingBackend::built.size() == 1);
  const auto& [spec, used] = RecordingBackend::built.front();
  CHECK(spec.describe() == Small::network(config, nn::InputShape{1, 12, 12}).describe());
  CHECK(used.batch_size == 16);      // the config's (fixed) batch size, not the options' 32
  CHECK(used.learning_rate == 0.5);  // the config's
  CHECK(used.seed == 17);
  CHECK(used.history_every == 3);
  CHECK(used.micro_batch == 8);
  CHECK_FALSE(used.evaluate_test);
  CHECK(std::get<Adam>(used.optimizer).beta1 == 0.8);
  CHECK(result.status == Status::ok);
  CHECK(result.value == 0.5);
  CHECK(result.metrics["iterations"] == 7);
}

TEST_CASE("the trainer refuses budgets that are not numbers or that no trial could finish") {
  const auto dataset = test_synthetic::quadrant_dataset();
  Trainer trainer(small_network(), options(0.1));
  // A NaN or huge epoch count used to be cast to an integer: undefined behaviour, then a hang.
  CHECK_THROWS_WITH(trainer.train(dataset, {.epochs = std::nan("")}), Catch::Contains("finite number"));
  CHECK_THROWS_WITH(trainer.train(dataset, {.epochs = HUGE_VAL}), Catch::Contains("finite number"));
  CHECK_THROWS_WITH(trainer.train(dataset, {.epochs = -1.0}), Catch::Contains("finite number"));
  CHECK_THROWS_WITH(trainer.train(dataset, {.epochs = 1e300}), Catch::Contains("more than the"));
  CHECK_THROWS_WITH(trainer.train(dataset, {.iterations = std::size_t{1} << 62}), Catch::Contains("more than the"));
  CHECK(trainer.train(dataset, {.iterations = 3}).iterations == 3);
}

TEST_CASE("a budget's fraction trains on a seeded subset of the training set, an epoch being a pass over it") {
  // BatchOrder: a subset's images, each once per pass; a smaller subset inside a larger one; the
  // whole set as before.
  const auto draws = [](std::size_t subset, std::size_t count) {
    BatchOrder order(100, 7, subset);
    std::vector<std::size_t> indices(count);
    order.next(std::span<std::size_t>(indices));
    return indices;
  };
  auto thirty = draws(30, 90);
  std::vector<std::size_t> counts(100, 0);
  for (const std::size_t index : thirty) ++counts[index];
  std::size_t kept = 0;
  for (const std::size_t count : counts) {
    CHECK((count == 0 || count == 3));
    kept += count > 0;
  }
  CHECK(kept == 30);
  auto sixty = draws(60, 60);
  std::sort(sixty.begin(), sixty.end());
  for (std::size_t index = 0; index < 100; ++index) {
    if (counts[index] > 0) CHECK(std::binary_search(sixty.begin(), sixty.end(), index));
  }
  CHECK(draws(100, 250) == draws(std::numeric_limits<std::size_t>::max(), 250));
  BatchOrder whole(100, 7);
  std::vector<std::size_t> before(250);
  whole.next(std::span<std::size_t>(before));
  CHECK(before == draws(100, 250));
  CHECK(BatchOrder(100, 7, 30).size() == 30);

  CHECK(subset_size({.fraction = 0.25}, 800) == 200);
  CHECK(subset_size({.fraction = 1e-9}, 800) == 1);
  CHECK(subset_size({}, 800) == 800);
  for (const double bad : {0.0, -0.5, 1.5, std::nan("")}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH(subset_size({.fraction = bad}, 800), Catch::Contains("fraction must be in (0, 1]"));
  }

  const auto dataset = test_synthetic::quadrant_dataset();
  REQUIRE(dataset.train.size() == 800);
  Trainer trainer(small_network(), options(0.05));
  const auto quarter = trainer.train(dataset, {.epochs = 1.0, .fraction = 0.25});
  REQUIRE(quarter.status == Status::ok);
  CHECK(quarter.iterations == 13);  // ceil(200 / 16)
  CHECK(quarter.epochs == Approx(13.0 * 16.0 / 200.0));
  CHECK(Trainer(small_network(), options(0.05)).train(dataset, {.epochs = 1.0}).iterations == 50);

  // The objective: a bad fraction is a failed trial that says why.
  const auto shared = std::make_shared<const data::Dataset>(dataset);
  const LeNetObjective<Small> objective(shared);
  const Result result = objective(Small::config_type{}, Budget{.epochs = 1.0, .fraction = 2.0});
  CHECK(result.status == Status::failed);
  CHECK_THAT(result.message, Catch::Contains("fraction"));
}
