// The NEON kernel (arm64 builds only; Advanced SIMD is part of every ARMv8-A CPU, so it needs
// no target flags and no run-time check).
#include "cpu/kernel_body.h"
#include "cpu/quantized_kernel_body.h"
#include "cpu/simd_vector_neon.h"

namespace nab::cpu {

RangeKernel select_neon_kernel(const KernelVariant& variant, KernelStorage storage) { return select_kernel<NeonLanes>(variant, storage); }

QuantizedRangeKernel select_neon_quantized_kernel(const KernelVariant& variant) {
    return select_quantized_kernel<NeonLanes>(variant);
}

}  // namespace nab::cpu
