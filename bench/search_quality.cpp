// Search quality with statistics: for every searcher and problem, the best value found after 25,
// 50, 100 and 200 trials over many seeds: the median with its quartiles, and the paired win rate
// against random search and against TPE (same seed; a tie counts half). Prints Markdown tables.
//
//   search_quality [seeds=30] [problem...]
//     problems: branin hartmann6 quadratic surrogate-mnist surrogate-fashion (all by default)
//
// Branin and Hartmann-6 are minimized (optima 0.397887 and -3.32237), the LeNet quadratic and the
// LeNet surrogates maximized. Trials are asked and told one at a time. Multi-fidelity searchers
// count each evaluation as a trial, whatever its budget; Branin, Hartmann-6 and the surrogates
// ignore the budget, the LeNet quadratic scores low budgets lower (so there, their best comes from
// full-budget trials).
#include <mahpo/mahpo.hpp>

#include "quality.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace mahpo::search;
using mahpo::bench::Row;
using mahpo::bench::run;

template <typename Problem>
void table(std::string_view title, std::size_t seeds) {
  using S = typename Problem::space;
  std::fprintf(stderr, "%s\n", std::string(title).c_str());
  const auto plain = [](auto type) {
    return [](SearchOptions options) { return typename decltype(type)::type(options); };
  };
  std::vector<Row> rows;
  rows.push_back(run<Problem>("random", seeds, plain(std::type_identity<Random<S>>{})));
  rows.push_back(run<Problem>("tpe", seeds, plain(std::type_identity<Tpe<S>>{})));
  rows.push_back(run<Problem>("anneal", seeds, plain(std::type_identity<Anneal<S>>{})));
  rows.push_back(run<Problem>("gp_bo", seeds, plain(std::type_identity<GpBo<S>>{})));
  rows.push_back(run<Problem>("hyperband", seeds, plain(std::type_identity<Hyperband<S>>{})));
  rows.push_back(run<Problem>("bohb", seeds, plain(std::type_identity<Bohb<S>>{})));
  rows.push_back(run<Problem>("regularized_evolution", seeds, plain(std::type_identity<RegularizedEvolution<S>>{})));
  rows.push_back(run<Problem>("ppo_lstm", seeds, plain(std::type_identity<PpoLstm<S>>{})));
  rows.push_back(run<Problem>("mappo (paper preset)", seeds,
                              [](SearchOptions options) { return Mappo<S>(options, MappoOptions::paper()); }));
  rows.push_back(run<Problem>("mappo", seeds, plain(std::type_identity<Mappo<S>>{})));
  mahpo::bench::print_tables(title, seeds, Problem::goal == mahpo::Goal::maximize, rows, 0, 1);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t seeds = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 30;
  if (seeds == 0) {
    fmt::print(
        stderr,
        "usage: search_quality [seeds >= 1] [branin|hartmann6|quadratic|surrogate-mnist|surrogate-fashion ...]\n");
    return 1;
  }
  const std::vector<std::string_view> wanted(argv + std::min(argc, 2), argv + argc);
  const auto chosen = [&](std::string_view problem) {
    return wanted.empty() || std::find(wanted.begin(), wanted.end(), problem) != wanted.end();
  };
  fmt::print("Best value found, over seeds 0-{}\n", seeds - 1);
  if (chosen("branin")) table<mahpo::problems::Branin>("Branin", seeds);
  if (chosen("hartmann6")) table<mahpo::problems::Hartmann6>("Hartmann-6", seeds);
  if (chosen("quadratic")) table<mahpo::problems::LeNetQuadratic>("LeNet quadratic", seeds);
  using mahpo::problems::LeNetDataset;
  using mahpo::problems::LeNetSurrogate;
  if (chosen("surrogate-mnist")) table<LeNetSurrogate<LeNetDataset::mnist>>("LeNet surrogate, MNIST", seeds);
  if (chosen("surrogate-fashion"))
    table<LeNetSurrogate<LeNetDataset::fashion_mnist>>("LeNet surrogate, Fashion-MNIST", seeds);
}
