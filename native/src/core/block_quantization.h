// The blockwise 8-bit state formats (docs/algorithm.md, "8-bit state"): one code byte per
// element and, per block of kQuantizationBlockSize elements, one float32 scale: the block's
// largest magnitude (its absmax, as bitsandbytes' blockwise quantization has it). Written once
// for every lane type (core/scalar_lanes.h for the portable CPU kernel, CUDA threads and the
// host's conversions; cpu/simd_vector_*.h for the SIMD levels) in IEEE float32 operations,
// integer arithmetic on float bits and no fused or approximate instruction, so every backend
// and SIMD width produces the same codes and scales from the same float32 values.
//
// Values before scaling, each format's largest code standing for exactly 1 (so the block's
// largest element is stored exactly, and its EMA never stalls on rounding):
//  - m (signed): sign bit and magnitude code a = 8e + f (e 0..15, f 0..7), an 8-bit float with
//    4 exponent bits, 3 fraction bits and subnormals: 2^(e - 16) * (1 + f/8) for e >= 1,
//    2^-15 * f/8 for e = 0; a = 127 is 1. So 0, 2^-18 .. 0.875, 1.
//  - s and s_max (unsigned, no zero): c = 8e + f (e 0..31): 2^(e - 32) * (1 + f/8); c = 255 is 1.
//    So 2^-32 .. 0.875, 1. Without a zero an s can never be stored as 0 while its block holds
//    anything else: the smallest is 2^-32 of the block's largest, so a denominator
//    sqrt(s) + epsilon cannot collapse to epsilon.
//
// A block's scale S is its largest magnitude (at least 2^-126, the smallest normal float); 0 for
// a block of zeros; NaN for a block holding a NaN or an infinity (its codes are then 0). An
// element's code is the one nearest to y = |value| * R, R = 1/S rounded to float32 (ties to the
// even code; y = 1 for the largest element, within a rounding); its value is code * S rounded to
// float32.
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
    return format == CodeFormat::Signed ? "nab.8bit.signed-e4m3-subnormal-top1.absmax256.v1"
                                        : "nab.8bit.unsigned-e5m3-nozero-top1.absmax256.v1";
}

// Float32 bit patterns the formats are built from.
namespace quantization_bits {
constexpr std::uint32_t kMagnitudeMask = 0x7fffffffu;
constexpr std::uint32_t kInfinity = 0x7f800000u;       // this and above: a block holding NaN or +-Inf
constexpr std::uint32_t kQuietNan = 0x7fc00000u;       // the scale of such a block
constexpr std::uint32_t kSmallestScale = 0x00800000u;  // 2^-126: the smallest scale (its inverse is finite)
constexpr std::uint32_t kHalfFractionUlp = 0x7ffffu;   // rounding 23 fraction bits to 3: add this + lowest kept bit
constexpr std::uint32_t kAboveTopMidpoint = 0x3f700001u;  // the float after 0.9375, the tie between 0.875 and 1 (even: 0.875)
constexpr std::uint32_t kOne = 0x3f800000u;            // 1
constexpr std::uint32_t kSignedSubnormalEnd = 0x38000000u;  // 2^-15: below it, m's subnormal codes
constexpr std::uint32_t kSignedExponentBias = 111u << 3;    // m's code a < 127 has float bits a << 20 times 2^111
constexpr std::uint32_t kSignedOne = 0x08000000u;           // 2^-111: code 127's bits (times 2^111: 1)
constexpr std::uint32_t kUnsignedSmallest = 0x2f800000u;    // 2^-32: s's smallest code
constexpr std::uint32_t kUnsignedExponentBias = 95u << 3;   // s's code c < 255 is float bits (c + this) << 20
constexpr std::uint32_t kMagicInteger = 0x4b000000u;        // 2^23: x + 2^23 holds round(x) in its low bits
}  // namespace quantization_bits

// A block's scale and the inverse its elements are multiplied by.
struct BlockScale {
    float scale;
    float inverse;
    bool finite;  // false: NaN or infinity in the block; its codes are 0
};

// The scale of a block whose largest magnitude has float bits `largest_magnitude_bits`
// (|value| bits, i.e. sign cleared; NaN bits compare above infinity, which compares above
// every number, so an unsigned maximum of the bits finds them). A template on the lane type of
// its caller on purpose: the SIMD kernels call it from translation units compiled for their
// instruction sets, and one inline copy shared by all of them could be picked by the linker
// for the portable code too.
template <class L>
NAB_HOST_DEVICE BlockScale block_scale(std::uint32_t largest_magnitude_bits) {
    using namespace quantization_bits;
    auto of_bits = [](std::uint32_t bits) {
        float value;
        std::memcpy(&value, &bits, sizeof value);
        return value;
    };
    if (largest_magnitude_bits == 0) return {0.0f, 0.0f, true};
    if (largest_magnitude_bits >= kInfinity) return {of_bits(kQuietNan), of_bits(kQuietNan), false};
    const float scale = of_bits(largest_magnitude_bits < kSmallestScale ? kSmallestScale : largest_magnitude_bits);
    return {scale, 1.0f / scale, true};
}

// ---- One lane type's codes: encode (value -> code) and decode (code -> value) ----------------

// The code of 3 fraction bits nearest to y >= 2^-126 among the floats' own (nearest, ties to
// even; a carry moves the exponent, so the result stays the nearest across a power of two),
// as float bits shifted down by 20: exponent field * 8 + fraction, less `bias`. The bias is
// taken off before the shift, in the same addition as the rounding's half (a multiple of 2^20
// leaves the bits below unchanged): exact for u >= bias << 20, which every caller's selected
// lanes are (each format's normal range starts there or above); below, the lane wraps around and
// its caller selects another value.
template <class L>
NAB_HOST_DEVICE typename L::Bits rounded_fraction(typename L::Bits u, std::uint32_t bias) {
    return L::template shift_right<20>(u + L::splat(quantization_bits::kHalfFractionUlp - (bias << 20)) +
                                       (L::template shift_right<20>(u) & L::splat(1u)));
}

template <class L>
NAB_HOST_DEVICE typename L::Bits encode_signed(typename L::Vector value, typename L::Vector inverse_scale) {
    using namespace quantization_bits;
    using Bits = typename L::Bits;
    const Bits value_bits = L::bits(value);
    const Bits sign = L::template shift_right<24>(value_bits) & L::splat(0x80u);
    const typename L::Vector y = L::from_bits(value_bits & L::splat(kMagnitudeMask)) * inverse_scale;
    const Bits u = L::bits(y);
    const Bits normal = rounded_fraction<L>(u, kSignedExponentBias);
    // y < 2^-15: the nearest multiple of 2^-18 (ties to even) is y * 2^18 (exact) rounded to an
    // integer by one float addition of 2^23; code 8 there is 2^-15, the first normal code.
    const Bits subnormal = L::bits(y * L::broadcast(0x1p18f) + L::broadcast(0x1p23f)) - L::splat(kMagicInteger);
    const Bits magnitude = L::select_at_least(u, L::splat(kSignedSubnormalEnd), normal, subnormal);
    // At the top the next code after 0.875 is 1: up to 0.9375 (the tie: to the even 126) stay at 126.
    const Bits largest = L::select_at_least(u, L::splat(kAboveTopMidpoint), L::splat(127u), L::splat(126u));
    return L::min(magnitude, largest) | sign;
}

template <class L>
NAB_HOST_DEVICE typename L::Bits encode_unsigned(typename L::Vector value, typename L::Vector inverse_scale) {
    // `value` is not negative: s and s_max never are (sums of non-negative terms, +0 included);
    // the host's conversions pass |value|.
    using namespace quantization_bits;
    using Bits = typename L::Bits;
    const Bits u = L::bits(value * inverse_scale);
    const Bits rounded = rounded_fraction<L>(u, kUnsignedExponentBias);
    // Below 2^-32 the nearest code is the smallest, 0: there is no zero to round to.
    const Bits code = L::select_at_least(u, L::splat(kUnsignedSmallest), rounded, L::splat(0u));
    const Bits largest = L::select_at_least(u, L::splat(kAboveTopMidpoint), L::splat(255u), L::splat(254u));
    return L::min(code, largest);
}

template <class L>
NAB_HOST_DEVICE typename L::Vector decode_signed(typename L::Bits code, typename L::Vector scale) {
    // The code's exponent and fraction bits placed in a float32's: for e >= 1 that float is
    // 2^(e - 127) * (1 + f/8), for e = 0 the subnormal 2^-126 * f/8; times 2^111 both are the
    // code's value. (IEEE subnormals, as everywhere in the step: no flush-to-zero.)
    using namespace quantization_bits;
    using Bits = typename L::Bits;
    const Bits magnitude = code & L::splat(0x7fu);
    const Bits bits = L::select_at_least(magnitude, L::splat(127u), L::splat(kSignedOne), L::template shift_left<20>(magnitude));
    const Bits sign = L::template shift_left<24>(code & L::splat(0x80u));
    return L::from_bits(bits | sign) * L::broadcast(0x1p111f) * scale;  // 2^111
}

template <class L>
NAB_HOST_DEVICE typename L::Vector decode_unsigned(typename L::Bits code, typename L::Vector scale) {
    using namespace quantization_bits;
    const typename L::Bits bits = L::select_at_least(code, L::splat(255u), L::splat(kOne),
                                                     L::template shift_left<20>(code + L::splat(kUnsignedExponentBias)));
    return L::from_bits(bits) * scale;
}

template <CodeFormat Format, class L>
NAB_HOST_DEVICE typename L::Bits encode(typename L::Vector value, typename L::Vector inverse_scale) {
    // (No else: CUDA 11.2's nvcc takes an if constexpr whose branches both return for a function
    // that may end without one, and the Debian 11 build treats that warning as an error.)
    if constexpr (Format == CodeFormat::Signed) return encode_signed<L>(value, inverse_scale);
    return encode_unsigned<L>(value, inverse_scale);
}

template <CodeFormat Format, class L>
NAB_HOST_DEVICE typename L::Vector decode(typename L::Bits code, typename L::Vector scale) {
    if constexpr (Format == CodeFormat::Signed) return decode_signed<L>(code, scale);  // no else: see encode
    return decode_unsigned<L>(code, scale);
}

// The magnitude bits an element contributes to its block's scale (an unsigned value's own bits).
template <CodeFormat Format, class L>
NAB_HOST_DEVICE typename L::Bits magnitude_bits(typename L::Vector value) {
    if constexpr (Format == CodeFormat::Signed) return L::bits(value) & L::splat(quantization_bits::kMagnitudeMask);
    return L::bits(value);  // no else: see encode
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
        const BlockScale s = block_scale<ScalarLanes>(largest);
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

// True when `scale` is one a block can have (0, NaN, or finite and at least 2^-126): what a
// caller's raw scales must be.
inline bool is_valid_block_scale(float scale) {
    const std::uint32_t bits = ScalarLanes::bits(scale);
    if ((bits & quantization_bits::kMagnitudeMask) > quantization_bits::kInfinity) return true;  // NaN
    return bits == 0 || (bits >= quantization_bits::kSmallestScale && bits < quantization_bits::kInfinity);
}

}  // namespace nab
