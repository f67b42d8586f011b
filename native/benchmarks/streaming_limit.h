// The memory limit of a step: a kernel that moves exactly the step's bytes (reads parameter,
// gradient, m and s; writes parameter, m and s: 28 bytes per element for float32) with almost
// no arithmetic, split over threads like the step. The fused step cannot beat it; the goal is
// to come close.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/thread_pool.h"

// The benchmarks' element loops, compiled for the widest vectors the CPU has and chosen once at
// load time (GCC function multi-versioning), as the optimizer picks its SIMD kernel at run time.
// Built only for baseline x86-64 (SSE2), one core streams 10-15% less from DRAM than with
// AVX-512, and the "limit" would understate what memory allows.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#  define NAB_BENCH_WIDEST_VECTORS __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#  define NAB_BENCH_WIDEST_VECTORS
#endif

// For the helpers those loops inline: always inlined, so that they are compiled in each clone's
// target; and a loop marked as having no dependence between its iterations (its arrays do not
// overlap), for the compiler to vectorize without checking.
#if defined(__GNUC__)
#  define NAB_BENCH_INLINE inline __attribute__((always_inline))
#else
#  define NAB_BENCH_INLINE inline
#endif
#if defined(__clang__)
#  define NAB_BENCH_INDEPENDENT_ITERATIONS _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#  define NAB_BENCH_INDEPENDENT_ITERATIONS _Pragma("GCC ivdep")
#else
#  define NAB_BENCH_INDEPENDENT_ITERATIONS
#endif

namespace nab::bench {

// The float32 form's limit over one tensor's arrays, asking ahead as a step of that size would.
void streaming_limit(cpu::ThreadPool& pool, float* parameters, const float* gradients, float* first_moment,
                     float* second_moment, std::size_t element_count);

// The arrays of one step form, for the limit that moves that form's exact bytes over them.
// The state is float32; parameters and gradients are float32 or 16-bit:
//   parameters          float32 parameters or the master copy, else null
//   narrow_parameters   16-bit parameters, else null: read and written without a master copy,
//                       only written with one (as the step does)
//   gradients / narrow_gradients   float32 or 16-bit gradients (exactly one is set)
//   max_second_moment   s_max (AMSGrad), else null
//   gradient_pass       read the gradients once more first, in a pass of their own, as the
//                       step's gradient pass (skip on non-finite, clipping) does
//   prefetch            ask for the lines of the float32 arrays kPrefetchDistance elements ahead,
//                       as the step's kernels do in a step whose arrays hold kPrefetchFromBytes or
//                       more (cpu/prefetch_policy.h; step_would_prefetch below)
struct LimitArrays {
    float* parameters = nullptr;
    std::uint16_t* narrow_parameters = nullptr;
    const float* gradients = nullptr;
    const std::uint16_t* narrow_gradients = nullptr;
    float* first_moment = nullptr;
    float* second_moment = nullptr;
    float* max_second_moment = nullptr;
    bool gradient_pass = false;
    bool prefetch = false;
};

// Moves the form's bytes over the arrays themselves, so that a benchmark can interleave it
// with the step on the same memory (same cache state, same pages, same alignment): the
// element updates are integer additions of the gradient's bits, `sign` +1 or -1, so a call
// with -1 undoes one with +1 bit for bit and the step sees its own state again after a pair.
// 16-bit parameters written from a master copy get its upper half.
void streaming_limit(cpu::ThreadPool& pool, const LimitArrays& arrays, std::size_t element_count, int sign);

// Bytes one streaming_limit call over `arrays` moves per element.
double streaming_limit_bytes_per_element(const LimitArrays& arrays);

// The bytes the step's prefetching rule counts for `element_count` elements of a form with
// these arrays (each array once, s_max left out: cpu/prefetch_policy.h's prefetch_footprint, as
// the backend counts them), for summing over the tensors of a step.
std::size_t step_footprint_bytes(const LimitArrays& arrays, std::size_t element_count);

// Whether a step whose arrays hold `footprint_bytes` prefetches (cpu/prefetch_policy.h), and so
// whether its limit should.
bool step_would_prefetch(std::size_t footprint_bytes);

// The memory limit of a step with 8-bit state (NAB_STATE_ENCODING_BLOCKWISE_8BIT, no amsgrad):
// reads the parameter, the gradient, the codes of m and s and, per 256-element block, their two
// scales; writes the parameter, both codes and both scales: 16 bytes per element and 16 per
// block (2.03 bytes of state per element). Split over threads in whole blocks, like the step.
// With `prefetch`, asks for the lines of the parameters, the gradients and the codes
// kPrefetchDistance elements ahead, as the 8-bit step does from kPrefetchFromBytes on.
void streaming_limit_8bit(cpu::ThreadPool& pool, float* parameters, const float* gradients,
                          std::uint8_t* first_moment_codes, std::uint8_t* second_moment_codes,
                          float* first_moment_scales, float* second_moment_scales, std::size_t element_count,
                          bool prefetch);

// What the step's prefetching rule counts for `element_count` elements with 8-bit state: float32
// parameters and gradients, a byte per moment (scales left out).
std::size_t step_footprint_bytes_8bit(std::size_t element_count);

// Bytes streaming_limit_8bit moves for `element_count` elements.
double streaming_limit_8bit_bytes(std::size_t element_count);

}  // namespace nab::bench
