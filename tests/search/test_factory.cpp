// make_searcher: every name builds its searcher with the settings given; an unknown name is refused.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <variant>

#include <mahpo/nn/lenet.hpp>
#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/factory.hpp>

using namespace mahpo;
using namespace mahpo::search;

TEST_CASE("make_searcher builds every searcher it names, with the seed, goal and budgets given") {
  using S = problems::Branin::space;
  const SearcherSettings settings{.search = {.seed = 5, .goal = Goal::minimize, .budget = {.epochs = 0.5}},
                                  .min_budget = 0.25,
                                  .max_budget = 2.0,
                                  .trials = 40};
  for (const std::string_view name : searcher_names) {
    CAPTURE(name);
    auto chosen = make_searcher<S>(name, settings);
    std::visit(
        [&](auto& searcher) {
          const std::string_view expected = name == "mappo_paper" ? "mappo" : name;
          CHECK(std::decay_t<decltype(searcher)>::name == expected);
          CHECK(searcher.options().seed == 5);
          CHECK(searcher.options().goal == Goal::minimize);
          const auto trial = searcher.ask();
          if (is_multi_fidelity(name)) {
            CHECK(trial.budget.epochs >= 0.25);
            CHECK(trial.budget.epochs <= 2.0);
          } else {
            CHECK(trial.budget.epochs == 0.5);
          }
        },
        chosen);
  }
  // The named options reach the searcher: the paper preset, the rules, the population.
  auto paper = make_searcher<S>("mappo_paper", settings);
  CHECK(std::get<Mappo<S>>(paper).mappo_options().actions == MappoOptions::paper().actions);
  auto evolution = make_searcher<S>("regularized_evolution", settings);
  CHECK(std::get<RegularizedEvolution<S>>(evolution).evolution_options().population ==
        EvolutionOptions::for_budget(40).population);
  CHECK(std::holds_alternative<Tpe<S, tpe::Hyperopt>>(make_searcher<S>("tpe_hyperopt", settings)));
}

TEST_CASE("make_searcher reads a topology's space, MAPPO keeps the topology") {
  auto chosen = make_searcher<nn::paper_lenet>("mappo");
  CHECK(std::holds_alternative<Mappo<nn::paper_lenet>>(chosen));
  CHECK(std::holds_alternative<Tpe<nn::paper_lenet::space>>(make_searcher<nn::paper_lenet>("tpe")));
}

TEST_CASE("make_searcher refuses an unknown name and lists the known ones") {
  using S = problems::Branin::space;
  CHECK_THROWS_AS(make_searcher<S>("tpe2"), std::invalid_argument);
  CHECK_THROWS_WITH(make_searcher<S>("tpe2"),
                    Catch::Contains("'tpe2'") && Catch::Contains("gp_bo, successive_halving"));
}
