// An independent float64 reference of the 8-bit state (docs/algorithm.md, "8-bit state"),
// written from that page, not from native/src/core/block_quantization.h: code values from the
// formula, the nearest code by search over the sorted values, block scales by frexp. It shares
// nothing with the library but the public header.
//
// With reference_step (reference_adabelief.h), it is the reference of the quantized algorithm: a
// step decodes the library's codes (exactly, in double), runs the float64 update, and the new
// double values must give the library's new scales (each block's largest magnitude: to float32
// rounding) and codes (exactly). A float64 value and the library's float32 one differ by
// rounding, so where a value lies within that rounding of the boundary between two codes, either
// code is right: those ties are counted and allowed, every other code must match.
#ifndef NAB_TESTS_SUPPORT_REFERENCE_EIGHT_BIT_H
#define NAB_TESTS_SUPPORT_REFERENCE_EIGHT_BIT_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "native_adabelief.h"

namespace nabtest {

inline constexpr std::size_t kEightBitBlock = NAB_BLOCKWISE_8BIT_BLOCK_SIZE;

// m is signed; s and s_max are unsigned.
enum class EightBitFormat { Signed, Unsigned };
EightBitFormat format_of(int32_t state_kind);

// The value of a code before scaling: signed, sign and magnitude a = 8e + f with 4 exponent,
// 3 fraction bits and subnormals (2^(e-16)(1 + f/8), 2^-15 f/8 for e = 0), a = 127 standing for
// 1; unsigned, 5 exponent and 3 fraction bits without a zero (2^(e-32)(1 + f/8)), 255 standing
// for 1.
double code_value(EightBitFormat format, uint8_t code);

// The scale of a block whose largest magnitude is `largest`: 0 for 0, NaN for NaN or infinity,
// else `largest`, but at least 2^-126.
double reference_block_scale(double largest);

// The code nearest to y = |value| / scale >= 0 (ties to the even code); the sign of a signed
// code is `negative`.
uint8_t reference_code(EightBitFormat format, double y, bool negative);

// What an element is multiplied by before its code is chosen: 1 / scale rounded to float32.
double reference_inverse(float scale);

// One state array of a tensor as the library stores it.
struct CodedArray {
    std::vector<uint8_t> codes;
    std::vector<float> scales;
    bool operator==(const CodedArray& other) const;
};
CodedArray read_codes(nab_optimizer* optimizer, uint32_t tensor_id, int32_t state_kind, std::size_t element_count);
// code_value(code) * scale, exactly.
std::vector<double> decode(EightBitFormat format, const CodedArray& coded);

// How the library's codes compare with a reference's values.
struct CodeComparison {
    std::size_t codes = 0;         // codes compared
    std::size_t code_ties = 0;     // different codes, allowed: the value is within rounding of their boundary
    std::string failure;           // empty when every code matches or ties and every scale matches
};
// `reference` holds the float64 values the library's float32 ones stand for and `magnitude`
// the size of the terms each was summed from (ReferenceTensor's *_magnitude): within
// kTieTolerance of it, a value is as near to one code as the library computed, and a block's
// scale is its largest magnitude.
inline constexpr double kTieTolerance = 1e-5;
CodeComparison compare_codes(EightBitFormat format, const CodedArray& library, const std::vector<double>& reference,
                             const std::vector<double>& magnitude);

}  // namespace nabtest

#endif  // NAB_TESTS_SUPPORT_REFERENCE_EIGHT_BIT_H
