// Builds for a CPU other than x86-64 (arm64) have no AVX2 or AVX-512 kernels. These stand-ins
// only keep the dispatch in cpu_backend.cpp the same on every architecture: they are never
// reached, because simd_level_supported() is false for these levels there and the C API refuses
// them before a backend sees them.
#include "cpu/cpu_kernels.h"

namespace nab::cpu {

RangeKernel select_avx2_kernel(const KernelVariant& variant) { return select_scalar_kernel(variant); }
RangeKernel select_avx512_kernel(const KernelVariant& variant) { return select_scalar_kernel(variant); }
RangeKernel select_avx512_bf16_kernel(const KernelVariant& variant) { return select_scalar_kernel(variant); }
QuantizedRangeKernel select_avx2_quantized_kernel(const KernelVariant& variant) {
    return select_scalar_quantized_kernel(variant);
}
QuantizedRangeKernel select_avx512_quantized_kernel(const KernelVariant& variant) {
    return select_scalar_quantized_kernel(variant);
}
ConversionKernels avx2_conversions() { return scalar_conversions(); }
ConversionKernels avx512_conversions() { return scalar_conversions(); }
ConversionKernels avx512_bf16_conversions() { return scalar_conversions(); }

}  // namespace nab::cpu
