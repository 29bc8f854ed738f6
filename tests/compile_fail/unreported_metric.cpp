// Declaring an objective on a metric that the objective does not report (its metric_names) does not compile.
// expect-error: mahpo::with_objectives: the objective reports no metric of a name that Objectives declares
#include <array>
#include <string_view>

#include <mahpo/objectives.hpp>
#include <mahpo/space/space.hpp>

using Space = mahpo::Space<mahpo::Real<"x", 0.0, 1.0>>;

struct Trainer {
  static constexpr std::array<std::string_view, 2> metric_names{"validation_accuracy", "parameters"};
  mahpo::Result operator()(const mahpo::Config<Space>&, const mahpo::Budget&) const { return {}; }
};

#ifdef MAHPO_COMPILE_FAIL
using Goals = mahpo::Objectives<mahpo::Maximize<"validation_accuracy">, mahpo::Minimize<"paramters">>;
#else
using Goals = mahpo::Objectives<mahpo::Maximize<"validation_accuracy">, mahpo::Minimize<"parameters">>;
#endif

int main() {
  const auto objective = mahpo::with_objectives<Goals>(Trainer{});
  return objective(mahpo::Config<Space>{}, mahpo::Budget{}).values.empty() ? 1 : 0;
}
