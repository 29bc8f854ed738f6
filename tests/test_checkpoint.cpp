// Trainer checkpoints: a training saved and continued equals one straight run; checkpoint files
// refuse what is truncated, foreign or corrupt; the point hook stops a training; LeNetObjective
// resumes from the state its context gives and reports each epoch.
#include <catch2/catch.hpp>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/train/checkpoint.hpp>
#include <mahpo/train/lenet_objective.hpp>
#include <mahpo/train/trainer.hpp>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "recording_context.hpp"
#include "synthetic.hpp"

using namespace mahpo;
using namespace mahpo::train;

namespace {
// Dropout on, so that the dropout streams must continue too.
using Net = nn::LeNet<nn::Conv<"conv1", Fixed<"kernel_size", 3>, Fixed<"filters", 4>>, nn::MaxPool<2>,
                      nn::Dense<"fc1", Fixed<"units", 16>, Real<"dropout_rate", 0.0, 0.5>>, nn::Output<4>,
                      nn::Training<Fixed<"batch_size", 16>, LogReal<"learning_rate", 1e-3, 1.0>>>;

nn::NetworkSpec network(double dropout = 0.3) {
  Net::config_type config;
  config.set<"fc1.dropout_rate">(dropout);
  return Net::network(config, nn::InputShape{1, 12, 12});
}

TrainerOptions options(OptimizerKind optimizer = Sgd{}) {
  TrainerOptions o;
  o.batch_size = 16;
  o.learning_rate = std::holds_alternative<Sgd>(optimizer) ? 0.05 : 0.005;
  o.optimizer = optimizer;
  o.seed = 7;
  return o;
}

std::vector<std::vector<float>> weights(Trainer& trainer) {
  std::vector<std::vector<float>> all;
  for (const auto& p : trainer.network().parameters()) all.emplace_back(p.values.begin(), p.values.end());
  return all;
}

using Recorder = mahpo::testing::RecordingContext;
}  // namespace

TEST_CASE("checkpoint: 1 epoch, saved and resumed to 3, gives the weights of 3 epochs straight") {
  const auto dataset = test_synthetic::quadrant_dataset();
  for (const OptimizerKind optimizer : {OptimizerKind{Sgd{}}, OptimizerKind{Adam{}}}) {
    for (const double first : {1.0, 1.0 / 3.0}) {
      INFO((std::holds_alternative<Sgd>(optimizer) ? "SGD" : "Adam") << ", first budget " << first);
      Trainer straight(network(), options(optimizer));
      const auto whole = straight.train(dataset, {.epochs = 3.0});

      Trainer part(network(), options(optimizer));
      part.train(dataset, {.epochs = first});
      const std::string blob = encode(part.state());
      Trainer resumed(network(), options(optimizer));
      resumed.restore(decode(blob));
      const auto rest = resumed.train(dataset, {.epochs = 3.0});
      CHECK(weights(resumed) == weights(straight));  // bit for bit
      CHECK(rest.iterations == whole.iterations);
      CHECK(rest.resumed_iterations == part.iterations());
      CHECK(rest.validation.accuracy == whole.validation.accuracy);

      part.train(dataset, {.epochs = 3.0});  // in memory: the same trainer goes on
      CHECK(weights(part) == weights(straight));
    }
  }
}

TEST_CASE("checkpoint files: a round trip, and truncated, foreign, corrupt and newer files refused") {
  const auto dataset = test_synthetic::quadrant_dataset();
  Trainer trainer(network(), options());
  trainer.train(dataset, {.epochs = 1.0});
  const auto folder = std::filesystem::temp_directory_path() / "mahpo_checkpoint_test";
  std::filesystem::create_directories(folder);
  const auto path = folder / "trial.ckpt";
  save_checkpoint(path, trainer.state());
  const TrainerState loaded = load_checkpoint(path);
  CHECK(loaded.parameters == trainer.state().parameters);
  CHECK(loaded.iterations == trainer.iterations());
  CHECK(encode(loaded) == encode(trainer.state()));

  const std::string blob = read_checkpoint_bytes(path);
  const auto write = [&](const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  };
  write(blob.substr(0, blob.size() / 2));
  CHECK_THROWS_WITH(load_checkpoint(path), Catch::Contains("truncated"));
  write(blob.substr(0, 10));
  CHECK_THROWS_WITH(load_checkpoint(path), Catch::Contains("truncated"));
  write("{\"event\":\"study\"}\n");
  CHECK_THROWS_WITH(load_checkpoint(path), Catch::Contains("not a mahpo trainer checkpoint"));
  std::string flipped = blob;
  flipped[blob.size() / 2] = static_cast<char>(flipped[blob.size() / 2] ^ 0x10);
  write(flipped);
  CHECK_THROWS_WITH(load_checkpoint(path), Catch::Contains("checksum"));
  std::string newer = blob;
  newer[8] = static_cast<char>(newer[8] + 1);  // the format version's low byte
  write(newer);
  CHECK_THROWS_WITH(load_checkpoint(path), Catch::Contains("format"));
  CHECK_THROWS_AS(load_checkpoint(folder / "missing.ckpt"), CheckpointError);
  std::filesystem::remove_all(folder);
}

TEST_CASE("checkpoint: a state of another network or optimizer is refused and changes nothing") {
  const auto dataset = test_synthetic::quadrant_dataset();
  Trainer trainer(network(), options());
  trainer.train(dataset, {.epochs = 1.0});
  const TrainerState state = trainer.state();

  using Wider = nn::LeNet<nn::Conv<"conv1", Fixed<"kernel_size", 3>, Fixed<"filters", 8>>, nn::MaxPool<2>,
                          nn::Dense<"fc1", Fixed<"units", 16>, Fixed<"dropout_rate", 0.0>>, nn::Output<4>,
                          nn::Training<Fixed<"batch_size", 16>, Fixed<"learning_rate", 0.05>>>;
  Trainer other(Wider::network({}, nn::InputShape{1, 12, 12}), options());
  const auto before = weights(other);
  CHECK_THROWS_WITH(other.restore(state), Catch::Contains("another network"));
  CHECK(weights(other) == before);

  Trainer adam(network(), options(Adam{}));
  const auto fresh = weights(adam);
  CHECK_THROWS_WITH(adam.restore(state), Catch::Contains("SGD"));
  CHECK(weights(adam) == fresh);
  CHECK(adam.iterations() == 0);

  // Another dropout rate is the same network: population based training changes it.
  Trainer less_dropout(network(0.1), options());
  CHECK_NOTHROW(less_dropout.restore(state));
  CHECK(less_dropout.iterations() == trainer.iterations());

  // A resumed training keeps its data: another fraction of the training set is refused.
  CHECK_THROWS_WITH(less_dropout.train(dataset, {.epochs = 2.0, .fraction = 0.5}), Catch::Contains("keeps its data"));
}

TEST_CASE("the point hook stops a training there: status pruned, the last point's accuracy") {
  const auto dataset = test_synthetic::quadrant_dataset();
  Trainer trainer(network(), options());
  std::size_t points = 0;
  const auto report = trainer.train(dataset, {.epochs = 4.0}, [&](const HistoryPoint&) { return ++points == 2; });
  CHECK(report.status == Status::pruned);
  CHECK(points == 2);
  REQUIRE(report.history.size() == 2);
  CHECK(report.epochs == Approx(2.0).epsilon(0.02));
  CHECK(report.validation.accuracy == report.history.back().validation_accuracy);
  CHECK_FALSE(report.test.has_value());

  // A stop asked at the last point is no stop: the training is complete.
  Trainer again(network(), options());
  const auto whole = again.train(dataset, {.epochs = 1.0}, [](const HistoryPoint&) { return true; });
  CHECK(whole.status == Status::ok);
  CHECK(whole.test.has_value());
}

TEST_CASE("LeNetObjective continues from its context's state and reports each epoch") {
  const auto dataset = std::make_shared<const data::Dataset>(test_synthetic::quadrant_dataset());
  const LeNetObjective<Net> objective(dataset, {.trainer = {.seed = 3}});
  Net::config_type config;
  config.set<"training.learning_rate">(0.05).set<"fc1.dropout_rate">(0.2);

  Recorder straight;
  const Result whole = objective(config, {.epochs = 3.0}, straight);
  REQUIRE(whole.status == Status::ok);
  REQUIRE(straight.reports.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(straight.reports[k].first == k + 1);
    CHECK(straight.reports[k].second == whole.intermediate[k]);
  }

  Recorder first;
  objective(config, {.epochs = 1.0}, first);
  Recorder second;
  second.resume = first.state;
  const Result resumed = objective(config, {.epochs = 3.0}, second);
  CHECK(resumed.value == whole.value);
  CHECK(resumed.intermediate == whole.intermediate);  // the resumed history included
  CHECK(resumed.metrics["epochs_trained"].get<double>() == Approx(2.0).epsilon(0.02));
  CHECK(resumed.metrics["resumed_from_epochs"].get<double>() == Approx(1.0).epsilon(0.02));
  REQUIRE(second.reports.size() == 2);
  CHECK(second.reports.front().first == 2);  // steps count from the training's start

  Recorder pruned;
  pruned.stop_at = 2;
  const Result stopped = objective(config, {.epochs = 3.0}, pruned);
  CHECK(stopped.status == Status::pruned);
  CHECK(stopped.value == whole.intermediate[1]);
  CHECK(stopped.intermediate.size() == 2);

  Recorder broken;
  broken.resume = "not a checkpoint";
  const Result afresh = objective(config, {.epochs = 3.0}, broken);
  CHECK(afresh.value == whole.value);
  CHECK(afresh.metrics["resume_error"].get<std::string>().find("not a mahpo trainer checkpoint") != std::string::npos);
}
