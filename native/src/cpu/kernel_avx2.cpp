// The AVX2 kernels (this file alone is compiled with -mavx2; called only when the CPU has it).
#include "cpu/kernel_body.h"
#include "cpu/quantized_kernel_body.h"
#include "cpu/simd_vector_avx2.h"

namespace nab::cpu {

RangeKernel select_avx2_kernel(const KernelVariant& variant, KernelStorage storage) { return select_kernel<Avx2Lanes>(variant, storage); }

QuantizedRangeKernel select_avx2_quantized_kernel(const KernelVariant& variant) {
    return select_quantized_kernel<Avx2Lanes>(variant);
}

}  // namespace nab::cpu
