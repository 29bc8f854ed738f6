#pragma once
// The GPU trainer's kernels as the host calls them: plain C++ declarations (no CUDA syntax), defined
// in kernels.cu, which nvcc compiles into the mahpo_cuda_kernels library that mahpo::cuda links. The
// rest of the GPU backend (trainer.hpp, convolution.hpp) is ordinary C++ on the CUDA, cuDNN and cuBLAS
// host APIs, compiled by the host compiler: nvcc's front end need never parse mahpo's other headers.
//
// Each function enqueues its kernel on `stream` and returns cudaGetLastError() (the caller checks it
// with the kernel's name and shape): nothing here throws.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include <mahpo/train/device_bodies.hpp>

namespace mahpo::cuda {

// The training step's bookkeeping in device memory (kernels finish_loss and advance keep it).
struct StepState {
  unsigned long long iteration;      // steps run so far (the next step's number)
  unsigned long long step_in_chunk;  // the next step's row in the uploaded chunk of batches and rates
  double loss;                       // the last step's mean loss
  double loss_sum;                   // since the last history point, finite steps only
  unsigned long long correct;        // correctly classified training images since the last history point
  unsigned long long diverged_at;    // the first step with a non-finite loss, or ~0
  int skip;                          // the current step's loss was not finite: no update
};

namespace launch {

// The element-wise kernels: `body` for every index in [0, count), in a grid-stride loop
// (device::linear_launch's grid). Instantiated in kernels.cu for the bodies of device_bodies.hpp.
template <typename Body>
cudaError_t for_each(const Body& body, std::size_t count, cudaStream_t stream);

// The bodies with a kernel, X(Body) for each (kernels.cu instantiates for_each for the same list).
#define MAHPO_CUDA_BODIES(X)                                                                                          \
  X(GatherBody)                                                                                                       \
  X(GatherLabelsBody) X(PadBody) X(CropBody) X(ConvBiasReluBody) X(DenseBiasActivationBody) X(ActivationBackwardBody) \
      X(PoolForwardBody) X(PoolBackwardBody) X(SoftmaxCrossEntropyBody) X(PredictBody) X(DenseBiasGradientBody)       \
          X(SgdBody) X(AdamBody)
#define MAHPO_CUDA_DECLARE(Body) \
  extern template cudaError_t for_each(const train::device::Body&, std::size_t, cudaStream_t);
MAHPO_CUDA_BODIES(MAHPO_CUDA_DECLARE)
#undef MAHPO_CUDA_DECLARE

// gradient[c] = the sum of channel c's batch * plane values of the NCHW `delta`, for each channel
// (a block per channel, a fixed summation order: the same floats every time).
cudaError_t channel_sums(const float* delta, std::size_t batch, std::size_t plane, std::size_t channels,
                         float* gradient, cudaStream_t stream);

// The step's loss from the images' losses, whether it is finite (state->skip), the running sums and
// the first non-finite step (one block, a fixed summation order).
cudaError_t finish_loss(const double* losses, const std::uint8_t* predicted, const std::uint8_t* labels,
                        std::size_t batch, StepState* state, cudaStream_t stream);

// After the update: the next step, and each dropout layer's draw counter past this pass's draws.
cudaError_t advance(StepState* state, unsigned long long* draws, std::size_t layers,
                    const unsigned long long* draws_per_pass, cudaStream_t stream);

// confusion[label][predicted] += 1 for `count` images (integer atomics: exact).
cudaError_t count_confusion(const std::uint8_t* predicted, const std::uint8_t* labels, std::size_t count, int classes,
                            unsigned long long* confusion, cudaStream_t stream);

}  // namespace launch
}  // namespace mahpo::cuda
