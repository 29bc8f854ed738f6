#pragma once
// Turns CUDA and cuDNN status codes into exceptions that say which call failed and why.
// The GPU backend (kernels, cuDNN convolutions, the Cuda trainer) builds on this; host-only code
// never includes it.

#include <cuda_runtime.h>
#include <cudnn.h>

#include <stdexcept>
#include <string>

namespace mahpo::cuda {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw CudaError(std::string("mahpo::cuda: ") + what + ": " + cudaGetErrorName(status) + " (" +
                    cudaGetErrorString(status) + ")");
  }
}

inline void check(cudnnStatus_t status, const char* what) {
  if (status != CUDNN_STATUS_SUCCESS) {
    throw CudaError(std::string("mahpo::cuda: ") + what + ": " + cudnnGetErrorString(status));
  }
}

// How many CUDA devices this process sees; 0 (not an error) when there is no GPU or no driver.
inline int device_count() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
}

}  // namespace mahpo::cuda
