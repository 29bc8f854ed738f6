// A log-scale parameter whose lower bound is not above 0 does not compile.
// expect-error: mahpo::Real: a log-scale parameter needs a lower bound above 0
#include <mahpo/space/space.hpp>

#ifdef MAHPO_COMPILE_FAIL
using Broken = mahpo::Space<mahpo::LogReal<"learning_rate", 0.0, 0.1>>;
#else
using Broken = mahpo::Space<mahpo::LogReal<"learning_rate", 1e-4, 0.1>>;
#endif

int main() { return Broken::dimension == 1 ? 0 : 1; }
