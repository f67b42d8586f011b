// The CPU kernels' shared interface: one function per SIMD level that returns the compiled
// range kernel for a variant. Each level lives in its own translation unit compiled with
// that level's target flags (kernel_scalar.cpp, kernel_avx2.cpp, kernel_avx512.cpp).
#pragma once

#include <cstddef>

#include "core/update_math.h"

namespace nab::cpu {

// Where one tensor's arrays are for a step. max_second_moment is null unless the variant
// keeps it.
struct TensorArrays {
    float* parameters;
    const float* gradients;
    float* first_moment;
    float* second_moment;
    float* max_second_moment;
};

// Updates elements [begin, end) of one tensor.
using RangeKernel = void (*)(const TensorArrays& arrays, std::size_t begin, std::size_t end,
                             const ElementCoefficients<float>& coefficients);

RangeKernel select_scalar_kernel(const KernelVariant& variant);
RangeKernel select_avx2_kernel(const KernelVariant& variant);
RangeKernel select_avx512_kernel(const KernelVariant& variant);

}  // namespace nab::cpu
