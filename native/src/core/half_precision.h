// float16 and bfloat16 <-> float32, in integer arithmetic on the bit patterns: exact, the
// same on every compiler, CPU and GPU, independent of the floating-point environment (no
// flush-to-zero, no fast-math), so the scalar CPU path, the SIMD paths and the CUDA kernels
// round identically. Narrowing rounds to nearest, ties to even, keeping subnormals.
//
// NaN handling follows x86's hardware conversions (F16C's VCVTPS2PH / VCVTPH2PS), which the
// SIMD paths use: a NaN keeps its sign and the top bits of its payload and becomes quiet.
// AVX-512 BF16's VCVTNEPS2BF16 treats float32 subnormal inputs as zero (measured:
// 0x007fffff -> 0x0000, where round-to-nearest-even gives 0x0080, as PyTorch's conversion
// does); the level that uses it sends vectors holding a subnormal through the integer
// rounding (cpu/simd_vector_avx512_bf16.h).
#pragma once

#include <cstdint>
#include <cstring>

#include "core/update_math.h"

namespace nab {

NAB_HOST_DEVICE std::uint32_t float_bits(float value) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
}

NAB_HOST_DEVICE float float_from_bits(std::uint32_t bits) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

NAB_HOST_DEVICE float bfloat16_to_float(std::uint16_t value) { return float_from_bits(std::uint32_t{value} << 16); }

NAB_HOST_DEVICE std::uint16_t float_to_bfloat16(float value) {
    const std::uint32_t bits = float_bits(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);  // quiet NaN
    // Adding 0x7fff plus the lowest kept bit rounds the dropped half to nearest, ties to even;
    // a carry out of the mantissa correctly bumps the exponent (up to infinity).
    return static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

NAB_HOST_DEVICE float half_to_float(std::uint16_t value) {
    const std::uint32_t sign = std::uint32_t{value & 0x8000u} << 16;
    const std::uint32_t exponent = (value >> 10) & 0x1fu;
    const std::uint32_t mantissa = value & 0x3ffu;
    if (exponent == 0x1fu) {
        return float_from_bits(sign | 0x7f800000u | (mantissa != 0 ? 0x00400000u | (mantissa << 13) : 0u));
    }
    if (exponent == 0) {
        // Subnormal (or zero): mantissa * 2^-24, exact in float32.
        const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
        return float_from_bits(sign | float_bits(magnitude));
    }
    return float_from_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

NAB_HOST_DEVICE std::uint16_t float_to_half(float value) {
    const std::uint32_t bits = float_bits(value);
    const std::uint32_t sign = (bits >> 16) & 0x8000u;
    std::uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
    if (magnitude >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520: infinity
    if (magnitude >= 0x38800000u) {
        // Normal half: rebias the exponent (127 -> 15) and round the 13 dropped bits.
        magnitude += 0xc8000fffu + ((magnitude >> 13) & 1u);
        return static_cast<std::uint16_t>(sign | (magnitude >> 13));
    }
    if (magnitude <= 0x33000000u) return static_cast<std::uint16_t>(sign);  // <= 2^-25 rounds to zero
    // Subnormal half: the significand (implicit bit included) shifted right by 14..24 places.
    const std::uint32_t shift = 126u - (magnitude >> 23);
    const std::uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
    std::uint32_t result = significand >> shift;
    const std::uint32_t remainder = significand & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    if (remainder > halfway || (remainder == halfway && (result & 1u) != 0)) ++result;
    return static_cast<std::uint16_t>(sign | result);
}

}  // namespace nab
