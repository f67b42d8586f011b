// The AVX2 level's 16-bit conversions (compiled with -mavx2 -mf16c; used only when the CPU
// has both): the lane type's 16-bit loads and stores (cpu/simd_vector_avx2.h) over arrays.
#include "cpu/conversion_body.h"
#include "cpu/simd_vector_avx2.h"

namespace nab::cpu {

ConversionKernels avx2_conversions() { return conversion_kernels<Avx2Lanes>(); }

}  // namespace nab::cpu
