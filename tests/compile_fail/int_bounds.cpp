// An Int whose lower bound is not below its upper bound does not compile.
// expect-error: mahpo::Int: the lower bound must be below the upper bound
#include <mahpo/space/space.hpp>

#ifdef MAHPO_COMPILE_FAIL
using Broken = mahpo::Space<mahpo::Int<"batch_size", 32, 16>>;
#else
using Broken = mahpo::Space<mahpo::Int<"batch_size", 16, 32>>;
#endif

int main() { return Broken::dimension == 1 ? 0 : 1; }
