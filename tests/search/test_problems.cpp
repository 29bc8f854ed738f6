// The synthetic problems: their known optima.
#include <catch2/catch.hpp>

#include <mahpo/problems/synthetic.hpp>

#include <numbers>

using namespace mahpo;

TEST_CASE("Branin's three minimizers give 0.397887") {
  constexpr double pi = std::numbers::pi;
  CHECK(problems::Branin::evaluate(-pi, 12.275) == Approx(problems::Branin::optimum).epsilon(1e-9));
  CHECK(problems::Branin::evaluate(pi, 2.275) == Approx(problems::Branin::optimum).epsilon(1e-9));
  CHECK(problems::Branin::evaluate(9.42478, 2.475) == Approx(problems::Branin::optimum).epsilon(1e-6));
  CHECK(problems::Branin::evaluate(0.0, 0.0) > 10.0);
}

TEST_CASE("Hartmann-6's minimizer gives -3.32237, and is a local minimum") {
  auto x = problems::Hartmann6::minimizer;
  const double at = problems::Hartmann6::evaluate(x);
  CHECK(at == Approx(problems::Hartmann6::optimum).epsilon(1e-6));
  for (std::size_t k = 0; k < 6; ++k) {
    for (double step : {-0.01, 0.01}) {
      auto moved = x;
      moved[k] += step;
      CHECK(problems::Hartmann6::evaluate(moved) > at);
    }
  }
}

TEST_CASE("the LeNet quadratic peaks at its best config with a full budget") {
  const problems::LeNetQuadratic problem;
  const auto best = problems::LeNetQuadratic::best_config();
  CHECK(problem(best, {.epochs = 1.0}).value == Approx(0.99));
  CHECK(problem(best, {.epochs = 0.25}).value < 0.99);
  auto other = best;
  other.set<"training.learning_rate">(0.05);
  CHECK(problem(other, {.epochs = 1.0}).value < 0.99);
  CHECK(problem(other, {.epochs = 0.25}).value < problem(other, {.epochs = 1.0}).value);
}
