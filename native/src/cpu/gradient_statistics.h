// The CPU side of the step's gradient pass (core/gradient_scaling.h): the two totals of a run
// of gradients of any element type, summed in one association whatever the type, so 16-bit
// gradients total exactly as their (exact) float32 widening would.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/element_type.h"
#include "core/gradient_scaling.h"

namespace nab::cpu {

// The partial sums of squares (in double) of a run of values read in pieces: element i of the
// run goes to lane i % kLanes whatever the pieces, provided every piece but the last holds a
// multiple of kLanes elements. Enough independent additions to hide their latency and keep up
// with memory, in an association that depends only on the run's length, so equal inputs give
// equal totals on every thread and SIMD level.
struct SquareLanes {
    static constexpr std::size_t kLanes = 32;
    double sums[kLanes] = {};

    // The lanes added in order 0, 1, ... kLanes - 1.
    double total() const;
};

// Adds the squares of values[0, count) to `lanes` (compiled for the widest vectors the CPU has).
void add_float_squares(SquareLanes& lanes, const float* values, std::size_t count);

// The same for bfloat16 values (their bit patterns), read directly: bit for bit what
// add_float_squares gives for their float32 widening, without writing that widening anywhere.
// The portable version; the step calls its SIMD level's (ConversionKernels in cpu_kernels.h),
// which gives the same bits.
void add_bfloat16_squares(SquareLanes& lanes, const std::uint16_t* values, std::size_t count);

// The number of NaN and +-Inf among `count` values of `type` at `values` (their exponent field
// all ones: the same elements as in their float32 widening).
std::uint64_t nonfinite_count(const void* values, ElementType type, std::size_t count);

}  // namespace nab::cpu
