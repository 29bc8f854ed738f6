#pragma once
// Where a study keeps its trials' saved training states (opaque blobs: train/checkpoint.hpp for the
// LeNet trainer), so that a promoted config, a PBT step or a trial rerun after a crash continues
// the training instead of starting it again.
//
// States live in memory up to a cap (bytes); past it, the oldest kept ones go to the study's folder
// (one file per trial, written aside and renamed). A durable store (a study with a journal) also
// writes every state to the folder as it is saved, so that a study killed with SIGKILL finds each
// running trial's last state there on resume. release(id) frees a state in memory and on disk.
// Thread-safe: workers save states while others read them.

#include <cstddef>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include <mahpo/files.hpp>

namespace mahpo::study {

class CheckpointStore {
 public:
  CheckpointStore() = default;
  // `folder` is created on first use; `durable`: every state is written there too.
  CheckpointStore(std::filesystem::path folder, std::size_t memory_cap, bool durable)
      : folder_(std::move(folder)), cap_(memory_cap), durable_(durable) {}

  // Keeps `bytes` as trial id's latest state.
  void put(std::size_t id, std::string bytes) {
    std::lock_guard guard(lock_);
    if (durable_) write_file(id, bytes);
    drop_memory(id);
    if (bytes.size() > cap_) {
      if (!durable_) write_file(id, bytes);
      on_disk_[id] = true;
      return;
    }
    in_memory_bytes_ += bytes.size();
    memory_.emplace(id, std::move(bytes));
    order_.push_back(id);
    on_disk_[id] = durable_;
    while (in_memory_bytes_ > cap_ && !order_.empty()) spill(order_.front());
  }

  // Trial id's latest state; empty when there is none (also after a release).
  std::string get(std::size_t id) {
    std::lock_guard guard(lock_);
    if (const auto found = memory_.find(id); found != memory_.end()) return found->second;
    if (folder_.empty()) return {};
    const auto path = file(id);
    std::error_code error;
    if (!std::filesystem::exists(path, error)) return {};
    try {
      return read_file(path);
    } catch (const FileError&) {
      return {};
    }
  }

  bool has(std::size_t id) {
    std::lock_guard guard(lock_);
    if (memory_.contains(id)) return true;
    std::error_code error;
    return !folder_.empty() && std::filesystem::exists(file(id), error);
  }

  void release(std::size_t id) {
    std::lock_guard guard(lock_);
    drop_memory(id);
    on_disk_.erase(id);
    if (!folder_.empty()) {
      std::error_code error;
      std::filesystem::remove(file(id), error);
    }
  }

  std::size_t memory_bytes() const {
    std::lock_guard guard(lock_);
    return in_memory_bytes_;
  }
  std::size_t states() const {
    std::lock_guard guard(lock_);
    std::size_t count = memory_.size();
    for (const auto& [id, disk] : on_disk_)
      if (disk && !memory_.contains(id)) ++count;
    return count;
  }
  const std::filesystem::path& folder() const { return folder_; }
  std::filesystem::path file(std::size_t id) const { return folder_ / fmt::format("trial-{}.state", id); }

 private:
  void drop_memory(std::size_t id) {
    if (const auto found = memory_.find(id); found != memory_.end()) {
      in_memory_bytes_ -= found->second.size();
      memory_.erase(found);
      std::erase(order_, id);
    }
  }

  void spill(std::size_t id) {
    const auto found = memory_.find(id);
    if (!on_disk_[id]) write_file(id, found->second);
    on_disk_[id] = true;
    drop_memory(id);
  }

  void write_file(std::size_t id, const std::string& bytes) {
    if (folder_.empty()) {
      throw FileError("mahpo: the study's states outgrew the memory cap and it has no folder for them");
    }
    std::filesystem::create_directories(folder_);
    write_atomically(file(id), bytes);
  }

  std::filesystem::path folder_;
  std::size_t cap_ = 0;
  bool durable_ = false;
  mutable std::mutex lock_;
  std::unordered_map<std::size_t, std::string> memory_;
  std::deque<std::size_t> order_;  // ids in memory, oldest first
  std::unordered_map<std::size_t, bool> on_disk_;
  std::size_t in_memory_bytes_ = 0;
};

}  // namespace mahpo::study
