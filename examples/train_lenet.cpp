// Trains classic_lenet5 on MNIST and Fashion-MNIST and prints, for every epoch, the training loss
// and accuracy, the validation accuracy, the training time and the memory held. The defaults (Adam,
// learning rate 0.003, cosine decay to 0 over the run) are the recipe measured in docs/benchmarks.md;
// `--optimizer sgd --policy inv --learning-rate 0.01` is Caffe's LeNet recipe. `--device cuda` trains
// on the GPU trainer (a build with the CUDA backend, and a GPU).
#include <mahpo/mahpo.hpp>
#ifdef MAHPO_WITH_CUDA
#include <mahpo/cuda/trainer.hpp>
#endif

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <exception>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"mahpo: train LeNet-5 (6/16 filters, 5x5, 120/84, ReLU, max-pool) on MNIST-like data"};
  std::vector<std::string> names{"mnist", "fashion-mnist"};
  double epochs = 10.0, learning_rate = 0.003;
  std::size_t batch_size = 32;
  std::uint64_t seed = 0;
  std::string optimizer = "adam", policy = "cosine", device = "cpu";
  app.add_option("--dataset", names, "data sets to train on")->check(CLI::IsMember({"mnist", "fashion-mnist"}));
  app.add_option("--epochs", epochs, "epochs (fractional allowed)")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", batch_size, "images per iteration")->check(CLI::PositiveNumber);
  app.add_option("--learning-rate", learning_rate, "base learning rate")->check(CLI::PositiveNumber);
  app.add_option("--policy", policy,
                 "learning-rate policy: cosine (to 0 at the end), inv (Caffe's, gamma 0.001, "
                 "power 0.75) or fixed")
      ->check(CLI::IsMember({"cosine", "inv", "fixed"}));
  app.add_option("--optimizer", optimizer, "sgd (momentum 0.9) or adam")->check(CLI::IsMember({"sgd", "adam"}));
  app.add_option("--seed", seed, "seed of the weights, the batch order and dropout");
  app.add_option("--device", device, "cpu, or cuda: the GPU trainer (a build with the CUDA backend, and a GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  CLI11_PARSE(app, argc, argv);
#ifndef MAHPO_WITH_CUDA
  if (device == "cuda") {
    fmt::print(stderr,
               "error: --device cuda: this train_lenet was built without the CUDA backend (CMake found no nvcc or "
               "no cuDNN; see docs/guide.md, \"The GPU trainer\")\n");
    return 1;
  }
#endif

  try {
    for (const auto& name : names) {
      const auto dataset = mahpo::data::load_dataset(name);
      mahpo::train::TrainerOptions options;
      options.batch_size = batch_size;
      options.learning_rate = learning_rate;
      options.seed = seed;
      if (optimizer == "adam") options.optimizer = mahpo::train::Adam{};
      if (policy == "cosine") options.policy = mahpo::train::CosineDecay{};
      if (policy == "fixed") options.policy = mahpo::train::FixedRate{};
      const auto network = mahpo::nn::classic_lenet5::network({});
      fmt::print("{}: {}\n", name, network.describe());
      const auto train = [&]<typename Backend>() {
        return Backend(network, options).train(dataset, {.epochs = epochs});
      };
#ifdef MAHPO_WITH_CUDA
      const auto report =
          device == "cuda" ? train.operator()<mahpo::cuda::Trainer>() : train.operator()<mahpo::train::Trainer>();
#else
      const auto report = train.operator()<mahpo::train::Trainer>();
#endif
      fmt::print("  {:>5}  {:>10}  {:>9}  {:>14}  {:>10}\n", "epoch", "train loss", "train acc", "validation acc",
                 "train time");
      for (const auto& point : report.history) {
        fmt::print("  {:>5.2f}  {:>10.4f}  {:>9.4f}  {:>14.4f}  {:>9.1f}s\n", point.epoch, point.train_loss,
                   point.train_accuracy, point.validation_accuracy, point.training_seconds);
      }
      if (report.status != mahpo::Status::ok) {
        fmt::print("  {}: {}\n", mahpo::to_string(report.status), report.message);
        continue;
      }
      fmt::print("  test accuracy {:.4f}, Cohen's kappa {:.4f}\n", report.test->accuracy, report.test->kappa);
      fmt::print("  {} iterations in {:.1f} s ({:.3f} s per 100 iterations, {:.0f} images/s), evaluation {:.1f} s\n",
                 report.iterations, report.training_seconds, report.seconds_per_100_iterations,
                 static_cast<double>(report.iterations * batch_size) / report.training_seconds,
                 report.evaluation_seconds);
      fmt::print("  memory: trainer {:.1f} MiB, process peak {:.1f} MiB, {} parameters\n",
                 static_cast<double>(report.trainer_bytes) / (1 << 20),
                 static_cast<double>(report.peak_resident_bytes) / (1 << 20), report.parameter_count);
    }
  } catch (const std::exception& error) {
    fmt::print(stderr, "error: {}\n", error.what());
    return 1;
  }
  return 0;
}
