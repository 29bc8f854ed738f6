// The batch-size / learning-rate study of the seed documents: nine CASEs of LeNet on MNIST, each
// trained for 1,000 iterations with SGD (momentum 0.9) and Caffe's `inv` policy (gamma 0.001,
// power 0.75), recording every 100 iterations the training accuracy (over those 100 iterations,
// the batches it trained on) and the test accuracy (the whole 10,000-image test set, evaluated in
// batches of twice the training batch), and per CASE the time per 100 iterations and the memory
// the trainer holds.
//
//   correlation_study [--output DIR] [--iterations N] [--train-images N] [--test-images N]
//
// Writes DIR/curves.csv (case, iteration, train accuracy, test accuracy) and DIR/cases.csv (case,
// batch, learning rate, seconds per 100 iterations, trainer MiB, final test accuracy), and prints
// both as tables. scripts/plot_correlation.sh draws the PNGs from them with gnuplot.
//
// The network is Caffe's LeNet as the seed study used it: conv 20 (5x5), max-pool 2, conv 50 (5x5),
// max-pool 2, dense 500 + ReLU, output 10. mahpo's convolutions carry a ReLU, Caffe's LeNet's do not.
#include <mahpo/mahpo.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <array>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace {

struct Case {
  std::size_t batch;
  double learning_rate;
};

// CASE 1..9 of the seed study: train batch and base learning rate (the test batch is twice the train batch).
constexpr std::array<Case, 9> cases{
    {{64, 0.01}, {32, 0.01}, {128, 0.01}, {64, 0.04}, {64, 0.001}, {32, 0.02}, {64, 0.0025}, {64, 0.1}, {32, 0.005}}};

mahpo::nn::NetworkSpec caffe_lenet() {
  using namespace mahpo::nn;
  return NetworkSpec{InputShape{1, 28, 28},
                     {ConvSpec{5, 20}, PoolSpec{2}, ConvSpec{5, 50}, PoolSpec{2}, DenseSpec{500, 0.0}, OutputSpec{10}}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mahpo: the batch-size / learning-rate study (nine CASEs of LeNet on MNIST, Caffe's inv policy)"};
  std::string output = "correlation_study";
  std::size_t iterations = 1000, every = 100, train_images = 0, test_images = 0;
  app.add_option("--output", output, "folder for curves.csv and cases.csv");
  app.add_option("--iterations", iterations, "training iterations per CASE")->check(CLI::PositiveNumber);
  app.add_option("--every", every, "iterations between accuracy points")->check(CLI::PositiveNumber);
  app.add_option("--train-images", train_images, "use only the first N training images (0: all)");
  app.add_option("--test-images", test_images, "use only the first N test images (0: all)");
  CLI11_PARSE(app, argc, argv);

  try {
    auto mnist = mahpo::data::load_dataset("mnist");
    mnist = mahpo::data::take_first(mnist, train_images, 0, test_images);
    mnist.validation = mnist.test;  // the history's "validation" points are the test accuracy here
    std::filesystem::create_directories(output);
    std::ofstream curves(std::filesystem::path(output) / "curves.csv");
    std::ofstream summary(std::filesystem::path(output) / "cases.csv");
    curves << "case,iteration,train_accuracy,test_accuracy\n";
    summary << "case,batch,learning_rate,seconds_per_100_iterations,trainer_mib,test_accuracy,status\n";
    fmt::print(
        "{} training, {} test images; {} iterations per CASE; SGD momentum 0.9, inv (gamma 0.001, power 0.75)\n\n",
        mnist.train.size(), mnist.test.size(), iterations);
    fmt::print("{:>4} {:>5} {:>7} | {:>9} {:>9} {:>9} | {:>10} {:>10} {:>8}\n", "CASE", "batch", "lr", "iteration",
               "train acc", "test acc", "s/100 it", "trainer MiB", "status");
    for (std::size_t k = 0; k < cases.size(); ++k) {
      mahpo::train::TrainerOptions options;
      options.batch_size = cases[k].batch;
      options.learning_rate = cases[k].learning_rate;
      options.optimizer = mahpo::train::Sgd{};
      options.policy = mahpo::train::InvDecay{.gamma = 0.001, .power = 0.75};
      options.history_every = every;
      options.evaluation_batch = 2 * cases[k].batch;
      mahpo::train::Trainer trainer(caffe_lenet(), options);
      const auto report = trainer.train(mnist, {.iterations = iterations});
      for (const auto& point : report.history) {
        curves << fmt::format("{},{},{},{}\n", k + 1, point.iteration, point.train_accuracy, point.validation_accuracy);
        fmt::print("{:>4} {:>5} {:>7} | {:>9} {:>9.4f} {:>9.4f} |\n", k + 1, cases[k].batch, cases[k].learning_rate,
                   point.iteration, point.train_accuracy, point.validation_accuracy);
      }
      const double mib = static_cast<double>(report.trainer_bytes) / (1 << 20);
      const double test = report.test ? report.test->accuracy : 0.0;
      summary << fmt::format("{},{},{},{},{},{},{}\n", k + 1, cases[k].batch, cases[k].learning_rate,
                             report.seconds_per_100_iterations, mib, test, mahpo::to_string(report.status));
      fmt::print("{:>4} {:>5} {:>7} | {:>9} {:>9} {:>9.4f} | {:>10.3f} {:>10.1f} {:>8}\n\n", k + 1, cases[k].batch,
                 cases[k].learning_rate, "final", "", test, report.seconds_per_100_iterations, mib,
                 mahpo::to_string(report.status));
    }
    fmt::print("wrote {}/curves.csv and {}/cases.csv\n", output, output);
  } catch (const std::exception& error) {
    fmt::print(stderr, "error: {}\n", error.what());
    return 1;
  }
  return 0;
}
