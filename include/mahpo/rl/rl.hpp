#pragma once
// mahpo::rl: the small reinforcement-learning toolkit the MAPPO and PPO-LSTM searchers are built
// on, in double precision on xtensor. One thing per header:
//   tensor.hpp                  Matrix (batch x features), Vector, Actions; BLAS products
//   module.hpp                  Parameter (value + gradient), ParameterList, the Module concept
//   initialization.hpp          orthogonal(rows, cols, gain, rng)
//   linear.hpp, layer_norm.hpp  the layers
//   mlp.hpp                     Mlp: ReLU/tanh, optional LayerNorm, orthogonal init
//   lstm_cell.hpp, lstm.hpp     one LSTM step; a stacked LSTM over sequences with BPTT
//   categorical_head.hpp        multi-dimensional categorical head (one dimension per hyperparameter)
//   squashed_gaussian_head.hpp  tanh-squashed Gaussian head
//   ppo.hpp                     clipped surrogate, clipped Huber value loss, their gradients
//   actor_loss.hpp              surrogate - entropy bonus, through a head to its inputs
//   advantages.hpp              GAE and advantage normalization
//   running_mean_std.hpp        exact running mean/variance
//   value_normalizer.hpp        MAPPO's debiased-EMA value normalization
//   adam.hpp                    Adam over a ParameterList
//   gradient_clipping.hpp       global gradient-norm clipping

#include <mahpo/rl/actor_loss.hpp>
#include <mahpo/rl/adam.hpp>
#include <mahpo/rl/advantages.hpp>
#include <mahpo/rl/categorical_head.hpp>
#include <mahpo/rl/gaussian_head.hpp>
#include <mahpo/rl/gradient_clipping.hpp>
#include <mahpo/rl/initialization.hpp>
#include <mahpo/rl/layer_norm.hpp>
#include <mahpo/rl/linear.hpp>
#include <mahpo/rl/lstm.hpp>
#include <mahpo/rl/lstm_cell.hpp>
#include <mahpo/rl/mlp.hpp>
#include <mahpo/rl/module.hpp>
#include <mahpo/rl/ppo.hpp>
#include <mahpo/rl/running_mean_std.hpp>
#include <mahpo/rl/squashed_gaussian_head.hpp>
#include <mahpo/rl/tensor.hpp>
#include <mahpo/rl/value_normalizer.hpp>
