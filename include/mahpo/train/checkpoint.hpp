#pragma once
// A trainer's whole state, so that a training stopped after some epochs continues as if it had never
// stopped: the weights, the optimizer's moments and step count, the position in the learning-rate
// schedule (the iteration), the dropout streams' positions, the batch order (its random stream, the
// order and the cursor), the time spent and the history so far.
//
//   TrainerState state = trainer.state();              // in memory
//   std::string bytes = encode(state);                 // a versioned binary blob with a CRC-32
//   save_checkpoint("trial-7.ckpt", state);            // on disk (mahpo/files.hpp: written aside, renamed)
//   trainer.restore(load_checkpoint("trial-7.ckpt"));  // CheckpointError: truncated, foreign, corrupt
//
// Blob: "MAHPOCKP", format version (u32), payload length (u64), payload, CRC-32 (zlib's) of the
// payload; numbers little-endian, as the machines mahpo runs on store them.

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <zlib.h>

#include <mahpo/files.hpp>
#include <mahpo/train/backend.hpp>

namespace mahpo::train {

static_assert(std::endian::native == std::endian::little, "mahpo: checkpoints are written on little-endian machines");

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TrainerState {
  // What the state fits: each parameter tensor's size, in the network's order. A state restores into
  // a trainer whose network has the same sizes (dropout rates, learning rate and batch size may differ:
  // population based training changes them).
  std::vector<std::uint64_t> parameter_sizes;
  std::vector<std::vector<float>> parameters;
  // The optimizer: 0 SGD (first: the velocities), 1 Adam (first and second moments).
  std::uint32_t optimizer = 0;
  std::uint64_t optimizer_steps = 0;
  std::vector<std::vector<float>> first, second;
  std::vector<std::uint64_t> dropout_draws;  // per dense layer, the draws its masks used so far
  // The batch order: its random stream (std::mt19937_64's text form), the images and the cursor.
  std::string order_stream;
  std::vector<std::uint32_t> order;
  std::uint64_t order_cursor = 0, train_images = 0;  // train_images: the whole training set's size
  double fraction = 1.0;                              // the budget's fraction the order keeps
  // Where the training stands.
  std::uint64_t iterations = 0, images_seen = 0;
  double training_seconds = 0.0, evaluation_seconds = 0.0;
  std::vector<HistoryPoint> history;
  // The running window of the next history point: loss sum, correct, seen, iterations since the last.
  double window_loss = 0.0;
  std::uint64_t window_correct = 0, window_seen = 0, window_iterations = 0;
};

// A backend whose training can be saved and continued (the CPU Trainer; not yet the GPU one): its
// whole state out and in, training that calls a hook at each history point, and the history so far.
template <typename T>
concept ResumableBackend = TrainerBackend<T> &&
    requires(T& trainer, const TrainerState& state, const data::Dataset& dataset, const Budget& budget,
             const typename T::PointHook& hook) {
  { trainer.state() } -> std::same_as<TrainerState>;
  trainer.restore(state);
  { trainer.train(dataset, budget, hook) } -> std::same_as<TrainingReport>;
  { trainer.history() } -> std::convertible_to<const std::vector<HistoryPoint>&>;
};

inline constexpr std::uint32_t checkpoint_format = 1;
inline constexpr std::string_view checkpoint_magic = "MAHPOCKP";

namespace detail {

class Writer {
 public:
  template <typename T>
    requires std::is_trivially_copyable_v<T>
  void put(const T& value) {
    const auto* bytes = reinterpret_cast<const char*>(&value);
    out_.append(bytes, sizeof(T));
  }
  template <typename T>
  void put_vector(const std::vector<T>& values) {
    put<std::uint64_t>(values.size());
    out_.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  }
  void put_text(std::string_view text) {
    put<std::uint64_t>(text.size());
    out_.append(text);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
    requires std::is_trivially_copyable_v<T>
  T get() {
    T value;
    std::memcpy(&value, take(sizeof(T)).data(), sizeof(T));
    return value;
  }
  template <typename T>
  std::vector<T> get_vector() {
    const auto count = get<std::uint64_t>();
    if (count > in_.size() / sizeof(T)) throw CheckpointError("mahpo: the checkpoint is corrupt (a length past its end)");
    std::vector<T> values(count);
    std::memcpy(values.data(), take(count * sizeof(T)).data(), count * sizeof(T));
    return values;
  }
  std::string get_text() {
    const auto count = get<std::uint64_t>();
    return std::string(take(count));
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view take(std::size_t count) {
    if (count > in_.size()) throw CheckpointError("mahpo: the checkpoint is corrupt (it ends inside a field)");
    const auto part = in_.substr(0, count);
    in_.remove_prefix(count);
    return part;
  }
  std::string_view in_;
};

inline std::uint32_t crc(std::string_view bytes) {
  return static_cast<std::uint32_t>(
      ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

}  // namespace detail

// The state as a self-checking blob (see the header comment).
inline std::string encode(const TrainerState& state) {
  detail::Writer payload;
  payload.put_vector(state.parameter_sizes);
  payload.put<std::uint64_t>(state.parameters.size());
  for (const auto& p : state.parameters) payload.put_vector(p);
  payload.put(state.optimizer);
  payload.put(state.optimizer_steps);
  for (const auto* moments : {&state.first, &state.second}) {
    payload.put<std::uint64_t>(moments->size());
    for (const auto& m : *moments) payload.put_vector(m);
  }
  payload.put_vector(state.dropout_draws);
  payload.put_text(state.order_stream);
  payload.put_vector(state.order);
  payload.put(state.order_cursor);
  payload.put(state.train_images);
  payload.put(state.fraction);
  payload.put(state.iterations);
  payload.put(state.images_seen);
  payload.put(state.training_seconds);
  payload.put(state.evaluation_seconds);
  payload.put<std::uint64_t>(state.history.size());
  for (const auto& point : state.history) {
    payload.put<std::uint64_t>(point.iteration);
    for (double value : {point.epoch, point.train_loss, point.train_accuracy, point.validation_accuracy,
                         point.training_seconds})
      payload.put(value);
  }
  payload.put(state.window_loss);
  payload.put(state.window_correct);
  payload.put(state.window_seen);
  payload.put(state.window_iterations);
  const std::string body = payload.take();

  detail::Writer blob;
  std::string out(checkpoint_magic);
  blob.put(checkpoint_format);
  blob.put<std::uint64_t>(body.size());
  out += blob.take();
  out += body;
  detail::Writer tail;
  tail.put(detail::crc(body));
  out += tail.take();
  return out;
}

// The state a blob holds; CheckpointError when the blob is not a mahpo checkpoint, is of another
// format version, is cut short or fails its checksum. `source` names it in the message.
inline TrainerState decode(std::string_view blob, std::string_view source = "the checkpoint") {
  const std::size_t head = checkpoint_magic.size() + sizeof(std::uint32_t) + sizeof(std::uint64_t);
  if (blob.size() < checkpoint_magic.size() || blob.substr(0, checkpoint_magic.size()) != checkpoint_magic) {
    throw CheckpointError(fmt::format("mahpo: {} is not a mahpo trainer checkpoint", source));
  }
  if (blob.size() < head) throw CheckpointError(fmt::format("mahpo: {} is truncated ({} bytes)", source, blob.size()));
  detail::Reader header(blob.substr(checkpoint_magic.size(), head - checkpoint_magic.size()));
  const auto format = header.get<std::uint32_t>();
  const auto length = header.get<std::uint64_t>();
  if (format != checkpoint_format) {
    throw CheckpointError(fmt::format("mahpo: {} has checkpoint format {}; this mahpo reads format {}", source, format,
                                      checkpoint_format));
  }
  if (blob.size() != head + length + sizeof(std::uint32_t)) {
    throw CheckpointError(fmt::format("mahpo: {} is {} ({} bytes, its header says {})", source,
                                      blob.size() < head + length + sizeof(std::uint32_t) ? "truncated" : "too long",
                                      blob.size(), head + length + sizeof(std::uint32_t)));
  }
  const std::string_view body = blob.substr(head, length);
  detail::Reader tail(blob.substr(head + length));
  if (tail.get<std::uint32_t>() != detail::crc(body)) {
    throw CheckpointError(fmt::format("mahpo: {} is corrupt (its checksum does not match)", source));
  }
  detail::Reader in(body);
  TrainerState state;
  state.parameter_sizes = in.get_vector<std::uint64_t>();
  if (in.get<std::uint64_t>() != state.parameter_sizes.size())
    throw CheckpointError(fmt::format("mahpo: {} is corrupt (parameter count)", source));
  state.parameters.resize(state.parameter_sizes.size());
  for (auto& p : state.parameters) p = in.get_vector<float>();
  state.optimizer = in.get<std::uint32_t>();
  state.optimizer_steps = in.get<std::uint64_t>();
  for (auto* moments : {&state.first, &state.second}) {
    const auto count = in.get<std::uint64_t>();
    if (count > state.parameter_sizes.size()) throw CheckpointError(fmt::format("mahpo: {} is corrupt", source));
    moments->resize(count);
    for (auto& m : *moments) m = in.get_vector<float>();
  }
  state.dropout_draws = in.get_vector<std::uint64_t>();
  state.order_stream = in.get_text();
  state.order = in.get_vector<std::uint32_t>();
  state.order_cursor = in.get<std::uint64_t>();
  state.train_images = in.get<std::uint64_t>();
  state.fraction = in.get<double>();
  state.iterations = in.get<std::uint64_t>();
  state.images_seen = in.get<std::uint64_t>();
  state.training_seconds = in.get<double>();
  state.evaluation_seconds = in.get<double>();
  const auto points = in.get<std::uint64_t>();
  if (points > body.size()) throw CheckpointError(fmt::format("mahpo: {} is corrupt", source));
  state.history.resize(points);
  for (auto& point : state.history) {
    point.iteration = in.get<std::uint64_t>();
    for (double* value : {&point.epoch, &point.train_loss, &point.train_accuracy, &point.validation_accuracy,
                          &point.training_seconds})
      *value = in.get<double>();
  }
  state.window_loss = in.get<double>();
  state.window_correct = in.get<std::uint64_t>();
  state.window_seen = in.get<std::uint64_t>();
  state.window_iterations = in.get<std::uint64_t>();
  if (!in.done()) throw CheckpointError(fmt::format("mahpo: {} is corrupt (bytes after its last field)", source));
  for (std::size_t p = 0; p < state.parameters.size(); ++p) {
    if (state.parameters[p].size() != state.parameter_sizes[p])
      throw CheckpointError(fmt::format("mahpo: {} is corrupt (parameter {} has the wrong size)", source, p));
  }
  return state;
}

// Writes the state to `path` (mahpo::write_atomically: a crash leaves the old file or the new one).
inline void save_checkpoint(const std::filesystem::path& path, const TrainerState& state) {
  try {
    write_atomically(path, encode(state));
  } catch (const FileError& error) {
    throw CheckpointError(error.what());
  }
}

inline std::string read_checkpoint_bytes(const std::filesystem::path& path) {
  try {
    return read_file(path);
  } catch (const FileError&) {
    throw CheckpointError(fmt::format("mahpo: cannot read the checkpoint {}", path.string()));
  }
}

inline TrainerState load_checkpoint(const std::filesystem::path& path) {
  return decode(read_checkpoint_bytes(path), path.string());
}

}  // namespace mahpo::train
