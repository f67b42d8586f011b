// The AVX2 kernel (this file alone is compiled with -mavx2; called only when the CPU has it).
#include "cpu/kernel_body.h"
#include "cpu/simd_vector_avx2.h"

namespace nab::cpu {

RangeKernel select_avx2_kernel(const KernelVariant& variant) { return select_kernel<Avx2Lanes>(variant); }

}  // namespace nab::cpu
