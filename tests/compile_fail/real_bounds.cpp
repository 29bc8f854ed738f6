// A Real whose bounds are equal does not compile.
// expect-error: mahpo::Real: the lower bound must be below the upper bound
#include <mahpo/space/space.hpp>

#ifdef MAHPO_COMPILE_FAIL
using Broken = mahpo::Space<mahpo::Real<"dropout_rate", 0.5, 0.5>>;
#else
using Broken = mahpo::Space<mahpo::Real<"dropout_rate", 0.5, 0.9>>;
#endif

int main() { return Broken::dimension == 1 ? 0 : 1; }
