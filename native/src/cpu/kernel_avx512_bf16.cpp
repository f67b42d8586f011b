// The AVX-512 kernel with AVX-512 BF16's bfloat16 narrowing (this file alone, with
// conversions_avx512_bf16.cpp, is compiled with -mavx512bf16; called only when the CPU has it).
// The 8-bit kernels narrow nothing: this level uses the AVX-512 ones (cpu_backend.cpp).
#include "cpu/kernel_body.h"
#include "cpu/simd_vector_avx512_bf16.h"

namespace nab::cpu {

RangeKernel select_avx512_bf16_kernel(const KernelVariant& variant, KernelStorage storage) { return select_kernel<Avx512Bf16Lanes>(variant, storage); }

}  // namespace nab::cpu
