#pragma once
// The trainer backend contract: what LeNetObjective needs from a trainer, so that the objective does
// not care where the network trains. train::Trainer (the CPU, trainer.hpp) implements it; the GPU
// trainer (cuda/mahpo/cuda/) is to implement it as well.
//
//   template <typename T> concept TrainerBackend = requires {
//     T::backend_name                              // "cpu", "cuda": shown in reports
//     T(const nn::NetworkSpec&, TrainerOptions)    // builds the network; std::invalid_argument on bad options
//     trainer.train(dataset, budget) -> TrainingReport
//   };
//
// What every backend promises (the tests of the CPU trainer check it; a new backend runs them too):
// - train() trains on dataset.train for the budget (iterations when non-zero, else epochs of full,
//   reshuffled batches of options.batch_size; with a fraction below 1, on the seeded subset
//   BatchOrder keeps, an epoch being a pass over it), then evaluates on dataset.validation, and on
//   dataset.test when options.evaluate_test; a budget that gives no iteration is an error.
// - Deterministic for options.seed on one machine and ISA (weights, dropout masks, batch order).
// - A non-finite loss stops training with status `diverged` and evaluates nothing; no accuracy,
//   kappa or time in the report is ever NaN. A network that does not fit its input throws ConfigError.
// - The report's times: training_seconds covers forward, backward and update only.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <mahpo/data/dataset.hpp>
#include <mahpo/nn/topology.hpp>
#include <mahpo/objective.hpp>
#include <mahpo/train/metrics.hpp>
#include <mahpo/train/schedule.hpp>

namespace mahpo::train {

// v = momentum * v - lr * g; w += v (Sutskever et al., 2013, without the Nesterov look-ahead).
struct Sgd {
  double momentum = 0.9;
  double weight_decay = 0.0;
};

// Kingma & Ba, 2015.
struct Adam {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
};

using OptimizerKind = std::variant<Sgd, Adam>;

struct TrainerOptions {
  std::size_t batch_size = 32;
  double learning_rate = 0.01;
  OptimizerKind optimizer = Sgd{};
  LearningRatePolicy policy = InvDecay{};
  std::uint64_t seed = 0;
  std::size_t history_every = 0;  // iterations between history points; 0: once per epoch
  std::size_t evaluation_batch = 256;
  // A larger training batch goes through the network this many images at a time, with the
  // gradients summed (the same step to float rounding: no layer mixes images); 0: all at once.
  // Keeps a 256-image batch's activations and im2col columns in the caches (docs/benchmarks.md).
  std::size_t micro_batch = 32;
  bool evaluate_test = true;
};

struct HistoryPoint {
  std::size_t iteration = 0;
  double epoch = 0.0;
  double train_loss = 0.0;      // mean over the iterations since the last point
  double train_accuracy = 0.0;  // over the same iterations (with dropout on)
  double validation_accuracy = 0.0;
  double training_seconds = 0.0;
};

struct Evaluation {
  double accuracy = 0.0;
  double kappa = 0.0;
  ConfusionMatrix confusion;
};

struct TrainingReport {
  Status status = Status::ok;
  std::string message;
  std::size_t iterations = 0;
  double epochs = 0.0;
  double final_train_loss = 0.0;
  Evaluation validation;
  std::optional<Evaluation> test;
  double training_seconds = 0.0;  // forward, backward and update only: no evaluation
  double seconds_per_100_iterations = 0.0;
  double evaluation_seconds = 0.0;
  std::size_t evaluated_images = 0;     // the images those evaluation_seconds classified
  std::size_t peak_resident_bytes = 0;  // of the whole process, after training
  std::size_t trainer_bytes = 0;        // weights, gradients, optimizer state and buffers
  std::size_t parameter_count = 0;
  std::vector<HistoryPoint> history;  // every point since the first training, resumed ones included
  // Where this training started: 0, or the iterations and epochs of the state it continued.
  std::size_t resumed_iterations = 0;
  double resumed_epochs = 0.0;
};

template <typename T>
concept TrainerBackend = std::constructible_from<T, const nn::NetworkSpec&, TrainerOptions> &&
    requires(T& trainer, const data::Dataset& dataset, const Budget& budget) {
  { T::backend_name } -> std::convertible_to<std::string_view>;
  { trainer.train(dataset, budget) } -> std::same_as<TrainingReport>;
};

}  // namespace mahpo::train
