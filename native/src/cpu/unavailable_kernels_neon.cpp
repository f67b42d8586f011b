// Builds for a CPU other than arm64 have no NEON kernel. These stand-ins only keep the dispatch
// in cpu_backend.cpp the same on every architecture: they are never reached, because
// simd_level_supported(NAB_SIMD_NEON) is false there and the C API refuses the level before a
// backend sees it.
#include "cpu/cpu_kernels.h"

namespace nab::cpu {

RangeKernel select_neon_kernel(const KernelVariant& variant) { return select_scalar_kernel(variant); }
QuantizedRangeKernel select_neon_quantized_kernel(const KernelVariant& variant) {
    return select_scalar_quantized_kernel(variant);
}
ConversionKernels neon_conversions() { return scalar_conversions(); }

}  // namespace nab::cpu
