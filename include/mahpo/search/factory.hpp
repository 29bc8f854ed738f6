#pragma once
// Searchers by name, for programs that let their user choose one (search_lenet, paper_tables):
//
//   auto searcher = mahpo::search::make_searcher<Space>("tpe", {.search = {.seed = 1}});
//   std::visit([&](auto& chosen) { mahpo::study::run_study(chosen, objective, options); }, searcher);
//
// The names are the searchers' own (`Searcher::name`), plus "mappo_paper" (MAPPO with
// MappoOptions::paper()). T is a space, or a topology (nn::Topology): MAPPO then reads the
// topology's layers (the same agents as its space's groups), the others search its space.

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <mahpo/nn/topology.hpp>
#include <mahpo/search/anneal.hpp>
#include <mahpo/search/fabolas.hpp>
#include <mahpo/search/gp/gp_bo.hpp>
#include <mahpo/search/grid.hpp>
#include <mahpo/search/pbt.hpp>
#include <mahpo/search/hyperband/bohb.hpp>
#include <mahpo/search/hyperband/gp_sampler.hpp>
#include <mahpo/search/hyperband/hyperband.hpp>
#include <mahpo/search/hyperband/successive_halving.hpp>
#include <mahpo/search/nsga2.hpp>
#include <mahpo/search/ppo/mappo.hpp>
#include <mahpo/search/ppo/ppo_lstm.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/regularized_evolution.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/search/tpe/tpe.hpp>

namespace mahpo::search {

struct SearcherSettings {
  SearchOptions search{};         // seed, goal, and the budget of every trial of a single-fidelity searcher
  double min_budget = 1.0 / 9.0;  // multi-fidelity searchers: epochs of the first rung
  double max_budget = 1.0;        // ... and of the last (they ignore search.budget)
  std::size_t trials = 0;         // the study's trial limit if known: sizes regularized evolution (0: its defaults)
  bool resume = true;             // multi-fidelity searchers: a promoted config continues its training
};

inline constexpr std::array<std::string_view, 17> searcher_names{
    "random",    "grid",         "anneal", "tpe",     "tpe_hyperopt",          "gp_bo", "successive_halving",
    "hyperband", "hyperband_gp", "bohb",   "fabolas", "regularized_evolution", "mappo", "mappo_paper",
    "ppo_lstm",  "pbt",          "nsga2"};

// Whether the named searcher chooses each trial's budget (between min_budget and max_budget).
constexpr bool is_multi_fidelity(std::string_view name) {
  return name == "successive_halving" || name == "hyperband" || name == "hyperband_gp" || name == "bohb";
}

// Any searcher make_searcher<T> can build.
template <typename T, typename S = nn::space_of_t<T>>
using AnySearcher = std::variant<Random<S>, Grid<S>, Anneal<S>, Tpe<S>, Tpe<S, tpe::Hyperopt>, GpBo<S>,
                                 SuccessiveHalving<S>, Hyperband<S>, Hyperband<S, hyperband::GpSampler>, Bohb<S>,
                                 Fabolas<S>, RegularizedEvolution<S>, Mappo<T>, PpoLstm<S>, Pbt<S>, Nsga2<S>>;

// What population based training explores by default: for a topology, or the space of one (its names
// qualified by layer), the parameters that leave the weights' shapes alone, its training parameters
// (training.*) and dropout rates (*.dropout_rate), so that a copied state loads; for any other space
// (none of those names), every parameter.
template <typename T>
std::vector<std::string> pbt_explore() {
  std::vector<std::string> names;
  for (const auto name : nn::space_of_t<T>::names) {
    if (name.starts_with("training.") || name.ends_with(".dropout_rate")) names.emplace_back(name);
  }
  return names;
}

// The searcher `name` stands for; std::invalid_argument, listing the names, for another.
template <typename T>
AnySearcher<T> make_searcher(std::string_view name, const SearcherSettings& settings = {}) {
  using S = nn::space_of_t<T>;
  using Any = AnySearcher<T>;
  const SearchOptions& common = settings.search;
  const auto fidelity = [&](auto options) {
    options.min_budget = settings.min_budget;
    options.max_budget = settings.max_budget;
    options.resume = settings.resume;
    return options;
  };
  if (name == "random") return Any(std::in_place_type<Random<S>>, common);
  if (name == "grid") return Any(std::in_place_type<Grid<S>>, common);
  if (name == "anneal") return Any(std::in_place_type<Anneal<S>>, common);
  if (name == "tpe") return Any(std::in_place_type<Tpe<S>>, common);
  if (name == "tpe_hyperopt") return Any(std::in_place_type<Tpe<S, tpe::Hyperopt>>, common);
  if (name == "gp_bo") return Any(std::in_place_type<GpBo<S>>, common);
  if (name == "successive_halving") {
    return Any(std::in_place_type<SuccessiveHalving<S>>, common, fidelity(SuccessiveHalvingOptions{}));
  }
  if (name == "hyperband") return Any(std::in_place_type<Hyperband<S>>, common, fidelity(HyperbandOptions{}));
  if (name == "hyperband_gp") {
    return Any(std::in_place_type<Hyperband<S, hyperband::GpSampler>>, common, fidelity(HyperbandOptions{}));
  }
  if (name == "bohb") return Any(std::in_place_type<Bohb<S>>, common, fidelity(BohbOptions{}));
  if (name == "fabolas") return Any(std::in_place_type<Fabolas<S>>, common);
  if (name == "regularized_evolution") {
    const auto evolution = settings.trials > 0 ? EvolutionOptions::for_budget(settings.trials) : EvolutionOptions{};
    return Any(std::in_place_type<RegularizedEvolution<S>>, common, evolution);
  }
  if (name == "mappo") return Any(std::in_place_type<Mappo<T>>, common);
  if (name == "mappo_paper") return Any(std::in_place_type<Mappo<T>>, common, MappoOptions::paper());
  if (name == "ppo_lstm") return Any(std::in_place_type<PpoLstm<S>>, common);
  if (name == "pbt") {  // each trial one step of search.budget's epochs
    return Any(std::in_place_type<Pbt<S>>, common,
               PbtOptions{.step_epochs = common.budget.epochs, .explore = pbt_explore<T>()});
  }
  if (name == "nsga2") return Any(std::in_place_type<Nsga2<S>>, common);
  std::string known;
  for (const auto known_name : searcher_names) known += fmt::format("{}{}", known.empty() ? "" : ", ", known_name);
  throw std::invalid_argument(fmt::format("mahpo: no searcher is called '{}' (known: {})", name, known));
}

}  // namespace mahpo::search
