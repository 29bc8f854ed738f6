// Each public header was compiled on its own into this program (see tests/CMakeLists.txt); running
// it checks that CMake found as many headers as it was told.
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 2 || std::atoi(argv[1]) < 1) {
    std::fprintf(stderr, "usage: header_self_containment HEADER_COUNT (at least 1)\n");
    return 1;
  }
  std::printf("%s public headers compiled on their own\n", argv[1]);
  return 0;
}
