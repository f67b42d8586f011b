// The NEON level's 16-bit conversions (arm64 builds only): the lane type's 16-bit loads and
// stores (cpu/simd_vector_neon.h) over arrays.
#include "cpu/conversion_body.h"
#include "cpu/simd_vector_neon.h"

namespace nab::cpu {

ConversionKernels neon_conversions() { return conversion_kernels<NeonLanes>(); }

}  // namespace nab::cpu
