// The AVX-512 lanes of simd_vector_avx512.h with bfloat16 narrowed by AVX-512 BF16's
// VCVTNEPS2BF16 (one instruction where the integer rounding takes seven). Included only by the
// *_avx512_bf16.cpp files (compiled with -mavx512f -mavx512dq -mavx512bf16).
//
// The instruction rounds to nearest, ties to even, and turns a NaN into its top half with the
// quiet bit set, as core/half_precision.h's float_to_bfloat16 does; it differs only on float32
// subnormal inputs, which it treats as zero (0x007fffff gives 0x0000 where rounding gives
// 0x0080). A vector holding any subnormal therefore takes the integer rounding of the AVX-512
// lanes, so this level narrows bit for bit as every other level does.
#pragma once

#include <cstring>

#include "cpu/simd_vector_avx512.h"

namespace nab::cpu {

struct Avx512Bf16Lanes : Avx512Lanes {
    static void store_bfloat16(std::uint16_t* destination, Vector v) {
        constexpr int subnormal = 0x20;  // VFPCLASSPS category: denormal
        if (_mm512_fpclass_ps_mask(v.value, subnormal) != 0) {
            Avx512Lanes::store_bfloat16(destination, v);
            return;
        }
        const __m256bh narrowed = _mm512_cvtneps_pbh(v.value);
        __m256i bits;  // no cast intrinsic between the two on older compilers
        std::memcpy(&bits, &narrowed, sizeof bits);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(destination), bits);
    }
};

}  // namespace nab::cpu
