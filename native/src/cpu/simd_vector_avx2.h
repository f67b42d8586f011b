// Eight float32 lanes on AVX2 registers, with the operations update_element and the 8-bit
// state formats use (the lane contract of core/scalar_lanes.h). Included only by
// kernel_avx2.cpp and conversions_avx2.cpp (compiled with -mavx2 -mf16c).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace nab::cpu {

struct Avx2Vector {
    __m256 value;
};

inline Avx2Vector operator+(Avx2Vector a, Avx2Vector b) { return {_mm256_add_ps(a.value, b.value)}; }
inline Avx2Vector operator-(Avx2Vector a, Avx2Vector b) { return {_mm256_sub_ps(a.value, b.value)}; }
inline Avx2Vector operator*(Avx2Vector a, Avx2Vector b) { return {_mm256_mul_ps(a.value, b.value)}; }
inline Avx2Vector operator/(Avx2Vector a, Avx2Vector b) { return {_mm256_div_ps(a.value, b.value)}; }
inline Avx2Vector sqrt_of(Avx2Vector a) { return {_mm256_sqrt_ps(a.value)}; }
// Same NaN rule as the scalar max_of: the second operand wins when either is NaN.
inline Avx2Vector max_of(Avx2Vector a, Avx2Vector b) { return {_mm256_max_ps(a.value, b.value)}; }

// Eight uint32 lanes.
struct Avx2Bits {
    __m256i value;
};

inline Avx2Bits operator+(Avx2Bits a, Avx2Bits b) { return {_mm256_add_epi32(a.value, b.value)}; }
inline Avx2Bits operator-(Avx2Bits a, Avx2Bits b) { return {_mm256_sub_epi32(a.value, b.value)}; }
inline Avx2Bits operator&(Avx2Bits a, Avx2Bits b) { return {_mm256_and_si256(a.value, b.value)}; }
inline Avx2Bits operator|(Avx2Bits a, Avx2Bits b) { return {_mm256_or_si256(a.value, b.value)}; }

struct Avx2Lanes {
    using Vector = Avx2Vector;
    using Bits = Avx2Bits;
    static constexpr std::size_t width = 8;
    static constexpr bool prefetches = true;
    static Vector load(const float* source) { return {_mm256_loadu_ps(source)}; }
    static void store(float* destination, Vector v) { _mm256_storeu_ps(destination, v.value); }
    static Vector broadcast(float value) { return {_mm256_set1_ps(value)}; }

    // 16-bit storage (core/half_precision.h rounds the same): float16 through F16C, bfloat16
    // in integer arithmetic (see core/half_precision.h).
    static Vector load_half(const std::uint16_t* source) {
        return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(source)))};
    }
    static void store_half(std::uint16_t* destination, Vector v) {
        const __m128i half = _mm256_cvtps_ph(v.value, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(destination), half);
    }
    // A bfloat16 is the upper half of its float32: the 16 bytes are loaded into both 128-bit
    // lanes (a broadcast load, no arithmetic) and one byte shuffle puts each lane's four values
    // into the upper halves of its words, zeros below. One operation instead of a zero-extension
    // and a shift: on AMD Zen 3 the bfloat16 step without a master copy 1.12-1.17x faster on one
    // thread (in L2, at 1M and 16M parameters), with a master copy 1.02-1.05x.
    static Vector load_bfloat16(const std::uint16_t* source) {
        const __m256i both = _mm256_castps_si256(_mm256_broadcast_ps(reinterpret_cast<const __m128*>(source)));
        return {_mm256_castsi256_ps(_mm256_shuffle_epi8(
            both, _mm256_setr_epi8(-1, -1, 0, 1, -1, -1, 2, 3, -1, -1, 4, 5, -1, -1, 6, 7,  //
                                   -1, -1, 8, 9, -1, -1, 10, 11, -1, -1, 12, 13, -1, -1, 14, 15)))};
    }
    // core/half_precision.h's float_to_bfloat16: add 0x7fff and the lowest kept bit, keep the
    // upper half; a NaN keeps its upper half with the quiet bit set. NaNs are rare, so they are
    // looked for once per vector and blended in only when present, and the upper halves are
    // gathered by one byte shuffle: on AMD Zen 3 three operations fewer than blending always and
    // packing after a shift, 11% faster per narrowed vector in a loop bound by the division.
    static void store_bfloat16(std::uint16_t* destination, Vector v) {
        const __m256i bits = _mm256_castps_si256(v.value);
        const __m256i lowest_kept = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
        __m256i rounded = _mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7fff)), lowest_kept);
        const __m256 is_nan = _mm256_cmp_ps(v.value, v.value, _CMP_UNORD_Q);
        if (_mm256_movemask_ps(is_nan) != 0) {
            const __m256i quiet_nan = _mm256_or_si256(bits, _mm256_set1_epi32(0x400000));
            rounded = _mm256_blendv_epi8(rounded, quiet_nan, _mm256_castps_si256(is_nan));
        }
        // Bytes 2-3 of each word to the low 8 bytes of its 128-bit lane, then the lanes' low
        // quadwords together.
        const __m256i upper_halves = _mm256_shuffle_epi8(
            rounded, _mm256_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                      2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1));
        const __m256i joined = _mm256_permute4x64_epi64(upper_halves, 0x08);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(destination), _mm256_castsi256_si128(joined));
    }

    static Bits bits(Vector v) { return {_mm256_castps_si256(v.value)}; }
    static Vector from_bits(Bits b) { return {_mm256_castsi256_ps(b.value)}; }
    static Bits splat(std::uint32_t value) { return {_mm256_set1_epi32(static_cast<int>(value))}; }
    template <int N>
    static Bits shift_right(Bits b) {
        return {_mm256_srli_epi32(b.value, N)};
    }
    template <int N>
    static Bits shift_left(Bits b) {
        return {_mm256_slli_epi32(b.value, N)};
    }
    static Bits min(Bits a, Bits b) { return {_mm256_min_epu32(a.value, b.value)}; }
    static Bits max(Bits a, Bits b) { return {_mm256_max_epu32(a.value, b.value)}; }
    static Bits select_at_least(Bits a, Bits threshold, Bits if_true, Bits if_false) {
        // AVX2 compares only signed integers: below 2^31 (the contract) a >= t is a > t - 1, one
        // comparison (t - 1 folds into the constant) where the unsigned test, max(a, t) == a,
        // takes two: six operations fewer per vector of the 8-bit step, 1.05-1.06x faster (AMD Zen
        // 3, one thread, in L2 and at 1M parameters, A/B).
        const __m256i at_least = _mm256_cmpgt_epi32(a.value, _mm256_sub_epi32(threshold.value, _mm256_set1_epi32(1)));
        return {_mm256_blendv_epi8(if_false.value, if_true.value, at_least)};
    }
    static std::uint32_t largest(Bits b) {
        __m128i m = _mm_max_epu32(_mm256_castsi256_si128(b.value), _mm256_extracti128_si256(b.value, 1));
        m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
        m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
        return static_cast<std::uint32_t>(_mm_cvtsi128_si32(m));
    }
    static Bits load_codes(const std::uint8_t* source) {
        return {_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(source)))};
    }
    static void store_codes(std::uint8_t* destination, Bits codes) {
        // Every lane holds 0..255: two unsigned-saturating packs keep the low bytes in order.
        const __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(codes.value), _mm256_extracti128_si256(codes.value, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(destination), _mm_packus_epi16(words, words));
    }
    // Four registers' codes in one 32-byte store: three packs in place (each 128-bit lane ends up
    // with four codes of each register, a's first) and one permutation of the 4-byte groups into
    // order, 5 operations instead of 16. The 8-bit step 1.04x faster (AMD Zen 3, one thread,
    // in L2, A/B).
    static void store_codes_four(std::uint8_t* destination, Bits a, Bits b, Bits c, Bits d) {
        const __m256i bytes = _mm256_packus_epi16(_mm256_packus_epi32(a.value, b.value), _mm256_packus_epi32(c.value, d.value));
        const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(destination), ordered);
    }
};

}  // namespace nab::cpu
