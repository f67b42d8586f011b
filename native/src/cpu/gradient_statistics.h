// The CPU side of the step's gradient pass (core/gradient_scaling.h): the two totals of a run
// of gradients of any element type, summed in one association whatever the type, so 16-bit
// gradients total exactly as their (exact) float32 widening would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

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

// The loop of every sum of squares: `widen(i)` is element i as a float32 (exact), its square in
// double is exact, so multiplying then adding rounds once, in every compilation. The lanes are
// copied into a local array so the compiler keeps them in vector registers and may vectorise
// across them without changing a bit: each lane's additions stay in element order. 16-bit
// gradients go through the SIMD level's loops (ConversionKernels in cpu_kernels.h), each of them
// this loop compiled for the level or the level's own, all giving add_float_squares's bits for
// the float32 widening.
template <class Widen>
[[gnu::always_inline]] inline void add_squares(SquareLanes& lanes, Widen widen, std::size_t count) {
    constexpr std::size_t kLanes = SquareLanes::kLanes;
    double sums[kLanes];
    std::memcpy(sums, lanes.sums, sizeof sums);
    std::size_t i = 0;
    for (; i + kLanes <= count; i += kLanes) {
        for (std::size_t k = 0; k < kLanes; ++k) sums[k] += static_cast<double>(widen(i + k)) * widen(i + k);
    }
    for (std::size_t k = 0; i + k < count; ++k) sums[k] += static_cast<double>(widen(i + k)) * widen(i + k);
    std::memcpy(lanes.sums, sums, sizeof sums);
}

// Calls add_run(run) for each run of SquareLanes::kLanes 16-bit values of values[0, count), in
// order, for the SIMD levels' own loops, which add whole runs: a last, shorter run goes as a
// zero-padded copy (adding the square of +0 leaves a lane's bits as they are: a lane is never
// -0), so every element is added by the same instructions.
template <class AddRun>
[[gnu::always_inline]] inline void for_each_padded_run(const std::uint16_t* values, std::size_t count,
                                                       AddRun add_run) {
    constexpr std::size_t kLanes = SquareLanes::kLanes;
    std::size_t i = 0;
    for (; i + kLanes <= count; i += kLanes) add_run(values + i);
    if (i == count) return;
    std::uint16_t padded[kLanes] = {};
    for (std::size_t k = 0; i + k < count; ++k) padded[k] = values[i + k];
    add_run(static_cast<const std::uint16_t*>(padded));
}

// The number of NaN and +-Inf among `count` values of `type` at `values` (their exponent field
// all ones: the same elements as in their float32 widening).
std::uint64_t nonfinite_count(const void* values, ElementType type, std::size_t count);

}  // namespace nab::cpu
