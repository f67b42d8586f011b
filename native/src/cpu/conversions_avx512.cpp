// The AVX-512 level's 16-bit conversions (compiled with -mavx512f; used only when the CPU has
// it): the lane type's 16-bit loads and stores (cpu/simd_vector_avx512.h) over arrays, and
// the AVX-512 sums of 16-bit squares (cpu/square_sums_avx512.h).
#include "cpu/simd_vector_avx512.h"
#include "cpu/square_sums_avx512.h"

namespace nab::cpu {

ConversionKernels avx512_conversions() { return avx512_conversion_kernels<Avx512Lanes>(); }

}  // namespace nab::cpu
