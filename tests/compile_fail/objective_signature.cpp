// An objective that does not return a mahpo::Result (here a plain double) stops run_study with one
// sentence.
// expect-error: run_study: the objective must be callable as objective\(const Config<S>&, const Budget&\) and return a mahpo::Result
#include <mahpo/search/random.hpp>
#include <mahpo/study/study.hpp>

using Training = mahpo::Space<mahpo::Real<"learning_rate", 0.0, 1.0>>;

int main() {
  mahpo::search::Random<Training> random({.seed = 1});
#ifdef MAHPO_COMPILE_FAIL
  const auto objective = [](const Training::config_type& config, const mahpo::Budget&) {
    return config.get<"learning_rate">();
  };
#else
  const auto objective = [](const Training::config_type& config, const mahpo::Budget&) {
    return mahpo::Result{.value = config.get<"learning_rate">()};
  };
#endif
  auto report = mahpo::study::run_study(random, objective, {.trials = 3, .progress = mahpo::study::Progress::never});
  return report.trials.size() == 3 ? 0 : 1;
}
