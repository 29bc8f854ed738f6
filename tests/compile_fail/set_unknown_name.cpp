// Setting a name the space lacks does not compile.
// expect-error: mahpo::Config::set: this space has no parameter of that name
#include <mahpo/space/space.hpp>

using Training = mahpo::Space<mahpo::Int<"batch_size", 16, 32>>;

int main() {
  Training::config_type config;
#ifdef MAHPO_COMPILE_FAIL
  config.set<"batchsize">(20);
#else
  config.set<"batch_size">(20);
#endif
}
