// batteries::statistics: Python's statistics module, exactly rounded, at close to memory speed.
//
// The functions (mean, fmean, median, variance, stdev, quantiles, correlation, ...) give
// CPython 3.11's answers over any C++ range of numbers; NormalDist is Python's normal
// distribution; Running is an exact streaming accumulator that Python does not have.
#pragma once

#include <batteries/statistics/error.hpp>
#include <batteries/statistics/functions.hpp>
#include <batteries/statistics/running.hpp>
#if __has_include(<batteries/statistics/normal_dist.hpp>)
#include <batteries/statistics/normal_dist.hpp>
#endif
