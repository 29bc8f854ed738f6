#pragma once
// Device and pinned host buffers that free themselves (RAII), sized once and reused.

#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <mahpo/cuda/error.hpp>

namespace mahpo::cuda {

// `count` elements of T in device memory (uninitialized), or none.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::size_t count, const std::string& what) { resize(count, what); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  // Makes room for `count` elements (the old contents are lost when it grows).
  void resize(std::size_t count, const std::string& what) {
    if (count <= count_) return;
    release();
    if (count == 0) return;
    check(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)),
          fmt::format("cudaMalloc of {} bytes for {}", count * sizeof(T), what));
    count_ = count;
  }

  T* data() const { return data_; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return count_ * sizeof(T); }

 private:
  void release() noexcept {
    if (data_ != nullptr) cudaFree(data_);  // no throw from a destructor; a failed free is the driver's end anyway
    data_ = nullptr;
    count_ = 0;
  }

  T* data_ = nullptr;
  std::size_t count_ = 0;
};

// Page-locked host memory, so that copies to the device are asynchronous and may sit in a CUDA graph.
template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (data_ != nullptr) cudaFreeHost(data_);
  }

  void resize(std::size_t count, const std::string& what) {
    if (count <= count_) return;
    if (data_ != nullptr) cudaFreeHost(data_);
    data_ = nullptr;
    count_ = 0;
    check(cudaMallocHost(reinterpret_cast<void**>(&data_), count * sizeof(T)),
          fmt::format("cudaMallocHost of {} bytes for {}", count * sizeof(T), what));
    count_ = count;
  }

  T* data() const { return data_; }
  std::size_t size() const { return count_; }
  T& operator[](std::size_t i) const { return data_[i]; }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace mahpo::cuda
