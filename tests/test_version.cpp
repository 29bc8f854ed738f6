#include <catch2/catch.hpp>

#include <mahpo/version.hpp>

#include <string>

TEST_CASE("the header's version is the project's version") {
  CHECK(std::string(mahpo::version) == MAHPO_PROJECT_VERSION);
  CHECK(std::to_string(MAHPO_VERSION_MAJOR) + "." + std::to_string(MAHPO_VERSION_MINOR) + "." +
            std::to_string(MAHPO_VERSION_PATCH) ==
        MAHPO_PROJECT_VERSION);
}
