// Asking a config for a name its space lacks does not compile.
// expect-error: mahpo::Config::get: this space has no parameter of that name
#include <mahpo/space/space.hpp>

using Training = mahpo::Space<mahpo::Int<"batch_size", 16, 32>>;

int main() {
  Training::config_type config;
#ifdef MAHPO_COMPILE_FAIL
  return static_cast<int>(config.get<"batch">());
#else
  return static_cast<int>(config.get<"batch_size">()) == 24 ? 0 : 1;
#endif
}
