// Built by nvcc in CI wherever the toolkit and cuDNN are found, so the GPU backend keeps
// compiling on machines without a GPU. Run, it reports the devices it sees and exits 0 either way.
#include <mahpo/cuda/error.hpp>

#include <cstdio>

namespace {
__global__ void fill(float* out, float value, int count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count) out[i] = value;
}
}  // namespace

int main() {
  const int devices = mahpo::cuda::device_count();
  std::printf("mahpo::cuda compiled; %d CUDA device(s) visible\n", devices);
  if (devices == 0) return 0;
  float* buffer = nullptr;
  mahpo::cuda::check(cudaMalloc(&buffer, 256 * sizeof(float)), "cudaMalloc");
  fill<<<1, 256>>>(buffer, 1.0f, 256);
  mahpo::cuda::check(cudaDeviceSynchronize(), "fill kernel");
  mahpo::cuda::check(cudaFree(buffer), "cudaFree");
  return 0;
}
