#include "cpu/gradient_statistics.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace nab::cpu {

namespace {

// The body of both routines below: `widen(i)` is element i as a float32 (exact). 32 independent
// partial sums (element i goes to lane i % 32): four 512-bit accumulators, enough independent
// additions to hide their latency and keep up with memory, and a fixed association, so the
// compiler may vectorise the lanes without changing a bit; the same association for every
// element type, so bfloat16 values sum exactly as their widened float32 copies would.
template <class Widen>
[[gnu::always_inline]] inline GradientStatistics statistics(Widen widen, std::size_t count) {
    constexpr std::size_t lanes = 32;
    double sums[lanes] = {};
    std::size_t i = 0;
    for (; i + lanes <= count; i += lanes) {
        for (std::size_t k = 0; k < lanes; ++k) sums[k] += static_cast<double>(widen(i + k)) * widen(i + k);
    }
    for (std::size_t k = 0; i + k < count; ++k) sums[k] += static_cast<double>(widen(i + k)) * widen(i + k);
    GradientStatistics total;
    for (std::size_t k = 0; k < lanes; ++k) total.sum_of_squares += sums[k];
    // Finite float32 squares cannot overflow a double sum, so the sum is finite exactly when
    // every value is: only then (rarely) is it worth counting the NaN and Inf elements.
    if (!std::isfinite(total.sum_of_squares)) {
        constexpr std::uint32_t exponent_mask = 0x7f800000u;
        for (std::size_t j = 0; j < count; ++j) {
            const float value = widen(j);
            std::uint32_t bits;
            std::memcpy(&bits, &value, sizeof bits);
            total.nonfinite_count += (bits & exponent_mask) == exponent_mask ? 1u : 0u;
        }
    }
    return total;
}

}  // namespace

// Compiled for the widest vectors the CPU has and chosen once at load time (GCC function
// multi-versioning): the lanes are independent, so every version gives the same bits.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#  if __GNUC__ >= 11
#    define NAB_WIDEST_VECTORS __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#  else
// GCC 10 (Debian 11's, which builds the released library) has no x86-64-vN level names: the
// instruction sets that pick the same vector widths.
#    define NAB_WIDEST_VECTORS __attribute__((target_clones("avx512f", "avx2", "default")))
#  endif
#else
#  define NAB_WIDEST_VECTORS
#endif

NAB_WIDEST_VECTORS GradientStatistics float_statistics(const float* values, std::size_t count) {
    return statistics([values](std::size_t i) { return values[i]; }, count);
}

NAB_WIDEST_VECTORS GradientStatistics bfloat16_statistics(const std::uint16_t* values, std::size_t count) {
    return statistics(
        [values](std::size_t i) {
            const std::uint32_t bits = static_cast<std::uint32_t>(values[i]) << 16;
            float value;
            std::memcpy(&value, &bits, sizeof value);
            return value;
        },
        count);
}

#undef NAB_WIDEST_VECTORS

}  // namespace nab::cpu
