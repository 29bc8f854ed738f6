#pragma once
// mahpo's version, kept equal to the project version in CMakeLists.txt (a test checks it).

#define MAHPO_VERSION_MAJOR 0
#define MAHPO_VERSION_MINOR 1
#define MAHPO_VERSION_PATCH 0

namespace mahpo {
inline constexpr const char* version = "0.1.0";
}  // namespace mahpo
