#pragma once
// mahpo::cuda::Trainer: the GPU trainer backend (train::TrainerBackend, backend_name "cuda").
//
// cuDNN computes the convolutions (forward, backward-data, backward-filter; convolution.cuh),
// cuBLAS the dense products, and mahpo's own kernels everything else (kernels.cu over the bodies of
// include/mahpo/train/device_bodies.hpp: bias, ReLU, max pooling, dropout, softmax cross-entropy,
// the fused SGD-momentum and Adam updates, accuracy and confusion counts). Everything the CPU
// trainer promises (train/backend.hpp) holds here too, and the two train the same network the same
// way: the weights are initialized by the CPU Network of the same seed and uploaded, the batches
// come from the same BatchOrder, the dropout masks from the same counter-based draws, the learning
// rate from the same schedule, so that on the same weights and batch the GPU's gradients equal the
// CPU's to float rounding (tests/cuda/).
//
// On the device:
// - the data set, as bytes (uploaded once per image set), and each step's batch gathered and
//   standardized there from a chunk of batch indices the host uploads (up to `chunk_steps` steps at
//   once, with their learning rates);
// - every parameter in one buffer (the CPU network's order: each layer's weights, then its bias),
//   their gradients and the optimizer's moments beside it, so that one kernel updates all of them;
// - the training step (gather, forward, loss, backward, update, bookkeeping) captured once as a CUDA
//   graph and launched once per step; a device counter says which row of the chunk is the step's.
//   The host synchronizes only at chunk ends (history points, the end, and every chunk_steps steps).
// - A non-finite loss: the step's update is skipped and its iteration recorded on the device; the
//   host stops at the chunk's end with status `diverged` at that iteration, evaluating nothing.
//
// Every CUDA, cuDNN and cuBLAS status is checked; an error says the call and the shape.

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <mahpo/cuda/convolution.hpp>
#include <mahpo/cuda/error.hpp>
#include <mahpo/cuda/launch.hpp>
#include <mahpo/cuda/memory.hpp>
#include <mahpo/data/dataset.hpp>
#include <mahpo/nn/lenet.hpp>
#include <mahpo/objective.hpp>
#include <mahpo/optim/adam.hpp>
#include <mahpo/train/backend.hpp>
#include <mahpo/train/device_bodies.hpp>
#include <mahpo/train/metrics.hpp>
#include <mahpo/train/network.hpp>
#include <mahpo/train/schedule.hpp>
#include <mahpo/train/trainer.hpp>

namespace mahpo::cuda {

namespace detail {

// The network as the device runs it, layer by layer (the flatten before the first dense layer is
// free: an NCHW image is already its feature vector in the CPU trainer's order).
struct ConvPlan {
  std::size_t channels, height, width, filters, kernel, pad_before, pad_total;
  std::size_t weights, bias;  // offsets in the parameter buffer
  std::size_t out_height() const { return height + pad_total - kernel + 1; }
  std::size_t out_width() const { return width + pad_total - kernel + 1; }
  bool symmetric() const { return 2 * pad_before == pad_total; }
};
struct PoolPlan {
  std::size_t channels, height, width, size;
  std::size_t out_height() const { return height / size; }
  std::size_t out_width() const { return width / size; }
};
struct DensePlan {
  std::size_t inputs, units;
  bool relu;
  float dropout_rate;
  std::uint64_t seed;
  std::size_t weights, bias;
  std::size_t dropout_slot;  // its draw counter, when it drops out
};
using LayerPlan = std::variant<ConvPlan, PoolPlan, DensePlan>;

// One layer's buffers for one batch size.
struct LayerBuffers {
  DeviceBuffer<float> output, delta, input_gradient, padded, padded_gradient, mask;
  DeviceBuffer<std::uint8_t> winner;
  std::unique_ptr<Convolution> convolution;
};

// The activations of one batch size (training's, evaluation's).
struct Instance {
  std::size_t batch = 0;
  DeviceBuffer<float> input, logit_gradient;
  DeviceBuffer<std::uint8_t> labels, predicted;
  DeviceBuffer<double> losses;
  DeviceBuffer<std::uint32_t> indices;  // a chunk of steps x batch
  std::vector<LayerBuffers> layers;
};

// An image set on the device.
struct DeviceImages {
  DeviceBuffer<std::uint8_t> images, labels;
  std::size_t count = 0;
  std::uint64_t fingerprint = 0;
};

}  // namespace detail

class Trainer {
 public:
  static constexpr std::string_view backend_name = "cuda";
  static constexpr double max_iterations = train::Trainer::max_iterations;
  static constexpr std::size_t chunk_steps = 4096;  // steps uploaded (and launched) between host synchronizations

  Trainer(const nn::NetworkSpec& spec, train::TrainerOptions options)
      : options_(std::move(options)), host_(spec, options_.seed) {
    if (options_.batch_size == 0) throw std::invalid_argument("mahpo: the batch size must be at least 1");
    if (!(options_.learning_rate > 0.0) || !std::isfinite(options_.learning_rate)) {
      throw std::invalid_argument(
          fmt::format("mahpo: the learning rate must be positive, got {}", options_.learning_rate));
    }
    if (options_.evaluation_batch == 0) throw std::invalid_argument("mahpo: the evaluation batch must be at least 1");
    if (device_count() == 0) {
      throw CudaError(
          "mahpo::cuda: no CUDA device is visible to this process (no GPU, no driver, or CUDA_VISIBLE_DEVICES hides "
          "them): use the CPU trainer");
    }
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    check(cudnnCreate(&cudnn_), "cudnnCreate");
    check(cudnnSetStream(cudnn_, stream_), "cudnnSetStream");
    check(cublasCreate(&cublas_), "cublasCreate");
    check(cublasSetStream(cublas_, stream_), "cublasSetStream");
    check(cublasSetMathMode(cublas_, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode (no TF32: the CPU's float products)");
    allocate(cublas_workspace_, cublas_workspace_bytes, "the cuBLAS workspace");
    check(cublasSetWorkspace(cublas_, cublas_workspace_.data(), cublas_workspace_bytes), "cublasSetWorkspace");
    plan(spec);
    upload_parameters();
  }

  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;
  ~Trainer() {
    if (graph_exec_ != nullptr) cudaGraphExecDestroy(graph_exec_);
    if (cublas_ != nullptr) cublasDestroy(cublas_);
    if (cudnn_ != nullptr) cudnnDestroy(cudnn_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  // Trains for the budget on dataset.train; evaluates on validation (and test, if asked).
  train::TrainingReport train(const data::Dataset& dataset, const Budget& budget) {
    check_images(dataset.train);
    normalization_ = train::fit_normalization(dataset.train);
    // An epoch: a pass over the budget's subset of the training images (all of them at fraction 1).
    const std::size_t train_size = train::subset_size(budget, dataset.train.size()), batch = options_.batch_size;
    const std::size_t per_epoch = std::max<std::size_t>(1, (train_size + batch - 1) / batch);
    const std::size_t total = train::planned_iterations(budget, train_size, batch, max_iterations);
    const std::size_t history_every = options_.history_every ? options_.history_every : per_epoch;
    const auto& images = on_device(dataset.train);
    prepare_training(images);
    start_training();

    train::BatchOrder order(dataset.train.size(), options_.seed, train_size);
    train::TrainingReport report;
    report.parameter_count = parameter_count_;
    double seconds = 0.0;
    std::size_t done = 0, since = 0;
    while (done < total) {
      const std::size_t next_history = (done / history_every + 1) * history_every;
      const std::size_t steps = std::min({chunk_steps, total - done, next_history - done});
      fill_chunk(order, done, steps, total);
      const auto start = std::chrono::steady_clock::now();
      upload_chunk(steps);
      for (std::size_t s = 0; s < steps; ++s) check(cudaGraphLaunch(graph_exec_, stream_), "cudaGraphLaunch (a step)");
      const StepState state = read_state();
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (state.diverged_at != ~0ull) {
        report.status = Status::diverged;
        report.message = fmt::format("the training loss became {} at iteration {}", state.loss, state.diverged_at);
        report.iterations = static_cast<std::size_t>(state.diverged_at);
        break;
      }
      done += steps;
      since += steps;
      report.iterations = done;
      report.final_train_loss = state.loss;
      if (done % history_every == 0 || done == total) {
        train::HistoryPoint point;
        point.iteration = done;
        point.epoch = static_cast<double>(done * batch) / static_cast<double>(train_size);
        point.train_loss = state.loss_sum / static_cast<double>(since);
        point.train_accuracy = static_cast<double>(state.correct) / static_cast<double>(since * batch);
        point.training_seconds = seconds;
        const auto evaluation_start = std::chrono::steady_clock::now();
        point.validation_accuracy = evaluate(dataset.validation).accuracy;
        report.evaluated_images += dataset.validation.size();
        report.evaluation_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - evaluation_start).count();
        report.history.push_back(point);
        reset_sums();
        since = 0;
      }
    }

    report.training_seconds = seconds;
    report.epochs = static_cast<double>(report.iterations * batch) / static_cast<double>(train_size);
    report.seconds_per_100_iterations =
        report.iterations ? seconds * 100.0 / static_cast<double>(report.iterations) : 0.0;
    if (report.status == Status::ok) {
      const auto evaluation_start = std::chrono::steady_clock::now();
      report.validation = evaluate(dataset.validation);
      report.evaluated_images += dataset.validation.size();
      if (options_.evaluate_test) {
        report.test = evaluate(dataset.test);
        report.evaluated_images += dataset.test.size();
      }
      report.evaluation_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - evaluation_start).count();
    }
    report.trainer_bytes = device_bytes_;
    report.peak_resident_bytes = train::peak_resident_bytes();
    return report;
  }

  // Accuracy, kappa and confusion matrix of the network on `images` (no dropout), in batches of
  // options.evaluation_batch (the last one filled up with its first image, whose extra predictions
  // are not counted).
  train::Evaluation evaluate(const data::ImageSet& images) {
    check_images(images);
    train::Evaluation result{0.0, 0.0, train::ConfusionMatrix(classes_)};
    if (images.size() == 0) return result;
    const auto& device_images = on_device(images);
    auto& eval = instance(evaluation_, options_.evaluation_batch, false);
    allocate(confusion_, classes_ * classes_, "the confusion counts");
    check(cudaMemsetAsync(confusion_.data(), 0, confusion_.bytes(), stream_), "cudaMemsetAsync (confusion counts)");
    const std::size_t size = eval.batch;
    host_indices_.resize(size, "evaluation indices");
    for (std::size_t begin = 0; begin < images.size(); begin += size) {
      const std::size_t count = std::min(size, images.size() - begin);
      check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (before reusing the evaluation indices)");
      for (std::size_t i = 0; i < size; ++i) host_indices_[i] = static_cast<std::uint32_t>(begin + (i < count ? i : 0));
      check(cudaMemcpyAsync(eval.indices.data(), host_indices_.data(), size * sizeof(std::uint32_t),
                            cudaMemcpyHostToDevice, stream_),
            "cudaMemcpyAsync (evaluation indices)");
      gather(eval, device_images, nullptr);
      forward(eval, false);
      run(train::device::PredictBody{logits(eval), static_cast<int>(classes_), eval.predicted.data()}, size, "predict");
      check(launch::count_confusion(eval.predicted.data(), eval.labels.data(), count, static_cast<int>(classes_),
                                    confusion_.data(), stream_),
            fmt::format("launching count_confusion over {} images", count));
    }
    std::vector<unsigned long long> counts(classes_ * classes_);
    check(cudaMemcpyAsync(counts.data(), confusion_.data(), confusion_.bytes(), cudaMemcpyDeviceToHost, stream_),
          "cudaMemcpyAsync (confusion counts)");
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (evaluation)");
    for (std::size_t truth = 0; truth < classes_; ++truth) {
      for (std::size_t predicted = 0; predicted < classes_; ++predicted) {
        result.confusion.add_count(truth, predicted, counts[truth * classes_ + predicted]);
      }
    }
    result.accuracy = result.confusion.accuracy();
    result.kappa = result.confusion.kappa();
    return result;
  }

  // For tests and gradient checks: one training step on the images at `indices` of `images` (as many
  // as the batch size) at `learning_rate`, outside the graph but through the same code, with the
  // normalization as it stands (the CPU Trainer's step does the same). Returns the batch's mean loss.
  double train_step(const data::ImageSet& images, std::span<const std::size_t> indices, double learning_rate) {
    check_images(images);
    if (indices.size() != options_.batch_size) {
      throw std::invalid_argument(fmt::format("mahpo::cuda: a step takes {} images (the batch size), got {}",
                                              options_.batch_size, indices.size()));
    }
    const auto& device_images = on_device(images);
    prepare_buffers(device_images);
    host_indices_.resize(chunk_steps * options_.batch_size, "batch indices");
    for (std::size_t i = 0; i < indices.size(); ++i) host_indices_[i] = static_cast<std::uint32_t>(indices[i]);
    fill_rates(0, 1, learning_rate);
    upload_chunk(1);
    enqueue_step(device_images);
    return read_state().loss;
  }

  // Every parameter (each layer's weights, then its bias, in the CPU network's order) and their
  // gradients after the last step, downloaded.
  std::vector<float> parameters() { return download(parameters_); }
  std::vector<float> gradients() { return download(gradients_); }

  // The CPU network the weights were initialized from (the same seed as a CPU Trainer's).
  train::Network& initial_network() { return host_; }

 private:
  static constexpr std::size_t cublas_workspace_bytes = 32u << 20;  // what cuBLAS asks for on Hopper

  // An element-wise kernel over [0, count); `what` names it in an error, with the count.
  template <typename Body>
  void run(const Body& body, std::size_t count, const char* what) {
    check(launch::for_each(body, count, stream_), fmt::format("launching {} over {} elements", what, count));
  }

  void check_images(const data::ImageSet& images) const {
    const std::size_t pixels = images.size() ? images.rows() * images.columns() : 0;
    if (images.size() && pixels != host_.input_size()) {
      throw std::invalid_argument(fmt::format("mahpo: the network takes {} values per image, the data has {}x{}",
                                              host_.input_size(), images.rows(), images.columns()));
    }
  }

  template <typename T>
  void allocate(DeviceBuffer<T>& buffer, std::size_t count, const std::string& what) {
    const std::size_t before = buffer.bytes();
    buffer.resize(count, what);
    device_bytes_ += buffer.bytes() - before;
  }

  // The layers' plan and the parameter buffers, from the spec (the CPU Network checked it).
  void plan(const nn::NetworkSpec& spec) {
    std::size_t channels = spec.input.channels, height = spec.input.height, width = spec.input.width;
    std::size_t offset = 0, dense_index = 0;
    const auto seeds = host_.dropout_seeds();
    for (const auto& layer : spec.layers) {
      if (const auto* conv = std::get_if<nn::ConvSpec>(&layer)) {
        detail::ConvPlan p{
            channels, height, width, conv->filters, conv->kernel_size, conv->padding_before(), conv->padding_total(),
            offset,   0};
        offset += conv->filters * channels * conv->kernel_size * conv->kernel_size;
        p.bias = offset;
        offset += conv->filters;
        channels = p.filters;
        height = p.out_height();
        width = p.out_width();
        plan_.push_back(p);
      } else if (const auto* pool = std::get_if<nn::PoolSpec>(&layer)) {
        detail::PoolPlan p{channels, height, width, pool->size};
        height = p.out_height();
        width = p.out_width();
        plan_.push_back(p);
      } else {
        const std::size_t inputs = channels * height * width;
        const auto* dense = std::get_if<nn::DenseSpec>(&layer);
        const std::size_t units = dense ? dense->units : std::get<nn::OutputSpec>(layer).classes;
        detail::DensePlan p{inputs,
                            units,
                            dense != nullptr,
                            dense ? static_cast<float>(dense->dropout_rate) : 0.0f,
                            seeds.at(dense_index++),
                            offset,
                            0,
                            0};
        offset += inputs * units;
        p.bias = offset;
        offset += units;
        if (p.dropout_rate > 0.0f) p.dropout_slot = dropout_layers_++;
        if (!dense) classes_ = units;
        channels = units;
        height = width = 1;
        plan_.push_back(p);
      }
    }
    parameter_count_ = offset;
    allocate(parameters_, offset, "the parameters");
    allocate(gradients_, offset, "the gradients");
    allocate(first_moment_, offset, "the optimizer's first moments");
    if (std::holds_alternative<train::Adam>(options_.optimizer)) {
      allocate(second_moment_, offset, "the optimizer's second moments");
    }
    allocate(state_, 1, "the step state");
    allocate(draws_, std::max<std::size_t>(dropout_layers_, 1), "the dropout draw counters");
    allocate(draws_per_pass_, std::max<std::size_t>(dropout_layers_, 1), "the dropout draws per pass");
  }

  // The CPU network's initial weights, and zeroed moments, counters and state.
  void upload_parameters() {
    std::vector<float> flat;
    flat.reserve(parameter_count_);
    for (const auto& view : host_.parameters()) flat.insert(flat.end(), view.values.begin(), view.values.end());
    if (flat.size() != parameter_count_) {
      throw std::logic_error(
          fmt::format("mahpo::cuda: the plan has {} parameters, the CPU network {}", parameter_count_, flat.size()));
    }
    check(cudaMemcpy(parameters_.data(), flat.data(), flat.size() * sizeof(float), cudaMemcpyHostToDevice),
          fmt::format("cudaMemcpy ({} parameters to the device)", flat.size()));
    check(cudaMemset(first_moment_.data(), 0, first_moment_.bytes()), "cudaMemset (first moments)");
    if (second_moment_.size()) check(cudaMemset(second_moment_.data(), 0, second_moment_.bytes()), "cudaMemset");
    check(cudaMemset(draws_.data(), 0, draws_.bytes()), "cudaMemset (dropout draws)");
    StepState state{};
    state.diverged_at = ~0ull;
    check(cudaMemcpy(state_.data(), &state, sizeof state, cudaMemcpyHostToDevice), "cudaMemcpy (step state)");
  }

  // The device copy of an image set, uploaded the first time it is seen (keyed by where its bytes
  // are and a fingerprint of them: a set freed and another made at the same address is uploaded).
  const detail::DeviceImages& on_device(const data::ImageSet& images) {
    std::uint64_t fingerprint = 0xcbf29ce484222325ULL;  // FNV-1a over the labels and every 61st pixel
    const auto mix = [&](std::uint8_t byte) { fingerprint = (fingerprint ^ byte) * 0x100000001b3ULL; };
    for (const auto label : images.labels) mix(label);
    for (std::size_t i = 0; i < images.images.size(); i += 61) mix(images.images.data()[i]);
    auto& cached = image_sets_[images.images.data()];
    if (cached.count != images.size() || cached.fingerprint != fingerprint) {
      cached.fingerprint = fingerprint;
      allocate(cached.images, images.images.size(), "an image set");
      allocate(cached.labels, images.labels.size(), "an image set's labels");
      check(cudaMemcpy(cached.images.data(), images.images.data(), images.images.size(), cudaMemcpyHostToDevice),
            fmt::format("cudaMemcpy ({} images to the device)", images.size()));
      check(cudaMemcpy(cached.labels.data(), images.labels.data(), images.labels.size(), cudaMemcpyHostToDevice),
            fmt::format("cudaMemcpy ({} labels to the device)", images.size()));
      cached.count = images.size();
    }
    return cached;
  }

  // The buffers of one batch size (built the first time).
  detail::Instance& instance(detail::Instance& target, std::size_t batch, bool training) {
    if (target.batch == batch) return target;
    target.batch = batch;
    const std::size_t pixels = host_.input_size();
    allocate(target.input, batch * pixels, "the input batch");
    allocate(target.labels, batch, "the batch's labels");
    allocate(target.predicted, batch, "the batch's predictions");
    allocate(target.losses, batch, "the images' losses");
    allocate(target.logit_gradient, batch * classes_, "the logits' gradient");
    allocate(target.indices, (training ? chunk_steps : 1) * batch, "batch indices");
    target.layers.clear();
    target.layers.resize(plan_.size());
    for (std::size_t l = 0; l < plan_.size(); ++l) {
      auto& buffers = target.layers[l];
      const auto name = fmt::format("layer {}", l + 1);
      if (const auto* conv = std::get_if<detail::ConvPlan>(&plan_[l])) {
        const std::size_t out = batch * conv->filters * conv->out_height() * conv->out_width();
        const std::size_t in = batch * conv->channels * conv->height * conv->width;
        allocate(buffers.output, out, name + " output");
        allocate(buffers.delta, out, name + " delta");
        if (l > 0) allocate(buffers.input_gradient, in, name + " input gradient");
        const bool explicit_pad = !conv->symmetric();
        if (explicit_pad) {
          const std::size_t padded =
              batch * conv->channels * (conv->height + conv->pad_total) * (conv->width + conv->pad_total);
          allocate(buffers.padded, padded, name + " padded input");
          if (l > 0) allocate(buffers.padded_gradient, padded, name + " padded input gradient");
        }
        ConvolutionShape shape{static_cast<int>(batch),
                               static_cast<int>(conv->channels),
                               static_cast<int>(conv->height + (explicit_pad ? conv->pad_total : 0)),
                               static_cast<int>(conv->width + (explicit_pad ? conv->pad_total : 0)),
                               static_cast<int>(conv->filters),
                               static_cast<int>(conv->kernel),
                               static_cast<int>(explicit_pad ? 0 : conv->pad_before)};
        buffers.convolution = std::make_unique<Convolution>(cudnn_, shape, name);
        allocate(workspace_, buffers.convolution->workspace_bytes(), "the cuDNN workspace");
      } else if (const auto* pool = std::get_if<detail::PoolPlan>(&plan_[l])) {
        const std::size_t out = batch * pool->channels * pool->out_height() * pool->out_width();
        allocate(buffers.output, out, name + " output");
        allocate(buffers.winner, out, name + " winners");
        allocate(buffers.input_gradient, batch * pool->channels * pool->height * pool->width, name + " input gradient");
      } else {
        const auto& dense = std::get<detail::DensePlan>(plan_[l]);
        allocate(buffers.output, batch * dense.units, name + " output");
        allocate(buffers.delta, batch * dense.units, name + " delta");
        if (l > 0) allocate(buffers.input_gradient, batch * dense.inputs, name + " input gradient");
        if (training && dense.dropout_rate > 0.0f) allocate(buffers.mask, batch * dense.units, name + " dropout mask");
      }
    }
    return target;
  }

  const float* logits(const detail::Instance& target) const { return target.layers.back().output.data(); }

  // Training's buffers, the per-pass dropout draws and the captured step.
  void prepare_buffers(const detail::DeviceImages& images) {
    auto& training = instance(training_, options_.batch_size, true);
    (void)training;
    std::vector<unsigned long long> per_pass(std::max<std::size_t>(dropout_layers_, 1), 0);
    for (const auto& layer : plan_) {
      if (const auto* dense = std::get_if<detail::DensePlan>(&layer); dense && dense->dropout_rate > 0.0f) {
        per_pass[dense->dropout_slot] = train::formulas::dropout_draws(options_.batch_size * dense->units);
      }
    }
    check(cudaMemcpy(draws_per_pass_.data(), per_pass.data(), per_pass.size() * sizeof(unsigned long long),
                     cudaMemcpyHostToDevice),
          "cudaMemcpy (dropout draws per pass)");
    const std::size_t rate_width = std::holds_alternative<train::Adam>(options_.optimizer) ? 3 : 1;
    allocate(rates_, chunk_steps * rate_width, "the learning rates of a chunk");
    host_rates_.resize(chunk_steps * rate_width, "learning rates");
    (void)images;
  }

  void prepare_training(const detail::DeviceImages& images) {
    prepare_buffers(images);
    // Evaluation's buffers first: they may grow the shared cuDNN workspace, which the captured step
    // must not see move.
    instance(evaluation_, options_.evaluation_batch, false);
    host_indices_.resize(chunk_steps * options_.batch_size, "batch indices");
    if (graph_exec_ != nullptr && graph_images_ == images.images.data() && graph_labels_ == images.labels.data())
      return;
    if (graph_exec_ != nullptr) check(cudaGraphExecDestroy(graph_exec_), "cudaGraphExecDestroy");
    graph_exec_ = nullptr;
    warm_up(images);
    cudaGraph_t graph = nullptr;
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture (the step)");
    try {
      enqueue_step(images);
    } catch (...) {
      cudaStreamEndCapture(stream_, &graph);
      if (graph != nullptr) cudaGraphDestroy(graph);
      throw;
    }
    check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture (the step)");
    const auto instantiated = cudaGraphInstantiate(&graph_exec_, graph, 0);
    cudaGraphDestroy(graph);
    check(instantiated, "cudaGraphInstantiate (the step)");
    graph_images_ = images.images.data();
    graph_labels_ = images.labels.data();
  }

  // One step outside any graph before the capture, so that cuBLAS and the kernels have loaded what
  // they load on first use (nothing may be loaded or allocated inside a capture). It changes nothing:
  // learning rate 0 (SGD and Adam then move no weight), the dropout draws put back, and
  // start_training() zeroes the moments and the state afterwards.
  void warm_up(const detail::DeviceImages& images) {
    for (std::size_t i = 0; i < options_.batch_size; ++i) host_indices_[i] = 0;
    fill_rates(0, 1, 0.0);
    upload_chunk(1);
    DeviceBuffer<unsigned long long> saved(draws_.size(), "the dropout draws (kept during the warm-up)");
    check(cudaMemcpyAsync(saved.data(), draws_.data(), draws_.bytes(), cudaMemcpyDeviceToDevice, stream_),
          "cudaMemcpyAsync (dropout draws, kept)");
    enqueue_step(images);
    check(cudaMemcpyAsync(draws_.data(), saved.data(), draws_.bytes(), cudaMemcpyDeviceToDevice, stream_),
          "cudaMemcpyAsync (dropout draws, put back)");
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (the warm-up step)");
  }

  // The host's part of a chunk: each step's batch indices and learning rate (and Adam's corrections).
  void fill_chunk(train::BatchOrder& order, std::size_t first, std::size_t steps, std::size_t total) {
    const std::size_t batch = options_.batch_size;
    for (std::size_t s = 0; s < steps; ++s)
      order.next(std::span<std::uint32_t>(host_indices_.data() + s * batch, batch));
    for (std::size_t s = 0; s < steps; ++s) {
      fill_rates(s, first + s + 1, train::learning_rate_at(options_.policy, options_.learning_rate, first + s, total));
    }
  }

  // Row `row` of the rates: step number `t` (from 1) at `learning_rate`.
  void fill_rates(std::size_t row, std::size_t t, double learning_rate) {
    if (const auto* adam = std::get_if<train::Adam>(&options_.optimizer)) {
      const auto step = optim::AdamStep<float>::at(t, learning_rate, adam->beta1, adam->beta2, adam->epsilon);
      host_rates_[3 * row] = step.learning_rate;
      host_rates_[3 * row + 1] = step.correction1;
      host_rates_[3 * row + 2] = step.correction2;
    } else {
      host_rates_[row] = static_cast<float>(learning_rate);
    }
  }

  void upload_chunk(std::size_t steps) {
    const std::size_t rate_width = std::holds_alternative<train::Adam>(options_.optimizer) ? 3 : 1;
    check(cudaMemcpyAsync(training_.indices.data(), host_indices_.data(),
                          steps * options_.batch_size * sizeof(std::uint32_t), cudaMemcpyHostToDevice, stream_),
          fmt::format("cudaMemcpyAsync (a chunk of {} batches of {})", steps, options_.batch_size));
    check(cudaMemcpyAsync(rates_.data(), host_rates_.data(), steps * rate_width * sizeof(float), cudaMemcpyHostToDevice,
                          stream_),
          "cudaMemcpyAsync (a chunk's learning rates)");
    check(cudaMemsetAsync(&state_.data()->step_in_chunk, 0, sizeof(unsigned long long), stream_),
          "cudaMemsetAsync (the chunk's row)");
  }

  // As the CPU trainer does at each train(): a fresh optimizer (zero moments, Adam's step count from
  // 1) and iterations counted from 0; the weights and the dropout streams carry on.
  void start_training() {
    check(cudaMemsetAsync(first_moment_.data(), 0, first_moment_.bytes(), stream_), "cudaMemsetAsync (first moments)");
    if (second_moment_.size()) {
      check(cudaMemsetAsync(second_moment_.data(), 0, second_moment_.bytes(), stream_),
            "cudaMemsetAsync (second moments)");
    }
    StepState state{};
    state.diverged_at = ~0ull;
    check(cudaMemcpyAsync(state_.data(), &state, sizeof state, cudaMemcpyHostToDevice, stream_),
          "cudaMemcpyAsync (step state)");
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (start of training)");
  }

  StepState read_state() {
    StepState state{};
    check(cudaMemcpyAsync(&state, state_.data(), sizeof state, cudaMemcpyDeviceToHost, stream_),
          "cudaMemcpyAsync (the step state)");
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (the end of a chunk of steps)");
    return state;
  }

  void reset_sums() {
    check(cudaMemsetAsync(&state_.data()->loss_sum, 0, sizeof(double), stream_), "cudaMemsetAsync (loss sum)");
    check(cudaMemsetAsync(&state_.data()->correct, 0, sizeof(unsigned long long), stream_),
          "cudaMemsetAsync (correct count)");
  }

  // The batch (row `row` of the instance's indices, or row 0 for nullptr), gathered and standardized.
  void gather(detail::Instance& target, const detail::DeviceImages& images, const unsigned long long* row) {
    const std::size_t pixels = host_.input_size();
    run(train::device::GatherBody{images.images.data(), target.indices.data(), row, target.batch, pixels,
                                  normalization_.scale, normalization_.shift, target.input.data()},
        target.batch * pixels, "gather");
    run(train::device::GatherLabelsBody{images.labels.data(), target.indices.data(), row, target.batch,
                                        target.labels.data()},
        target.batch, "gather labels");
  }

  // One training step, enqueued on the stream (captured into the graph by prepare_training).
  void enqueue_step(const detail::DeviceImages& images) {
    auto& t = training_;
    const unsigned long long* row = &state_.data()->step_in_chunk;
    gather(t, images, row);
    forward(t, true);
    const auto batch = t.batch;
    run(train::device::SoftmaxCrossEntropyBody{logits(t), t.labels.data(), static_cast<int>(classes_),
                                               1.0f / static_cast<float>(batch), t.logit_gradient.data(),
                                               t.losses.data()},
        batch, "softmax cross-entropy");
    run(train::device::PredictBody{logits(t), static_cast<int>(classes_), t.predicted.data()}, batch, "predict");
    check(launch::finish_loss(t.losses.data(), t.predicted.data(), t.labels.data(), batch, state_.data(), stream_),
          fmt::format("launching finish_loss over {} images", batch));
    backward(t);
    const int* skip = &state_.data()->skip;
    if (const auto* adam = std::get_if<train::Adam>(&options_.optimizer)) {
      run(train::device::AdamBody{parameters_.data(), gradients_.data(), first_moment_.data(), second_moment_.data(),
                                  rates_.data(), row, skip, static_cast<float>(adam->beta1),
                                  static_cast<float>(adam->beta2), static_cast<float>(adam->epsilon)},
          parameter_count_, "Adam update");
    } else {
      const auto& sgd = std::get<train::Sgd>(options_.optimizer);
      run(train::device::SgdBody{parameters_.data(), gradients_.data(), first_moment_.data(), rates_.data(), row, skip,
                                 static_cast<float>(sgd.momentum), static_cast<float>(sgd.weight_decay)},
          parameter_count_, "SGD update");
    }
    check(launch::advance(state_.data(), draws_.data(), dropout_layers_, draws_per_pass_.data(), stream_),
          "launching advance");
  }

  // The layers' forward pass over the instance's input; dropout only when training.
  void forward(detail::Instance& target, bool training) {
    const std::size_t batch = target.batch;
    const float* current = target.input.data();
    for (std::size_t l = 0; l < plan_.size(); ++l) {
      auto& buffers = target.layers[l];
      if (const auto* conv = std::get_if<detail::ConvPlan>(&plan_[l])) {
        const float* source = current;
        if (!conv->symmetric()) {
          const std::size_t ph = conv->height + conv->pad_total, pw = conv->width + conv->pad_total;
          run(train::device::PadBody{current, buffers.padded.data(), conv->height, conv->width, ph, pw,
                                     conv->pad_before},
              batch * conv->channels * ph * pw, "pad");
          source = buffers.padded.data();
        }
        buffers.convolution->forward(source, parameters_.data() + conv->weights, buffers.output.data(),
                                     workspace_.data(), workspace_.bytes());
        const std::size_t plane = conv->out_height() * conv->out_width();
        run(train::device::ConvBiasReluBody{buffers.output.data(), parameters_.data() + conv->bias, plane,
                                            conv->filters, true},
            batch * conv->filters * plane, "convolution bias and ReLU");
      } else if (const auto* pool = std::get_if<detail::PoolPlan>(&plan_[l])) {
        run(train::device::PoolForwardBody{current, buffers.output.data(), buffers.winner.data(), pool->height,
                                           pool->width, pool->out_height(), pool->out_width(), pool->size},
            batch * pool->channels * pool->out_height() * pool->out_width(), "max pooling");
      } else {
        const auto& dense = std::get<detail::DensePlan>(plan_[l]);
        multiply(dense, current, buffers.output.data(), batch, fmt::format("layer {} forward", l + 1));
        const bool dropping = training && dense.dropout_rate > 0.0f;
        const float keep = 1.0f - dense.dropout_rate;
        run(train::device::DenseBiasActivationBody{buffers.output.data(), parameters_.data() + dense.bias, dense.units,
                                                   dense.relu, dropping ? buffers.mask.data() : nullptr, dense.seed,
                                                   draws_.data() + dense.dropout_slot,
                                                   train::formulas::dropout_threshold(keep), 1.0f / keep},
            batch * dense.units, "dense bias, ReLU and dropout");
      }
      current = buffers.output.data();
    }
  }

  // Y (batch x units) = X (batch x inputs) W (inputs x units), row-major, as cuBLAS's column-major
  // Y^T = W^T X^T.
  void multiply(const detail::DensePlan& dense, const float* x, float* y, std::size_t batch, const std::string& what) {
    const float one = 1.0f, zero = 0.0f;
    check(cublasSgemm(cublas_, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(dense.units), static_cast<int>(batch),
                      static_cast<int>(dense.inputs), &one, parameters_.data() + dense.weights,
                      static_cast<int>(dense.units), x, static_cast<int>(dense.inputs), &zero, y,
                      static_cast<int>(dense.units)),
          fmt::format("cublasSgemm ({}: {}x{} * {}x{})", what, batch, dense.inputs, dense.inputs, dense.units));
  }

  // Back-propagation from the logits' gradient: every parameter's gradient, no input gradient for the
  // first layer.
  void backward(detail::Instance& target) {
    const std::size_t batch = target.batch;
    const float* gradient = target.logit_gradient.data();
    for (std::size_t l = plan_.size(); l-- > 0;) {
      auto& buffers = target.layers[l];
      const float* input = l > 0 ? target.layers[l - 1].output.data() : target.input.data();
      if (const auto* conv = std::get_if<detail::ConvPlan>(&plan_[l])) {
        const std::size_t plane = conv->out_height() * conv->out_width();
        run(train::device::ActivationBackwardBody{buffers.output.data(), gradient, nullptr, true, buffers.delta.data()},
            batch * conv->filters * plane, "convolution ReLU backward");
        check(launch::channel_sums(buffers.delta.data(), batch, plane, conv->filters, gradients_.data() + conv->bias,
                                   stream_),
              fmt::format("launching channel_sums (layer {}: {} filters, batch {})", l + 1, conv->filters, batch));
        const float* source = conv->symmetric() ? input : buffers.padded.data();
        buffers.convolution->backward_filter(source, buffers.delta.data(), gradients_.data() + conv->weights,
                                             workspace_.data(), workspace_.bytes());
        if (l > 0) {
          float* data_gradient = conv->symmetric() ? buffers.input_gradient.data() : buffers.padded_gradient.data();
          buffers.convolution->backward_data(parameters_.data() + conv->weights, buffers.delta.data(), data_gradient,
                                             workspace_.data(), workspace_.bytes());
          if (!conv->symmetric()) {
            const std::size_t ph = conv->height + conv->pad_total, pw = conv->width + conv->pad_total;
            run(train::device::CropBody{buffers.padded_gradient.data(), buffers.input_gradient.data(), conv->height,
                                        conv->width, ph, pw, conv->pad_before},
                batch * conv->channels * conv->height * conv->width, "crop");
          }
          gradient = buffers.input_gradient.data();
        }
      } else if (const auto* pool = std::get_if<detail::PoolPlan>(&plan_[l])) {
        if (pool->height % pool->size != 0 || pool->width % pool->size != 0) {  // the dropped remainder gets 0
          check(cudaMemsetAsync(buffers.input_gradient.data(), 0, buffers.input_gradient.bytes(), stream_),
                "cudaMemsetAsync (pooling input gradient)");
        }
        run(train::device::PoolBackwardBody{gradient, buffers.winner.data(), buffers.input_gradient.data(),
                                            pool->height, pool->width, pool->out_height(), pool->out_width(),
                                            pool->size},
            batch * pool->channels * pool->out_height() * pool->out_width(), "max pooling backward");
        gradient = buffers.input_gradient.data();
      } else {
        const auto& dense = std::get<detail::DensePlan>(plan_[l]);
        const bool dropping = dense.dropout_rate > 0.0f && buffers.mask.size() > 0;
        run(train::device::ActivationBackwardBody{buffers.output.data(), gradient,
                                                  dropping ? buffers.mask.data() : nullptr, dense.relu,
                                                  buffers.delta.data()},
            batch * dense.units, "dense activation backward");
        run(train::device::DenseBiasGradientBody{buffers.delta.data(), batch, dense.units,
                                                 gradients_.data() + dense.bias},
            dense.units, "dense bias gradient");
        const float one = 1.0f, zero = 0.0f;
        // dW (inputs x units) = X^T delta: column-major dW^T (units x inputs) = delta^T X.
        check(cublasSgemm(cublas_, CUBLAS_OP_N, CUBLAS_OP_T, static_cast<int>(dense.units),
                          static_cast<int>(dense.inputs), static_cast<int>(batch), &one, buffers.delta.data(),
                          static_cast<int>(dense.units), input, static_cast<int>(dense.inputs), &zero,
                          gradients_.data() + dense.weights, static_cast<int>(dense.units)),
              fmt::format("cublasSgemm (layer {} weight gradient: {}x{}^T * {}x{})", l + 1, batch, dense.inputs, batch,
                          dense.units));
        if (l > 0) {
          // dX (batch x inputs) = delta W^T: column-major dX^T (inputs x batch) = W delta^T.
          check(cublasSgemm(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(dense.inputs), static_cast<int>(batch),
                            static_cast<int>(dense.units), &one, parameters_.data() + dense.weights,
                            static_cast<int>(dense.units), buffers.delta.data(), static_cast<int>(dense.units), &zero,
                            buffers.input_gradient.data(), static_cast<int>(dense.inputs)),
                fmt::format("cublasSgemm (layer {} input gradient: {}x{} * {}x{}^T)", l + 1, batch, dense.units,
                            dense.inputs, dense.units));
          gradient = buffers.input_gradient.data();
        }
      }
    }
  }

  std::vector<float> download(const DeviceBuffer<float>& buffer) {
    std::vector<float> values(parameter_count_);
    check(cudaMemcpyAsync(values.data(), buffer.data(), values.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_),
          "cudaMemcpyAsync (parameters to the host)");
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (download)");
    return values;
  }

  train::TrainerOptions options_;
  train::Network host_;  // initializes the weights, as the CPU trainer of the same seed does
  std::vector<detail::LayerPlan> plan_;
  std::size_t parameter_count_ = 0, classes_ = 0, dropout_layers_ = 0, device_bytes_ = 0;
  train::Normalization normalization_;

  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudaGraphExec_t graph_exec_ = nullptr;
  const std::uint8_t* graph_images_ = nullptr;  // where the captured step gathers from
  const std::uint8_t* graph_labels_ = nullptr;

  DeviceBuffer<float> parameters_, gradients_, first_moment_, second_moment_, rates_;
  DeviceBuffer<StepState> state_;
  DeviceBuffer<unsigned long long> draws_, draws_per_pass_, confusion_;
  DeviceBuffer<std::byte> workspace_, cublas_workspace_;
  detail::Instance training_, evaluation_;
  std::map<const void*, detail::DeviceImages> image_sets_;
  PinnedBuffer<std::uint32_t> host_indices_;
  PinnedBuffer<float> host_rates_;
};

static_assert(train::TrainerBackend<Trainer>);

}  // namespace mahpo::cuda
