// The blockwise 8-bit state formats (docs/algorithm.md, "8-bit state"): one code byte per
// element and, per block of kQuantizationBlockSize elements, one float32 scale that is 0, NaN or
// a power of two. Written once for every lane type (core/scalar_lanes.h for the portable CPU
// kernel, CUDA threads and the host's conversions; cpu/simd_vector_*.h for the SIMD levels), in
// exact operations only: integer arithmetic on float bits, multiplications by powers of two and
// one correctly rounded float addition, so every backend and SIMD width produces the same codes
// and scales from the same float32 values.
//
//  - m (signed): 1 sign bit, 4 exponent bits, 3 fraction bits, with subnormals. Magnitude code
//    a = e * 8 + f is 2^(e - 15) * (1 + f/8) for e >= 1 and 2^-14 * f/8 for e = 0: 0, 2^-17 ..
//    1.875, times the block scale.
//  - s and s_max (unsigned, no zero): 5 exponent bits, 3 fraction bits: code c = e * 8 + f is
//    2^(e - 31) * (1 + f/8): 2^-31 .. 1.875, times the block scale. Without a zero code an s can
//    never be stored as 0 while its block holds anything else: the smallest is 2^-31 of the
//    block's largest, so a denominator sqrt(s) + epsilon cannot collapse to epsilon.
//
// A block's scale is 2^k, k the exponent of its largest magnitude rounded to 4 significant bits
// (so that magnitude's code is at most 1.875), clamped to [-126, 127]; 0 for a block of zeros;
// NaN for a block holding a NaN or an infinity (its codes are then 0). Every element gets the
// nearest code to value / scale (a division by a power of two, exact), ties to the even code;
// above the largest code it saturates, below the smallest unsigned code it takes that code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/scalar_lanes.h"
#include "core/state_encoding.h"
#include "core/update_math.h"

namespace nab {

// Which of the two formats a state array uses: m is signed, s and s_max unsigned.
enum class CodeFormat { Signed, Unsigned };
constexpr CodeFormat kFirstMomentFormat = CodeFormat::Signed;
constexpr CodeFormat kSecondMomentFormat = CodeFormat::Unsigned;  // s and s_max

// The formats' names, as checkpoints record them: a change of a format (its codes' values, the
// block size or the scales' rule) must change its name.
constexpr const char* code_format_name(CodeFormat format) noexcept {
    return format == CodeFormat::Signed ? "nab.8bit.signed-e4m3-subnormal.block256.v1"
                                        : "nab.8bit.unsigned-e5m3-nozero.block256.v1";
}

// Float32 bit patterns the formats are built from.
namespace quantization_bits {
constexpr std::uint32_t kMagnitudeMask = 0x7fffffffu;
constexpr std::uint32_t kInfinity = 0x7f800000u;      // this and above: a block holding NaN or +-Inf
constexpr std::uint32_t kQuietNan = 0x7fc00000u;      // the scale of such a block
constexpr std::uint32_t kHalfFractionUlp = 0x7ffffu;  // rounding 23 fraction bits to 3: add this + lowest kept bit
constexpr std::uint32_t kSignedSubnormalEnd = 0x38800000u;  // 2^-14: below it, m's subnormal codes
constexpr std::uint32_t kUnsignedSmallest = 0x30000000u;    // 2^-31: s's smallest code
constexpr std::uint32_t kSignedExponentBias = 112u << 3;    // code a >= 8 is float bits (a + this) << 20
constexpr std::uint32_t kUnsignedExponentBias = 96u << 3;   // code c is float bits (c + this) << 20
constexpr std::uint32_t kMagicInteger = 0x4b000000u;        // 2^23: x + 2^23 holds round(x) in its low bits
}  // namespace quantization_bits

// A block's scale and its inverse (both exact powers of two, or both 0, or both NaN).
struct BlockScale {
    float scale;
    float inverse;
    bool finite;  // false: NaN or infinity in the block; its codes are 0
};

// The scale of a block whose largest magnitude has float bits `largest_magnitude_bits`
// (|value| bits, i.e. sign cleared; NaN bits compare above infinity, which compares above
// every number, so an unsigned maximum of the bits finds them). Internal linkage on purpose:
// the SIMD kernels call it from translation units compiled for their instruction sets, and a
// shared inline copy could be picked by the linker for the portable code too.
static NAB_HOST_DEVICE BlockScale block_scale(std::uint32_t largest_magnitude_bits) {
    using namespace quantization_bits;
    auto of_bits = [](std::uint32_t bits) {
        float value;
        std::memcpy(&value, &bits, sizeof value);
        return value;
    };
    if (largest_magnitude_bits == 0) return {0.0f, 0.0f, true};
    if (largest_magnitude_bits >= kInfinity) return {of_bits(kQuietNan), of_bits(kQuietNan), false};
    // Rounded to 4 significant bits (nearest, ties to even) as the element's own code rounds
    // it; a carry moves the exponent up. Subnormal magnitudes end up at the clamp.
    const std::uint32_t rounded =
        largest_magnitude_bits + kHalfFractionUlp + ((largest_magnitude_bits >> 20) & 1u);
    int exponent = static_cast<int>(rounded >> 23) - 127;
    exponent = exponent < -126 ? -126 : exponent > 127 ? 127 : exponent;
    const float scale = of_bits(static_cast<std::uint32_t>(exponent + 127) << 23);
    // 2^-exponent: a normal float down to 2^-126, and 2^-127 (exponent 127) is the subnormal 0x00400000.
    const float inverse = of_bits(exponent == 127 ? 0x00400000u : static_cast<std::uint32_t>(127 - exponent) << 23);
    return {scale, inverse, true};
}

// ---- One lane type's codes: encode (value -> code) and decode (code -> value) ----------------

template <class L>
NAB_HOST_DEVICE typename L::Bits encode_signed(typename L::Vector value, typename L::Vector inverse_scale) {
    using namespace quantization_bits;
    using Bits = typename L::Bits;
    const Bits value_bits = L::bits(value);
    const Bits sign = L::template shift_right<24>(value_bits) & L::splat(0x80u);
    const typename L::Vector y = L::from_bits(value_bits & L::splat(kMagnitudeMask)) * inverse_scale;  // exact
    const Bits u = L::bits(y);
    // y >= 2^-14: its float rounded to 3 fraction bits (nearest, ties to even); a carry moves
    // the exponent, so the result stays the nearest code across a power of two.
    const Bits normal = L::template shift_right<20>(u + L::splat(kHalfFractionUlp) + (L::template shift_right<20>(u) & L::splat(1u))) -
                        L::splat(kSignedExponentBias);
    // y < 2^-14: the nearest multiple of 2^-17 (ties to even) is y * 2^17 (exact) rounded to an
    // integer by one float addition of 2^23; code 8 there is 2^-14, the first normal code.
    const Bits subnormal =
        L::bits(y * L::broadcast(131072.0f) + L::broadcast(8388608.0f)) - L::splat(kMagicInteger);
    const Bits magnitude = L::min(L::select_at_least(u, L::splat(kSignedSubnormalEnd), normal, subnormal), L::splat(127u));
    return magnitude | sign;
}

// `value` must not be negative: s and s_max never are (sums of squares and non-negative
// terms, +0 included); the host's conversions pass |value| (magnitude_bits).
template <class L>
NAB_HOST_DEVICE typename L::Bits encode_unsigned(typename L::Vector value, typename L::Vector inverse_scale) {
    using namespace quantization_bits;
    using Bits = typename L::Bits;
    const Bits u = L::bits(value * inverse_scale);  // exact
    const Bits rounded = L::template shift_right<20>(u + L::splat(kHalfFractionUlp) + (L::template shift_right<20>(u) & L::splat(1u))) -
                         L::splat(kUnsignedExponentBias);
    // Below 2^-31 the nearest code is the smallest, 0: there is no zero to round to.
    return L::min(L::select_at_least(u, L::splat(kUnsignedSmallest), rounded, L::splat(0u)), L::splat(255u));
}

template <class L>
NAB_HOST_DEVICE typename L::Vector decode_signed(typename L::Bits code, typename L::Vector scale) {
    // The code's exponent and fraction bits placed in a float32's: for e >= 1 that float is
    // 2^(e - 127) * (1 + f/8), for e = 0 the subnormal 2^-126 * f/8; times 2^112 (exact), both are
    // the code's value. (IEEE subnormals, as everywhere in the step: no flush-to-zero.)
    using Bits = typename L::Bits;
    const Bits bits = L::template shift_left<20>(code & L::splat(0x7fu)) | L::template shift_left<24>(code & L::splat(0x80u));
    return L::from_bits(bits) * L::broadcast(5.192296858534828e+33f) * scale;  // 2^112
}

template <class L>
NAB_HOST_DEVICE typename L::Vector decode_unsigned(typename L::Bits code, typename L::Vector scale) {
    return L::from_bits(L::template shift_left<20>(code + L::splat(quantization_bits::kUnsignedExponentBias))) * scale;
}

template <CodeFormat Format, class L>
NAB_HOST_DEVICE typename L::Bits encode(typename L::Vector value, typename L::Vector inverse_scale) {
    if constexpr (Format == CodeFormat::Signed) {
        return encode_signed<L>(value, inverse_scale);
    } else {
        return encode_unsigned<L>(value, inverse_scale);
    }
}

template <CodeFormat Format, class L>
NAB_HOST_DEVICE typename L::Vector decode(typename L::Bits code, typename L::Vector scale) {
    if constexpr (Format == CodeFormat::Signed) {
        return decode_signed<L>(code, scale);
    } else {
        return decode_unsigned<L>(code, scale);
    }
}

// The magnitude bits an element contributes to its block's scale (an unsigned value's own bits).
template <CodeFormat Format, class L>
NAB_HOST_DEVICE typename L::Bits magnitude_bits(typename L::Vector value) {
    if constexpr (Format == CodeFormat::Signed) {
        return L::bits(value) & L::splat(quantization_bits::kMagnitudeMask);
    } else {
        return L::bits(value);
    }
}

// ---- Whole arrays on the host: the conversions behind read_state, write_state, a change of a
// group's encoding and nab_state_decode. (The step itself quantizes inside its kernels.) ------

// codes[0 .. count) and scales[0 .. quantization_block_count(count)) from values[0 .. count).
template <CodeFormat Format>
void quantize_array(const float* values, std::size_t count, std::uint8_t* codes, float* scales) {
    for (std::size_t block = 0; block * kQuantizationBlockSize < count; ++block) {
        const std::size_t begin = block * kQuantizationBlockSize;
        const std::size_t end = count - begin < kQuantizationBlockSize ? count : begin + kQuantizationBlockSize;
        // The unsigned format stands for |value| (a caller may write a negative s).
        auto of = [&](std::size_t i) {
            return Format == CodeFormat::Signed ? values[i]
                                                : ScalarLanes::from_bits(ScalarLanes::bits(values[i]) & quantization_bits::kMagnitudeMask);
        };
        std::uint32_t largest = 0;
        for (std::size_t i = begin; i < end; ++i) largest = ScalarLanes::max(largest, magnitude_bits<Format, ScalarLanes>(of(i)));
        const BlockScale s = block_scale(largest);
        scales[block] = s.scale;
        for (std::size_t i = begin; i < end; ++i) {
            codes[i] = s.finite ? static_cast<std::uint8_t>(encode<Format, ScalarLanes>(of(i), s.inverse)) : 0;
        }
    }
}

// values[0 .. count) from codes and scales.
template <CodeFormat Format>
void dequantize_array(const std::uint8_t* codes, const float* scales, std::size_t count, float* values) {
    for (std::size_t i = 0; i < count; ++i) {
        values[i] = decode<Format, ScalarLanes>(codes[i], scales[i / kQuantizationBlockSize]);
    }
}

// True when `scale` is one a block can have (0, NaN, or 2^k for -126 <= k <= 127): what a
// caller's raw scales must be.
inline bool is_valid_block_scale(float scale) {
    const std::uint32_t bits = ScalarLanes::bits(scale);
    if ((bits & quantization_bits::kMagnitudeMask) > quantization_bits::kInfinity) return true;  // NaN
    if (bits == 0) return true;
    return (bits & 0x807fffffu) == 0 && bits != 0 && bits < quantization_bits::kInfinity;  // +2^-126 .. 2^127
}

}  // namespace nab
