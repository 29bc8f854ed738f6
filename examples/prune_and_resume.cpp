// Trials that stop early and trainings that continue, on paper_lenet and (a slice of) MNIST:
//   1. TPE with the asynchronous successive-halving pruner: each epoch's validation accuracy is
//      reported, hopeless trials stop, every report is in the journal;
//   2. Hyperband whose promoted configs continue their training, against the same brackets from
//      scratch: the same trials for fewer epochs;
//   3. population based training: the weak copy the strong and perturb their learning rate and
//      dropout; the best member's schedule, followed back through the trials it continued.
//
//   prune_and_resume [--train-images 3000] [--output prune_and_resume_output]
#include <mahpo/mahpo.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace fs = std::filesystem;
using namespace mahpo;
using LeNet = train::LeNetObjective<nn::paper_lenet>;
using S = nn::paper_lenet::space;

namespace {

double epochs_trained(const auto& report) {
  double total = 0.0;
  for (const auto& trial : report.trials) total += trial.result.metrics.value("epochs_trained", 0.0);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Pruning, continued training and PBT on paper_lenet"};
  std::size_t train_images = 3000, validation_images = 500;
  fs::path output = "prune_and_resume_output";
  app.add_option("--train-images", train_images, "training images (0: all)");
  app.add_option("--validation-images", validation_images, "validation and test images (0: all)");
  app.add_option("--output", output, "folder for the journals (this program's own are replaced)");
  CLI11_PARSE(app, argc, argv);
  try {
    fs::create_directories(output);
    for (const char* name : {"tpe_asha.jsonl", "pbt.jsonl"}) {  // this program's journals, from an earlier run
      fs::remove(output / name);
      fs::remove_all(output / (std::string(name) + ".states"));
    }
    auto data = data::load_dataset("mnist");
    data = data::take_first(data, train_images, validation_images, validation_images);
    const auto dataset = std::make_shared<const data::Dataset>(std::move(data));
    const LeNet objective(dataset, {.trainer = {.seed = 1, .evaluate_test = false}});

    // 1. TPE + ASHA, trials of 3 epochs.
    search::Tpe<S> tpe({.seed = 1, .budget = {.epochs = 3.0}});
    const auto pruned = study::run_study(tpe, objective,
                                         {.trials = 16,
                                          .journal = output / "tpe_asha.jsonl",
                                          .progress = study::Progress::never,
                                          .pruner = std::make_shared<study::SuccessiveHalvingPruner>()});
    std::size_t stopped = 0;
    for (const auto& trial : pruned.trials) stopped += trial.result.status == Status::pruned ? 1 : 0;
    fmt::print("1. tpe + asha: {} trials, {} pruned, {:.1f} of {:.0f} epochs trained; best {:.4f}\n",
               pruned.trials.size(), stopped, epochs_trained(pruned), 3.0 * static_cast<double>(pruned.trials.size()),
               pruned.best()->result.value);

    // 2. Hyperband, one cycle of brackets of 1 to 9 epochs, continued and from scratch.
    const auto hyperband = [&](bool resume) {
      search::Hyperband<S> searcher({.seed = 2}, {.min_budget = 1.0, .max_budget = 9.0, .eta = 3.0, .resume = resume});
      return study::run_study(searcher, objective, {.trials = 22, .progress = study::Progress::never});
    };
    const auto continued = hyperband(true);
    const auto from_scratch = hyperband(false);
    fmt::print(
        "2. hyperband, 22 trials: continued {:.0f} epochs (best {:.4f}), from scratch {:.0f} epochs (best {:.4f}): "
        "{:.0f} %\n",
        epochs_trained(continued), continued.best()->result.value, epochs_trained(from_scratch),
        from_scratch.best()->result.value, 100.0 * epochs_trained(continued) / epochs_trained(from_scratch));

    // 3. PBT: 4 members, 1 epoch a step, learning rate and dropout explored.
    search::Pbt<S> pbt(
        {.seed = 3, .budget = {.epochs = 1.0}},
        {.population = 4, .step_epochs = 1.0, .quantile = 0.25, .explore = search::pbt_explore<nn::paper_lenet>()});
    const auto journal = output / "pbt.jsonl";
    const auto population =
        study::run_study(pbt, objective, {.trials = 16, .journal = journal, .progress = study::Progress::never});
    fmt::print("3. pbt: {} trials, {} copies of a stronger member; best {:.4f} after {:g} epochs; its schedule:\n",
               population.trials.size(), pbt.exploits(), population.best()->result.value,
               population.best()->budget.epochs);
    const auto study_data = report::load_journal(journal);
    for (const auto& step : report::lineage(study_data, population.best()->id)) {
      fmt::print("   trial {:2}: epochs {:g} to {:g}, value {:.4f}, learning rate {:.5f}, dropout {:.3f}\n", step.id,
                 step.from_epochs, step.to_epochs, step.value,
                 step.config["training.learning_rate"].template get<double>(),
                 step.config["fc1.dropout_rate"].template get<double>());
    }
  } catch (const std::exception& error) {
    fmt::print(stderr, "error: {}\n", error.what());
    return 1;
  }
  return 0;
}
