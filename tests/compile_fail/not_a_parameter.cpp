// A space of something that is not a parameter does not compile.
// expect-error: mahpo::Space: every argument must be a parameter
#include <mahpo/space/space.hpp>

#ifdef MAHPO_COMPILE_FAIL
using Broken = mahpo::Space<mahpo::Int<"batch_size", 16, 32>, int>;
#else
using Broken = mahpo::Space<mahpo::Int<"batch_size", 16, 32> >;
#endif

int main() { return Broken::size == 1 ? 0 : 1; }
