// Two parameters with one qualified name do not compile, also when they come from a concatenation.
// expect-error: mahpo::Space: two parameters share a name
#include <mahpo/space/space.hpp>

using Layer = mahpo::Space<mahpo::Int<"kernel_size", 2, 7>>;
#ifdef MAHPO_COMPILE_FAIL
using Network = mahpo::Concat<mahpo::Prefixed<"conv1", Layer>, mahpo::Prefixed<"conv1", Layer>>;
#else
using Network = mahpo::Concat<mahpo::Prefixed<"conv1", Layer>, mahpo::Prefixed<"conv2", Layer>>;
#endif

int main() { return Network::dimension == 2 ? 0 : 1; }
