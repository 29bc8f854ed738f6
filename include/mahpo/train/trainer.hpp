#pragma once
// The CPU trainer: mini-batch training of a Network on a Dataset, with evaluation and accounting.
//
// Batches are drawn in a seeded random order, reshuffled each epoch; every batch is full (the
// order wraps into the next epoch), as in Caffe. Training is deterministic for a given seed (and
// kernel ISA: AVX-512, AVX2 and SSE2 sum in different orders). A trial trains on the calling
// thread; a study runs one trial per core. A non-finite loss stops training with status
// `diverged`; nothing is evaluated then, and no accuracy is NaN.

#include <algorithm>
#include <functional>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <mahpo/data/dataset.hpp>
#include <mahpo/nn/lenet.hpp>
#include <mahpo/objective.hpp>
#include <mahpo/train/backend.hpp>
#include <mahpo/train/checkpoint.hpp>
#include <mahpo/train/formulas.hpp>
#include <mahpo/train/loss.hpp>
#include <mahpo/train/metrics.hpp>
#include <mahpo/train/network.hpp>
#include <mahpo/train/optimizer.hpp>
#include <mahpo/train/schedule.hpp>

namespace mahpo::train {

// What every backend shares (the GPU trainer too, so that both train on the same batches):

// The iterations a budget asks for: its iterations, or enough full batches for its epochs.
inline std::size_t planned_iterations(const Budget& budget, std::size_t train_size, std::size_t batch,
                                      double max_iterations) {
  if (budget.iterations == 0 && !(std::isfinite(budget.epochs) && budget.epochs >= 0.0)) {
    throw std::invalid_argument(
        fmt::format("mahpo: the budget's epochs must be a finite number >= 0, got {}", budget.epochs));
  }
  const double wanted = budget.iterations > 0
                            ? static_cast<double>(budget.iterations)
                            : std::ceil(budget.epochs * static_cast<double>(train_size) / static_cast<double>(batch));
  if (wanted > max_iterations) {
    throw std::invalid_argument(fmt::format(
        "mahpo: the budget asks for {} iterations, more than the {} a trial may run", wanted, max_iterations));
  }
  const auto total = static_cast<std::size_t>(wanted);
  if (total == 0) throw std::invalid_argument("mahpo: the budget gives no training iteration");
  return total;
}

// The training images a budget's fraction keeps: all of them, or round(fraction * train_size) (at
// least 1); std::invalid_argument for a fraction outside (0, 1].
inline std::size_t subset_size(const Budget& budget, std::size_t train_size) {
  if (!valid_fraction(budget.fraction)) {
    throw std::invalid_argument(fmt::format("mahpo: the budget's fraction must be in (0, 1], got {}", budget.fraction));
  }
  if (budget.fraction == 1.0) return train_size;
  const auto kept = static_cast<std::size_t>(std::llround(budget.fraction * static_cast<double>(train_size)));
  return std::clamp<std::size_t>(kept, 1, train_size);
}

// The order batches draw the training images in: a seeded shuffle, reshuffled whenever it runs out
// (the order wraps into the next epoch in mid-batch, so every batch is full, as in Caffe). With a
// subset (a budget's fraction), the images are the first `subset` of another seeded permutation:
// for one seed, a smaller fraction's images are among a larger one's.
class BatchOrder {
 public:
  BatchOrder(std::size_t train_size, std::uint64_t seed, std::size_t subset = std::numeric_limits<std::size_t>::max())
      : rng_(seed ^ 0x9e3779b97f4a7c15ULL), order_(train_size) {
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    if (subset < train_size) {
      std::mt19937_64 chooser(seed ^ 0xd1b54a32d192ed03ULL);
      std::shuffle(order_.begin(), order_.end(), chooser);
      order_.resize(subset);
      std::sort(order_.begin(), order_.end());
    }
    std::shuffle(order_.begin(), order_.end(), rng_);
  }

  // The order as a checkpoint keeps it: the stream, the images and the cursor; and its restore.
  BatchOrder(const std::string& stream, std::vector<std::size_t> order, std::size_t cursor)
      : order_(std::move(order)), cursor_(cursor) {
    std::istringstream in(stream);
    in >> rng_;
    if (!in || cursor_ > order_.size()) throw std::invalid_argument("mahpo: the checkpoint's batch order is broken");
  }
  std::string stream() const {
    std::ostringstream out;
    out << rng_;
    return out.str();
  }
  const std::vector<std::size_t>& images() const { return order_; }
  std::size_t cursor() const { return cursor_; }

  // The images the batches draw from (all of the training set, or the subset).
  std::size_t size() const { return order_.size(); }

  // Fills `indices` with the next batch.
  template <typename Index>
  void next(std::span<Index> indices) {
    for (auto& index : indices) {
      if (cursor_ == order_.size()) {
        std::shuffle(order_.begin(), order_.end(), rng_);
        cursor_ = 0;
      }
      index = static_cast<Index>(order_[cursor_++]);
    }
  }

 private:
  std::mt19937_64 rng_;
  std::vector<std::size_t> order_;
  std::size_t cursor_ = 0;
};

// The standardization the networks see: pixel * scale + shift, from the training pixels' mean and
// deviation, so that SGD sees centred inputs.
struct Normalization {
  float scale = 1.0f / 255.0f, shift = 0.0f;
};

inline Normalization fit_normalization(const data::ImageSet& train) {
  double sum = 0.0, squares = 0.0;
  for (const std::uint8_t pixel : train.images) {
    sum += pixel;
    squares += static_cast<double>(pixel) * pixel;
  }
  const double count = static_cast<double>(train.images.size());
  const double mean = sum / count, deviation = std::sqrt(std::max(squares / count - mean * mean, 1e-12));
  return {static_cast<float>(1.0 / deviation), static_cast<float>(-mean / deviation)};
}

class Trainer {
 public:
  static constexpr std::string_view backend_name = "cpu";
  // The most iterations one trial may run (about 30 years of the fastest LeNet step): a budget past
  // it is a mistake, not a plan, and a double that large no longer converts to an integer exactly.
  static constexpr double max_iterations = 1e12;

  Trainer(const nn::NetworkSpec& spec, TrainerOptions options)
      : options_(std::move(options)), network_(spec, options_.seed), optimizer_(options_.optimizer, network_.parameters()) {
    if (options_.batch_size == 0) throw std::invalid_argument("mahpo: the batch size must be at least 1");
    if (!(options_.learning_rate > 0.0) || !std::isfinite(options_.learning_rate)) {
      throw std::invalid_argument(
          fmt::format("mahpo: the learning rate must be positive, got {}", options_.learning_rate));
    }
    if (options_.evaluation_batch == 0) throw std::invalid_argument("mahpo: the evaluation batch must be at least 1");
  }

  Network& network() { return network_; }

  // What train() calls at each history point, after the point's validation accuracy: true stops the
  // training there (the report's status is then `pruned`). The trainer's state() is the point's.
  using PointHook = std::function<bool(const HistoryPoint&)>;

  // Trains on dataset.train until the budget (counted from the first training: a trainer trained or
  // restored to 1 epoch and given 3 trains 2 more, with the same batches, masks and rates as 3 epochs
  // at once); evaluates on validation (and test, if asked). A resumed training keeps its data set and
  // fraction (std::invalid_argument otherwise).
  TrainingReport train(const data::Dataset& dataset, const Budget& budget, const PointHook& at_point = {}) {
    check_images(dataset.train);
    normalization_ = fit_normalization(dataset.train);
    const std::size_t train_size = subset_size(budget, dataset.train.size());  // an epoch: a pass over these
    const std::size_t batch = options_.batch_size;
    const std::size_t per_epoch = std::max<std::size_t>(1, (train_size + batch - 1) / batch);
    if (!order_) {
      order_.emplace(dataset.train.size(), options_.seed, train_size);
      train_images_ = dataset.train.size();
      fraction_ = budget.fraction;
    } else if (train_images_ != dataset.train.size() || order_->size() != train_size) {
      throw std::invalid_argument(fmt::format(
          "mahpo: a resumed training keeps its data: it started on {} of {} training images, this budget gives {} of {}",
          order_->size(), train_images_, train_size, dataset.train.size()));
    }
    const std::size_t total = planned_total(budget, train_size, batch);
    const std::size_t history_every = options_.history_every ? options_.history_every : per_epoch;

    TrainingReport report;
    report.parameter_count = network_.parameter_count();
    report.resumed_iterations = iterations_;
    report.resumed_epochs = static_cast<double>(images_seen_) / static_cast<double>(train_size);
    std::vector<std::size_t> indices(batch);
    double seconds = 0.0, evaluation_seconds = 0.0;
    std::optional<Evaluation> last_validation;  // the last point's, when it is the last iteration's

    for (std::size_t iteration = iterations_; iteration < total; ++iteration) {
      order_->next(std::span<std::size_t>(indices));
      const auto start = std::chrono::steady_clock::now();
      const double loss = step(optimizer_, dataset.train, indices,
                               learning_rate_at(options_.policy, options_.learning_rate, iteration, total));
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!std::isfinite(loss)) {
        report.status = Status::diverged;
        report.message = fmt::format("the training loss became {} at iteration {}", loss, iteration);
        break;
      }

      window_loss_ += loss;
      window_correct_ += count_correct(step_logits(), batch);
      window_seen_ += batch;
      ++window_iterations_;
      iterations_ = iteration + 1;
      images_seen_ += batch;
      report.final_train_loss = loss;
      if (iterations_ % history_every == 0 || iterations_ == total) {
        HistoryPoint point;
        point.iteration = iterations_;
        point.epoch = static_cast<double>(images_seen_) / static_cast<double>(train_size);
        point.train_loss = window_loss_ / static_cast<double>(window_iterations_);
        point.train_accuracy = static_cast<double>(window_correct_) / static_cast<double>(window_seen_);
        point.training_seconds = training_seconds_ + seconds;
        const auto evaluation_start = std::chrono::steady_clock::now();
        Evaluation validation = evaluate(dataset.validation);
        evaluation_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - evaluation_start).count();
        report.evaluated_images += dataset.validation.size();
        point.validation_accuracy = validation.accuracy;
        history_.push_back(point);
        window_loss_ = 0.0;
        window_correct_ = window_seen_ = window_iterations_ = 0;
        last_validation.reset();
        if (iterations_ == total) last_validation = std::move(validation);
        if (at_point) {
          const double before = seconds;
          training_seconds_ += seconds;  // so that state() at the point counts them
          seconds = 0.0;
          report.training_seconds += before;
          const bool stop = at_point(point);
          if (stop && iterations_ < total) {
            report.status = Status::pruned;
            report.message = fmt::format("stopped at epoch {:.4g} of {:.4g}", point.epoch,
                                         static_cast<double>(total * batch) / static_cast<double>(train_size));
            last_validation = std::move(validation);
            break;
          }
        }
      }
    }

    training_seconds_ += seconds;
    report.training_seconds += seconds;
    report.iterations = iterations_;
    report.history = history_;
    report.epochs = static_cast<double>(images_seen_) / static_cast<double>(train_size);
    report.seconds_per_100_iterations =
        iterations_ > report.resumed_iterations
            ? report.training_seconds * 100.0 / static_cast<double>(iterations_ - report.resumed_iterations)
            : 0.0;
    if (report.status != Status::diverged) {
      const auto evaluation_start = std::chrono::steady_clock::now();
      if (!last_validation) report.evaluated_images += dataset.validation.size();
      report.validation = last_validation ? std::move(*last_validation) : evaluate(dataset.validation);
      if (options_.evaluate_test && report.status == Status::ok) {
        report.test = evaluate(dataset.test);
        report.evaluated_images += dataset.test.size();
      }
      evaluation_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - evaluation_start).count();
    }
    report.evaluation_seconds = evaluation_seconds;
    evaluation_seconds_ += evaluation_seconds;
    report.trainer_bytes = network_.bytes() + optimizer_.bytes() + bytes();
    report.peak_resident_bytes = peak_resident_bytes();
    return report;
  }

  // The trainer's whole state (checkpoint.hpp): weights, optimizer, schedule position, streams, order.
  TrainerState state() {
    TrainerState state;
    for (const auto& p : network_.parameters()) {
      state.parameter_sizes.push_back(p.values.size());
      state.parameters.emplace_back(p.values.begin(), p.values.end());
    }
    state.optimizer = optimizer_.is_adam() ? 1 : 0;
    state.optimizer_steps = optimizer_.steps();
    state.first = optimizer_.first();
    state.second = optimizer_.second();
    state.dropout_draws = network_.dropout_draws();
    if (order_) {
      state.order_stream = order_->stream();
      state.order.assign(order_->images().begin(), order_->images().end());
      state.order_cursor = order_->cursor();
    }
    state.train_images = train_images_;
    state.fraction = fraction_;
    state.iterations = iterations_;
    state.images_seen = images_seen_;
    state.training_seconds = training_seconds_;
    state.evaluation_seconds = evaluation_seconds_;
    state.history = history_;
    state.window_loss = window_loss_;
    state.window_correct = window_correct_;
    state.window_seen = window_seen_;
    state.window_iterations = window_iterations_;
    return state;
  }

  // Continues from `state`, which must fit this network (the same parameter sizes) and optimizer kind;
  // dropout rates, learning rate and batch size may differ from the trainer that saved it.
  void restore(const TrainerState& state) {
    auto parameters = network_.parameters();
    bool fits = state.parameter_sizes.size() == parameters.size() && state.parameters.size() == parameters.size();
    for (std::size_t p = 0; fits && p < parameters.size(); ++p) {
      fits = state.parameter_sizes[p] == parameters[p].values.size() &&
             state.parameters[p].size() == parameters[p].values.size();
    }
    if (!fits) throw CheckpointError("mahpo: the checkpoint belongs to another network (its parameter sizes differ)");
    if (state.optimizer != (optimizer_.is_adam() ? 1u : 0u)) {
      throw CheckpointError(fmt::format("mahpo: the checkpoint was written by {}, this trainer uses {}",
                                        state.optimizer ? "Adam" : "SGD", optimizer_.is_adam() ? "Adam" : "SGD"));
    }
    if (state.dropout_draws.size() != network_.dropout_draws().size()) {
      throw CheckpointError("mahpo: the checkpoint belongs to another network (its dense layers differ)");
    }
    std::optional<BatchOrder> order;
    if (!state.order.empty()) {
      for (const auto image : state.order) {
        if (image >= state.train_images) throw CheckpointError("mahpo: the checkpoint's batch order is broken");
      }
      try {
        order.emplace(state.order_stream, std::vector<std::size_t>(state.order.begin(), state.order.end()),
                      state.order_cursor);
      } catch (const std::invalid_argument& error) {
        throw CheckpointError(error.what());
      }
    }
    try {
      optimizer_.restore(state.optimizer_steps, state.first, state.second);  // checks, then changes
    } catch (const std::invalid_argument& error) {
      throw CheckpointError(error.what());
    }
    // Nothing below throws: a state that does not fit leaves the trainer as it was.
    for (std::size_t p = 0; p < parameters.size(); ++p)
      std::copy(state.parameters[p].begin(), state.parameters[p].end(), parameters[p].values.begin());
    network_.set_dropout_draws(state.dropout_draws);
    order_ = std::move(order);
    train_images_ = state.train_images;
    fraction_ = state.fraction;
    iterations_ = state.iterations;
    images_seen_ = state.images_seen;
    training_seconds_ = state.training_seconds;
    evaluation_seconds_ = state.evaluation_seconds;
    history_ = state.history;
    window_loss_ = state.window_loss;
    window_correct_ = state.window_correct;
    window_seen_ = state.window_seen;
    window_iterations_ = state.window_iterations;
  }

  // Iterations trained so far (all train() calls, and any restored state, together), and the history.
  std::size_t iterations() const { return iterations_; }
  const std::vector<HistoryPoint>& history() const { return history_; }

  // One training iteration on the images at `indices`: forward, loss, backward, update. Returns the
  // batch's mean loss; a non-finite loss leaves the weights untouched.
  double step(Optimizer& optimizer, const data::ImageSet& images, std::span<const std::size_t> indices,
              double learning_rate) {
    const std::size_t batch = indices.size(), chunk = options_.micro_batch;
    if (chunk == 0 || batch <= chunk) {
      const double loss = forward_backward(images, indices, 1.0f);
      if (!std::isfinite(loss)) return loss;
      step_logits_ = &network_.logits();
      step_labels_ = &labels_;
      optimizer.step(learning_rate);
      return loss;
    }
    // Micro-batches: each one's loss gradient is scaled by its share of the batch, its parameter
    // gradients are added up, and the logits and labels are kept for the accuracy count.
    if (parameters_.empty()) parameters_ = network_.parameters();
    const auto& parameters = parameters_;
    gradient_sums_.resize(parameters.size());
    for (std::size_t p = 0; p < parameters.size(); ++p) gradient_sums_[p].assign(parameters[p].gradients.size(), 0.0f);
    const std::size_t classes = network_.classes();
    batch_logits_.resize(batch * classes);
    batch_labels_.resize(batch);
    double loss_sum = 0.0;
    for (std::size_t first = 0; first < batch; first += chunk) {
      const std::size_t count = std::min(chunk, batch - first);
      const double loss = forward_backward(images, indices.subspan(first, count),
                                           static_cast<float>(count) / static_cast<float>(batch));
      if (!std::isfinite(loss)) return loss;
      loss_sum += loss * static_cast<double>(count);
      for (std::size_t p = 0; p < parameters.size(); ++p) {
        const auto gradient = parameters[p].gradients;
        auto& sum = gradient_sums_[p];
        for (std::size_t i = 0; i < gradient.size(); ++i) sum[i] += gradient[i];
      }
      std::copy_n(network_.logits().begin(), count * classes,
                  batch_logits_.begin() + static_cast<std::ptrdiff_t>(first * classes));
      std::copy_n(labels_.begin(), count, batch_labels_.begin() + static_cast<std::ptrdiff_t>(first));
    }
    for (std::size_t p = 0; p < parameters.size(); ++p) {
      std::copy(gradient_sums_[p].begin(), gradient_sums_[p].end(), parameters[p].gradients.begin());
    }
    step_logits_ = &batch_logits_;
    step_labels_ = &batch_labels_;
    optimizer.step(learning_rate);
    return loss_sum / static_cast<double>(batch);
  }

  // Accuracy, kappa and confusion matrix of the network on `images` (no dropout).
  Evaluation evaluate(const data::ImageSet& images) {
    check_images(images);
    Evaluation result{0.0, 0.0, ConfusionMatrix(network_.classes())};
    std::vector<std::size_t> indices;
    for (std::size_t begin = 0; begin < images.size(); begin += options_.evaluation_batch) {
      const std::size_t count = std::min(options_.evaluation_batch, images.size() - begin);
      indices.resize(count);
      std::iota(indices.begin(), indices.end(), begin);
      load_batch(images, indices);
      const auto& logits = network_.forward(input_, count, false);
      for (std::size_t n = 0; n < count; ++n) {
        result.confusion.add(labels_[n], predicted_class(logits, n));
      }
    }
    result.accuracy = result.confusion.accuracy();
    result.kappa = result.confusion.kappa();
    return result;
  }

 private:
  // The iteration the budget ends at, counted from the first training: the budget's iterations, or
  // enough batches for its epochs (with this batch size for what is left when an earlier one differed).
  std::size_t planned_total(const Budget& budget, std::size_t train_size, std::size_t batch) const {
    if (iterations_ == 0) return planned_iterations(budget, train_size, batch, max_iterations);
    if (budget.iterations > 0) return std::max(iterations_, budget.iterations);
    if (!(std::isfinite(budget.epochs) && budget.epochs >= 0.0)) {
      throw std::invalid_argument(
          fmt::format("mahpo: the budget's epochs must be a finite number >= 0, got {}", budget.epochs));
    }
    const double images = budget.epochs * static_cast<double>(train_size);
    const double wanted =
        images_seen_ == iterations_ * batch
            ? std::ceil(images / static_cast<double>(batch))
            : static_cast<double>(iterations_) +
                  std::ceil(std::max(0.0, images - static_cast<double>(images_seen_)) / static_cast<double>(batch));
    if (wanted > max_iterations) {
      throw std::invalid_argument(fmt::format(
          "mahpo: the budget asks for {} iterations, more than the {} a trial may run", wanted, max_iterations));
    }
    return std::max(iterations_, static_cast<std::size_t>(wanted));
  }

  void check_images(const data::ImageSet& images) const {
    const std::size_t pixels = images.size() ? images.rows() * images.columns() : 0;
    if (images.size() && pixels != network_.input_size()) {
      throw std::invalid_argument(fmt::format("mahpo: the network takes {} values per image, the data has {}x{}",
                                              network_.input_size(), images.rows(), images.columns()));
    }
  }

  void load_batch(const data::ImageSet& images, std::span<const std::size_t> indices) {
    const std::size_t pixels = images.rows() * images.columns();
    input_.resize(indices.size() * pixels);
    labels_.resize(indices.size());
    for (std::size_t i = 0; i < indices.size(); ++i) {
      const std::uint8_t* source = images.images.data() + indices[i] * pixels;
      float* target = input_.data() + i * pixels;
      for (std::size_t p = 0; p < pixels; ++p)
        target[p] = formulas::normalize_pixel(source[p], normalization_.scale, normalization_.shift);
      labels_[i] = images.labels[indices[i]];
    }
  }

  std::size_t predicted_class(const std::vector<float>& logits, std::size_t image) const {
    return static_cast<std::size_t>(
        formulas::predicted_class(logits.data() + image * network_.classes(), static_cast<int>(network_.classes())));
  }

  // Forward and backward of the images at `indices`, the loss gradient scaled by `share`; returns the
  // mean loss over these images (non-finite: nothing is back-propagated).
  double forward_backward(const data::ImageSet& images, std::span<const std::size_t> indices, float share) {
    load_batch(images, indices);
    const auto& logits = network_.forward(input_, indices.size(), true);
    const double loss =
        softmax_cross_entropy(std::span<const float>(logits.data(), indices.size() * network_.classes()), labels_,
                              network_.classes(), logit_gradient_);
    if (!std::isfinite(loss)) return loss;
    if (share != 1.0f) {
      for (auto& g : logit_gradient_) g *= share;
    }
    network_.backward(logit_gradient_);
    return loss;
  }

  const std::vector<float>& step_logits() const { return *step_logits_; }

  std::size_t count_correct(const std::vector<float>& logits, std::size_t batch) const {
    std::size_t correct = 0;
    for (std::size_t n = 0; n < batch; ++n) correct += predicted_class(logits, n) == (*step_labels_)[n] ? 1 : 0;
    return correct;
  }

  std::size_t bytes() const {
    std::size_t sums = 0;
    for (const auto& s : gradient_sums_) sums += s.capacity();
    return (input_.capacity() + logit_gradient_.capacity() + batch_logits_.capacity() + sums) * sizeof(float) +
           labels_.capacity() + batch_labels_.capacity();
  }

  TrainerOptions options_;
  Network network_;
  Optimizer optimizer_;
  // Where the training stands (what state() saves): the order, once a training started; iterations,
  // images and seconds so far; the history; the running window of the next history point.
  std::optional<BatchOrder> order_;
  std::size_t train_images_ = 0;
  double fraction_ = 1.0;
  std::size_t iterations_ = 0, images_seen_ = 0;
  double training_seconds_ = 0.0, evaluation_seconds_ = 0.0;
  std::vector<HistoryPoint> history_;
  double window_loss_ = 0.0;
  std::size_t window_correct_ = 0, window_seen_ = 0, window_iterations_ = 0;
  std::vector<float> input_, logit_gradient_;
  std::vector<std::uint8_t> labels_;
  // Micro-batched steps: the summed parameter gradients, and the whole batch's logits and labels.
  std::vector<WeightsView> parameters_;  // the network's, for summing micro-batch gradients
  std::vector<std::vector<float>> gradient_sums_;
  std::vector<float> batch_logits_;
  std::vector<std::uint8_t> batch_labels_;
  const std::vector<float>* step_logits_ = nullptr;  // the last step's logits and labels
  const std::vector<std::uint8_t>* step_labels_ = nullptr;
  Normalization normalization_;  // the default until train() sees the training set
};

static_assert(TrainerBackend<Trainer> && ResumableBackend<Trainer>);

}  // namespace mahpo::train
