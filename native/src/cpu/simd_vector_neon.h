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

struct NeonLanes {
    using Vector = NeonVector;
    static constexpr std::size_t width = 4;
    static Vector load(const float* source) { return {vld1q_f32(source)}; }
    static void store(float* destination, Vector v) { vst1q_f32(destination, v.value); }
    static Vector broadcast(float value) { return {vdupq_n_f32(value)}; }
};

}  // namespace nab::cpu
