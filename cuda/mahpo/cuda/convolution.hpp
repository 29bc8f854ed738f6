#pragma once
// A stride-1 convolution on cuDNN: forward, backward-data and backward-filter of one shape (batch,
// channels, height, width, filters, kernel, symmetric zero padding), NCHW float tensors, KCRS
// filters (the CPU trainer's F x (C k k) layout), cross-correlation as the CPU trainer computes it.
//
// The algorithms are chosen once per shape, the first time a process meets it (cudnnFind*: the
// fastest deterministic one that runs in FMA math, no TF32, so that the GPU agrees with the CPU to
// float rounding and a step gives the same floats every time), and kept for the rest of the process;
// the workspace each needs is known from then on, so the trainer sizes one workspace for all of them.

#include <cudnn.h>

#include <algorithm>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include <fmt/format.h>

#include <mahpo/cuda/error.hpp>

namespace mahpo::cuda {

struct ConvolutionShape {
  int batch = 1, channels = 1, height = 1, width = 1, filters = 1, kernel = 1, pad = 0;
  int out_height() const { return height + 2 * pad - kernel + 1; }
  int out_width() const { return width + 2 * pad - kernel + 1; }
  auto key() const { return std::tuple(batch, channels, height, width, filters, kernel, pad); }
  std::string describe() const {
    return fmt::format("{}x{}x{}x{} * {}x{}x{}x{}, pad {}", batch, channels, height, width, filters, channels, kernel,
                       kernel, pad);
  }
};

struct ConvolutionAlgorithms {
  cudnnConvolutionFwdAlgo_t forward = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  cudnnConvolutionBwdDataAlgo_t backward_data = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  cudnnConvolutionBwdFilterAlgo_t backward_filter = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  std::size_t workspace = 0;  // bytes, the most any of the three needs
};

// The first deterministic result of a cudnnFind* list (sorted by time) that succeeded.
template <typename Result>
const Result* first_deterministic(const Result* results, int count) {
  for (int i = 0; i < count; ++i) {
    if (results[i].status == CUDNN_STATUS_SUCCESS && results[i].determinism == CUDNN_DETERMINISTIC &&
        results[i].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) {
      return results + i;
    }
  }
  return nullptr;
}

class Convolution {
 public:
  Convolution(cudnnHandle_t handle, const ConvolutionShape& shape, std::string name)
      : handle_(handle), shape_(shape), name_(std::move(name)) {
    const auto what = [&](const char* call) { return fmt::format("{} ({}: {})", call, name_, shape_.describe()); };
    check(cudnnCreateTensorDescriptor(&x_), what("cudnnCreateTensorDescriptor"));
    check(cudnnCreateTensorDescriptor(&y_), what("cudnnCreateTensorDescriptor"));
    check(cudnnCreateFilterDescriptor(&w_), what("cudnnCreateFilterDescriptor"));
    check(cudnnCreateConvolutionDescriptor(&conv_), what("cudnnCreateConvolutionDescriptor"));
    check(cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, shape.batch, shape.channels, shape.height,
                                     shape.width),
          what("cudnnSetTensor4dDescriptor (input)"));
    check(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, shape.batch, shape.filters,
                                     shape.out_height(), shape.out_width()),
          what("cudnnSetTensor4dDescriptor (output)"));
    check(cudnnSetFilter4dDescriptor(w_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, shape.filters, shape.channels,
                                     shape.kernel, shape.kernel),
          what("cudnnSetFilter4dDescriptor"));
    check(cudnnSetConvolution2dDescriptor(conv_, shape.pad, shape.pad, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                          CUDNN_DATA_FLOAT),
          what("cudnnSetConvolution2dDescriptor"));
    check(cudnnSetConvolutionMathType(conv_, CUDNN_FMA_MATH), what("cudnnSetConvolutionMathType"));
    algorithms_ = choose();
  }
  Convolution(const Convolution&) = delete;
  Convolution& operator=(const Convolution&) = delete;
  ~Convolution() {
    cudnnDestroyConvolutionDescriptor(conv_);
    cudnnDestroyFilterDescriptor(w_);
    cudnnDestroyTensorDescriptor(y_);
    cudnnDestroyTensorDescriptor(x_);
  }

  const ConvolutionShape& shape() const { return shape_; }
  std::size_t workspace_bytes() const { return algorithms_.workspace; }

  // y = conv(x, w)
  void forward(const float* x, const float* w, float* y, void* workspace, std::size_t workspace_bytes) const {
    const float one = 1.0f, zero = 0.0f;
    check(cudnnConvolutionForward(handle_, &one, x_, x, w_, w, conv_, algorithms_.forward, workspace, workspace_bytes,
                                  &zero, y_, y),
          fmt::format("cudnnConvolutionForward ({}: {})", name_, shape_.describe()));
  }

  // dw = d(loss)/d(w) from the input and d(loss)/d(y)
  void backward_filter(const float* x, const float* dy, float* dw, void* workspace, std::size_t workspace_bytes) const {
    const float one = 1.0f, zero = 0.0f;
    check(cudnnConvolutionBackwardFilter(handle_, &one, x_, x, y_, dy, conv_, algorithms_.backward_filter, workspace,
                                         workspace_bytes, &zero, w_, dw),
          fmt::format("cudnnConvolutionBackwardFilter ({}: {})", name_, shape_.describe()));
  }

  // dx = d(loss)/d(x) from the filters and d(loss)/d(y)
  void backward_data(const float* w, const float* dy, float* dx, void* workspace, std::size_t workspace_bytes) const {
    const float one = 1.0f, zero = 0.0f;
    check(cudnnConvolutionBackwardData(handle_, &one, w_, w, y_, dy, conv_, algorithms_.backward_data, workspace,
                                       workspace_bytes, &zero, x_, dx),
          fmt::format("cudnnConvolutionBackwardData ({}: {})", name_, shape_.describe()));
  }

 private:
  // Per process: a shape's algorithms are measured once.
  ConvolutionAlgorithms choose() const {
    static std::mutex mutex;
    static std::map<decltype(shape_.key()), ConvolutionAlgorithms> chosen;
    std::lock_guard guard(mutex);
    if (const auto found = chosen.find(shape_.key()); found != chosen.end()) return found->second;

    const auto what = [&](const char* call) { return fmt::format("{} ({}: {})", call, name_, shape_.describe()); };
    ConvolutionAlgorithms algorithms;
    int count = 0;
    cudnnConvolutionFwdAlgoPerf_t forward[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    check(cudnnFindConvolutionForwardAlgorithm(handle_, x_, w_, conv_, y_, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count,
                                               forward),
          what("cudnnFindConvolutionForwardAlgorithm"));
    const auto* f = first_deterministic(forward, count);
    if (f == nullptr) throw CudaError(what("no deterministic forward algorithm"));
    algorithms.forward = f->algo;

    cudnnConvolutionBwdDataAlgoPerf_t data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    check(cudnnFindConvolutionBackwardDataAlgorithm(handle_, w_, y_, conv_, x_, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                    &count, data),
          what("cudnnFindConvolutionBackwardDataAlgorithm"));
    const auto* d = first_deterministic(data, count);
    if (d == nullptr) throw CudaError(what("no deterministic backward-data algorithm"));
    algorithms.backward_data = d->algo;

    cudnnConvolutionBwdFilterAlgoPerf_t filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    check(cudnnFindConvolutionBackwardFilterAlgorithm(handle_, x_, y_, conv_, w_,
                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, filter),
          what("cudnnFindConvolutionBackwardFilterAlgorithm"));
    const auto* w = first_deterministic(filter, count);
    if (w == nullptr) throw CudaError(what("no deterministic backward-filter algorithm"));
    algorithms.backward_filter = w->algo;

    algorithms.workspace = std::max({f->memory, d->memory, w->memory});
    chosen.emplace(shape_.key(), algorithms);
    return algorithms;
  }

  cudnnHandle_t handle_;
  ConvolutionShape shape_;
  std::string name_;
  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  ConvolutionAlgorithms algorithms_;
};

}  // namespace mahpo::cuda
