#include "support/sixteen_bit.h"

#include <cmath>
#include <cstdlib>

namespace nabtest {

namespace {

struct Format {
    int exponent_bits;
    int fraction_bits;
    int bias() const { return (1 << (exponent_bits - 1)) - 1; }
    std::uint32_t exponent_mask() const { return (1u << exponent_bits) - 1u; }
};

Format format_of(nab_dtype dtype) { return dtype == NAB_DTYPE_FLOAT16 ? Format{5, 10} : Format{8, 7}; }

// Orders the patterns of one format like the values they hold (negatives below positives).
std::int32_t ordered(std::uint16_t bits) {
    return (bits & 0x8000u) != 0 ? -static_cast<std::int32_t>(bits & 0x7fffu) : static_cast<std::int32_t>(bits);
}

}  // namespace

double decode_sixteen_bit(std::uint16_t bits, nab_dtype dtype) {
    const Format f = format_of(dtype);
    const double sign = (bits & 0x8000u) != 0 ? -1.0 : 1.0;
    const std::uint32_t exponent = (bits >> f.fraction_bits) & f.exponent_mask();
    const std::uint32_t fraction = bits & ((1u << f.fraction_bits) - 1u);
    if (exponent == f.exponent_mask()) return fraction != 0 ? std::nan("") : sign * INFINITY;
    if (exponent == 0) return sign * std::ldexp(static_cast<double>(fraction), 1 - f.bias() - f.fraction_bits);
    return sign * std::ldexp(1.0 + std::ldexp(static_cast<double>(fraction), -f.fraction_bits),
                             static_cast<int>(exponent) - f.bias());
}

std::uint16_t encode_sixteen_bit(double value, nab_dtype dtype) {
    const Format f = format_of(dtype);
    const std::uint16_t sign = std::signbit(value) ? 0x8000u : 0u;
    const std::uint16_t infinity = static_cast<std::uint16_t>(sign | (f.exponent_mask() << f.fraction_bits));
    const double magnitude = std::fabs(value);
    if (std::isinf(magnitude)) return infinity;
    if (magnitude == 0.0) return sign;
    const int min_exponent = 1 - f.bias();
    int exponent = std::ilogb(magnitude);
    if (exponent < min_exponent) exponent = min_exponent;
    // The significand in units of the format's last place at this exponent, rounded to
    // nearest even by nearbyint (the default rounding mode).
    double units = std::nearbyint(std::ldexp(magnitude, f.fraction_bits - exponent));
    const double implicit = std::ldexp(1.0, f.fraction_bits);
    if (units == 2.0 * implicit) {  // rounded up into the next binade
        units = implicit;
        ++exponent;
    }
    if (exponent > f.bias()) return infinity;
    const auto integer_units = static_cast<std::uint32_t>(units);
    if (integer_units < implicit) return static_cast<std::uint16_t>(sign | integer_units);  // subnormal
    const std::uint32_t biased = static_cast<std::uint32_t>(exponent + f.bias());
    return static_cast<std::uint16_t>(sign | (biased << f.fraction_bits) |
                                      (integer_units - static_cast<std::uint32_t>(implicit)));
}

bool is_nonfinite_sixteen_bit(std::uint16_t bits, nab_dtype dtype) {
    const Format f = format_of(dtype);
    return ((bits >> f.fraction_bits) & f.exponent_mask()) == f.exponent_mask();
}

std::uint32_t sixteen_bit_distance(std::uint16_t a, std::uint16_t b) {
    return static_cast<std::uint32_t>(std::abs(ordered(a) - ordered(b)));
}

}  // namespace nabtest
