#pragma once
// mahpo: typed hyperparameter optimization of convolutional networks. The umbrella header
// (host code only: the CUDA backend lives under cuda/mahpo/cuda/ and is never included here).

#include <mahpo/version.hpp>

#include <mahpo/blas_check.hpp>
#include <mahpo/files.hpp>

#include <mahpo/space/config.hpp>
#include <mahpo/space/discretization.hpp>
#include <mahpo/space/error.hpp>
#include <mahpo/space/fixed_string.hpp>
#include <mahpo/space/parameters.hpp>
#include <mahpo/space/space.hpp>

#include <mahpo/data/dataset.hpp>
#include <mahpo/data/error.hpp>
#include <mahpo/data/idx.hpp>

#include <mahpo/objective.hpp>
#include <mahpo/objectives.hpp>

#include <mahpo/nn/layer_types.hpp>
#include <mahpo/nn/lenet.hpp>
#include <mahpo/nn/topology.hpp>

#include <mahpo/problems/learning_curves.hpp>
#include <mahpo/problems/lenet_surrogate.hpp>
#include <mahpo/problems/multi_objective.hpp>
#include <mahpo/problems/off_centre.hpp>
#include <mahpo/problems/synthetic.hpp>
#include <mahpo/report/html_report.hpp>
#include <mahpo/report/importance.hpp>
#include <mahpo/report/schedule.hpp>
#include <mahpo/report/study_data.hpp>
#include <mahpo/rl/rl.hpp>
#include <mahpo/search/anneal.hpp>
#include <mahpo/search/fabolas.hpp>
#include <mahpo/search/factory.hpp>
#include <mahpo/search/gp/gp_bo.hpp>
#include <mahpo/search/grid.hpp>
#include <mahpo/search/history.hpp>
#include <mahpo/search/pbt.hpp>
#include <mahpo/search/hyperband/bohb.hpp>
#include <mahpo/search/hyperband/gp_sampler.hpp>
#include <mahpo/search/hyperband/hyperband.hpp>
#include <mahpo/search/hyperband/successive_halving.hpp>
#include <mahpo/search/nsga2.hpp>
#include <mahpo/search/pareto.hpp>
#include <mahpo/search/ppo/mappo.hpp>
#include <mahpo/search/ppo/ppo_lstm.hpp>
#include <mahpo/search/random.hpp>
#include <mahpo/search/regularized_evolution.hpp>
#include <mahpo/search/searcher.hpp>
#include <mahpo/search/tpe/tpe.hpp>
#include <mahpo/search/unit_cube.hpp>
#include <mahpo/study/checkpoints.hpp>
#include <mahpo/study/coordinator.hpp>
#include <mahpo/study/csv.hpp>
#include <mahpo/study/journal.hpp>
#include <mahpo/study/progress.hpp>
#include <mahpo/study/pruners.hpp>
#include <mahpo/study/report.hpp>
#include <mahpo/study/study.hpp>
#include <mahpo/train/backend.hpp>
#include <mahpo/train/blas.hpp>
#include <mahpo/train/checkpoint.hpp>
#include <mahpo/train/cpu_layers.hpp>
#include <mahpo/train/lenet_objective.hpp>
#include <mahpo/train/loss.hpp>
#include <mahpo/train/metrics.hpp>
#include <mahpo/train/network.hpp>
#include <mahpo/train/optimizer.hpp>
#include <mahpo/train/schedule.hpp>
#include <mahpo/train/trainer.hpp>
