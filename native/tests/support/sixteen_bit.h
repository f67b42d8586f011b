// float16 and bfloat16 for the tests, written from the formats' definitions in double
// arithmetic (sign, biased exponent, fraction; round to nearest, ties to even via nearbyint),
// independently of the library's integer bit manipulation (native/src/core/half_precision.h).
#ifndef NAB_TESTS_SUPPORT_SIXTEEN_BIT_H
#define NAB_TESTS_SUPPORT_SIXTEEN_BIT_H

#include <cstdint>

#include "native_adabelief.h"

namespace nabtest {

// The value of a 16-bit pattern of `dtype` (NAB_DTYPE_FLOAT16 or NAB_DTYPE_BFLOAT16), exactly.
double decode_sixteen_bit(std::uint16_t bits, nab_dtype dtype);

// The pattern nearest to a non-NaN `value` (ties to even; beyond the largest finite value
// rounds to infinity as IEEE-754 specifies).
std::uint16_t encode_sixteen_bit(double value, nab_dtype dtype);

// True for the patterns with an all-ones exponent (NaN, +-Inf).
bool is_nonfinite_sixteen_bit(std::uint16_t bits, nab_dtype dtype);

// One unit in the last place between two finite patterns of the same sign, counted in steps
// of the format (|a - b| as ordered integers).
std::uint32_t sixteen_bit_distance(std::uint16_t a, std::uint16_t b);

}  // namespace nabtest

#endif  // NAB_TESTS_SUPPORT_SIXTEEN_BIT_H
