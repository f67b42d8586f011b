#include "cpu/cpu_features.h"

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#  include <cpuid.h>
#endif

namespace nab::cpu {

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
namespace {
// CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports does not know "f16c").
bool has_f16c() noexcept {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}
// CPUID leaf 7 sub-leaf 1, EAX bit 5 (spelled out: older cpuid.h headers lack bit_AVX512BF16).
bool has_avx512_bf16() noexcept {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0 && (eax & (1u << 5)) != 0;
}
}  // namespace
#endif

bool simd_level_compiled(nab_simd_level level) noexcept {
    switch (level) {
        case NAB_SIMD_SCALAR: return true;
#if defined(NAB_KERNELS_AVX2)
        case NAB_SIMD_AVX2: return true;
#endif
#if defined(NAB_KERNELS_AVX512)
        case NAB_SIMD_AVX512: return true;
#endif
#if defined(NAB_KERNELS_AVX512_BF16)
        case NAB_SIMD_AVX512_BF16: return true;
#endif
#if defined(NAB_KERNELS_NEON)
        case NAB_SIMD_NEON: return true;
#endif
        default: return false;
    }
}

bool simd_level_supported(nab_simd_level level) noexcept {
    if (!simd_level_compiled(level)) return false;
    switch (level) {
        case NAB_SIMD_SCALAR: return true;
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        // libgcc's cpu model also checks XGETBV, so these are false where the OS does not save
        // the wider registers.
        // The AVX2 level converts float16 with F16C (every AVX2 CPU has it, but check).
        case NAB_SIMD_AVX2: return __builtin_cpu_supports("avx2") && has_f16c();
        // The AVX-512 levels' gradient pass widens float16 with F16C (cpu/square_sums_avx512.h;
        // every AVX-512 CPU has it, but check).
        case NAB_SIMD_AVX512: return __builtin_cpu_supports("avx512f") && has_f16c();
        // AVX512DQ for the subnormal test beside the conversion (cpu/simd_vector_avx512_bf16.h).
        case NAB_SIMD_AVX512_BF16:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && has_avx512_bf16() &&
                   has_f16c();
#endif
#if defined(__aarch64__)
        // Advanced SIMD (with float16 conversions) is part of every ARMv8-A CPU: no check.
        case NAB_SIMD_NEON: return true;
#endif
        default: return false;
    }
}

nab_simd_level best_simd_level() noexcept {
    if (simd_level_supported(NAB_SIMD_NEON)) return NAB_SIMD_NEON;
    if (simd_level_supported(NAB_SIMD_AVX512_BF16)) return NAB_SIMD_AVX512_BF16;
    if (simd_level_supported(NAB_SIMD_AVX512)) return NAB_SIMD_AVX512;
    if (simd_level_supported(NAB_SIMD_AVX2)) return NAB_SIMD_AVX2;
    return NAB_SIMD_SCALAR;
}

const char* simd_level_name(nab_simd_level level) noexcept {
    switch (level) {
        case NAB_SIMD_AUTO: return "NAB_SIMD_AUTO";
        case NAB_SIMD_SCALAR: return "NAB_SIMD_SCALAR";
        case NAB_SIMD_AVX2: return "NAB_SIMD_AVX2";
        case NAB_SIMD_AVX512: return "NAB_SIMD_AVX512";
        case NAB_SIMD_NEON: return "NAB_SIMD_NEON";
        case NAB_SIMD_AVX512_BF16: return "NAB_SIMD_AVX512_BF16";
    }
    return "unknown";
}

}  // namespace nab::cpu
