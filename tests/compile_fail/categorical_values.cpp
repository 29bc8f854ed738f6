// A categorical with a repeated value does not compile.
// expect-error: mahpo::Categorical: values must be distinct
#include <mahpo/space/space.hpp>

#ifdef MAHPO_COMPILE_FAIL
using Broken = mahpo::Space<mahpo::Categorical<"activation", "relu", "tanh", "relu">>;
#else
using Broken = mahpo::Space<mahpo::Categorical<"activation", "relu", "tanh">>;
#endif

int main() { return Broken::dimension == 1 ? 0 : 1; }
