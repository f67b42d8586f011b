// The AVX-512F kernels (this file alone is compiled with -mavx512f; called only when the CPU
// and the OS support it).
#include "cpu/kernel_body.h"
#include "cpu/quantized_kernel_body.h"
#include "cpu/simd_vector_avx512.h"

namespace nab::cpu {

RangeKernel select_avx512_kernel(const KernelVariant& variant, KernelStorage storage) { return select_kernel<Avx512Lanes>(variant, storage); }

QuantizedRangeKernel select_avx512_quantized_kernel(const KernelVariant& variant) {
    return select_quantized_kernel<Avx512Lanes>(variant);
}

}  // namespace nab::cpu
