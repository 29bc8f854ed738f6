#pragma once
// The CPU trainer's layers. Convolution and pooling work on "CNHW" tensors (channels outermost). A
// convolution takes the first of four paths that fits: one input channel, direct (direct_conv.hpp);
// the batch in the vector lanes (lanes_conv.hpp: under AVX-512, or where the plane is too small for
// the next); k shifted copies per channel (shifted_conv.hpp); otherwise im2col, which lays a group of
// images out as (C*k*k) x (n*Ho*Wo) for the filters (F x C*k*k) to multiply straight into their
// columns of the F x N x Ho x Wo output, the group as many images as keep the block within the L2
// cache (in training the groups' blocks form the whole batch's columns, kept for backward's weight
// gradient; in evaluation they share one block). Flatten turns CNHW into N x features for the dense
// layers. The products are mahpo's own kernels (kernels.hpp), chosen by the CPU's instruction set.
//
// Each layer owns its output and input-gradient buffers (grown on demand, never shrunk) and exposes
// its parameters and their gradients for the optimizer.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <mahpo/train/formulas.hpp>
#include <mahpo/train/direct_conv.hpp>
#include <mahpo/train/kernels.hpp>
#include <mahpo/train/lanes_conv.hpp>
#include <mahpo/train/shifted_conv.hpp>

namespace mahpo::train {

struct Shape {
  std::size_t channels = 1, batch = 1, height = 1, width = 1;  // CNHW; dense tensors are batch x channels
  std::size_t size() const { return channels * batch * height * width; }
};

struct WeightsView {
  std::span<float> values;
  std::span<float> gradients;
};

enum class LayerActivation { none, relu };

class Layer {
 public:
  virtual ~Layer() = default;
  // The output shape for an input shape; batch may change between calls.
  virtual Shape output_shape(const Shape& input) const = 0;
  virtual const std::vector<float>& forward(const std::vector<float>& input, const Shape& shape, bool training) = 0;
  // Takes d(loss)/d(output); fills parameter gradients and, if asked, returns d(loss)/d(input).
  virtual const std::vector<float>& backward(const std::vector<float>& output_gradient, bool need_input_gradient) = 0;
  virtual std::vector<WeightsView> parameters() { return {}; }
  virtual void initialize(std::mt19937_64&) {}
  // Bytes of the buffers and parameters the layer holds.
  virtual std::size_t bytes() const = 0;

 protected:
  static void grow(std::vector<float>& buffer, std::size_t size) {
    if (buffer.size() < size) buffer.resize(size);
  }
  static std::size_t held(const std::vector<float>& buffer) { return buffer.capacity() * sizeof(float); }
};

// delta = gradient where the ReLU's output is positive, 0 elsewhere. Both loads are unconditional, so
// the loop vectorizes as a select (a conditional load of the gradient would keep it scalar).
inline void relu_gradient(const float* output, const float* gradient, std::size_t count, float* delta) {
  for (std::size_t i = 0; i < count; ++i) delta[i] = formulas::relu_gradient(output[i], gradient[i]);
}

// He (Kaiming) normal initialization for layers followed by ReLU (He et al., 2015); Xavier/Glorot
// uniform otherwise (Glorot & Bengio, 2010).
inline void initialize_weights(std::span<float> weights, std::size_t fan_in, std::size_t fan_out,
                               LayerActivation activation, std::mt19937_64& rng) {
  if (activation == LayerActivation::relu) {
    std::normal_distribution<float> normal(0.0f, std::sqrt(2.0f / static_cast<float>(fan_in)));
    for (auto& w : weights) w = normal(rng);
  } else {
    const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
    std::uniform_real_distribution<float> uniform(-limit, limit);
    for (auto& w : weights) w = uniform(rng);
  }
}

// A stride-1 convolution with an optional fused ReLU. `pad_before` zeros are added above and left of
// each map and `pad_total - pad_before` below and right of it (0 and 0: a valid convolution).
class ConvLayer final : public Layer {
 public:
  ConvLayer(std::size_t in_channels, std::size_t filters, std::size_t kernel,
            LayerActivation activation = LayerActivation::relu, std::size_t pad_before = 0, std::size_t pad_total = 0)
      : in_channels_(in_channels),
        filters_(filters),
        kernel_(kernel),
        pad_before_(pad_before),
        pad_total_(pad_total),
        activation_(activation),
        weights_(filters * in_channels * kernel * kernel),
        weight_gradients_(weights_.size()),
        bias_(filters),
        bias_gradients_(filters) {}

  Shape output_shape(const Shape& in) const override {
    return {filters_, in.batch, in.height + pad_total_ - kernel_ + 1, in.width + pad_total_ - kernel_ + 1};
  }

  void initialize(std::mt19937_64& rng) override {
    initialize_weights(weights_, in_channels_ * kernel_ * kernel_, filters_ * kernel_ * kernel_, activation_, rng);
    std::fill(bias_.begin(), bias_.end(), 0.0f);
  }

  const std::vector<float>& forward(const std::vector<float>& input, const Shape& shape, bool training) override {
    input_ = &input;
    input_shape_ = shape;
    output_shape_ = output_shape(shape);
    keep_columns_ = training;
    const std::size_t rows = in_channels_ * kernel_ * kernel_, plane = output_shape_.height * output_shape_.width;
    const std::size_t columns = output_shape_.batch * plane;
    grow(output_, filters_ * columns);
    const bool relu = activation_ == LayerActivation::relu;
    direct_ = kernels::direct_convolution_fits(geometry());
    lanes_ = !direct_ && kernels::lanes_convolution_chosen(geometry());
    shifted_ = !direct_ && !lanes_ && kernels::shifted_convolution_fits(geometry());
    const kernels::ForwardEpilogue epilogue{bias_.data(), relu};  // direct, lanes, shifted: in registers
    if (direct_) {  // one input channel: no columns (direct_conv.hpp)
      kernels::direct_forward(geometry(), filters_, input.data(), 0, output_shape_.batch, weights_.data(),
                              output_.data(), columns, epilogue);
      return output_;
    }
    if (shifted_) {  // several channels: k shifted copies per channel (shifted_conv.hpp), kept in training
      const std::size_t per_image = kernels::shifted_floats(geometry());
      grow(columns_, (training ? output_shape_.batch : shifted_images) * per_image);
      for (std::size_t first = 0; first < output_shape_.batch; first += shifted_images) {
        const std::size_t last = std::min(first + shifted_images, output_shape_.batch);
        float* copies = columns_.data() + (training ? first * per_image : 0);
        kernels::shift_copies(geometry(), input.data(), first, last, copies);
        kernels::shifted_forward(geometry(), filters_, copies, first, last, weights_.data(), output_.data(), columns,
                                 epilogue);
      }
      return output_;
    }
    if (lanes_) {  // the batch in the vector lanes (lanes_conv.hpp), packed once, kept for backward
      grow(columns_, kernels::lanes_floats(geometry()));
      kernels::pack_lanes(geometry(), input.data(), columns_.data());
      kernels::lanes_forward(geometry(), filters_, columns_.data(), weights_.data(), output_.data(), epilogue);
      return output_;
    }
    // im2col: the product leaves bias and ReLU to a pass over each block while it is in cache.
    const auto add_bias = [&](std::size_t first, std::size_t last) {
      const std::size_t width = (last - first) * plane;
      float* out = output_.data() + first * plane;
      for (std::size_t f = 0; f < filters_; ++f) {
        float* row = out + f * columns;
        const float b = bias_[f];
        if (relu) {
          for (std::size_t p = 0; p < width; ++p) row[p] = formulas::relu(row[p] + b);
        } else {
          for (std::size_t p = 0; p < width; ++p) row[p] += b;
        }
      }
    };
    for_each_group([&](std::size_t first, std::size_t last) {
      const std::size_t width = (last - first) * plane, ld = columns_stride(width);
      float* block = group_columns(first);
      kernels::im2col(geometry(), input.data(), first, last, block, ld);
      float* out = output_.data() + first * plane;
      kernels::multiply(filters_, width, rows, weights_.data(), rows, 1, block, ld, out, columns, false);
      add_bias(first, last);
    });
    return output_;
  }

  const std::vector<float>& backward(const std::vector<float>& output_gradient, bool need_input_gradient) override {
    const std::size_t rows = in_channels_ * kernel_ * kernel_, plane = output_shape_.height * output_shape_.width;
    const std::size_t columns = output_shape_.batch * plane;
    grow(delta_, filters_ * columns);
    const bool relu = activation_ == LayerActivation::relu;
    for (std::size_t f = 0; f < filters_; ++f) {
      const float* gradient = output_gradient.data() + f * columns;
      const float* output = output_.data() + f * columns;
      float* delta = delta_.data() + f * columns;
      bias_gradients_[f] = kernels::relu_gradient_sum(output, gradient, columns, delta, relu);
    }
    if (!keep_columns_ || direct_ || shifted_ || lanes_) {
      std::fill(weight_gradients_.begin(), weight_gradients_.end(), 0.0f);
    }
    if (need_input_gradient) {
      grow(input_gradient_, input_shape_.size());
      std::fill_n(input_gradient_.begin(), input_shape_.size(), 0.0f);
    }
    if (lanes_) {
      kernels::lanes_backward(geometry(), filters_, columns_.data(), weights_.data(), delta_.data(),
                              weight_gradients_.data(), need_input_gradient ? input_gradient_.data() : nullptr);
      return input_gradient_;
    }
    if (shifted_) {
      if (!keep_columns_) shift_whole_batch();  // an evaluation's forward kept only a few images' copies
      kernels::shifted_weight_gradient(geometry(), filters_, columns_.data(), input_shape_.batch, delta_.data(),
                                       columns, weight_gradients_.data());
      if (need_input_gradient) {
        kernels::shifted_input_gradient(geometry(), filters_, weights_.data(), delta_.data(), columns, 0,
                                        input_shape_.batch, input_gradient_.data());
      }
      return input_gradient_;
    }
    if (direct_ && kernels::shifted_weight_gradient_fits(geometry())) {
      // The direct forward pass, but the weight gradient from shifted copies made here: no tail vector per
      // row (conv1's 24-float rows: 2 vectors for 1.5), 37 % faster than the direct one in bench_kernels.
      shift_whole_batch();
      kernels::shifted_weight_gradient(geometry(), filters_, columns_.data(), input_shape_.batch, delta_.data(),
                                       columns, weight_gradients_.data());
    } else if (direct_) {
      kernels::direct_weight_gradient(geometry(), filters_, input_->data(), input_shape_.batch, delta_.data(), columns,
                                      weight_gradients_.data());
    } else if (keep_columns_) {  // the forward pass kept the whole batch's columns: one product over all of them
      kernels::multiply_transposed(filters_, rows, columns, delta_.data(), columns, columns_.data(), columns,
                                   weight_gradients_.data(), rows, false);
    }
    if (!need_input_gradient && (keep_columns_ || direct_)) return input_gradient_;
    for_each_group([&](std::size_t first, std::size_t last) {
      const std::size_t width = (last - first) * plane;
      const float* delta = delta_.data() + first * plane;
      if (!keep_columns_ && !direct_) {
        float* block = group_columns(first);
        kernels::im2col(geometry(), input_->data(), first, last, block, width);
        kernels::multiply_transposed(filters_, rows, width, delta, columns, block, width, weight_gradients_.data(),
                                     rows, true);
      }
      if (need_input_gradient) {
        grow(column_gradients_, rows * width);
        kernels::multiply(rows, width, filters_, weights_.data(), 1, rows, delta, columns, column_gradients_.data(),
                          width, false);
        kernels::col2im(geometry(), column_gradients_.data(), width, first, last, input_gradient_.data());
      }
    });
    return input_gradient_;
  }

  std::vector<WeightsView> parameters() override { return {{weights_, weight_gradients_}, {bias_, bias_gradients_}}; }

  std::size_t bytes() const override {
    return held(weights_) + held(weight_gradients_) + held(bias_) + held(bias_gradients_) + held(columns_) +
           held(output_) + held(delta_) + held(column_gradients_) + held(input_gradient_);
  }

 private:
  // The images [first, last) of the batch, in groups whose im2col block fits `group_bytes`. In
  // training, forward writes every group's block into one (C k k) x (N Ho Wo) matrix that backward
  // multiplies by the deltas once for the weight gradient (rebuilding the blocks in backward cost
  // more instructions, and one long product sums each weight's gradient once, not once per group);
  // in evaluation the groups share one block.
  static constexpr std::size_t group_bytes = 128 * 1024;
  static constexpr std::size_t shifted_images = 4;  // images per pass of shifted copies (in evaluation, one block)
  template <typename Visit>
  void for_each_group(Visit&& visit) {
    const std::size_t per_image = in_channels_ * kernel_ * kernel_ * output_shape_.height * output_shape_.width;
    const std::size_t group =
        std::max<std::size_t>(1, group_bytes / sizeof(float) / std::max<std::size_t>(per_image, 1));
    grow(columns_, (keep_columns_ ? output_shape_.batch : std::min(group, output_shape_.batch)) * per_image);
    for (std::size_t first = 0; first < output_shape_.batch; first += group) {
      visit(first, std::min(first + group, output_shape_.batch));
    }
  }

  // The whole batch's shifted copies of the input, into columns_.
  void shift_whole_batch() {
    grow(columns_, input_shape_.batch * kernels::shifted_floats(geometry()));
    kernels::shift_copies(geometry(), input_->data(), 0, input_shape_.batch, columns_.data());
  }

  // Where the im2col block of the group starting at image `first` lives, and its row stride.
  float* group_columns(std::size_t first) {
    return columns_.data() + (keep_columns_ ? first * output_shape_.height * output_shape_.width : 0);
  }
  std::size_t columns_stride(std::size_t width) const {
    return keep_columns_ ? output_shape_.batch * output_shape_.height * output_shape_.width : width;
  }

  kernels::ConvGeometry geometry() const {
    return {in_channels_, input_shape_.batch, input_shape_.height,  input_shape_.width,
            kernel_,      pad_before_,        output_shape_.height, output_shape_.width};
  }

  std::size_t in_channels_, filters_, kernel_, pad_before_, pad_total_;
  LayerActivation activation_;
  std::vector<float> weights_, weight_gradients_, bias_, bias_gradients_;
  std::vector<float> columns_, output_, delta_, column_gradients_, input_gradient_;
  const std::vector<float>* input_ = nullptr;
  bool keep_columns_ = false;  // the last forward pass kept each group's im2col block (training)
  bool direct_ = false;        // the last forward pass convolved directly (one input channel: no columns)
  bool shifted_ = false;       // the last forward pass went through shifted copies (columns_ holds them)
  bool lanes_ = false;         // the last forward pass packed the batch into vector lanes (columns_ holds it)
  Shape input_shape_, output_shape_;
};

// Non-overlapping max pooling; the remainder rows and columns (if any) are dropped.
class MaxPoolLayer final : public Layer {
 public:
  explicit MaxPoolLayer(std::size_t size) : size_(size) {}

  Shape output_shape(const Shape& in) const override {
    return {in.channels, in.batch, in.height / size_, in.width / size_};
  }

  const std::vector<float>& forward(const std::vector<float>& input, const Shape& shape, bool training) override {
    input_ = &input;
    input_shape_ = shape;
    output_shape_ = output_shape(shape);
    have_winners_ = training || size_ != 2;
    grow(output_, output_shape_.size());
    if (winners_.size() < output_shape_.size()) winners_.resize(output_shape_.size());
    const std::size_t planes = shape.channels * shape.batch;
    for (std::size_t p = 0; p < planes; ++p) {
      const float* in = input.data() + p * shape.height * shape.width;
      float* out = output_.data() + p * output_shape_.height * output_shape_.width;
      std::uint32_t* winner = winners_.data() + p * output_shape_.height * output_shape_.width;
      if (size_ == 2) {  // LeNet's pooling, written out: a quarter of the work of the general loop
        if (training) {
          pool_2x2(in, out, winner, shape.width);
        } else {  // no backward follows: the maxima alone, in a loop the compiler vectorizes
          pool_2x2_values(in, out, shape.width);
        }
        continue;
      }
      for (std::size_t y = 0; y < output_shape_.height; ++y) {
        for (std::size_t x = 0; x < output_shape_.width; ++x) {
          const std::size_t corner = (y * size_) * shape.width + x * size_;
          const auto best = formulas::pool_window(in + corner, shape.width, size_);
          const auto position = static_cast<std::size_t>(best.position);
          out[y * output_shape_.width + x] = best.value;
          winner[y * output_shape_.width + x] =
              static_cast<std::uint32_t>(corner + (position / size_) * shape.width + position % size_);
        }
      }
    }
    return output_;
  }

  const std::vector<float>& backward(const std::vector<float>& output_gradient, bool) override {
    if (!have_winners_) forward(*input_, input_shape_, true);  // after an evaluation pass: find them now
    grow(input_gradient_, input_shape_.size());
    const std::size_t planes = input_shape_.channels * input_shape_.batch;
    const std::size_t in_plane = input_shape_.height * input_shape_.width;
    const std::size_t out_plane = output_shape_.height * output_shape_.width;
    std::fill(input_gradient_.begin(), input_gradient_.begin() + static_cast<std::ptrdiff_t>(input_shape_.size()),
              0.0f);
    for (std::size_t p = 0; p < planes; ++p) {
      float* gradient = input_gradient_.data() + p * in_plane;
      for (std::size_t i = 0; i < out_plane; ++i) {
        gradient[winners_[p * out_plane + i]] += output_gradient[p * out_plane + i];
      }
    }
    return input_gradient_;
  }

  std::size_t bytes() const override {
    return held(output_) + held(input_gradient_) + winners_.capacity() * sizeof(std::uint32_t);
  }

 private:
  void pool_2x2_values(const float* in, float* out, std::size_t width) const {
    for (std::size_t y = 0; y < output_shape_.height; ++y) {
      const float* top = in + 2 * y * width;
      const float* bottom = top + width;
      float* row = out + y * output_shape_.width;
      for (std::size_t x = 0; x < output_shape_.width; ++x) {
        row[x] = std::max(std::max(top[2 * x], top[2 * x + 1]), std::max(bottom[2 * x], bottom[2 * x + 1]));
      }
    }
  }

  // The same comparisons as formulas::pool_window_2x2 (the first maximum in reading order), without
  // branches: a branch on which of four values is largest is mispredicted often (measured: the
  // branching version took 5-9 % of a training step; written with ?:, GCC 12 still branched).
  // (Compiled per ISA like the kernels, the loop ran 3 % slower on AVX-512 than here on SSE2.)
  void pool_2x2(const float* in, float* out, std::uint32_t* winner, std::size_t width) const {
    const auto row_width = static_cast<std::uint32_t>(width);
    for (std::size_t y = 0; y < output_shape_.height; ++y) {
      const float* top = in + 2 * y * width;
      const float* bottom = top + width;
      const auto corner = static_cast<std::uint32_t>(2 * y * width);
      for (std::size_t x = 0; x < output_shape_.width; ++x) {
        float best = top[2 * x];
        std::uint32_t at = 0;
        const float right = top[2 * x + 1], below = bottom[2 * x], diagonal = bottom[2 * x + 1];
        const auto take = [&](float value, std::uint32_t offset) {  // all ones where `value` wins
          const std::uint32_t wins = 0u - static_cast<std::uint32_t>(value > best);
          at = (at & ~wins) | (offset & wins);
          best = value > best ? value : best;
        };
        take(right, 1u);
        take(below, row_width);
        take(diagonal, row_width + 1u);
        out[y * output_shape_.width + x] = best;
        winner[y * output_shape_.width + x] = corner + 2 * static_cast<std::uint32_t>(x) + at;
      }
    }
  }

  std::size_t size_;
  std::vector<float> output_, input_gradient_;
  std::vector<std::uint32_t> winners_;
  const std::vector<float>* input_ = nullptr;
  bool have_winners_ = false;  // the last forward pass recorded where each maximum came from
  Shape input_shape_, output_shape_;
};

// CNHW (C x N x H x W) to N x (C*H*W), and back for the gradient.
class FlattenLayer final : public Layer {
 public:
  Shape output_shape(const Shape& in) const override { return {in.channels * in.height * in.width, in.batch, 1, 1}; }

  const std::vector<float>& forward(const std::vector<float>& input, const Shape& shape, bool) override {
    input_shape_ = shape;
    const std::size_t plane = shape.height * shape.width, features = shape.channels * plane;
    grow(output_, shape.size());
    for (std::size_t c = 0; c < shape.channels; ++c) {
      for (std::size_t n = 0; n < shape.batch; ++n) {
        const float* source = input.data() + (c * shape.batch + n) * plane;
        std::copy(source, source + plane, output_.data() + n * features + c * plane);
      }
    }
    return output_;
  }

  const std::vector<float>& backward(const std::vector<float>& output_gradient, bool) override {
    const auto& shape = input_shape_;
    const std::size_t plane = shape.height * shape.width, features = shape.channels * plane;
    grow(input_gradient_, shape.size());
    for (std::size_t c = 0; c < shape.channels; ++c) {
      for (std::size_t n = 0; n < shape.batch; ++n) {
        const float* source = output_gradient.data() + n * features + c * plane;
        std::copy(source, source + plane, input_gradient_.data() + (c * shape.batch + n) * plane);
      }
    }
    return input_gradient_;
  }

  std::size_t bytes() const override { return held(output_) + held(input_gradient_); }

 private:
  std::vector<float> output_, input_gradient_;
  Shape input_shape_;
};

// A fully connected layer (N x in -> N x units) with an optional ReLU and inverted dropout
// (Srivastava et al., 2014): in training each unit is kept with probability 1 - rate and scaled by
// 1 / (1 - rate), so evaluation needs no scaling.
class DenseLayer final : public Layer {
 public:
  DenseLayer(std::size_t inputs, std::size_t units, LayerActivation activation, double dropout_rate, std::uint64_t seed)
      : inputs_(inputs),
        units_(units),
        activation_(activation),
        dropout_rate_(static_cast<float>(dropout_rate)),
        weights_(inputs * units),
        weight_gradients_(weights_.size()),
        bias_(units),
        bias_gradients_(units),
        dropout_seed_(seed) {}

  Shape output_shape(const Shape& in) const override { return {units_, in.batch, 1, 1}; }

  void initialize(std::mt19937_64& rng) override {
    initialize_weights(weights_, inputs_, units_, activation_, rng);
    std::fill(bias_.begin(), bias_.end(), 0.0f);
  }

  const std::vector<float>& forward(const std::vector<float>& input, const Shape& shape, bool training) override {
    input_ = &input;
    batch_ = shape.batch;
    grow(output_, batch_ * units_);
    for (std::size_t n = 0; n < batch_; ++n) std::copy(bias_.begin(), bias_.end(), output_.begin() + n * units_);
    kernels::multiply(batch_, units_, inputs_, input.data(), inputs_, 1, weights_.data(), units_, output_.data(),
                      units_, true);
    const std::size_t count = batch_ * units_;
    if (activation_ == LayerActivation::relu) {
      for (std::size_t i = 0; i < count; ++i) output_[i] = formulas::relu(output_[i]);
    }
    dropping_ = training && dropout_rate_ > 0.0f;
    if (dropping_) {
      grow(mask_, count);
      // Each 64-bit draw of SplitMix64 (Steele et al., 2014) decides two units by its two 32-bit
      // halves: kept when the half is below keep * 2^32. A tenth of the cost of mt19937_64 and a
      // floating-point uniform per unit, and statistically more than enough for a dropout mask. The
      // draws are counter-based (formulas.hpp), so the GPU trainer draws the same masks.
      // The value is looked up, not chosen by a branch: a branch on a random bit is mispredicted half
      // the time (measured: a fifth of paper_lenet's largest config's training step).
      const float keep = 1.0f - dropout_rate_, scale = 1.0f / keep;
      const float value[2] = {0.0f, scale};  // dropped, kept
      const std::uint64_t threshold = formulas::dropout_threshold(keep);
      for (std::size_t i = 0; i < count; i += 2) {
        const std::uint64_t bits = formulas::dropout_bits(dropout_seed_, dropout_draws_ + i / 2);
        mask_[i] = value[(bits & 0xffffffffu) < threshold];
        if (i + 1 < count) mask_[i + 1] = value[(bits >> 32) < threshold];
      }
      dropout_draws_ += formulas::dropout_draws(count);
      for (std::size_t i = 0; i < count; ++i) output_[i] *= mask_[i];
    }
    return output_;
  }

  const std::vector<float>& backward(const std::vector<float>& output_gradient, bool need_input_gradient) override {
    const std::size_t count = batch_ * units_;
    grow(delta_, count);
    // The output is zero where ReLU or dropout zeroed it, and the mask is 0 where dropout did.
    if (activation_ == LayerActivation::relu) {
      relu_gradient(output_.data(), output_gradient.data(), count, delta_.data());
    } else {
      std::copy_n(output_gradient.begin(), count, delta_.begin());
    }
    if (dropping_) {
      for (std::size_t i = 0; i < count; ++i) delta_[i] *= mask_[i];
    }
    std::fill(bias_gradients_.begin(), bias_gradients_.end(), 0.0f);
    for (std::size_t n = 0; n < batch_; ++n) {
      for (std::size_t u = 0; u < units_; ++u) bias_gradients_[u] += delta_[n * units_ + u];
    }
    kernels::multiply(inputs_, units_, batch_, input_->data(), 1, inputs_, delta_.data(), units_,
                      weight_gradients_.data(), units_, false);
    if (need_input_gradient) {
      grow(input_gradient_, batch_ * inputs_);
      kernels::multiply_transposed(batch_, inputs_, units_, delta_.data(), units_, weights_.data(), units_,
                                   input_gradient_.data(), inputs_, false);
    }
    return input_gradient_;
  }

  std::vector<WeightsView> parameters() override { return {{weights_, weight_gradients_}, {bias_, bias_gradients_}}; }

  std::size_t bytes() const override {
    return held(weights_) + held(weight_gradients_) + held(bias_) + held(bias_gradients_) + held(output_) +
           held(delta_) + held(mask_) + held(input_gradient_);
  }

  // The seed of the layer's dropout stream (formulas::dropout_bits), for a backend that draws the same masks.
  std::uint64_t dropout_seed() const { return dropout_seed_; }
  // How many draws the layer's masks used so far: where its dropout stream stands (checkpoints).
  std::uint64_t dropout_draws() const { return dropout_draws_; }
  void set_dropout_draws(std::uint64_t draws) { dropout_draws_ = draws; }

 private:
  std::size_t inputs_, units_;
  LayerActivation activation_;
  float dropout_rate_;
  std::vector<float> weights_, weight_gradients_, bias_, bias_gradients_;
  std::vector<float> output_, delta_, mask_, input_gradient_;
  const std::vector<float>* input_ = nullptr;
  std::size_t batch_ = 0;
  bool dropping_ = false;
  std::uint64_t dropout_seed_, dropout_draws_ = 0;  // the draws the masks so far used
};

}  // namespace mahpo::train
