// The AVX2 level's 16-bit conversions (compiled with -mavx2 -mf16c; used only when the CPU
// has both): the lane type's 16-bit loads and stores (cpu/simd_vector_avx2.h) over arrays, and
// its own sums of 16-bit squares for the gradient pass.
#include <immintrin.h>

#include "cpu/conversion_body.h"
#include "cpu/simd_vector_avx2.h"

namespace nab::cpu {

namespace {

constexpr std::size_t kLanes = SquareLanes::kLanes;
constexpr std::size_t kDoublesPerRegister = 4;
static_assert(kLanes % 8 == 0, "a run of lanes is a whole number of 8-value loads");

// Eight 16-bit values as two registers of four doubles (exact), in element order.
struct WidenedEight {
    __m256d low, high;
};

// A bfloat16 is the upper half of its float32: interleaving a zero word below each value gives
// the float32s with no shift or lane crossing.
inline WidenedEight widen_bfloat16_eight(__m128i words) {
    const __m128i zero = _mm_setzero_si128();
    return {_mm256_cvtps_pd(_mm_castsi128_ps(_mm_unpacklo_epi16(zero, words))),
            _mm256_cvtps_pd(_mm_castsi128_ps(_mm_unpackhi_epi16(zero, words)))};
}

// Float16 through F16C, four values at a time straight into the 128-bit halves cvtps_pd takes.
inline WidenedEight widen_half_eight(__m128i words) {
    return {_mm256_cvtps_pd(_mm_cvtph_ps(words)), _mm256_cvtps_pd(_mm_cvtph_ps(_mm_unpackhi_epi64(words, words)))};
}

// Adds the squares of kLanes 16-bit values to their lanes (`sums`, lane k in register k / 4). The
// square of a float32 is exact in a double, so multiplying then adding rounds once, as
// add_float_squares does (gradient_statistics.cpp) for the float32 widening: the same bits.
template <WidenedEight (*Widen)(__m128i)>
inline void add_block(__m256d* sums, const std::uint16_t* values) {
    for (std::size_t eight = 0; eight < kLanes / 8; ++eight) {
        const WidenedEight v = Widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(values + 8 * eight)));
        sums[2 * eight] = _mm256_add_pd(sums[2 * eight], _mm256_mul_pd(v.low, v.low));
        sums[2 * eight + 1] = _mm256_add_pd(sums[2 * eight + 1], _mm256_mul_pd(v.high, v.high));
    }
}

// The level's sums of bfloat16 and float16 squares (ConversionKernels), straight from the 16-bit
// values. Against the portable ways (a bfloat16 loop that zero-extends, shifts and splits 256-bit
// registers; float16 widened into an L1 block first), on AMD Zen 3, one thread: bfloat16 1.64x in
// cache (8.6 G values/s) and 1.2-1.4x from DRAM, where it reads as fast as the memory delivers;
// float16 1.37x in cache and 1.27x from DRAM.
template <WidenedEight (*Widen)(__m128i)>
void add_squares_from_words(SquareLanes& lanes, const std::uint16_t* values, std::size_t count) {
    __m256d sums[kLanes / kDoublesPerRegister];
    for (std::size_t r = 0; r < kLanes / kDoublesPerRegister; ++r) {
        sums[r] = _mm256_loadu_pd(lanes.sums + kDoublesPerRegister * r);
    }
    for_each_padded_run(values, count, [&sums](const std::uint16_t* run) { add_block<Widen>(sums, run); });
    for (std::size_t r = 0; r < kLanes / kDoublesPerRegister; ++r) {
        _mm256_storeu_pd(lanes.sums + kDoublesPerRegister * r, sums[r]);
    }
}

}  // namespace

ConversionKernels avx2_conversions() {
    ConversionKernels kernels = conversion_kernels<Avx2Lanes>();
    kernels.add_half_squares = &add_squares_from_words<&widen_half_eight>;
    kernels.add_bfloat16_squares = &add_squares_from_words<&widen_bfloat16_eight>;
    return kernels;
}

}  // namespace nab::cpu
