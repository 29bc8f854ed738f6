#include <catch2/catch.hpp>

#include <mahpo/space/fixed_string.hpp>

#include <string_view>

using mahpo::FixedString;

TEST_CASE("FixedString holds its text and compares by content") {
  constexpr FixedString name("kernel_size");
  STATIC_REQUIRE(name.length == 11);
  STATIC_REQUIRE(name.view() == std::string_view("kernel_size"));
  STATIC_REQUIRE(name == FixedString("kernel_size"));
  STATIC_REQUIRE(!(name == FixedString("kernel")));
}

TEST_CASE("join concatenates at compile time") {
  constexpr auto qualified = mahpo::join<"conv1", ".", "kernel_size">();
  STATIC_REQUIRE(qualified.view() == std::string_view("conv1.kernel_size"));
  STATIC_REQUIRE(qualified.length == 17);
  STATIC_REQUIRE(mahpo::join<>().length == 0);
}
