// A searcher other than Mappo takes a space, not a topology: Tpe<paper_lenet> stops with one sentence.
// expect-error: this searcher's first template argument must be a mahpo::Space; for a topology
#include <mahpo/nn/lenet.hpp>
#include <mahpo/search/tpe/tpe.hpp>

using mahpo::nn::paper_lenet;

int main() {
#ifdef MAHPO_COMPILE_FAIL
  mahpo::search::Tpe<paper_lenet> tpe({.seed = 1});
#else
  mahpo::search::Tpe<paper_lenet::space> tpe({.seed = 1});
#endif
  return tpe.options().seed == 1 ? 0 : 1;
}
