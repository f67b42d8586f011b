// The portable 16-bit conversions: core/half_precision.h one element at a time.
#include "core/half_precision.h"
#include "cpu/cpu_kernels.h"

namespace nab::cpu {

namespace {
void widen_half(const std::uint16_t* source, float* destination, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) destination[i] = half_to_float(source[i]);
}
void narrow_half(const float* source, std::uint16_t* destination, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) destination[i] = float_to_half(source[i]);
}
void widen_bfloat16(const std::uint16_t* source, float* destination, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) destination[i] = bfloat16_to_float(source[i]);
}
void narrow_bfloat16(const float* source, std::uint16_t* destination, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) destination[i] = float_to_bfloat16(source[i]);
}
}  // namespace

ConversionKernels scalar_conversions() { return {&widen_half, &narrow_half, &widen_bfloat16, &narrow_bfloat16}; }

}  // namespace nab::cpu
