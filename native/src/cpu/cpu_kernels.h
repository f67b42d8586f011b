// The CPU kernels' shared interface: one function per SIMD level that returns the compiled
// range kernel for a variant. Each level lives in its own translation unit compiled with
// that level's target flags (kernel_scalar.cpp, kernel_avx2.cpp, kernel_avx512.cpp,
// kernel_avx512_bf16.cpp, kernel_neon.cpp). A build has the levels of its target architecture or NAB_SIMD_LEVELS;
// the others' entry points are stand-ins that are never reached (unavailable_kernels.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/update_math.h"
#include "cpu/gradient_statistics.h"

namespace nab::cpu {

// How the parameters and gradients a range kernel reads and writes are stored. One kernel is
// compiled per storage, so that its loop tests no format or pointer per vector (kernel_body.h
// says why). 16-bit data stored any other way (two 16-bit formats, or float32 beside 16-bit), or
// stepped under a rule the 16-bit kernels are not compiled for (has_narrow_kernels, below), goes
// through float32 blocks around the Float32 kernel (CpuBackend::run_step_range).
enum class KernelStorage : std::uint8_t {
    Float32,         // float32 parameters (or a master copy) and gradients
    Half,            // float16 parameters, read and written, and float16 gradients
    HalfMaster,      // a float32 master copy, read and written; float16 parameters, written; float16 gradients
    Bfloat16,        // as Half, in bfloat16
    Bfloat16Master,  // as HalfMaster, in bfloat16
};
constexpr std::size_t kKernelStorages = static_cast<std::size_t>(KernelStorage::Bfloat16Master) + 1;

// The update rules the 16-bit storages' kernels are compiled for: the adaptive ones, which every
// step takes but the first few of a rectified run. Those few (UpdateRule::Sgd and None) step
// 16-bit data through float32 blocks around the Float32 kernel, which leaves a third fewer kernels
// to compile at every SIMD level (192 instead of 288 with the 8-bit ones) for a cost in a handful
// of steps.
constexpr bool has_narrow_kernels(UpdateRule rule) {
    return rule == UpdateRule::Adaptive || rule == UpdateRule::AdaptiveScaledRoot;
}

// Where one tensor's arrays are for a step. max_second_moment is null unless the variant
// keeps it. 16-bit parameters and gradients are widened and narrowed in the kernel's registers,
// in the same pass as the update (no scratch copy, no second pass):
//   parameters          float32 parameters or the master copy; null for 16-bit parameters
//                       without one (then narrow_parameters are read and written)
//   gradients           float32 gradients; null for 16-bit ones (narrow_gradients)
//   narrow_parameters   16-bit parameters, written from the updated value; null for float32
struct TensorArrays {
    float* parameters;
    const float* gradients;
    float* first_moment;
    float* second_moment;
    float* max_second_moment;
    std::uint16_t* narrow_parameters = nullptr;
    const std::uint16_t* narrow_gradients = nullptr;
};

// Updates elements [begin, end) of one tensor whose arrays are stored as the kernel was selected for.
// With `prefetch`, the kernel asks for the lines of the float32 arrays it reads
// kPrefetchDistance elements ahead of its loads; whether a step does is the backend's rule
// (cpu/prefetch_policy.h). It changes no result.
using RangeKernel = void (*)(const TensorArrays& arrays, std::size_t begin, std::size_t end,
                             const ElementCoefficients<float>& coefficients, bool prefetch);

RangeKernel select_scalar_kernel(const KernelVariant& variant, KernelStorage storage);
RangeKernel select_avx2_kernel(const KernelVariant& variant, KernelStorage storage);
RangeKernel select_avx512_kernel(const KernelVariant& variant, KernelStorage storage);
RangeKernel select_avx512_bf16_kernel(const KernelVariant& variant, KernelStorage storage);
RangeKernel select_neon_kernel(const KernelVariant& variant, KernelStorage storage);

// Where one tensor's arrays are for a step when its m, s and s_max are blockwise 8-bit
// (core/block_quantization.h): codes per element, scales per block of kQuantizationBlockSize.
// The s_max pointers are null unless the variant keeps it.
struct QuantizedTensorArrays {
    float* parameters;
    const float* gradients;
    std::uint8_t* first_moment_codes;
    float* first_moment_scales;
    std::uint8_t* second_moment_codes;
    float* second_moment_scales;
    std::uint8_t* max_second_moment_codes;
    float* max_second_moment_scales;
};

// Updates elements [begin, end) of one tensor with 8-bit state; begin is a multiple of
// kQuantizationBlockSize and end is one or the tensor's end (whole blocks: each block's new
// scale depends on all its elements). With `prefetch`, as RangeKernel's: the kernel asks for the
// lines of the parameters, the gradients and the codes of m and s kPrefetchDistance elements
// ahead of its loads.
using QuantizedRangeKernel = void (*)(const QuantizedTensorArrays& arrays, std::size_t begin, std::size_t end,
                                      const ElementCoefficients<float>& coefficients, bool prefetch);

QuantizedRangeKernel select_scalar_quantized_kernel(const KernelVariant& variant);
QuantizedRangeKernel select_avx2_quantized_kernel(const KernelVariant& variant);
QuantizedRangeKernel select_avx512_quantized_kernel(const KernelVariant& variant);  // also NAB_SIMD_AVX512_BF16's
QuantizedRangeKernel select_neon_quantized_kernel(const KernelVariant& variant);

// 16-bit <-> float32 conversion of `count` elements, one set per SIMD level (half: float16;
// the narrowing ones round to nearest even), and the gradient pass's reads of 16-bit gradients,
// which add their squares to lanes as add_float_squares does for their float32 widening
// (gradient_statistics.h; conversion_body.h's, or a level's own where it is faster). Every level
// produces the same bits as core/half_precision.h and add_float_squares (tested), so the step
// stays bit-identical across levels and element types.
struct ConversionKernels {
    void (*widen_half)(const std::uint16_t* source, float* destination, std::size_t count);
    void (*narrow_half)(const float* source, std::uint16_t* destination, std::size_t count);
    void (*widen_bfloat16)(const std::uint16_t* source, float* destination, std::size_t count);
    void (*narrow_bfloat16)(const float* source, std::uint16_t* destination, std::size_t count);
    void (*add_half_squares)(SquareLanes& lanes, const std::uint16_t* values, std::size_t count);
    void (*add_bfloat16_squares)(SquareLanes& lanes, const std::uint16_t* values, std::size_t count);
};

ConversionKernels scalar_conversions();
ConversionKernels avx2_conversions();
ConversionKernels avx512_conversions();
ConversionKernels avx512_bf16_conversions();
ConversionKernels neon_conversions();

}  // namespace nab::cpu
