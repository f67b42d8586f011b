// The portable kernels: one float at a time (core/scalar_lanes.h), compiled for baseline x86-64
// (or any CPU).
#include "core/scalar_lanes.h"
#include "cpu/kernel_body.h"
#include "cpu/quantized_kernel_body.h"

namespace nab::cpu {

RangeKernel select_scalar_kernel(const KernelVariant& variant, KernelStorage storage) { return select_kernel<ScalarLanes>(variant, storage); }

QuantizedRangeKernel select_scalar_quantized_kernel(const KernelVariant& variant) {
    return select_quantized_kernel<ScalarLanes>(variant);
}

}  // namespace nab::cpu
