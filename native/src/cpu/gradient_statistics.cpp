#include "cpu/gradient_statistics.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace nab::cpu {

// Compiled for the widest vectors the CPU has and chosen once at load time (GCC function
// multi-versioning): the lanes below are independent, so every version gives the same bits.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#  if __GNUC__ >= 11
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#  else
// GCC 10 (Debian 11's, which builds the released library) has no x86-64-vN level names: the
// instruction sets that pick the same vector widths.
__attribute__((target_clones("avx512f", "avx2", "default")))
#  endif
#endif
GradientStatistics float_statistics(const float* values, std::size_t count) {
    // 32 independent partial sums (element i goes to lane i % 32): four 512-bit accumulators,
    // enough independent additions to hide their latency and keep up with memory, and a fixed
    // association, so the compiler may vectorise the lanes without changing a bit.
    constexpr std::size_t lanes = 32;
    double sums[lanes] = {};
    std::size_t i = 0;
    for (; i + lanes <= count; i += lanes) {
        for (std::size_t k = 0; k < lanes; ++k) sums[k] += static_cast<double>(values[i + k]) * values[i + k];
    }
    for (std::size_t k = 0; i + k < count; ++k) sums[k] += static_cast<double>(values[i + k]) * values[i + k];
    GradientStatistics total;
    for (std::size_t k = 0; k < lanes; ++k) total.sum_of_squares += sums[k];
    // Finite float32 squares cannot overflow a double sum, so the sum is finite exactly when
    // every value is: only then (rarely) is it worth counting the NaN and Inf elements.
    if (!std::isfinite(total.sum_of_squares)) {
        constexpr std::uint32_t exponent_mask = 0x7f800000u;
        for (std::size_t j = 0; j < count; ++j) {
            std::uint32_t bits;
            std::memcpy(&bits, values + j, sizeof bits);
            total.nonfinite_count += (bits & exponent_mask) == exponent_mask ? 1u : 0u;
        }
    }
    return total;
}

}  // namespace nab::cpu
