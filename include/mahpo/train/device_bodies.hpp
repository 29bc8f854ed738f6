#pragma once
// What each thread of the GPU trainer's element-wise kernels does, as functors the host can call too.
//
// A kernel of the CUDA trainer (cuda/mahpo/cuda/kernels.cuh) is a grid-stride loop that calls one of
// these bodies for each index in [0, count); `run_on_host` below is the same loop on one CPU thread.
// So the index arithmetic (which element, which channel, which window, which bit of which random
// draw) and the formulas (formulas.hpp) a GPU runs are the code the CPU tests run: they compare
// these bodies, run on the host, with the CPU trainer's layers, on odd shapes as well as LeNet's.
//
// Layouts: images N x C x H x W (NCHW, as cuDNN takes them; for the dense layers that is N x
// features with the CPU trainer's feature order c * H * W + y * W + x), dense activations N x units,
// dense weights inputs x units (row-major, as the CPU trainer keeps them).

#include <cstddef>
#include <cstdint>

#include <mahpo/train/formulas.hpp>

namespace mahpo::train::device {

// A 1-D launch: `blocks` of `threads`, at most `max_blocks` blocks (a grid-stride loop covers the
// rest). No block at all for count 0: the caller launches nothing.
struct Launch {
  std::uint32_t blocks = 0, threads = 0;
};

constexpr std::uint32_t max_blocks = 65535u * 32u;  // plenty of blocks to fill any GPU, far below the limit

constexpr Launch linear_launch(std::size_t count, std::uint32_t threads = 256) {
  if (count == 0 || threads == 0) return {0, threads};
  const std::size_t blocks = (count + threads - 1) / threads;
  return {static_cast<std::uint32_t>(blocks < max_blocks ? blocks : max_blocks), threads};
}

// The indices thread `thread` of a grid of `stride` threads visits: thread, thread + stride, ...
// below `count`. (The kernels' loop; here so that tests can check the cover.)
template <typename Visit>
MAHPO_HOST_DEVICE inline void grid_stride(std::size_t thread, std::size_t stride, std::size_t count, Visit&& visit) {
  for (std::size_t i = thread; i < count; i += stride) visit(i);
}

// Runs `body` for every index in [0, count) on the calling (host) thread, in order.
template <typename Body>
inline void run_on_host(const Body& body, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) body(i);
}

// NCHW element `index` -> its channel.
MAHPO_HOST_DEVICE inline std::size_t channel_of(std::size_t index, std::size_t plane, std::size_t channels) {
  return (index / plane) % channels;
}

// Element `j` (in [0, batch * plane)) of channel `c` of an NCHW tensor: image j / plane, pixel j % plane.
MAHPO_HOST_DEVICE inline std::size_t channel_element(std::size_t c, std::size_t j, std::size_t plane,
                                                     std::size_t channels) {
  return ((j / plane) * channels + c) * plane + j % plane;
}

// The row of a chunk of per-step data (batches, learning rates) that the current step uses: the
// trainer uploads a chunk of steps at once and a device counter says which row is this step's
// (nullptr: row 0).
MAHPO_HOST_DEVICE inline std::size_t step_row(const unsigned long long* row) {
  return row != nullptr ? static_cast<std::size_t>(*row) : 0;
}

// Pixel `index` of the batch being gathered: out = normalized images[indices[image]][pixel], the
// indices being row step_row(row) of a chunk of `batch`-image rows.
struct GatherBody {
  const std::uint8_t* images;    // the data set, image after image
  const std::uint32_t* indices;  // rows of `batch` images of the data set
  const unsigned long long* row;
  std::size_t batch, pixels;  // pixels per image (channels x height x width)
  float scale, shift;         // standardization (the CPU trainer's fit_normalization)
  float* out;                 // batch x pixels
  MAHPO_HOST_DEVICE void operator()(std::size_t index) const {
    const std::size_t image = index / pixels, pixel = index % pixels;
    const std::size_t source = indices[step_row(row) * batch + image];
    out[index] = formulas::normalize_pixel(images[source * pixels + pixel], scale, shift);
  }
};

// The batch's labels, gathered the same way.
struct GatherLabelsBody {
  const std::uint8_t* labels;
  const std::uint32_t* indices;
  const unsigned long long* row;
  std::size_t batch;
  std::uint8_t* out;
  MAHPO_HOST_DEVICE void operator()(std::size_t image) const {
    out[image] = labels[indices[step_row(row) * batch + image]];
  }
};

// Zero padding: `padded` (planes x padded_height x padded_width) from `x` (planes x height x
// width), `before` zeros above and left of each map. One padded element per index.
struct PadBody {
  const float* x;
  float* padded;
  std::size_t height, width, padded_height, padded_width, before;
  MAHPO_HOST_DEVICE void operator()(std::size_t index) const {
    const std::size_t padded_plane = padded_height * padded_width, plane = index / padded_plane;
    const std::size_t at = index % padded_plane, row = at / padded_width, column = at % padded_width;
    const bool inside = row >= before && row < before + height && column >= before && column < before + width;
    padded[index] = inside ? x[(plane * height + row - before) * width + column - before] : 0.0f;
  }
};

// Its adjoint: d(loss)/d(x) from d(loss)/d(padded). One element of x per index.
struct CropBody {
  const float* padded;
  float* x;
  std::size_t height, width, padded_height, padded_width, before;
  MAHPO_HOST_DEVICE void operator()(std::size_t index) const {
    const std::size_t plane_size = height * width, plane = index / plane_size, at = index % plane_size;
    const std::size_t row = at / width + before, column = at % width + before;
    x[index] = padded[(plane * padded_height + row) * padded_width + column];
  }
};

// A convolution's bias and ReLU, in place on its NCHW output.
struct ConvBiasReluBody {
  float* y;
  const float* bias;
  std::size_t plane, channels;
  bool relu;
  MAHPO_HOST_DEVICE void operator()(std::size_t index) const {
    const float value = y[index] + bias[channel_of(index, plane, channels)];
    y[index] = relu ? formulas::relu(value) : value;
  }
};

// A dense layer's bias, ReLU and inverted dropout, in place on its N x units output (the product
// X W went there first). The dropout mask is drawn as the CPU trainer draws it: element `index` of
// the pass whose first draw is `*draws` (a device counter the trainer advances after the pass).
struct DenseBiasActivationBody {
  float* y;
  const float* bias;
  std::size_t units;
  bool relu;
  // Dropout: mask == nullptr for none.
  float* mask;
  std::uint64_t seed;
  const unsigned long long* draws;
  std::uint64_t threshold;
  float scale;
  MAHPO_HOST_DEVICE void operator()(std::size_t index) const {
    float value = y[index] + bias[index % units];
    if (relu) value = formulas::relu(value);
    if (mask != nullptr) {
      const float m = formulas::dropout_mask(seed, *draws, index, threshold, scale);
      mask[index] = m;
      value *= m;
    }
    y[index] = value;
  }
};

// delta = d(loss)/d(pre-activation) from d(loss)/d(output): through the ReLU (from its output) and the
// dropout mask (nullptr: none).
struct ActivationBackwardBody {
  const float* y;
  const float* dy;
  const float* mask;
  bool relu;
  float* delta;
  MAHPO_HOST_DEVICE void operator()(std::size_t index) const {
    float d = relu ? formulas::relu_gradient(y[index], dy[index]) : dy[index];
    if (mask != nullptr) d *= mask[index];
    delta[index] = d;
  }
};

// Max pooling over size x size windows (the remainder rows and columns dropped), one output element
// per index, recording the winner's position in its window (row-major, the first maximum).
struct PoolForwardBody {
  const float* x;
  float* y;
  std::uint8_t* winner;
  std::size_t in_height, in_width, out_height, out_width, size;
  MAHPO_HOST_DEVICE void operator()(std::size_t index) const {
    const std::size_t out_plane = out_height * out_width, plane = index / out_plane, at = index % out_plane;
    const std::size_t row = at / out_width, column = at % out_width;
    const float* top = x + plane * in_height * in_width + row * size * in_width + column * size;
    if (size == 2) {
      const auto best = formulas::pool_window_2x2(top, in_width);
      y[index] = best.value;
      winner[index] = static_cast<std::uint8_t>(best.position);
      return;
    }
    const auto best = formulas::pool_window(top, in_width, size);
    y[index] = best.value;
    winner[index] = static_cast<std::uint8_t>(best.position);
  }
};

// The gradient of max pooling: each output element's gradient goes to its winner, 0 to the rest of its
// window. (Input elements outside every window, the dropped remainder, are left to the caller to zero.)
struct PoolBackwardBody {
  const float* dy;
  const std::uint8_t* winner;
  float* dx;
  std::size_t in_height, in_width, out_height, out_width, size;
  MAHPO_HOST_DEVICE void operator()(std::size_t index) const {
    const std::size_t out_plane = out_height * out_width, plane = index / out_plane, at = index % out_plane;
    const std::size_t row = at / out_width, column = at % out_width;
    float* top = dx + plane * in_height * in_width + row * size * in_width + column * size;
    const std::size_t won = winner[index];
    for (std::size_t dy_ = 0; dy_ < size; ++dy_) {
      for (std::size_t dx_ = 0; dx_ < size; ++dx_)
        top[dy_ * in_width + dx_] = dy_ * size + dx_ == won ? dy[index] : 0.0f;
    }
  }
};

// One image's softmax cross-entropy: its loss, and its rows of d(loss)/d(logits) scaled by `scale`.
struct SoftmaxCrossEntropyBody {
  const float* logits;
  const std::uint8_t* labels;
  int classes;
  float scale;
  float* gradient;
  double* losses;
  MAHPO_HOST_DEVICE void operator()(std::size_t image) const {
    const std::size_t row = image * static_cast<std::size_t>(classes);
    losses[image] = formulas::softmax_cross_entropy_row(logits + row, classes, labels[image], scale, gradient + row);
  }
};

// One image's predicted class (the first largest logit).
struct PredictBody {
  const float* logits;
  int classes;
  std::uint8_t* predicted;
  MAHPO_HOST_DEVICE void operator()(std::size_t image) const {
    predicted[image] = static_cast<std::uint8_t>(
        formulas::predicted_class(logits + image * static_cast<std::size_t>(classes), classes));
  }
};

// One dense unit's bias gradient: the sum of its deltas over the batch, in image order.
struct DenseBiasGradientBody {
  const float* delta;
  std::size_t batch, units;
  float* gradient;
  MAHPO_HOST_DEVICE void operator()(std::size_t unit) const {
    float sum = 0.0f;
    for (std::size_t n = 0; n < batch; ++n) sum += delta[n * units + unit];
    gradient[unit] = sum;
  }
};

// SGD with momentum over every parameter at once (one flat buffer of weights and biases), at the
// learning rate of this step; `skip` (the step's loss was not finite) leaves everything untouched.
struct SgdBody {
  float* weights;
  const float* gradients;
  float* velocity;
  const float* rates;  // a chunk of steps' learning rates: this step's is row step_row(row)
  const unsigned long long* row;
  const int* skip;
  float momentum, decay;
  MAHPO_HOST_DEVICE void operator()(std::size_t index) const {
    if (*skip) return;
    formulas::sgd_momentum_update(weights[index], gradients[index], velocity[index], rates[step_row(row)], momentum,
                                  decay);
  }
};

// Adam over every parameter at once; row r of `rates` is (learning rate, 1 - beta1^t, 1 - beta2^t) of
// step t, computed on the host (optim::AdamStep::at) in float.
struct AdamBody {
  float* weights;
  const float* gradients;
  float* first;
  float* second;
  const float* rates;  // 3 floats per step
  const unsigned long long* row;
  const int* skip;
  float beta1, beta2, epsilon;
  MAHPO_HOST_DEVICE void operator()(std::size_t index) const {
    if (*skip) return;
    const float* step = rates + 3 * step_row(row);
    formulas::adam_update(weights[index], gradients[index], first[index], second[index], step[0], beta1, beta2, step[1],
                          step[2], epsilon);
  }
};

}  // namespace mahpo::train::device
