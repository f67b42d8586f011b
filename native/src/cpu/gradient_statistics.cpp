#include "cpu/gradient_statistics.h"

#include <cstdint>
#include <cstring>

namespace nab::cpu {

GradientStatistics float_statistics(const float* values, std::size_t count) {
    // Eight independent partial sums (element i goes to lane i % 8): enough parallel additions
    // to keep up with memory, and a fixed association, so the compiler may vectorise the lanes
    // without changing a bit of the result.
    constexpr std::size_t lanes = 8;
    double sums[lanes] = {};
    std::uint64_t nonfinite[lanes] = {};
    constexpr std::uint32_t exponent_mask = 0x7f800000u;
    std::size_t i = 0;
    for (; i + lanes <= count; i += lanes) {
        for (std::size_t k = 0; k < lanes; ++k) {
            const float value = values[i + k];
            std::uint32_t bits;
            std::memcpy(&bits, &value, sizeof bits);
            nonfinite[k] += (bits & exponent_mask) == exponent_mask ? 1u : 0u;
            sums[k] += static_cast<double>(value) * static_cast<double>(value);
        }
    }
    for (std::size_t k = 0; i + k < count; ++k) {
        const float value = values[i + k];
        std::uint32_t bits;
        std::memcpy(&bits, &value, sizeof bits);
        nonfinite[k] += (bits & exponent_mask) == exponent_mask ? 1u : 0u;
        sums[k] += static_cast<double>(value) * static_cast<double>(value);
    }
    GradientStatistics total;
    for (std::size_t k = 0; k < lanes; ++k) {
        total.sum_of_squares += sums[k];
        total.nonfinite_count += nonfinite[k];
    }
    return total;
}

}  // namespace nab::cpu
