// The software pipeline every CPU step kernel runs its whole vectors through (kernel_body.h for
// float32 state, quantized_kernel_body.h for 8-bit state): how far ahead of a vector's division
// the next vectors' loads and moments are issued, and how the loop is unrolled so that the
// vectors in flight stay in registers. One owner for that rule, whatever the kernel's head and
// tail hold.
#pragma once

#include <cstddef>

namespace nab::cpu {

// The per-vector bodies run inside the loop, never as calls: GCC otherwise keeps them out of
// line (they have two callers, the loop and the tail) and every vector then pays a call and
// reloads the twelve broadcast coefficients from memory.
#if defined(__GNUC__)
#  define NAB_VECTOR_BODY inline __attribute__((always_inline))
#else
#  define NAB_VECTOR_BODY inline
#endif

// The whole vectors of `Width` elements in [begin, end): `steps.head(i)` is the first half of the
// update of the vector at i (its loads, moments and square root; it returns what the second half
// needs), `steps.tail(i, in_flight)` the second half (the division and the parameter's store).
// Software-pipelined two deep: the heads of the next two vectors come before this vector's tail
// in program order. The out-of-order window then holds fewer operations that wait on the shared
// divider, and overlaps more vectors. On AMD Zen 3 (AVX2, one thread, two library builds of the
// same configuration A/B, medians of alternating rounds): one deep against none, float32
// 1.04-1.05x in L2 and at 1M parameters, float16 + master 1.09-1.10x, bfloat16 1.05-1.10x; two
// deep against one, float32 1.00x in L2 and 1.03-1.05x at 1M and 16M, float16 + master
// 1.03-1.05x, bfloat16 + master 1.06-1.12x, bfloat16 without master 0.98-1.03x. Three deep
// spills registers on AVX2 (0.95-0.99x; again with the unrolled loop below, float32 0.72x in L2).
// Code layout moves such numbers by up to 15% between builds of different configurations, so
// only builds of one configuration are compared. Same operations, same bits. Returns where the
// whole vectors end.
//
// The main loop takes three vectors per iteration, so that each of the three vectors in flight
// stays in its own registers: a loop of one vector hands them on (`current = next`), six register
// copies per vector, and pays its index arithmetic for every vector. With AVX2 that was a quarter
// of the loop's instructions (bfloat16 without master: about 50 per vector before, 37 after).
// AMD Zen 3, one thread, A/B of the library before and after: float32 1.12-1.20x in L2, 1.06x at
// 1M parameters, 1.04x at 16M; bfloat16 without master 1.05x in L2, at 1M and at 16M; bfloat16
// and float16 with master 1.04x at 16M. The library grows by 15%.
template <std::size_t Width, class Steps>
NAB_VECTOR_BODY std::size_t pipeline_whole_vectors(const Steps& steps, std::size_t begin, std::size_t end) {
    std::size_t i = begin;
    if (end - i < Width) return i;
    auto current = steps.head(i);
    if (end - i < 2 * Width) {
        steps.tail(i, current);
        return i + Width;
    }
    auto next = steps.head(i + Width);
    for (; end - i >= 5 * Width; i += 3 * Width) {
        const auto third = steps.head(i + 2 * Width);
        steps.tail(i, current);
        current = steps.head(i + 3 * Width);
        steps.tail(i + Width, next);
        next = steps.head(i + 4 * Width);
        steps.tail(i + 2 * Width, third);
    }
    // The last one or two vectors before the final pair, one at a time.
    for (; end - i >= 3 * Width; i += Width) {
        const auto after_next = steps.head(i + 2 * Width);
        steps.tail(i, current);
        current = next;
        next = after_next;
    }
    steps.tail(i, current);
    steps.tail(i + Width, next);
    return i + 2 * Width;
}

}  // namespace nab::cpu
