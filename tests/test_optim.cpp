// The Adam update shared by the CNN trainer (float) and the RL toolkit (double).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <vector>

#include <mahpo/optim/adam.hpp>

using mahpo::optim::AdamStep;

TEST_CASE("optim: the Adam step is Kingma & Ba's bias-corrected update, in double and in float") {
  const double lr = 0.01, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  double w = 0.5, m = 0.0, v = 0.0;       // Algorithm 1, written out
  double w2 = 0.5, m2 = 0.0, v2 = 0.0;    // the shared step, double
  float wf = 0.5f, mf = 0.0f, vf = 0.0f;  // the shared step, float
  const double gradients[] = {0.3, -1.2, 0.05, 2.0, -0.7, 0.0, 1e-3};
  for (std::size_t t = 1; t <= std::size(gradients); ++t) {
    const double g = gradients[t - 1];
    m = beta1 * m + (1 - beta1) * g;
    v = beta2 * v + (1 - beta2) * g * g;
    w -= lr * (m / (1 - std::pow(beta1, t))) / (std::sqrt(v / (1 - std::pow(beta2, t))) + epsilon);
    AdamStep<double>::at(t, lr, beta1, beta2, epsilon)(w2, g, m2, v2);
    AdamStep<float>::at(t, lr, beta1, beta2, epsilon)(wf, static_cast<float>(g), mf, vf);
    CHECK(w2 == w);  // the same expression, the same double
    CHECK(m2 == m);
    CHECK(wf == Approx(w).epsilon(1e-6));
  }
  // The first step moves by lr * sign(g) (up to epsilon), whatever |g|.
  double first = 1.0, fm = 0.0, fv = 0.0;
  AdamStep<double>::at(1, lr, beta1, beta2, epsilon)(first, 123.0, fm, fv);
  CHECK(first == Approx(1.0 - lr).epsilon(1e-9));
}

TEST_CASE("optim: Adam over spans updates every element as the scalar step does") {
  std::vector<float> weights{1.0f, -2.0f, 3.0f}, gradients{0.5f, 0.25f, -1.0f}, first(3), second(3);
  std::vector<float> expected = weights, m(3), v(3);
  const auto step = AdamStep<float>::at(1, 0.1, 0.9, 0.999, 1e-8);
  step(weights, gradients, first, second);
  for (std::size_t i = 0; i < 3; ++i) {
    step(expected[i], gradients[i], m[i], v[i]);
    CHECK(weights[i] == expected[i]);
    CHECK(first[i] == m[i]);
    CHECK(second[i] == v[i]);
  }
}
