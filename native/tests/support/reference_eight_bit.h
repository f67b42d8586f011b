// An independent float64 reference of the 8-bit state (docs/algorithm.md, "8-bit state"),
// written from that page, not from native/src/core/block_quantization.h: code values from the
// formula, the nearest code by search over the sorted values, block scales by frexp. It shares
// nothing with the library but the public header.
//
// With reference_step (reference_adabelief.h), it is the reference of the quantized algorithm: a
// step decodes the library's codes (exactly, in double), runs the float64 update, and the new
// double values must give the library's new codes and scales. A float64 value and the library's
// float32 one differ by rounding, so where a value lies within that rounding of the boundary
// between two codes (or of the boundary between two scales), either side is right: those ties
// are counted and allowed, everything else must match exactly.
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

// The value of a code before scaling: signed, 1 sign, 4 exponent, 3 fraction bits with
// subnormals (0 .. 1.875); unsigned, 5 exponent and 3 fraction bits, no zero (2^-31 .. 1.875).
double code_value(EightBitFormat format, uint8_t code);

// The scale of a block whose largest magnitude is `largest`: 0 for 0, NaN for NaN or
// infinity, else 2^k with k the exponent of `largest` rounded to 4 significant bits, clamped
// to [-126, 127].
double reference_block_scale(double largest);

// The nearest code to value / scale (scale a power of two), ties to the even code; the sign of
// a signed code is the value's.
uint8_t reference_code(EightBitFormat format, double value, double scale);

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
    std::size_t scale_ties = 0;    // different scales, allowed likewise
    std::string failure;           // empty when every code and scale matches or ties
};
// `reference` holds the float64 values the library's float32 ones stand for and `magnitude`
// the size of the terms each was summed from (ReferenceTensor's *_magnitude): within
// kTieTolerance of it, a value is as near to one code (or scale) as the library computed.
inline constexpr double kTieTolerance = 1e-5;
CodeComparison compare_codes(EightBitFormat format, const CodedArray& library, const std::vector<double>& reference,
                             const std::vector<double>& magnitude);

}  // namespace nabtest

#endif  // NAB_TESTS_SUPPORT_REFERENCE_EIGHT_BIT_H
