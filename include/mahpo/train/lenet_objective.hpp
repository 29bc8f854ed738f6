#pragma once
// LeNetObjective<Topology, Backend>: trains the network a config of the topology describes on a
// trainer backend (train/backend.hpp; the CPU Trainer by default) and scores it.
//
// The value is the validation accuracy; the metrics add test accuracy, Cohen's kappa and the test
// confusion matrix (`test_confusion`, rows by true class), times, memory and the network trained. A config the topology
// rejects (a feature map below 1x1), or any exception, makes a `failed` result; a non-finite loss a `diverged` one.
// Neither carries NaN. Its numeric metrics (`metric_names`) are what mahpo::Objectives may name
// (objectives.hpp): parameters, multiply-accumulates per image, training time, peak memory and
// inference seconds per image (the evaluations' time over the images they classified, batched).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <exception>
#include <concepts>
#include <memory>
#include <string>
#include <string_view>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include <mahpo/data/dataset.hpp>
#include <mahpo/nn/topology.hpp>
#include <mahpo/objective.hpp>
#include <mahpo/train/backend.hpp>
#include <mahpo/train/checkpoint.hpp>
#include <mahpo/train/trainer.hpp>

namespace mahpo::train {

struct ObjectiveOptions {
  // What every trial's trainer gets; its batch_size and learning_rate are replaced by each config's.
  // Its seed is the same for every trial, so trials differ only by their configs.
  TrainerOptions trainer{};
  // History points (reports to a study's pruner) per epoch, spread evenly; 0: the trainer's
  // history_every (once per epoch by default).
  std::size_t reports_per_epoch = 0;
};

template <nn::Topology Topology, TrainerBackend Backend = Trainer>
class LeNetObjective {
 public:
  using topology_type = Topology;
  using backend_type = Backend;
  using space = typename Topology::space;  // as the synthetic problems name it
  using config_type = typename Topology::config_type;
  // The numeric metrics of an ok result, by name: what mahpo::Objectives may declare.
  static constexpr std::array<std::string_view, 12> metric_names{
      "validation_accuracy", "validation_kappa",    "test_accuracy",      "test_kappa",
      "parameters",          "macs_per_image",      "training_seconds",   "evaluation_seconds",
      "peak_resident_bytes", "trainer_bytes",       "epochs",             "inference_seconds_per_image"};

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
    TrialContext none;
    return (*this)(config, budget, none);
  }

  // The same, reporting the validation accuracy at each history point (each epoch by default) to the
  // context, which may stop the training there (Status::pruned, the value the last point's); on a
  // backend that can save its state (ResumableBackend), the training continues from the context's
  // resume_state() and saves its state at each point when the context wants it. A state that does not
  // load (another network, a corrupt blob) is not fatal: the trial trains afresh and says so in its
  // metrics ("resume_error").
  Result operator()(const config_type& config, const Budget& budget, TrialContext& context) const {
    Result result;
    try {
      const auto& images = dataset_->train;
      const auto spec = Topology::network(config, nn::InputShape{1, images.rows(), images.columns()});
      TrainerOptions trainer_options = options_.trainer;
      trainer_options.batch_size = Topology::batch_size(config);
      trainer_options.learning_rate = Topology::learning_rate(config);
      if (options_.reports_per_epoch > 0) {
        const double batches = static_cast<double>(subset_size(budget, images.size())) /
                               static_cast<double>(trainer_options.batch_size);
        trainer_options.history_every = static_cast<std::size_t>(
            std::max(1.0, std::ceil(batches / static_cast<double>(options_.reports_per_epoch))));
      }
      Backend trainer(spec, trainer_options);
      std::string resume_error;
      TrainingReport report;
      if constexpr (ResumableBackend<Backend>) {
        if (std::string state = context.resume_state(); !state.empty()) {
          try {
            trainer.restore(decode(state));  // all or nothing: a state that does not fit changes nothing
          } catch (const CheckpointError& error) {
            resume_error = error.what();
          }
        }
        // Reported first, then saved: a study killed in between reruns the step and hears the same answer.
        const auto at_point = [&](const HistoryPoint& point) {
          const bool stop = context.report(trainer.history().size(), point.validation_accuracy);
          if (!stop && context.wants_state()) context.save_state(encode(trainer.state()));
          return stop;
        };
        report = trainer.train(*dataset_, budget, at_point);
        if (context.wants_state() && report.status == Status::ok && report.history.empty()) {
          context.save_state(encode(trainer.state()));
        }
      } else {
        report = trainer.train(*dataset_, budget);
        for (std::size_t k = 0; k < report.history.size(); ++k)
          context.report(k + 1, report.history[k].validation_accuracy);
      }

      result.status = report.status;
      result.message = report.message;
      result.value = report.status == Status::ok || report.status == Status::pruned ? report.validation.accuracy : 0.0;
      for (const auto& point : report.history) result.intermediate.push_back(point.validation_accuracy);
      auto& metrics = result.metrics;
      metrics["network"] = spec.describe();
      metrics["iterations"] = report.iterations;
      metrics["epochs"] = report.epochs;
      metrics["epochs_trained"] = report.epochs - report.resumed_epochs;
      if (report.resumed_iterations > 0) metrics["resumed_from_epochs"] = report.resumed_epochs;
      if (!resume_error.empty()) metrics["resume_error"] = resume_error;
      metrics["training_seconds"] = report.training_seconds;
      metrics["seconds_per_100_iterations"] = report.seconds_per_100_iterations;
      metrics["evaluation_seconds"] = report.evaluation_seconds;
      metrics["peak_resident_bytes"] = report.peak_resident_bytes;
      metrics["trainer_bytes"] = report.trainer_bytes;
      metrics["parameters"] = report.parameter_count;
      metrics["macs_per_image"] = nn::multiply_accumulates(spec);
      if (report.evaluated_images > 0) {
        metrics["inference_seconds_per_image"] =
            report.evaluation_seconds / static_cast<double>(report.evaluated_images);
      }
      if (report.status == Status::ok || report.status == Status::pruned) {
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
