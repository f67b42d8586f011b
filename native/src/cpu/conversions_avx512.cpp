// The AVX-512 level's 16-bit conversions (compiled with -mavx512f; used only when the CPU has
// it). float16 through AVX-512F's conversions (the same rounding and NaN handling as F16C);
// bfloat16 in integer arithmetic (see core/half_precision.h for why not AVX-512 BF16).
#include <immintrin.h>

#include "cpu/conversion_body.h"

namespace nab::cpu {

namespace {
struct Avx512Conversions {
    static constexpr std::size_t width = 16;
    static void widen_half(const std::uint16_t* source, float* destination) {
        _mm512_storeu_ps(destination, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(source))));
    }
    static void narrow_half(const float* source, std::uint16_t* destination) {
        const __m256i half = _mm512_cvtps_ph(_mm512_loadu_ps(source), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(destination), half);
    }
    static void widen_bfloat16(const std::uint16_t* source, float* destination) {
        const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(source)));
        _mm512_storeu_ps(destination, _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16)));
    }
    static void narrow_bfloat16(const float* source, std::uint16_t* destination) {
        const __m512i bits = _mm512_castps_si512(_mm512_loadu_ps(source));
        const __m512i upper = _mm512_srli_epi32(bits, 16);
        const __m512i lowest_kept = _mm512_and_si512(upper, _mm512_set1_epi32(1));
        const __m512i rounded =
            _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7fff)), lowest_kept), 16);
        const __m512i quiet_nan = _mm512_or_si512(upper, _mm512_set1_epi32(0x40));
        const __mmask16 is_nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)),
                                                         _mm512_set1_epi32(0x7f800000));
        const __m512i narrowed = _mm512_mask_blend_epi32(is_nan, rounded, quiet_nan);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(destination), _mm512_cvtepi32_epi16(narrowed));
    }
};
}  // namespace

ConversionKernels avx512_conversions() { return conversion_kernels<Avx512Conversions>(); }

}  // namespace nab::cpu
