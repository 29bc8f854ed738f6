// Search quality on the synthetic problems: for every searcher, the median over seeds of the best
// value found after 50, 100 and 200 trials (Branin and Hartmann-6: lower is better, optima 0.397887
// and -3.32237; LeNet quadratic: higher is better, optimum 0.99). Prints a Markdown table.
//
//   search_quality [seeds=5]
//
// Trials are asked and told one at a time. Multi-fidelity searchers count each evaluation as a
// trial, whatever its budget; Branin and Hartmann-6 ignore the budget, the LeNet quadratic scores
// low budgets lower (so there, their best comes from full-budget trials).
#include <mahpo/mahpo.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

namespace {

constexpr std::size_t checkpoints[] = {50, 100, 200};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

template <template <typename> class Searcher, typename Problem>
void row(std::size_t seeds) {
  using S = typename Problem::space;
  const bool maximize = Problem::goal == mahpo::search::Goal::maximize;
  std::vector<std::vector<double>> best(std::size(checkpoints));
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t seed = 0; seed < seeds; ++seed) {
    Searcher<S> searcher(mahpo::search::SearchOptions{.seed = seed, .goal = Problem::goal});
    const Problem problem;
    double top = maximize ? -1e300 : 1e300;
    std::size_t next = 0;
    for (std::size_t trial_count = 1; trial_count <= checkpoints[std::size(checkpoints) - 1]; ++trial_count) {
      const auto trial = searcher.ask();
      const auto result = problem(trial.config, trial.budget);
      searcher.tell(trial.id, result);
      top = maximize ? std::max(top, result.value) : std::min(top, result.value);
      if (trial_count == checkpoints[next]) best[next++].push_back(top);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("| {} | {} | {:.4f} | {:.4f} | {:.4f} | {:.1f} |\n", Problem::name, Searcher<S>::name, median(best[0]),
             median(best[1]), median(best[2]), seconds);
  std::fflush(stdout);
}

struct Branin : mahpo::problems::Branin {
  static constexpr const char* name = "Branin";
};
struct Hartmann6 : mahpo::problems::Hartmann6 {
  static constexpr const char* name = "Hartmann-6";
};
struct LeNetQuadratic : mahpo::problems::LeNetQuadratic {
  static constexpr const char* name = "LeNet quadratic";
};

// MAPPO takes a topology; on the LeNet quadratic (paper_lenet's space) it is Mappo<paper_lenet>.
template <typename S>
struct PaperMappo : mahpo::search::Mappo<mahpo::nn::paper_lenet> {
  using mahpo::search::Mappo<mahpo::nn::paper_lenet>::Mappo;
};

template <typename Problem>
void rows(std::size_t seeds) {
  using namespace mahpo::search;
  row<Random, Problem>(seeds);
  row<Grid, Problem>(seeds);
  row<Anneal, Problem>(seeds);
  row<Tpe, Problem>(seeds);
  row<GpBo, Problem>(seeds);
  row<SuccessiveHalving, Problem>(seeds);
  row<Hyperband, Problem>(seeds);
  row<Bohb, Problem>(seeds);
  row<RegularizedEvolution, Problem>(seeds);
  row<PpoLstm, Problem>(seeds);
  if constexpr (std::is_same_v<typename Problem::space, mahpo::nn::paper_lenet::space>) row<PaperMappo, Problem>(seeds);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t seeds = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 5;
  if (seeds == 0) {
    fmt::print(stderr, "usage: search_quality [seeds >= 1]\n");
    return 1;
  }
  fmt::print("median best value over {} seeds\n\n", seeds);
  fmt::print("| problem | searcher | 50 trials | 100 trials | 200 trials | seconds (all seeds) |\n");
  fmt::print("|---|---|---:|---:|---:|---:|\n");
  rows<Branin>(seeds);
  rows<Hartmann6>(seeds);
  rows<LeNetQuadratic>(seeds);
}
