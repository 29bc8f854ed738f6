// A categorical that mixes strings and numbers does not compile.
// expect-error: mahpo::Categorical: values must be all strings, all booleans or all numbers
#include <mahpo/space/space.hpp>

#ifdef MAHPO_COMPILE_FAIL
using Broken = mahpo::Space<mahpo::Categorical<"kernel_size", 3, "five">>;
#else
using Broken = mahpo::Space<mahpo::Categorical<"kernel_size", 3, 5>>;
#endif

int main() { return Broken::dimension == 1 ? 0 : 1; }
