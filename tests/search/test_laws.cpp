// Every searcher, on a mixed space (integers, log reals, reals) and a plain real one, obeys the
// laws of tests/search/laws.hpp. A new searcher: add it to the first list.
#include <catch2/catch.hpp>

#include "laws.hpp"

#include <mahpo/problems/synthetic.hpp>
#include <mahpo/search/grid.hpp>
#include <mahpo/search/random.hpp>

using mahpo::problems::Branin;
using mahpo::problems::LeNetQuadratic;
using namespace mahpo::search;

TEMPLATE_PRODUCT_TEST_CASE("searcher laws", "[laws]", (Random, Grid), (LeNetQuadratic::space, Branin::space)) {
  mahpo::testing::check_searcher_laws<TestType>();
}
