// Sixteen float32 lanes on AVX-512F registers, with the operations update_element and the 8-bit
// state formats use (the lane contract of core/scalar_lanes.h). Included only by
// kernel_avx512.cpp (compiled with -mavx512f).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace nab::cpu {

struct Avx512Vector {
    __m512 value;
};

inline Avx512Vector operator+(Avx512Vector a, Avx512Vector b) { return {_mm512_add_ps(a.value, b.value)}; }
inline Avx512Vector operator-(Avx512Vector a, Avx512Vector b) { return {_mm512_sub_ps(a.value, b.value)}; }
inline Avx512Vector operator*(Avx512Vector a, Avx512Vector b) { return {_mm512_mul_ps(a.value, b.value)}; }
inline Avx512Vector operator/(Avx512Vector a, Avx512Vector b) { return {_mm512_div_ps(a.value, b.value)}; }
inline Avx512Vector sqrt_of(Avx512Vector a) { return {_mm512_sqrt_ps(a.value)}; }
// Same NaN rule as the scalar max_of: the second operand wins when either is NaN.
inline Avx512Vector max_of(Avx512Vector a, Avx512Vector b) { return {_mm512_max_ps(a.value, b.value)}; }

// Sixteen uint32 lanes.
struct Avx512Bits {
    __m512i value;
};

inline Avx512Bits operator+(Avx512Bits a, Avx512Bits b) { return {_mm512_add_epi32(a.value, b.value)}; }
inline Avx512Bits operator-(Avx512Bits a, Avx512Bits b) { return {_mm512_sub_epi32(a.value, b.value)}; }
inline Avx512Bits operator&(Avx512Bits a, Avx512Bits b) { return {_mm512_and_si512(a.value, b.value)}; }
inline Avx512Bits operator|(Avx512Bits a, Avx512Bits b) { return {_mm512_or_si512(a.value, b.value)}; }

struct Avx512Lanes {
    using Vector = Avx512Vector;
    using Bits = Avx512Bits;
    static constexpr std::size_t width = 16;
    static constexpr bool prefetches = true;
    static Vector load(const float* source) { return {_mm512_loadu_ps(source)}; }
    static void store(float* destination, Vector v) { _mm512_storeu_ps(destination, v.value); }
    static Vector broadcast(float value) { return {_mm512_set1_ps(value)}; }

    // 16-bit storage (core/half_precision.h rounds the same): float16 through AVX-512F's
    // conversions (the same rounding and NaN handling as F16C); bfloat16 in integer arithmetic
    // (simd_vector_avx512_bf16.h narrows with AVX-512 BF16 where the CPU has it).
    static Vector load_half(const std::uint16_t* source) {
        return {_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(source)))};
    }
    static void store_half(std::uint16_t* destination, Vector v) {
        const __m256i half = _mm512_cvtps_ph(v.value, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(destination), half);
    }
    static Vector load_bfloat16(const std::uint16_t* source) {
        const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(source)));
        return {_mm512_castsi512_ps(_mm512_slli_epi32(wide, 16))};
    }
    static void store_bfloat16(std::uint16_t* destination, Vector v) {
        // core/half_precision.h's float_to_bfloat16 with mask registers: the lowest kept bit
        // chooses between adding 0x7fff and 0x8000, an unordered compare finds the NaNs (made
        // quiet by setting the top fraction bit), then the upper halves are kept.
        const __m512i bits = _mm512_castps_si512(v.value);
        const __mmask16 lowest_kept = _mm512_test_epi32_mask(bits, _mm512_set1_epi32(0x10000));
        __m512i rounded = _mm512_add_epi32(bits, _mm512_set1_epi32(0x7fff));
        rounded = _mm512_mask_add_epi32(rounded, lowest_kept, bits, _mm512_set1_epi32(0x8000));
        const __mmask16 is_nan = _mm512_cmp_ps_mask(v.value, v.value, _CMP_UNORD_Q);
        rounded = _mm512_mask_or_epi32(rounded, is_nan, bits, _mm512_set1_epi32(0x400000));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(destination), _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16)));
    }

    static Bits bits(Vector v) { return {_mm512_castps_si512(v.value)}; }
    static Vector from_bits(Bits b) { return {_mm512_castsi512_ps(b.value)}; }
    static Bits splat(std::uint32_t value) { return {_mm512_set1_epi32(static_cast<int>(value))}; }
    template <int N>
    static Bits shift_right(Bits b) {
        return {_mm512_srli_epi32(b.value, N)};
    }
    template <int N>
    static Bits shift_left(Bits b) {
        return {_mm512_slli_epi32(b.value, N)};
    }
    static Bits min(Bits a, Bits b) { return {_mm512_min_epu32(a.value, b.value)}; }
    static Bits max(Bits a, Bits b) { return {_mm512_max_epu32(a.value, b.value)}; }
    static Bits select_at_least(Bits a, Bits threshold, Bits if_true, Bits if_false) {
        return {_mm512_mask_blend_epi32(_mm512_cmpge_epu32_mask(a.value, threshold.value), if_false.value, if_true.value)};
    }
    static std::uint32_t largest(Bits b) { return _mm512_reduce_max_epu32(b.value); }
    static Bits load_codes(const std::uint8_t* source) {
        return {_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(source)))};
    }
    static void store_codes(std::uint8_t* destination, Bits codes) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(destination), _mm512_cvtepi32_epi8(codes.value));
    }
    static void store_codes_four(std::uint8_t* destination, Bits a, Bits b, Bits c, Bits d) {
        store_codes(destination, a);
        store_codes(destination + width, b);
        store_codes(destination + 2 * width, c);
        store_codes(destination + 3 * width, d);
    }
};

}  // namespace nab::cpu
