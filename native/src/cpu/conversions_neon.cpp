// The NEON level's 16-bit conversions (arm64 builds only). float16 through FCVT, whose rounding
// (to nearest even, as FPCR leaves it) and NaN handling (quieted, sign and top payload bits kept)
// are what core/half_precision.h reproduces for F16C; bfloat16 in integer arithmetic, the same
// steps as the AVX2 level and half_precision.h.
#include <arm_neon.h>

#include "cpu/conversion_body.h"

namespace nab::cpu {

namespace {
struct NeonConversions {
    static constexpr std::size_t width = 4;
    static void widen_half(const std::uint16_t* source, float* destination) {
        vst1q_f32(destination, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(source))));
    }
    static void narrow_half(const float* source, std::uint16_t* destination) {
        vst1_u16(destination, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(source))));
    }
    static void widen_bfloat16(const std::uint16_t* source, float* destination) {
        vst1q_f32(destination, vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(source), 16)));
    }
    static void narrow_bfloat16(const float* source, std::uint16_t* destination) {
        const uint32x4_t bits = vreinterpretq_u32_f32(vld1q_f32(source));
        const uint32x4_t upper = vshrq_n_u32(bits, 16);
        const uint32x4_t lowest_kept = vandq_u32(upper, vdupq_n_u32(1));
        const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(vaddq_u32(bits, vdupq_n_u32(0x7fff)), lowest_kept), 16);
        const uint32x4_t quiet_nan = vorrq_u32(upper, vdupq_n_u32(0x40));
        const uint32x4_t is_nan = vcgtq_u32(vandq_u32(bits, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
        vst1_u16(destination, vmovn_u32(vbslq_u32(is_nan, quiet_nan, rounded)));
    }
};
}  // namespace

ConversionKernels neon_conversions() { return conversion_kernels<NeonConversions>(); }

}  // namespace nab::cpu
