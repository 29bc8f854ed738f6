#pragma once
// A learning-curve benchmark: real per-epoch validation curves of paper_lenet trials (MNIST or
// Fashion-MNIST, up to 9 epochs each, recorded by examples/learning_curves.cpp), replayed, so that
// pruners, multi-fidelity searchers and PBT can be compared at equal epochs with many seeds in
// seconds (the tabular idea of LCBench, Zimmer et al. 2021, and HPOBench, Eggensperger et al. 2021).
//
//   auto curves = mahpo::problems::LearningCurves::load("bench/data/learning_curves_mnist.csv");
//   Result r = curves(config, {.epochs = 9}, context);   // reports epochs 1..9, may be pruned
//
// A config is replayed as the recorded config nearest to it in the unit cube (Euclidean); its value
// after E epochs is the recorded validation accuracy after epoch E (budgets round up to whole
// epochs, at most the recorded ones). A recorded run that diverged replays its accuracies up to the
// divergence and then diverges. The replay reports each epoch to the context (a pruner may stop
// it), saves the epochs trained as its state and continues a state it is given: a promoted config
// trains only the epochs its parent had not, and a PBT member whose config changed continues on the
// new config's curve from the epochs already trained (an approximation: the recorded curves all
// start from scratch). The metrics say the recorded config, the epochs trained and their seconds.
//
// CSV: a header, then a row per recorded trial: the space's parameters by name, `status` (ok or
// diverged), `seconds_per_epoch`, then `epoch_1` .. `epoch_K` (empty after a divergence).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/objective.hpp>
#include <mahpo/space/config.hpp>

namespace mahpo::problems {

class LearningCurves {
 public:
  using space = nn::paper_lenet::space;
  using config_type = Config<space>;
  using point_type = std::array<double, space::dimension>;

  struct Run {
    config_type config;
    point_type point{};
    bool diverged = false;
    double seconds_per_epoch = 0.0;
    std::vector<double> accuracy;  // after epoch 1, 2, ... (up to the divergence)
  };

  explicit LearningCurves(std::vector<Run> runs) : runs_(std::move(runs)) {
    if (runs_.empty()) throw std::invalid_argument("mahpo: a learning-curve benchmark needs at least one run");
    for (const auto& run : runs_) epochs_ = std::max(epochs_, run.accuracy.size());
  }

  // Reads the CSV (see the header comment); std::runtime_error naming the file and line otherwise.
  static LearningCurves load(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("mahpo: cannot read the learning curves {}", path.string()));
    std::string line;
    std::getline(in, line);
    const auto header = split(line);
    std::vector<Run> runs;
    for (std::size_t number = 2; std::getline(in, line); ++number) {
      if (line.empty()) continue;
      const auto cells = split(line);
      if (cells.size() != header.size()) {
        throw std::runtime_error(fmt::format("mahpo: {} line {}: {} cells, the header has {}", path.string(), number,
                                             cells.size(), header.size()));
      }
      nlohmann::json config = nlohmann::json::object();
      Run run;
      try {
        for (std::size_t c = 0; c < header.size(); ++c) {
          const auto& name = header[c];
          if (space::has_name(name)) {
            config[name] = nlohmann::json::parse(cells[c]);  // 3 an integer, 0.5 a real
          } else if (name == "status") {
            run.diverged = cells[c] == "diverged";
          } else if (name == "seconds_per_epoch") {
            run.seconds_per_epoch = std::stod(cells[c]);
          } else if (name.starts_with("epoch_") && !cells[c].empty()) {
            run.accuracy.push_back(std::stod(cells[c]));
          }
        }
        run.config = config_type::from_json(config);
      } catch (const std::exception& error) {
        throw std::runtime_error(fmt::format("mahpo: {} line {}: {}", path.string(), number, error.what()));
      }
      run.point = space::to_unit_cube(run.config);
      runs.push_back(std::move(run));
    }
    return LearningCurves(std::move(runs));
  }

  std::size_t size() const { return runs_.size(); }
  std::size_t epochs() const { return epochs_; }
  const std::vector<Run>& runs() const { return runs_; }

  // The recorded run a config replays: the nearest in the unit cube.
  std::size_t nearest(const config_type& config) const {
    const auto point = space::to_unit_cube(config);
    std::size_t best = 0;
    double closest = std::numeric_limits<double>::infinity();
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      double distance = 0.0;
      for (std::size_t d = 0; d < point.size(); ++d) distance += (point[d] - runs_[r].point[d]) * (point[d] - runs_[r].point[d]);
      if (distance < closest) {
        closest = distance;
        best = r;
      }
    }
    return best;
  }

  // The best final accuracy any recorded run reaches (for regrets).
  double best_final() const {
    double best = 0.0;
    for (const auto& run : runs_)
      if (!run.diverged && run.accuracy.size() == epochs_) best = std::max(best, run.accuracy.back());
    return best;
  }

  Result operator()(const config_type& config, const Budget& budget) const {
    TrialContext none;
    return (*this)(config, budget, none);
  }

  Result operator()(const config_type& config, const Budget& budget, TrialContext& context) const {
    const std::size_t index = nearest(config);
    const Run& run = runs_[index];
    const auto wanted = static_cast<std::size_t>(std::clamp(std::ceil(budget.epochs - 1e-9), 1.0, static_cast<double>(epochs_)));
    std::size_t start = 0;
    if (const std::string state = context.resume_state(); !state.empty()) start = std::min(std::stoul(state), wanted);
    Result result;
    result.metrics["recorded_run"] = index;
    std::size_t epoch = start;
    for (; epoch < wanted; ++epoch) {
      if (epoch >= run.accuracy.size()) {  // the recorded run diverged here
        result.status = Status::diverged;
        result.value = 0.0;
        result.message = fmt::format("the recorded run diverged in epoch {}", epoch + 1);
        ++epoch;
        break;
      }
      const double value = run.accuracy[epoch];
      result.intermediate.push_back(value);
      result.value = value;
      if (context.report(epoch + 1, value)) {
        result.status = Status::pruned;
        ++epoch;
        break;
      }
      if (context.wants_state()) context.save_state(std::to_string(epoch + 1));
    }
    result.metrics["epochs_trained"] = epoch - start;
    result.metrics["resumed_from_epochs"] = start;
    result.metrics["training_seconds"] = static_cast<double>(epoch - start) * run.seconds_per_epoch;
    return result;
  }

 private:
  static std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> cells;
    std::stringstream in(line);
    for (std::string cell; std::getline(in, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    return cells;
  }

  std::vector<Run> runs_;
  std::size_t epochs_ = 0;
};

}  // namespace mahpo::problems
