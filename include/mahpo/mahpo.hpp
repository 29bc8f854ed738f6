#pragma once
// mahpo: typed hyperparameter optimization of convolutional networks. The umbrella header
// (host code only: the CUDA backend lives under cuda/mahpo/cuda/ and is never included here).

#include <mahpo/version.hpp>

#include <mahpo/space/config.hpp>
#include <mahpo/space/discretization.hpp>
#include <mahpo/space/error.hpp>
#include <mahpo/space/fixed_string.hpp>
#include <mahpo/space/parameters.hpp>
#include <mahpo/space/space.hpp>

#include <mahpo/data/dataset.hpp>
#include <mahpo/data/error.hpp>
#include <mahpo/data/idx.hpp>
