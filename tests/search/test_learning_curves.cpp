// The learning-curve benchmark: a CSV of recorded curves loads (or is refused with its line), a config
// replays its nearest recorded run epoch by epoch, continues a saved state, stops when pruned, and a
// recorded divergence diverges.
#include <catch2/catch.hpp>

#include <mahpo/problems/learning_curves.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../recording_context.hpp"

using namespace mahpo;
using problems::LearningCurves;
namespace fs = std::filesystem;

namespace {

fs::path write_csv(const std::string& name, const std::string& text) {
  const auto path = fs::temp_directory_path() / fmt::format("mahpo_curves_{}_{}.csv", name, ::getpid());
  std::ofstream(path) << text;
  return path;
}

const std::string header =
    "conv1.conv_size,conv2.conv_size,fc1.hidden_size,fc1.dropout_rate,training.batch_size,training.learning_rate,"
    "status,seconds_per_epoch,epoch_1,epoch_2,epoch_3\n";

using Recorder = mahpo::testing::RecordingContext;

}  // namespace

TEST_CASE("learning curves: replay the nearest recorded run, continue, stop and diverge") {
  const auto path = write_csv("ok", header +
                                        "3,5,500,0.6,20,0.01,ok,2.0,0.90,0.95,0.97\n"
                                        "7,7,1000,0.9,32,0.1,diverged,3.0,0.10,,\n");
  const auto curves = LearningCurves::load(path);
  REQUIRE(curves.size() == 2);
  CHECK(curves.epochs() == 3);
  CHECK(curves.best_final() == 0.97);

  LearningCurves::config_type near_first = curves.runs()[0].config;
  near_first.set<"fc1.hidden_size">(520);
  CHECK(curves.nearest(near_first) == 0);

  Recorder whole;
  const Result full = curves(near_first, {.epochs = 3.0}, whole);
  CHECK(full.status == Status::ok);
  CHECK(full.value == 0.97);
  CHECK(whole.reports == std::vector<std::pair<std::size_t, double>>{{1, 0.90}, {2, 0.95}, {3, 0.97}});
  CHECK(full.metrics["training_seconds"].get<double>() == 6.0);

  Recorder continued;
  continued.resume = "1";
  const Result rest = curves(near_first, {.epochs = 3.0}, continued);
  CHECK(rest.value == 0.97);
  CHECK(rest.metrics["epochs_trained"].get<std::size_t>() == 2);
  CHECK(continued.reports.front().first == 2);
  CHECK(continued.state == "3");

  Recorder stopped;
  stopped.stop_at = 2;
  const Result pruned = curves(near_first, {.epochs = 3.0}, stopped);
  CHECK(pruned.status == Status::pruned);
  CHECK(pruned.value == 0.95);
  CHECK(pruned.metrics["epochs_trained"].get<std::size_t>() == 2);

  const Result short_budget = curves(near_first, {.epochs = 1.0 / 3.0});  // rounds up to one epoch
  CHECK(short_budget.value == 0.90);

  Recorder diverging;
  const Result diverged = curves(curves.runs()[1].config, {.epochs = 3.0}, diverging);
  CHECK(diverged.status == Status::diverged);
  CHECK(diverged.value == 0.0);
  CHECK(diverging.reports.size() == 1);
  fs::remove(path);
}

TEST_CASE("learning curves: a malformed file is refused with its line") {
  const auto ragged = write_csv("ragged", header + "3,5,500,0.6,20,0.01,ok,2.0,0.90\n");
  CHECK_THROWS_WITH(LearningCurves::load(ragged), Catch::Contains("line 2"));
  const auto outside = write_csv("outside", header + "3,5,500,0.6,20,7.0,ok,2.0,0.90,0.95,0.97\n");
  CHECK_THROWS_WITH(LearningCurves::load(outside), Catch::Contains("line 2"));
  CHECK_THROWS_AS(LearningCurves::load("/nonexistent/curves.csv"), std::runtime_error);
  fs::remove(ragged);
  fs::remove(outside);
}
