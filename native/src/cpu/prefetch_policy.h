// When a CPU step asks for the cache lines of its float32 arrays before it loads them, and how far
// ahead. The backend decides per step (cpu_backend.cpp), the kernels of the levels whose lane types
// say `prefetches` act on it (kernel_body.h; quantized_kernel_body.h, which also asks for the
// codes of the 8-bit moments), and the benchmarks' streaming limit asks the same way
// (native/benchmarks/streaming_limit.cpp) so that it stays the memory limit of such a step.
// Requests change no value.
#pragma once

#include <cstddef>
#if !defined(__GNUC__) && defined(_M_X64)
#  include <xmmintrin.h>
#endif

namespace nab::cpu {

// A step whose arrays hold at least this many bytes (per stepped tensor: parameters, gradients,
// master copy, m and s; s_max left out) prefetches. From DRAM one core keeps too few lines in
// flight while its loop waits on the divider. Asking ahead, on an AMD Zen 5 VM (A/B of two builds,
// each order, medians of alternating rounds, 16M parameters unless said; every pair measured, the
// same pair minutes apart differing by up to 10 points: that VM's memory is shared): float32
// 1.02-1.19x on one thread, 1.05-1.07x at 64M, 1.01-1.08x on two threads; AMSGrad 1.03-1.08x, the
// gradient pass 1.02-1.14x, bfloat16 with and without a master copy and float16 with one
// 0.98-1.14x; the AVX2 kernels on that host float32 0.99-1.12x, bfloat16 with a master copy
// 1.02-1.04x, without 0.98-1.05x (bound by its instructions there). Data that stays in the
// last-level cache between steps gains nothing and some sizes lost up to 13% (1M float32
// parameters, 28 MiB: 0.87-0.97x), so only a step of at least this size asks: more than one
// core's share of the last-level cache on current servers (32-96 MiB; what the OS reports is no
// guide, that VM reports 508 MiB).
constexpr std::size_t kPrefetchFromBytes = std::size_t{64} << 20;

// The bytes the rule counts for one stepped tensor of `element_count` elements: each array once,
// from its element size (0 for an array the tensor lacks; a moment's size is 1 for 8-bit state).
constexpr std::size_t prefetch_footprint(std::size_t element_count, std::size_t parameter_bytes,
                                         std::size_t gradient_bytes, std::size_t master_bytes,
                                         std::size_t moment_bytes) {
    return element_count * (parameter_bytes + gradient_bytes + master_bytes + 2 * moment_bytes);
}

// Whether a step whose tensors' footprints add up to `footprint_bytes` prefetches.
constexpr bool step_prefetches(std::size_t footprint_bytes) { return footprint_bytes >= kPrefetchFromBytes; }

// How far ahead of its loads a prefetching loop asks for the lines of its float32 arrays: 1 KiB.
// On an AMD Zen 5 VM from DRAM (16M float32 parameters, one thread, A/B), 256 elements ahead
// 1.07-1.12x over none, 128 1.01x, 512 1.00x, 2048 (asked for writing) 0.88x. A constant, so the
// offset folds into each request's address.
constexpr std::size_t kPrefetchDistance = 256;

// Asks for the cache line holding `address` (read, into L1); where the compiler has no such
// hint, nothing. Always inlined (GCC, Clang): the kernels' loops call it per line, in the target
// of their SIMD level.
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
inline void prefetch_line(const void* address) {
#if defined(__GNUC__)
    __builtin_prefetch(address);
#elif defined(_M_X64)
    _mm_prefetch(static_cast<const char*>(address), _MM_HINT_T0);
#else
    (void)address;
#endif
}

}  // namespace nab::cpu
