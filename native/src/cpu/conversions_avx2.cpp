// The AVX2 level's 16-bit conversions (compiled with -mavx2 -mf16c; used only when the CPU
// has both). float16 through F16C, whose rounding and NaN handling core/half_precision.h
// reproduces bit for bit; bfloat16 in integer arithmetic (see half_precision.h for why not
// a bfloat16 instruction).
#include <immintrin.h>

#include "cpu/conversion_body.h"

namespace nab::cpu {

namespace {
struct Avx2Conversions {
    static constexpr std::size_t width = 8;
    static void widen_half(const std::uint16_t* source, float* destination) {
        _mm256_storeu_ps(destination, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(source))));
    }
    static void narrow_half(const float* source, std::uint16_t* destination) {
        const __m128i half = _mm256_cvtps_ph(_mm256_loadu_ps(source), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(destination), half);
    }
    static void widen_bfloat16(const std::uint16_t* source, float* destination) {
        const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(source)));
        _mm256_storeu_ps(destination, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
    }
    static void narrow_bfloat16(const float* source, std::uint16_t* destination) {
        const __m256i bits = _mm256_castps_si256(_mm256_loadu_ps(source));
        const __m256i upper = _mm256_srli_epi32(bits, 16);
        const __m256i lowest_kept = _mm256_and_si256(upper, _mm256_set1_epi32(1));
        const __m256i rounded =
            _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7fff)), lowest_kept), 16);
        const __m256i quiet_nan = _mm256_or_si256(upper, _mm256_set1_epi32(0x40));
        const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffffff)),
                                                  _mm256_set1_epi32(0x7f800000));
        const __m256i narrowed = _mm256_blendv_epi8(rounded, quiet_nan, is_nan);
        // packus works within 128-bit lanes: keep the low 64 bits of each lane, then join them.
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(narrowed, narrowed), 0x08);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(destination), _mm256_castsi256_si128(packed));
    }
};
}  // namespace

ConversionKernels avx2_conversions() { return conversion_kernels<Avx2Conversions>(); }

}  // namespace nab::cpu
