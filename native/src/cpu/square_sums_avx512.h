// The AVX-512 levels' sums of 16-bit squares for the gradient pass (ConversionKernels, summed as
// gradient_statistics.h's add_squares sums their float32 widening). Included only by the
// conversions_avx512*.cpp files; everything is a template of the level's lane type, so each
// level's translation unit has its own instances, compiled with its own target flags (one
// instance shared by name would be whichever the linker kept, maybe one using AVX-512 BW).
//
// Why not conversion_body.h's loops (the compiler's vectorisation of add_squares, or float16
// widened into an L1 block first): they widen 16 values into a zmm register of float32 and split
// it with an extract before the two conversions to double; here every eight values are one ymm
// register converted straight into a register of running sums. Against them on AMD Zen 5, one
// thread, alternating rounds, both orders: the pass alone (nab_optimizer_count_nonfinite_gradients)
// bfloat16 1.45-1.53x in L2 (19 G values/s) and 1.07-1.34x from DRAM (the memory's load that
// day), float16 1.37x in L2 and 1.15x from DRAM; the step with the pass 1.06-1.09x at 1M
// parameters and 1.00-1.04x at 16M and 64M. Reading two chunks at once or asking for lines ahead
// was slower from DRAM (0.75-0.96x): one read stream is what one core does best.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "cpu/conversion_body.h"
#include "cpu/gradient_statistics.h"

namespace nab::cpu {

namespace square_sums_avx512 {

constexpr std::size_t kLanes = SquareLanes::kLanes;
constexpr std::size_t kDoublesPerRegister = 8;
constexpr std::size_t kRegisters = kLanes / kDoublesPerRegister;
static_assert(kLanes == 32, "one run of lanes is four registers of doubles, two 256-bit loads");

// Thirty-two 16-bit values (one run of lanes) as four registers of eight doubles each (exact).
struct Widened {
    __m512d registers[kRegisters];
};

// bfloat16: a value is the upper half of its float32, so interleaving a zero word below each one
// gives float32s, eight per 128-bit lane of a ymm register, without the shift or the
// lane-crossing widening that the loads of simd_vector_avx512.h use. The unpacking works within
// 128-bit lanes, so the registers hold the values in the order of lane_of.
template <class Lanes>
struct Bfloat16Words {
    // Register r unpacks the sixteen values from 16 * (r / 2) on: words 0-3 (r even) or 4-7 (odd)
    // of the first 128-bit lane, then the same words of the second, eight values further.
    static constexpr std::size_t lane_of(std::size_t position) {
        const std::size_t r = position / kDoublesPerRegister, k = position % kDoublesPerRegister;
        return 16 * (r / 2) + 8 * (k / 4) + 4 * (r % 2) + k % 4;
    }
    static Widened widen(const std::uint16_t* values) {
        const __m256i zero = _mm256_setzero_si256();
        const __m256i first = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values));
        const __m256i second = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values + 16));
        return {{_mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, first))),
                 _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, first))),
                 _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, second))),
                 _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, second)))}};
    }
};

// float16: F16C's widening of eight values into a ymm register, converted to doubles, in element
// order (the step's 512-bit widening of sixteen would need an extract per sixteen: 0.90x).
template <class Lanes>
struct HalfWords {
    static constexpr std::size_t lane_of(std::size_t position) { return position; }
    static Widened widen(const std::uint16_t* values) {
        Widened v;
        for (std::size_t r = 0; r < kRegisters; ++r) {
            const __m128i words = _mm_loadu_si128(reinterpret_cast<const __m128i*>(values + 8 * r));
            v.registers[r] = _mm512_cvtps_pd(_mm256_cvtph_ps(words));
        }
        return v;
    }
};

// Adds the squares of one run of values to the running sums. The square of a float32 is exact in
// a double, so multiplying then adding rounds once, as add_squares does; the sum is the first
// operand, as there, so a NaN already in a lane is the one kept.
template <class Words>
inline void add_run(__m512d* sums, const std::uint16_t* values) {
    const Widened v = Words::widen(values);
    for (std::size_t r = 0; r < kRegisters; ++r) {
        sums[r] = _mm512_add_pd(sums[r], _mm512_mul_pd(v.registers[r], v.registers[r]));
    }
}

// The sums of squares of `count` 16-bit values into `lanes`: element i still goes to lane i % 32,
// in element order, so the result has add_squares's bits. The lanes are loaded into the registers
// in the order the widening leaves the values (Words::lane_of) and stored back the same
// way.
template <class Words>
void add_squares_from_words(SquareLanes& lanes, const std::uint16_t* values, std::size_t count) {
    alignas(64) double arranged[kLanes];
    for (std::size_t position = 0; position < kLanes; ++position) {
        arranged[position] = lanes.sums[Words::lane_of(position)];
    }
    __m512d sums[kRegisters];
    for (std::size_t r = 0; r < kRegisters; ++r) sums[r] = _mm512_load_pd(arranged + kDoublesPerRegister * r);
    for_each_padded_run(values, count, [&sums](const std::uint16_t* run) { add_run<Words>(sums, run); });
    for (std::size_t r = 0; r < kRegisters; ++r) _mm512_store_pd(arranged + kDoublesPerRegister * r, sums[r]);
    for (std::size_t position = 0; position < kLanes; ++position) {
        lanes.sums[Words::lane_of(position)] = arranged[position];
    }
}

}  // namespace square_sums_avx512

// The level's conversions (conversion_body.h) with these sums of squares in place of the
// portable ones.
template <class Lanes>
ConversionKernels avx512_conversion_kernels() {
    ConversionKernels kernels = conversion_kernels<Lanes>();
    kernels.add_half_squares = &square_sums_avx512::add_squares_from_words<square_sums_avx512::HalfWords<Lanes>>;
    kernels.add_bfloat16_squares = &square_sums_avx512::add_squares_from_words<square_sums_avx512::Bfloat16Words<Lanes>>;
    return kernels;
}

}  // namespace nab::cpu
