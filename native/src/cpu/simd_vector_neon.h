// Four float32 lanes on AArch64 NEON (Advanced SIMD) registers, with the operators
// update_element uses. Included only by kernel_neon.cpp.
//
// Why the lanes round exactly like the scalar kernel: AArch64's vector add, subtract, multiply,
// divide and square root are IEEE-754 float32 operations, correctly rounded, with subnormals kept
// (FPCR.FZ is off under Linux and Windows), and -ffp-contract=off keeps the compiler from fusing
// a multiply and an add of these intrinsics into one FMLA.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace nab::cpu {

struct NeonVector {
    float32x4_t value;
};

inline NeonVector operator+(NeonVector a, NeonVector b) { return {vaddq_f32(a.value, b.value)}; }
inline NeonVector operator-(NeonVector a, NeonVector b) { return {vsubq_f32(a.value, b.value)}; }
inline NeonVector operator*(NeonVector a, NeonVector b) { return {vmulq_f32(a.value, b.value)}; }
inline NeonVector operator/(NeonVector a, NeonVector b) { return {vdivq_f32(a.value, b.value)}; }
inline NeonVector sqrt_of(NeonVector a) { return {vsqrtq_f32(a.value)}; }
// The scalar rule, lane by lane: a > b ? a : b, so b wins when either is NaN (x86's MAXPS does
// the same). Not vmaxq_f32, which returns the NaN whichever operand holds it, nor vmaxnmq_f32,
// which returns the number.
inline NeonVector max_of(NeonVector a, NeonVector b) {
    return {vbslq_f32(vcgtq_f32(a.value, b.value), a.value, b.value)};
}

// Four 32-bit unsigned lanes: the integer side of the 8-bit state's encoding
// (core/block_quantization.h).
struct NeonBits {
    uint32x4_t value;
};

inline NeonBits operator+(NeonBits a, NeonBits b) { return {vaddq_u32(a.value, b.value)}; }
inline NeonBits operator-(NeonBits a, NeonBits b) { return {vsubq_u32(a.value, b.value)}; }
inline NeonBits operator&(NeonBits a, NeonBits b) { return {vandq_u32(a.value, b.value)}; }
inline NeonBits operator|(NeonBits a, NeonBits b) { return {vorrq_u32(a.value, b.value)}; }

struct NeonLanes {
    using Vector = NeonVector;
    using Bits = NeonBits;
    static constexpr std::size_t width = 4;
    static constexpr bool prefetches = false;  // not measured
    static Vector load(const float* source) { return {vld1q_f32(source)}; }
    static void store(float* destination, Vector v) { vst1q_f32(destination, v.value); }
    static Vector broadcast(float value) { return {vdupq_n_f32(value)}; }

    static Bits bits(Vector v) { return {vreinterpretq_u32_f32(v.value)}; }
    static Vector from_bits(Bits b) { return {vreinterpretq_f32_u32(b.value)}; }
    static Bits splat(std::uint32_t value) { return {vdupq_n_u32(value)}; }
    template <int N>
    static Bits shift_right(Bits b) {
        return {vshrq_n_u32(b.value, N)};
    }
    template <int N>
    static Bits shift_left(Bits b) {
        return {vshlq_n_u32(b.value, N)};
    }
    static Bits min(Bits a, Bits b) { return {vminq_u32(a.value, b.value)}; }
    static Bits max(Bits a, Bits b) { return {vmaxq_u32(a.value, b.value)}; }
    static Bits select_at_least(Bits a, Bits threshold, Bits if_true, Bits if_false) {
        return {vbslq_u32(vcgeq_u32(a.value, threshold.value), if_true.value, if_false.value)};
    }
    static std::uint32_t largest(Bits b) { return vmaxvq_u32(b.value); }
    static Bits load_codes(const std::uint8_t* source) {
        std::uint32_t word;
        std::memcpy(&word, source, sizeof word);
        const uint16x8_t halves = vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(word)));
        return {vmovl_u16(vget_low_u16(halves))};
    }
    static void store_codes(std::uint8_t* destination, Bits codes) {
        // Every lane holds 0..255: narrowing twice keeps the low bytes in order.
        const uint16x4_t halves = vmovn_u32(codes.value);
        const uint8x8_t bytes = vmovn_u16(vcombine_u16(halves, halves));
        const std::uint32_t word = vget_lane_u32(vreinterpret_u32_u8(bytes), 0);
        std::memcpy(destination, &word, sizeof word);
    }
    static void store_codes_four(std::uint8_t* destination, Bits a, Bits b, Bits c, Bits d) {
        store_codes(destination, a);
        store_codes(destination + width, b);
        store_codes(destination + 2 * width, c);
        store_codes(destination + 3 * width, d);
    }
    // 16-bit storage (core/half_precision.h rounds the same): float16 through the FCVT
    // conversions, bfloat16 in integer arithmetic (see core/half_precision.h).
    static Vector load_half(const std::uint16_t* source) {
        return {vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(source)))};
    }
    static void store_half(std::uint16_t* destination, Vector v) {
        vst1_u16(destination, vreinterpret_u16_f16(vcvt_f16_f32(v.value)));
    }
    static Vector load_bfloat16(const std::uint16_t* source) {
        return {vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(source), 16))};
    }
    static void store_bfloat16(std::uint16_t* destination, Vector v) {
        const uint32x4_t bits = vreinterpretq_u32_f32(v.value);
        const uint32x4_t upper = vshrq_n_u32(bits, 16);
        const uint32x4_t lowest_kept = vandq_u32(upper, vdupq_n_u32(1));
        const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(vaddq_u32(bits, vdupq_n_u32(0x7fff)), lowest_kept), 16);
        const uint32x4_t quiet_nan = vorrq_u32(upper, vdupq_n_u32(0x40));
        const uint32x4_t is_nan = vcgtq_u32(vandq_u32(bits, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
        vst1_u16(destination, vmovn_u32(vbslq_u32(is_nan, quiet_nan, rounded)));
    }
};

}  // namespace nab::cpu
