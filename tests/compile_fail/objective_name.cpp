// Asking a result for an objective its Objectives do not declare does not compile.
// expect-error: mahpo::Objectives: no objective of that name
#include <mahpo/objectives.hpp>

using Goals = mahpo::Objectives<mahpo::Maximize<"validation_accuracy">, mahpo::Minimize<"parameters">>;

int main() {
  mahpo::Result result;
  result.values = {0.99, 61706.0};
#ifdef MAHPO_COMPILE_FAIL
  return Goals::get<"parameter">(result) > 0.0 ? 0 : 1;
#else
  return Goals::get<"parameters">(result) > 0.0 ? 0 : 1;
#endif
}
