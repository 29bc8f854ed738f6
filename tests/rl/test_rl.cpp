// mahpo::rl: every gradient against central differences (double precision), the initialization,
// GAE on a hand-computed example, the normalizers, Adam and gradient clipping against their
// formulas, and a 3-armed bandit that PPO must learn.
#include <catch2/catch.hpp>

#include <mahpo/rl/rl.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <random>
#include <stdexcept>
#include <vector>

#include "../seeds.hpp"

using namespace mahpo::rl;

static_assert(Module<Linear> && Module<LayerNorm> && Module<Mlp> && Module<LstmCell> && Module<Lstm>);

namespace {

Matrix random_matrix(std::size_t rows, std::size_t columns, std::mt19937_64& rng, double low = -1.0,
                     double high = 1.0) {
  std::uniform_real_distribution<double> uniform(low, high);
  Matrix m = Matrix::from_shape({rows, columns});
  for (auto& x : m) x = uniform(rng);
  return m;
}

double dot(const Matrix& a, const Matrix& b) {
  REQUIRE(a.shape() == b.shape());
  double sum = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) sum += a.flat(k) * b.flat(k);
  return sum;
}

// d(loss)/d(values) by central differences, each entry perturbed in place and restored.
Matrix numerical_gradient(Matrix& values, const std::function<double()>& loss, double step = 1e-6) {
  Matrix gradient = Matrix::from_shape(values.shape());
  for (std::size_t k = 0; k < values.size(); ++k) {
    const double kept = values.flat(k);
    values.flat(k) = kept + step;
    const double up = loss();
    values.flat(k) = kept - step;
    const double down = loss();
    values.flat(k) = kept;
    gradient.flat(k) = (up - down) / (2.0 * step);
  }
  return gradient;
}

// ||a - b|| / max(||a||, ||b||), the whole gradient at once.
double relative_error(const Matrix& analytic, const Matrix& numeric) {
  REQUIRE(analytic.shape() == numeric.shape());
  double difference = 0.0, a = 0.0, n = 0.0;
  for (std::size_t k = 0; k < analytic.size(); ++k) {
    difference += (analytic.flat(k) - numeric.flat(k)) * (analytic.flat(k) - numeric.flat(k));
    a += analytic.flat(k) * analytic.flat(k);
    n += numeric.flat(k) * numeric.flat(k);
  }
  return std::sqrt(difference) / std::max({std::sqrt(a), std::sqrt(n), 1e-12});
}

void check_close(const Matrix& analytic, Matrix& values, const std::function<double()>& loss, const char* what,
                 double tolerance = 1e-6) {
  const Matrix numeric = numerical_gradient(values, loss);
  const double error = relative_error(analytic, numeric);
  INFO(what << ": relative error " << error);
  CHECK(error < tolerance);
  CHECK(xt::amax(xt::abs(numeric))() > 0.0);  // a gradient that is all zeros checks nothing
}

// The probe loss sum(output * probe): backward(probe) must give every parameter's and the
// input's gradient.
template <typename M>
void check_module(M& module, Matrix input, std::mt19937_64& rng, const char* what) {
  INFO(what);
  const Matrix output = module.forward(input);
  const Matrix probe = random_matrix(output.shape()[0], output.shape()[1], rng);
  module.zero_gradients();
  const Matrix input_gradient = module.backward(probe);
  const auto loss = [&] { return dot(module.predict(input), probe); };
  check_close(input_gradient, input, loss, "input");
  for (Parameter* parameter : module.parameters())
    check_close(parameter->gradient, parameter->value, loss, "parameter");
}

Vector vector_of(std::initializer_list<double> values) {
  Vector v = Vector::from_shape({values.size()});
  std::copy(values.begin(), values.end(), v.begin());
  return v;
}

Matrix row_matrix(std::size_t rows, std::size_t columns, std::initializer_list<double> values) {
  Matrix m = Matrix::from_shape({rows, columns});
  std::copy(values.begin(), values.end(), m.begin());
  return m;
}

}  // namespace

TEST_CASE("rl: matrix products with and without transposes", "[rl]") {
  const Matrix a = row_matrix(2, 3, {1, 2, 3, 4, 5, 6});
  const Matrix b = row_matrix(3, 2, {1, 0, 0, 1, 1, 1});
  const Matrix ab = multiply(a, b);
  CHECK((ab == row_matrix(2, 2, {4, 5, 10, 11})));
  CHECK((multiply(b, Transpose::yes, a, Transpose::yes) == row_matrix(2, 2, {4, 10, 5, 11})));
  Matrix accumulated = ab;
  multiply_into(a, Transpose::no, b, Transpose::no, accumulated, 1.0);
  CHECK((accumulated == row_matrix(2, 2, {8, 10, 20, 22})));
  CHECK_THROWS_AS(multiply(a, a), std::invalid_argument);
  CHECK((column(as_column(vector_of({1, 2, 3}))) == vector_of({1, 2, 3})));
}

TEST_CASE("rl: orthogonal initialization", "[rl][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(1));
  const Matrix wide = orthogonal(4, 7, 2.0, rng);  // rows <= cols: W W^T = gain^2 I
  CHECK(xt::amax(xt::abs(multiply(wide, Transpose::no, wide, Transpose::yes) - 4.0 * xt::eye<double>(4)))() < 1e-12);
  const Matrix tall = orthogonal(6, 3, 0.01, rng);  // rows > cols: W^T W = gain^2 I
  CHECK(xt::amax(xt::abs(multiply(tall, Transpose::yes, tall, Transpose::no) - 1e-4 * xt::eye<double>(3)))() < 1e-15);
  const Matrix square = orthogonal(5, 5, std::sqrt(2.0), rng);
  CHECK(xt::amax(xt::abs(multiply(square, Transpose::yes, square, Transpose::no) - 2.0 * xt::eye<double>(5)))() <
        1e-12);

  std::mt19937_64 same(mahpo::testing::seed(1));
  CHECK((orthogonal(4, 7, 2.0, same) == wide));  // seeded: reproducible

  Mlp mlp({.sizes = {5, 8, 3}, .output_gain = 0.01}, rng);
  const Matrix& hidden = mlp.linears()[0].weight.value;  // 5 x 8: orthonormal rows, gain sqrt 2
  CHECK(xt::amax(xt::abs(multiply(hidden, Transpose::no, hidden, Transpose::yes) - 2.0 * xt::eye<double>(5)))() <
        1e-12);
  const Matrix& output = mlp.linears()[1].weight.value;  // 8 x 3: orthonormal columns, gain 0.01
  CHECK(xt::amax(xt::abs(multiply(output, Transpose::yes, output, Transpose::no) - 1e-4 * xt::eye<double>(3)))() <
        1e-15);
  CHECK(xt::amax(xt::abs(mlp.linears()[1].bias.value))() == 0.0);

  LstmCell cell(3, 4, rng);
  CHECK(cell.bias.value(0, 0) == 0.0);
  CHECK(cell.bias.value(0, 4) == 1.0);  // forget gate
  CHECK(cell.bias.value(0, 7) == 1.0);
  CHECK(cell.bias.value(0, 8) == 0.0);
}

TEST_CASE("rl: Linear and LayerNorm gradients", "[rl][gradient][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(2));
  Linear linear(4, 3, 1.0, rng);
  linear.bias.value = random_matrix(1, 3, rng);
  check_module(linear, random_matrix(5, 4, rng), rng, "Linear");

  LayerNorm norm(6);
  norm.gain.value = random_matrix(1, 6, rng, 0.5, 1.5);
  norm.shift.value = random_matrix(1, 6, rng);
  check_module(norm, random_matrix(3, 6, rng, -2.0, 2.0), rng, "LayerNorm");

  CHECK_THROWS_AS(linear.forward(random_matrix(2, 5, rng)), std::invalid_argument);
}

TEST_CASE("rl: Mlp gradients with tanh, ReLU and LayerNorm", "[rl][gradient][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(3));
  Mlp tanh_mlp({.sizes = {4, 7, 6, 3}, .activation = MlpActivation::tanh}, rng);
  check_module(tanh_mlp, random_matrix(5, 4, rng), rng, "tanh");

  Mlp tanh_norm({.sizes = {4, 7, 6, 3}, .activation = MlpActivation::tanh, .layer_norm = true}, rng);
  for (Parameter* p : tanh_norm.parameters())
    p->value += random_matrix(p->value.shape()[0], p->value.shape()[1], rng, -0.2, 0.2);
  check_module(tanh_norm, random_matrix(5, 4, rng), rng, "tanh + LayerNorm");

  // ReLU has a kink at 0: the step (1e-6) would have to cross it, which random inputs do with
  // probability ~1e-5 per unit; this seed's pre-activations all stay clear of it.
  Mlp relu({.sizes = {4, 8, 8, 2}, .activation = MlpActivation::relu, .layer_norm = true}, rng);
  for (Parameter* p : relu.parameters())
    p->value += random_matrix(p->value.shape()[0], p->value.shape()[1], rng, -0.2, 0.2);
  check_module(relu, random_matrix(6, 4, rng), rng, "ReLU + LayerNorm");

  Mlp linear_only({.sizes = {3, 2}}, rng);  // no hidden layer
  check_module(linear_only, random_matrix(2, 3, rng), rng, "no hidden layer");

  CHECK_THROWS_AS(Mlp({.sizes = {3}}, rng), std::invalid_argument);
  CHECK_THROWS_AS(Mlp({.sizes = {3, 0, 2}}, rng), std::invalid_argument);
}

TEST_CASE("rl: LstmCell gradients for one step", "[rl][gradient][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(4));
  LstmCell cell(3, 4, rng);
  cell.bias.value += random_matrix(1, 16, rng, -0.5, 0.5);
  Matrix input = random_matrix(2, 3, rng);
  LstmState state{random_matrix(2, 4, rng), random_matrix(2, 4, rng)};
  const Matrix probe_hidden = random_matrix(2, 4, rng), probe_cell = random_matrix(2, 4, rng);
  const auto loss = [&] {
    const LstmState after = cell.predict(input, state);
    return dot(after.hidden, probe_hidden) + dot(after.cell, probe_cell);
  };
  const LstmState after = cell.forward(input, state);
  CHECK(dot(after.hidden, probe_hidden) + dot(after.cell, probe_cell) == Approx(loss()).epsilon(1e-14));
  cell.zero_gradients();
  const LstmStepGradient gradient = cell.backward(probe_hidden, probe_cell);
  check_close(gradient.input, input, loss, "input");
  check_close(gradient.before.hidden, state.hidden, loss, "previous hidden");
  check_close(gradient.before.cell, state.cell, loss, "previous cell");
  for (Parameter* p : cell.parameters()) check_close(p->gradient, p->value, loss, "parameter");
}

TEST_CASE("rl: stacked Lstm backpropagation through a 4-step sequence", "[rl][gradient][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(5));
  Lstm lstm({.inputs = 3, .hidden_units = 5, .layers = 3}, rng);
  const std::size_t batch = 2, steps = 4;
  std::vector<Matrix> inputs, probes;
  for (std::size_t t = 0; t < steps; ++t) {
    inputs.push_back(random_matrix(batch, 3, rng));
    probes.push_back(random_matrix(batch, 5, rng));
  }
  probes[1].fill(0.0);  // a step the loss does not look at still passes gradient back
  // The loss through predict_step, so forward and the acting path are checked against each other.
  const auto loss = [&] {
    std::vector<LstmState> state = lstm.initial_state(batch);
    double sum = 0.0;
    for (std::size_t t = 0; t < steps; ++t) sum += dot(lstm.predict_step(inputs[t], state), probes[t]);
    return sum;
  };
  const std::vector<Matrix> outputs = lstm.forward(inputs);
  REQUIRE(outputs.size() == steps);
  double forward_loss = 0.0;
  for (std::size_t t = 0; t < steps; ++t) forward_loss += dot(outputs[t], probes[t]);
  CHECK(forward_loss == Approx(loss()).epsilon(1e-14));
  lstm.zero_gradients();
  const std::vector<Matrix> input_gradients = lstm.backward(probes);
  REQUIRE(input_gradients.size() == steps);
  for (std::size_t t = 0; t < steps; ++t) check_close(input_gradients[t], inputs[t], loss, "input step");
  REQUIRE(lstm.parameters().size() == 9);
  for (Parameter* p : lstm.parameters()) check_close(p->gradient, p->value, loss, "parameter");
  CHECK_THROWS_AS(lstm.backward({probes[0]}), std::invalid_argument);
}

TEST_CASE("rl: CategoricalHead log-probabilities, entropy and their gradients", "[rl][gradient][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(6));
  const CategoricalHead head({3, 2, 4});
  REQUIRE(head.logit_count() == 9);
  REQUIRE(head.dimensions() == 3);
  Matrix logits = random_matrix(4, 9, rng, -2.0, 2.0);
  Actions actions = Actions::from_shape({4, 3});
  for (std::size_t b = 0; b < 4; ++b)
    for (std::size_t d = 0; d < 3; ++d) actions(b, d) = (b + d) % head.sizes()[d];
  const Matrix weights = random_matrix(4, 3, rng);

  // Each dimension's probabilities sum to one, and log-probabilities and entropy agree with them.
  const Matrix p = head.probabilities(logits);
  const Matrix log_p = head.log_probabilities(logits, actions);
  const Matrix h = head.entropy(logits);
  for (std::size_t b = 0; b < 4; ++b)
    for (std::size_t d = 0; d < 3; ++d) {
      double sum = 0.0, entropy = 0.0;
      for (std::size_t k = 0; k < head.sizes()[d]; ++k) {
        const double q = p(b, head.offset(d) + k);
        sum += q;
        entropy -= q * std::log(q);
      }
      CHECK(sum == Approx(1.0).epsilon(1e-14));
      CHECK(h(b, d) == Approx(entropy).epsilon(1e-12));
      CHECK(log_p(b, d) == Approx(std::log(p(b, head.offset(d) + actions(b, d)))).epsilon(1e-12));
    }

  check_close(
      head.log_probability_gradient(logits, actions, weights), logits,
      [&] { return dot(head.log_probabilities(logits, actions), weights); }, "log-probability");
  check_close(
      head.entropy_gradient(logits, weights), logits, [&] { return dot(head.entropy(logits), weights); }, "entropy");

  const Matrix other = random_matrix(4, 9, rng);
  CHECK(xt::amin(head.kl_divergence(logits, other))() > 0.0);
  CHECK(xt::amax(xt::abs(head.kl_divergence(logits, logits)))() < 1e-15);

  Actions bad = actions;
  bad(0, 1) = 2;  // dimension 1 has two choices
  CHECK_THROWS_AS(head.log_probabilities(logits, bad), std::invalid_argument);
  CHECK_THROWS_AS(head.entropy(random_matrix(4, 8, rng)), std::invalid_argument);
}

TEST_CASE("rl: CategoricalHead samples follow the probabilities and the seed", "[rl][seeded]") {
  const CategoricalHead head({3, 2});
  const Matrix logits = row_matrix(1, 5, {0.0, std::log(2.0), std::log(5.0), 2.0, -1.0});
  std::mt19937_64 rng(mahpo::testing::seed(7));
  std::vector<double> counts(5, 0.0);
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    const Actions a = head.sample(logits, rng);
    counts[a(0, 0)] += 1.0;
    counts[3 + a(0, 1)] += 1.0;
  }
  const Matrix p = head.probabilities(logits);
  for (std::size_t j = 0; j < 5; ++j) CHECK(counts[j] / draws == Approx(p(0, j)).margin(0.015));
  CHECK(head.mode(logits)(0, 0) == 2);
  CHECK(head.mode(logits)(0, 1) == 0);

  std::mt19937_64 first(mahpo::testing::seed(11)), second(mahpo::testing::seed(11));
  const Matrix batch = random_matrix(8, 5, first);
  std::mt19937_64 a(mahpo::testing::seed(3)), b(mahpo::testing::seed(3));
  CHECK((head.sample(batch, a) == head.sample(batch, b)));
}

TEST_CASE("rl: SquashedGaussianHead log-probability and gradients", "[rl][gradient][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(8));
  const SquashedGaussianHead head;
  Matrix mean = random_matrix(3, 2, rng);
  Matrix log_std = random_matrix(3, 2, rng, -1.0, 0.5);
  const SquashedSample sample = head.sample(mean, log_std, rng);
  CHECK(xt::amax(xt::abs(sample.action))() < 1.0);
  CHECK(xt::amax(xt::abs(SquashedGaussianHead::pre_squash(sample.action) - sample.pre_squash))() < 1e-9);
  const Matrix weights = random_matrix(3, 2, rng);
  const GaussianGradient gradient = head.log_probability_gradient(mean, log_std, sample.pre_squash, weights);
  const auto loss = [&] { return dot(head.log_probabilities(mean, log_std, sample.pre_squash), weights); };
  check_close(gradient.mean, mean, loss, "mean");
  check_close(gradient.log_std, log_std, loss, "log_std");
  check_close(
      head.entropy_gradient(weights), log_std, [&] { return dot(head.entropy(log_std), weights); }, "entropy");

  // The density of the squashed action integrates to one over (-1, 1): the tanh correction is right.
  const SquashedGaussianHead exact(0.0);
  const Matrix m = row_matrix(1, 1, {0.3}), s = row_matrix(1, 1, {std::log(0.5)});
  const int cells = 20000;
  double integral = 0.0;
  for (int i = 0; i < cells; ++i) {
    const double a = -1.0 + (i + 0.5) * 2.0 / cells;
    const Matrix u = SquashedGaussianHead::pre_squash(row_matrix(1, 1, {a}));
    integral += std::exp(exact.log_probabilities(m, s, u)(0, 0)) * 2.0 / cells;
  }
  CHECK(integral == Approx(1.0).margin(1e-4));

  // Gaussian KL: zero for the same distribution, the closed form for a shifted one.
  CHECK(head.kl_divergence(m, s, m, s)(0, 0) == Approx(0.0).margin(1e-15));
  CHECK(head.kl_divergence(m, s, row_matrix(1, 1, {0.8}), s)(0, 0) == Approx(0.5 * 0.25 / 0.25).epsilon(1e-12));
}

TEST_CASE("rl: GaussianHead (tanh-squashed mean) log-probability, gradients and actor loss", "[rl][gradient][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(12));
  const GaussianHead head(2);
  Matrix output = random_matrix(4, 2, rng, -1.5, 1.5);
  Matrix log_std = random_matrix(1, 2, rng, -1.5, -0.2);
  const Matrix action = head.sample(output, log_std, rng);
  const Matrix weights = random_matrix(4, 2, rng);
  const GaussianHeadGradient gradient = head.log_probability_gradient(output, log_std, action, weights);
  const auto loss = [&] { return dot(head.log_probabilities(output, log_std, action), weights); };
  check_close(gradient.output, output, loss, "output");
  check_close(gradient.log_std, log_std, loss, "log_std (one row for the batch)");

  // The mean is tanh(output); the density integrates to one over the real line.
  CHECK(head.mode(row_matrix(1, 2, {0.4, -2.0}))(0, 1) == Approx(std::tanh(-2.0)));
  const Matrix o = row_matrix(1, 1, {0.7}), s = row_matrix(1, 1, {std::log(0.3)});
  const GaussianHead one(1);
  double integral = 0.0;
  for (int i = 0; i < 20000; ++i) {
    const double a = -3.0 + (i + 0.5) * 6.0 / 20000;
    integral += std::exp(one.log_probabilities(o, s, row_matrix(1, 1, {a}))(0, 0)) * 6.0 / 20000;
  }
  CHECK(integral == Approx(1.0).margin(1e-6));
  // Samples: mean tanh(0.7), std 0.3.
  double sum = 0.0, square = 0.0;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    const double a = one.sample(o, s, rng)(0, 0);
    sum += a;
    square += a * a;
  }
  const double mean = sum / draws;
  CHECK(mean == Approx(std::tanh(0.7)).margin(0.01));
  CHECK(std::sqrt(square / draws - mean * mean) == Approx(0.3).margin(0.01));

  // The PPO actor loss through it, the entropy bonus included.
  const Vector advantages = vector_of({0.5, -1.0, 2.0, -0.3});
  Matrix old_log_probabilities = head.log_probabilities(output, log_std, action);
  old_log_probabilities += random_matrix(4, 2, rng, -0.3, 0.3);
  const ActorLossOptions options{.entropy_coefficient = 0.05};
  const MeanSquashedActorLoss actor =
      gaussian_actor_loss(head, output, log_std, action, old_log_probabilities, advantages, options);
  const auto total = [&] {
    return gaussian_actor_loss(head, output, log_std, action, old_log_probabilities, advantages, options).total;
  };
  check_close(actor.output_gradient, output, total, "actor loss: output");
  check_close(actor.log_std_gradient, log_std, total, "actor loss: log_std");
}

TEST_CASE("rl: PPO clipped surrogate gradient inside and outside the clip region", "[rl][gradient]") {
  // Ratios 0.7, 0.7, 1.1, 1.5, 1.5, 0.95 against advantages +, -, +, +, -, -; clip 0.2.
  const Matrix old_log = row_matrix(6, 1, {-1.0, -0.5, -2.0, -1.2, -0.3, -0.9});
  Matrix new_log = old_log;
  const double ratios[] = {0.7, 0.7, 1.1, 1.5, 1.5, 0.95};
  for (std::size_t b = 0; b < 6; ++b) new_log(b, 0) += std::log(ratios[b]);
  const Vector advantages = vector_of({1.0, -2.0, 0.5, 1.5, -1.0, -0.3});
  const PolicyLoss loss = ppo_policy_loss(new_log, old_log, advantages, 0.2);

  // By hand: min(r A, clip(r) A) per sample.
  const double expected = -(0.7 * 1.0 + 0.8 * -2.0 + 1.1 * 0.5 + 1.2 * 1.5 + 1.5 * -1.0 + 0.95 * -0.3) / 6.0;
  CHECK(loss.loss == Approx(expected).epsilon(1e-12));
  CHECK(loss.clip_fraction == Approx(4.0 / 6.0));
  CHECK(loss.gradient(0, 0) != 0.0);  // r < 1 - eps, A > 0: the unclipped term is the minimum
  CHECK(loss.gradient(1, 0) == 0.0);  // r < 1 - eps, A < 0: clipped
  CHECK(loss.gradient(2, 0) != 0.0);  // inside
  CHECK(loss.gradient(3, 0) == 0.0);  // r > 1 + eps, A > 0: clipped
  CHECK(loss.gradient(4, 0) != 0.0);  // r > 1 + eps, A < 0: unclipped
  check_close(
      loss.gradient, new_log, [&] { return ppo_policy_loss(new_log, old_log, advantages, 0.2).loss; }, "surrogate");
  CHECK(loss.approx_kl > 0.0);
  CHECK(ppo_policy_loss(old_log, old_log, advantages).approx_kl == 0.0);
}

TEST_CASE("rl: value loss gradient, Huber both regimes, clipped and not", "[rl][gradient]") {
  // errors R - v: small and large (> delta 10); steps v - v_old inside and outside the clip 0.2.
  const Vector old_values = vector_of({0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 2.0});
  Vector values = vector_of({0.1, -0.1, 1.5, 0.5, 0.15, -0.6, 2.5});
  const Vector returns = vector_of({0.5, -12.0, 3.0, 3.0, 14.0, -13.0, 2.0});
  const ValueLossOptions options;  // clip 0.2, Huber delta 10
  const ValueLoss loss = ppo_value_loss(values, old_values, returns, options);
  // Sample 2: v moved 0.5 towards R = 3 beyond the clip; the clipped error 1.8 is the larger loss: held.
  CHECK(loss.gradient(2) == 0.0);
  // Sample 3: v moved away from R; the unclipped loss is the larger: it has the gradient.
  CHECK(loss.gradient(3) == Approx(-2.5 / 7.0));
  // Sample 1: Huber's linear regime, R - v = -11.9: gradient delta / B.
  CHECK(loss.gradient(1) == Approx(10.0 / 7.0));
  // Sample 4: linear regime, inside the clip: gradient -delta / B.
  CHECK(loss.gradient(4) == Approx(-10.0 / 7.0));
  // Sample 5: linear regime, v moved 0.6 towards R = -13, past the clip: the clipped loss is larger, held.
  CHECK(loss.gradient(5) == 0.0);
  CHECK(loss.gradient(6) == Approx(0.5 / 7.0));

  Matrix column_values = as_column(values);
  const auto loss_of = [&](const ValueLossOptions& o) {
    return [&column_values, &old_values, &returns, o] {
      return ppo_value_loss(column(column_values), old_values, returns, o).loss;
    };
  };
  check_close(as_column(loss.gradient), column_values, loss_of(options), "clipped Huber");
  ValueLossOptions unclipped = options;
  unclipped.clip_values = false;
  check_close(as_column(ppo_value_loss(values, old_values, returns, unclipped).gradient), column_values,
              loss_of(unclipped), "unclipped Huber");
  ValueLossOptions squared = options;
  squared.huber = false;
  check_close(as_column(ppo_value_loss(values, old_values, returns, squared).gradient), column_values, loss_of(squared),
              "clipped squared error");

  CHECK(huber_loss(3.0, 10.0) == 4.5);
  CHECK(huber_loss(-12.0, 10.0) == 70.0);
  CHECK(ppo_value_loss(values, old_values, returns, unclipped).loss ==
        Approx((0.5 * 0.16 + 10 * (11.9 - 5) + 0.5 * 1.5 * 1.5 + 0.5 * 2.5 * 2.5 + 10 * (13.85 - 5) + 10 * (12.4 - 5) +
                0.5 * 0.25) /
               7.0));
}

TEST_CASE("rl: actor losses combine the surrogate and the entropy bonus", "[rl][gradient][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(9));
  const CategoricalHead head({3, 4});
  Matrix logits = random_matrix(5, 7, rng, -1.5, 1.5);
  const Actions actions = head.sample(logits, rng);
  Matrix old_log = head.log_probabilities(logits, actions);
  Matrix shift = random_matrix(5, 2, rng, -0.4, 0.4);  // ratios on both sides of the clip region's edges
  for (std::size_t j = 0; j < 2; ++j) {
    shift(0, j) = -1.0;  // at least one ratio outside [0.8, 1.2], per dimension and jointly
    shift(4, j) = 0.0;   // and at least one inside
  }
  old_log += shift;
  const Vector advantages = vector_of({1.0, -0.5, 0.3, -1.2, 0.8});
  for (const Ratio ratio : {Ratio::per_dimension, Ratio::joint}) {
    const ActorLossOptions options{.clip = 0.2, .entropy_coefficient = 0.05, .ratio = ratio};
    const CategoricalActorLoss loss = categorical_actor_loss(head, logits, actions, old_log, advantages, options);
    CHECK(loss.total == Approx(loss.policy - 0.05 * loss.entropy));
    CHECK(loss.clip_fraction > 0.0);
    CHECK(loss.clip_fraction < 1.0);
    check_close(
        loss.logits_gradient, logits,
        [&] { return categorical_actor_loss(head, logits, actions, old_log, advantages, options).total; },
        ratio == Ratio::joint ? "categorical, joint ratio" : "categorical, per-dimension ratios");
  }

  const SquashedGaussianHead gaussian;
  Matrix mean = random_matrix(5, 2, rng), log_std = random_matrix(5, 2, rng, -1.0, 0.0);
  const SquashedSample sample = gaussian.sample(mean, log_std, rng);
  Matrix old_gaussian = gaussian.log_probabilities(mean, log_std, sample.pre_squash);
  old_gaussian += random_matrix(5, 2, rng, -0.4, 0.4);
  const ActorLossOptions options{.entropy_coefficient = 0.02};
  const GaussianActorLoss loss =
      squashed_gaussian_actor_loss(gaussian, mean, log_std, sample.pre_squash, old_gaussian, advantages, options);
  const auto total = [&] {
    return squashed_gaussian_actor_loss(gaussian, mean, log_std, sample.pre_squash, old_gaussian, advantages, options)
        .total;
  };
  check_close(loss.mean_gradient, mean, total, "gaussian mean");
  check_close(loss.log_std_gradient, log_std, total, "gaussian log_std");
}

TEST_CASE("rl: GAE on a hand-computed example", "[rl]") {
  // gamma 0.9, lambda 0.8, one episode of 3 steps ending at the last:
  // delta = (0.86, -0.13, 1.7); A_2 = 1.7, A_1 = -0.13 + 0.72 * 1.7, A_0 = 0.86 + 0.72 * A_1.
  const AdvantagesAndReturns r = gae(vector_of({1.0, 0.0, 2.0}), vector_of({0.5, 0.4, 0.3}), vector_of({0.4, 0.3, 0.9}),
                                     vector_of({0.0, 0.0, 1.0}), 0.9, 0.8);
  CHECK(r.advantages(2) == Approx(1.7).epsilon(1e-14));
  CHECK(r.advantages(1) == Approx(1.094).epsilon(1e-14));
  CHECK(r.advantages(0) == Approx(1.64768).epsilon(1e-14));
  CHECK(r.returns(0) == Approx(2.14768).epsilon(1e-14));
  CHECK(r.returns(1) == Approx(1.494).epsilon(1e-14));
  CHECK(r.returns(2) == Approx(2.0).epsilon(1e-14));

  // Two episodes in one buffer: the first's end cuts the recursion; the second is truncated and
  // bootstraps from its next value.
  const AdvantagesAndReturns two =
      gae(vector_of({1.0, 1.0}), vector_of({0.0, 0.0}), vector_of({5.0, 2.0}), vector_of({1.0, 0.0}), 1.0, 1.0);
  CHECK(two.advantages(0) == 1.0);
  CHECK(two.advantages(1) == 3.0);
  CHECK_THROWS_AS(gae(vector_of({1.0}), vector_of({0.0, 0.0}), vector_of({0.0}), vector_of({1.0}), 0.9, 0.9),
                  std::invalid_argument);

  const Vector normalized = normalize_advantages(vector_of({1.0, 2.0, 3.0, 10.0}));
  double mean = 0.0, square = 0.0;
  for (double a : normalized) {
    mean += a / 4.0;
    square += a * a / 4.0;
  }
  CHECK(mean == Approx(0.0).margin(1e-12));
  CHECK(square == Approx(1.0).epsilon(1e-4));
}

TEST_CASE("rl: RunningMeanStd matches the batch mean and variance", "[rl][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(10));
  std::normal_distribution<double> normal(3.0, 2.0);
  RunningMeanStd running;
  CHECK(running.normalize(vector_of({1.5}))(0) == Approx(1.5));  // identity before any data
  std::vector<double> all;
  for (std::size_t size : {5u, 1u, 17u, 40u}) {
    Vector batch = Vector::from_shape({size});
    for (double& x : batch) {
      x = normal(rng);
      all.push_back(x);
    }
    running.update(batch);
  }
  double mean = 0.0;
  for (double x : all) mean += x / static_cast<double>(all.size());
  double variance = 0.0;
  for (double x : all) variance += (x - mean) * (x - mean) / static_cast<double>(all.size());
  CHECK(running.count() == 63.0);
  CHECK(running.mean() == Approx(mean).epsilon(1e-12));
  CHECK(running.variance() == Approx(variance).epsilon(1e-12));
  const Vector x = vector_of({-1.0, 0.0, 4.0});
  CHECK(xt::amax(xt::abs(running.denormalize(running.normalize(x)) - x))() < 1e-12);
  CHECK(running.normalize(vector_of({mean}))(0) == Approx(0.0).margin(1e-12));
}

TEST_CASE("rl: ValueNormalizer, the MAPPO debiased moving average", "[rl][seeded]") {
  std::mt19937_64 rng(mahpo::testing::seed(12));
  std::normal_distribution<double> normal(0.7, 0.5);
  ValueNormalizer normalizer;
  RunningMeanStd exact;
  for (int update = 0; update < 20; ++update) {
    Vector batch = Vector::from_shape({8});
    for (double& x : batch) x = normal(rng);
    normalizer.update(batch);
    exact.update(batch);
  }
  // Equal batches and beta = 0.99999: the pooled mean and variance, to about 1e-4.
  CHECK(normalizer.mean() == Approx(exact.mean()).epsilon(1e-3));
  CHECK(normalizer.variance() == Approx(exact.variance()).epsilon(1e-3));
  const Vector x = vector_of({-1.0, 0.5, 2.0});
  CHECK(xt::amax(xt::abs(normalizer.denormalize(normalizer.normalize(x)) - x))() < 1e-12);

  ValueNormalizer narrow;
  narrow.update(vector_of({0.90, 0.91, 0.92}));
  CHECK(narrow.mean() == Approx(0.91).epsilon(1e-9));
  CHECK(narrow.variance() == 1e-2);  // floored
  CHECK(ValueNormalizer().variance() == 1e-2);
}

TEST_CASE("rl: Adam steps match the formula", "[rl]") {
  // f(w) = sum a w^2 / 2, g = a w.
  const Matrix start = row_matrix(1, 3, {1.0, -2.0, 0.5}), a = row_matrix(1, 3, {1.0, 3.0, 0.1});
  Parameter w(start);
  Adam adam({.learning_rate = 0.1});
  const ParameterList list{&w};
  Matrix m = xt::zeros<double>({1, 3}), v = xt::zeros<double>({1, 3}), expected = start;
  for (int t = 1; t <= 3; ++t) {
    w.gradient = a * w.value;
    const Matrix g = a * expected;
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    expected -= 0.1 * (m / (1.0 - std::pow(0.9, t))) / (xt::sqrt(v / (1.0 - std::pow(0.999, t))) + 1e-5);
    adam.step(list);
    if (t == 1)  // the first step moves every weight by lr * g / (|g| + eps)
      for (std::size_t j = 0; j < 3; ++j) {
        const double g0 = a(0, j) * start(0, j);
        CHECK(w.value(0, j) == Approx(start(0, j) - 0.1 * g0 / (std::abs(g0) + 1e-5)).epsilon(1e-14));
      }
    CHECK(xt::amax(xt::abs(w.value - expected))() < 1e-14);
  }
  CHECK(adam.steps() == 3);
  Parameter other(xt::zeros<double>({2, 2}));
  CHECK_THROWS_AS(adam.step({&other}), std::invalid_argument);
  CHECK_THROWS_AS(Adam({.learning_rate = -1.0}), std::invalid_argument);
}

TEST_CASE("rl: clip_gradient_norm scales to max_norm", "[rl]") {
  Parameter a(xt::zeros<double>({1, 2})), b(xt::zeros<double>({2, 1}));
  a.gradient = row_matrix(1, 2, {3.0, 0.0});
  b.gradient = row_matrix(2, 1, {0.0, 4.0});
  const ParameterList list{&a, &b};
  CHECK(clip_gradient_norm(list, 10.0) == Approx(5.0));
  CHECK(a.gradient(0, 0) == 3.0);  // under the limit: untouched
  CHECK(clip_gradient_norm(list, 1.0) == Approx(5.0));
  CHECK(gradient_norm(list) == Approx(1.0).epsilon(1e-6));
  CHECK(a.gradient(0, 0) / b.gradient(1, 0) == Approx(0.75));  // direction kept
  zero_gradients(list);
  CHECK(gradient_norm(list) == 0.0);
}

TEST_CASE("rl: PPO learns the best arm of a 3-armed bandit", "[rl][integration][seeded]") {
  // One state, arms paying 0.2, 0.5, 0.8 plus noise. Actor and critic MLPs, GAE (one-step
  // episodes), value normalization, clipped value loss, entropy bonus, gradient clipping, Adam.
  std::mt19937_64 rng(mahpo::testing::seed(2024));
  Mlp actor({.sizes = {1, 16, 3}, .activation = MlpActivation::tanh, .output_gain = 0.01}, rng);
  Mlp critic({.sizes = {1, 16, 1}, .activation = MlpActivation::tanh}, rng);
  const CategoricalHead head({3});
  Adam actor_optimizer({.learning_rate = 5e-3}), critic_optimizer({.learning_rate = 5e-3});
  ValueNormalizer value_normalizer;
  const double payoff[] = {0.2, 0.5, 0.8};
  std::normal_distribution<double> noise(0.0, 0.1);
  const std::size_t batch = 16;
  const Matrix state = xt::ones<double>({batch, std::size_t{1}});
  const Vector dones = xt::ones<double>({batch});

  const double initial_best = head.probabilities(actor.predict(state))(0, 2);
  CHECK(initial_best == Approx(1.0 / 3.0).margin(0.05));
  for (int iteration = 0; iteration < 40; ++iteration) {
    const Matrix logits = actor.predict(state);
    const Actions actions = head.sample(logits, rng);
    const Matrix old_log = head.log_probabilities(logits, actions);
    const Vector old_values = column(critic.predict(state));
    Vector rewards = Vector::from_shape({batch});
    for (std::size_t b = 0; b < batch; ++b) rewards(b) = payoff[actions(b, 0)] + noise(rng);
    const Vector values = value_normalizer.denormalize(old_values);
    const AdvantagesAndReturns targets = gae(rewards, values, xt::zeros<double>({batch}), dones, 0.99, 0.95);
    const Vector advantages = normalize_advantages(targets.advantages);
    for (int epoch = 0; epoch < 5; ++epoch) {
      actor.zero_gradients();
      const CategoricalActorLoss actor_loss =
          categorical_actor_loss(head, actor.forward(state), actions, old_log, advantages);
      actor.backward(actor_loss.logits_gradient);
      clip_gradient_norm(actor.parameters(), 10.0);
      actor_optimizer.step(actor.parameters());

      critic.zero_gradients();
      value_normalizer.update(targets.returns);
      const ValueLoss value_loss =
          ppo_value_loss(column(critic.forward(state)), old_values, value_normalizer.normalize(targets.returns));
      critic.backward(as_column(value_loss.gradient));
      clip_gradient_norm(critic.parameters(), 10.0);
      critic_optimizer.step(critic.parameters());
    }
  }
  const double best = head.probabilities(actor.predict(state))(0, 2);
  INFO("probability of the best arm after 200 updates: " << best);
  CHECK(best > 0.9);
  const double value = value_normalizer.denormalize(column(critic.predict(state)))(0);
  INFO("critic's value: " << value);
  CHECK(value == Approx(0.8).margin(0.15));
}
