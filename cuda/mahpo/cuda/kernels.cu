// The GPU trainer's hand-written kernels (declared in launch.hpp). The element-wise ones are one
// grid-stride loop over a body of include/mahpo/train/device_bodies.hpp, the code the CPU tests run
// on the host; the reductions sum in a fixed order, so that a step gives the same floats every time
// (no atomics on floats). Compiled by nvcc (CMake target mahpo_cuda_kernels); it includes nothing
// but CUDA and those two headers.

#include <mahpo/cuda/launch.hpp>

namespace mahpo::cuda {
namespace {

template <typename Body>
__global__ void for_each_kernel(Body body, std::size_t count) {
  const std::size_t thread = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = thread; i < count; i += stride) body(i);
}

constexpr unsigned reduction_threads = 256;

// Block-wide sum of one value per thread (blockDim.x == reduction_threads), in a fixed tree order.
template <typename T>
__device__ T block_sum(T value) {
  __shared__ T partial[reduction_threads];
  partial[threadIdx.x] = value;
  __syncthreads();
  for (unsigned half = reduction_threads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  const T total = partial[0];
  __syncthreads();  // the array may be reused by the next call
  return total;
}

__global__ void channel_sums_kernel(const float* delta, std::size_t batch, std::size_t plane, std::size_t channels,
                                    float* gradient) {
  const std::size_t c = blockIdx.x, count = batch * plane;
  float sum = 0.0f;
  for (std::size_t j = threadIdx.x; j < count; j += reduction_threads) {
    sum += delta[train::device::channel_element(c, j, plane, channels)];
  }
  sum = block_sum(sum);
  if (threadIdx.x == 0) gradient[c] = sum;
}

__global__ void finish_loss_kernel(const double* losses, const std::uint8_t* predicted, const std::uint8_t* labels,
                                   std::size_t batch, StepState* state) {
  double sum = 0.0;
  unsigned long long correct = 0;
  for (std::size_t n = threadIdx.x; n < batch; n += reduction_threads) {
    sum += losses[n];
    correct += predicted[n] == labels[n] ? 1u : 0u;
  }
  sum = block_sum(sum);
  correct = block_sum(correct);
  if (threadIdx.x == 0) {
    const double loss = sum / static_cast<double>(batch);
    const bool finite = isfinite(loss);
    state->loss = loss;
    state->skip = finite ? 0 : 1;
    if (finite) {
      state->loss_sum += loss;
      state->correct += correct;
    } else if (state->diverged_at == ~0ull) {
      state->diverged_at = state->iteration;
    }
  }
}

__global__ void advance_kernel(StepState* state, unsigned long long* draws, std::size_t layers,
                               const unsigned long long* draws_per_pass) {
  state->iteration += 1;
  state->step_in_chunk += 1;
  for (std::size_t l = 0; l < layers; ++l) draws[l] += draws_per_pass[l];
}

__global__ void count_confusion_kernel(const std::uint8_t* predicted, const std::uint8_t* labels, std::size_t count,
                                       int classes, unsigned long long* confusion) {
  const std::size_t thread = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t n = thread; n < count; n += stride) {
    atomicAdd(confusion + static_cast<std::size_t>(labels[n]) * classes + predicted[n], 1ull);
  }
}

}  // namespace

namespace launch {

template <typename Body>
cudaError_t for_each(const Body& body, std::size_t count, cudaStream_t stream) {
  const auto shape = train::device::linear_launch(count);
  if (shape.blocks == 0) return cudaSuccess;
  for_each_kernel<<<shape.blocks, shape.threads, 0, stream>>>(body, count);
  return cudaGetLastError();
}

#define MAHPO_CUDA_INSTANTIATE(Body) \
  template cudaError_t for_each(const train::device::Body&, std::size_t, cudaStream_t);
MAHPO_CUDA_BODIES(MAHPO_CUDA_INSTANTIATE)
#undef MAHPO_CUDA_INSTANTIATE

cudaError_t channel_sums(const float* delta, std::size_t batch, std::size_t plane, std::size_t channels,
                         float* gradient, cudaStream_t stream) {
  if (channels == 0) return cudaSuccess;
  channel_sums_kernel<<<static_cast<unsigned>(channels), reduction_threads, 0, stream>>>(delta, batch, plane, channels,
                                                                                         gradient);
  return cudaGetLastError();
}

cudaError_t finish_loss(const double* losses, const std::uint8_t* predicted, const std::uint8_t* labels,
                        std::size_t batch, StepState* state, cudaStream_t stream) {
  finish_loss_kernel<<<1, reduction_threads, 0, stream>>>(losses, predicted, labels, batch, state);
  return cudaGetLastError();
}

cudaError_t advance(StepState* state, unsigned long long* draws, std::size_t layers,
                    const unsigned long long* draws_per_pass, cudaStream_t stream) {
  advance_kernel<<<1, 1, 0, stream>>>(state, draws, layers, draws_per_pass);
  return cudaGetLastError();
}

cudaError_t count_confusion(const std::uint8_t* predicted, const std::uint8_t* labels, std::size_t count, int classes,
                            unsigned long long* confusion, cudaStream_t stream) {
  const auto shape = train::device::linear_launch(count);
  if (shape.blocks == 0) return cudaSuccess;
  count_confusion_kernel<<<shape.blocks, shape.threads, 0, stream>>>(predicted, labels, count, classes, confusion);
  return cudaGetLastError();
}

}  // namespace launch
}  // namespace mahpo::cuda
