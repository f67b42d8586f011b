// Stand-ins for the SIMD levels a build does not compile (native/src/CMakeLists.txt: the other
// architecture's levels, and those NAB_SIMD_LEVELS leaves out). They only keep the dispatch in
// cpu_backend.cpp the same in every build: they are never reached, because
// simd_level_supported() is false for a level without its NAB_KERNELS_* definition and the C API
// refuses the level before a backend sees it.
#include "cpu/cpu_kernels.h"

namespace nab::cpu {

#if !defined(NAB_KERNELS_AVX2)
RangeKernel select_avx2_kernel(const KernelVariant& variant, KernelStorage storage) { return select_scalar_kernel(variant, storage); }
QuantizedRangeKernel select_avx2_quantized_kernel(const KernelVariant& variant) {
    return select_scalar_quantized_kernel(variant);
}
ConversionKernels avx2_conversions() { return scalar_conversions(); }
#endif

#if !defined(NAB_KERNELS_AVX512)
RangeKernel select_avx512_kernel(const KernelVariant& variant, KernelStorage storage) { return select_scalar_kernel(variant, storage); }
QuantizedRangeKernel select_avx512_quantized_kernel(const KernelVariant& variant) {
    return select_scalar_quantized_kernel(variant);
}
ConversionKernels avx512_conversions() { return scalar_conversions(); }
#endif

#if !defined(NAB_KERNELS_AVX512_BF16)
RangeKernel select_avx512_bf16_kernel(const KernelVariant& variant, KernelStorage storage) { return select_scalar_kernel(variant, storage); }
ConversionKernels avx512_bf16_conversions() { return scalar_conversions(); }
#endif

#if !defined(NAB_KERNELS_NEON)
RangeKernel select_neon_kernel(const KernelVariant& variant, KernelStorage storage) { return select_scalar_kernel(variant, storage); }
QuantizedRangeKernel select_neon_quantized_kernel(const KernelVariant& variant) {
    return select_scalar_quantized_kernel(variant);
}
ConversionKernels neon_conversions() { return scalar_conversions(); }
#endif

}  // namespace nab::cpu
