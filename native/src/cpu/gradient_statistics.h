// The CPU side of the step's gradient pass (core/gradient_scaling.h): the two totals of a run
// of float32 gradients. 16-bit gradients are widened first (exactly), so one routine serves
// every element type.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/gradient_scaling.h"

namespace nab::cpu {

// Sum of the squares (in double) and count of NaN/+-Inf among values[0, count). The summation
// order depends only on count, so equal inputs give equal totals on every thread.
GradientStatistics float_statistics(const float* values, std::size_t count);

// The same for bfloat16 values (their bit patterns), read directly: equal to float_statistics
// of their float32 widening, bit for bit, without writing that widening anywhere.
GradientStatistics bfloat16_statistics(const std::uint16_t* values, std::size_t count);

}  // namespace nab::cpu
