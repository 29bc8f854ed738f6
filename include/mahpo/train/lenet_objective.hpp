#pragma once
// LeNetObjective<Topology, Backend>: trains the network a config of the topology describes on a
// trainer backend (train/backend.hpp; the CPU Trainer by default) and scores it.
//
// The value is the validation accuracy; the metrics add test accuracy, Cohen's kappa and the test
// confusion matrix (`test_confusion`, rows by true class), times, memory and the network trained. A config the topology
// rejects (a feature map below 1x1), or any exception, makes a `failed` result; a non-finite loss a `diverged` one.
// Neither carries NaN.

#include <cstdint>
#include <exception>
#include <concepts>
#include <memory>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include <mahpo/data/dataset.hpp>
#include <mahpo/nn/topology.hpp>
#include <mahpo/objective.hpp>
#include <mahpo/train/backend.hpp>
#include <mahpo/train/trainer.hpp>

namespace mahpo::train {

struct ObjectiveOptions {
  // What every trial's trainer gets; its batch_size and learning_rate are replaced by each config's.
  // Its seed is the same for every trial, so trials differ only by their configs.
  TrainerOptions trainer{};
};

template <nn::Topology Topology, TrainerBackend Backend = Trainer>
class LeNetObjective {
 public:
  using topology_type = Topology;
  using backend_type = Backend;
  using space = typename Topology::space;  // as the synthetic problems name it
  using config_type = typename Topology::config_type;

  LeNetObjective(std::shared_ptr<const data::Dataset> dataset, ObjectiveOptions options = {})
      : dataset_(std::move(dataset)), options_(std::move(options)) {
    if (!dataset_) throw std::invalid_argument("mahpo: LeNetObjective needs a data set");
  }
  // The trainer's options alone, as written first: LeNetObjective<T> objective(dataset, {.seed = 1}).
  // A template (T is always TrainerOptions) so that `{}` still picks the constructor above.
  template <typename Trainer = TrainerOptions>
    requires std::same_as<Trainer, TrainerOptions>
  LeNetObjective(std::shared_ptr<const data::Dataset> dataset, Trainer trainer)
      : LeNetObjective(std::move(dataset), ObjectiveOptions{.trainer = std::move(trainer)}) {}

  Result operator()(const config_type& config, const Budget& budget) const {
    Result result;
    try {
      const auto& images = dataset_->train;
      const auto spec = Topology::network(config, nn::InputShape{1, images.rows(), images.columns()});
      TrainerOptions trainer_options = options_.trainer;
      trainer_options.batch_size = Topology::batch_size(config);
      trainer_options.learning_rate = Topology::learning_rate(config);
      Backend trainer(spec, trainer_options);
      const TrainingReport report = trainer.train(*dataset_, budget);

      result.status = report.status;
      result.message = report.message;
      result.value = report.status == Status::ok ? report.validation.accuracy : 0.0;
      for (const auto& point : report.history) result.intermediate.push_back(point.validation_accuracy);
      auto& metrics = result.metrics;
      metrics["network"] = spec.describe();
      metrics["iterations"] = report.iterations;
      metrics["epochs"] = report.epochs;
      metrics["training_seconds"] = report.training_seconds;
      metrics["seconds_per_100_iterations"] = report.seconds_per_100_iterations;
      metrics["evaluation_seconds"] = report.evaluation_seconds;
      metrics["peak_resident_bytes"] = report.peak_resident_bytes;
      metrics["trainer_bytes"] = report.trainer_bytes;
      metrics["parameters"] = report.parameter_count;
      if (report.status == Status::ok) {
        metrics["validation_accuracy"] = report.validation.accuracy;
        metrics["validation_kappa"] = report.validation.kappa;
        if (report.test) {
          metrics["test_accuracy"] = report.test->accuracy;
          metrics["test_kappa"] = report.test->kappa;
          metrics["test_confusion"] = confusion_rows(report.test->confusion);
        }
      }
    } catch (const std::exception& error) {
      result = Result{};
      result.status = Status::failed;
      result.message = error.what();
    }
    return result;
  }

 private:
  // Row k: how the test images of class k were classified.
  static nlohmann::json confusion_rows(const ConfusionMatrix& confusion) {
    auto rows = nlohmann::json::array();
    for (std::size_t truth = 0; truth < confusion.classes(); ++truth) {
      auto row = nlohmann::json::array();
      for (std::size_t prediction = 0; prediction < confusion.classes(); ++prediction)
        row.push_back(confusion.at(truth, prediction));
      rows.push_back(std::move(row));
    }
    return rows;
  }

  std::shared_ptr<const data::Dataset> dataset_;
  ObjectiveOptions options_;
};

}  // namespace mahpo::train
