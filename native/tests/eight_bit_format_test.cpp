// The 8-bit formats of core/block_quantization.h against the float64 reference written from
// docs/algorithm.md (support/reference_eight_bit.*): every code decodes to its value, every value
// gets the nearest code (exhaustively over float32 patterns near every boundary, and randomly
// over the whole range), block scales follow the rule, the scalar and SIMD code paths agree (the
// step test covers those), and nab_state_decode decodes as the optimizer does.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <limits>
#include <vector>

#include "core/block_quantization.h"
#include "native_adabelief.h"
#include "support/reference_eight_bit.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

float float_of(uint32_t bits) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

EightBitFormat reference_format(nab::CodeFormat format) {
    return format == nab::CodeFormat::Signed ? EightBitFormat::Signed : EightBitFormat::Unsigned;
}

template <nab::CodeFormat Format>
void expect_every_code_decodes_to_its_value(Random& random) {
    std::vector<float> scales = {std::ldexp(1.0f, -126), 1.0f, std::numeric_limits<float>::max(), 3.0f, 1e-30f};
    for (int i = 0; i < 20; ++i) scales.push_back(static_cast<float>(std::pow(10.0, random.uniform(-37.0, 38.0))));
    for (int code = 0; code < 256; ++code) {
        for (float scale : scales) {
            const float decoded = nab::decode<Format, nab::ScalarLanes>(static_cast<uint32_t>(code), scale);
            // The product of the code's value (4 significant bits) and the scale is exact in
            // double; float32 rounds it once.
            const double expected = code_value(reference_format(Format), static_cast<uint8_t>(code)) * scale;
            ASSERT_EQ(decoded, static_cast<float>(expected)) << "code " << code << ", scale " << scale;
        }
    }
}

TEST(EightBitFormatTest, EveryCodeDecodesToItsValue) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    expect_every_code_decodes_to_its_value<nab::CodeFormat::Signed>(random);
    expect_every_code_decodes_to_its_value<nab::CodeFormat::Unsigned>(random);
}

TEST(EightBitFormatTest, CodesAreOrderedAndTheUnsignedFormatHasNoZero) {
    for (int code = 1; code < 128; ++code) {
        EXPECT_LT(code_value(EightBitFormat::Signed, static_cast<uint8_t>(code - 1)),
                  code_value(EightBitFormat::Signed, static_cast<uint8_t>(code)));
    }
    for (int code = 1; code < 256; ++code) {
        EXPECT_LT(code_value(EightBitFormat::Unsigned, static_cast<uint8_t>(code - 1)),
                  code_value(EightBitFormat::Unsigned, static_cast<uint8_t>(code)));
    }
    EXPECT_EQ(code_value(EightBitFormat::Signed, 0), 0.0);
    EXPECT_EQ(code_value(EightBitFormat::Unsigned, 0), std::ldexp(1.0, -32));
    EXPECT_EQ(code_value(EightBitFormat::Signed, 127), 1.0);
    EXPECT_EQ(code_value(EightBitFormat::Unsigned, 255), 1.0);
    EXPECT_EQ(code_value(EightBitFormat::Signed, 126), 0.875);
    EXPECT_EQ(code_value(EightBitFormat::Unsigned, 254), 0.875);
}

// The library's code for `value` under `scale` against the reference's code nearest to
// y = |value| * (1 / scale), both rounded to float32 as the format's definition has them.
template <nab::CodeFormat Format>
testing::AssertionResult same_code(float value, float scale) {
    const float inverse = 1.0f / scale;
    const auto code = static_cast<uint8_t>(nab::encode<Format, nab::ScalarLanes>(value, inverse));
    const float y = std::fabs(value) * inverse;
    const uint8_t expected = reference_code(reference_format(Format), y, std::signbit(value));
    if (code == expected) return testing::AssertionSuccess();
    return testing::AssertionFailure() << "value " << value << " (bits 0x" << std::hex << nab::ScalarLanes::bits(value)
                                       << std::dec << ") at scale " << scale << " (y " << y << "): code " << int{code}
                                       << ", reference " << int{expected};
}

// Every float32 within a few ulps of every boundary between two codes (the midpoints, where the
// rounding decides, ties included) and of every code value, at several scales (y up to 1, the
// largest element's, and a rounding above).
template <nab::CodeFormat Format>
void expect_nearest_code_at_every_boundary() {
    const EightBitFormat format = reference_format(Format);
    const int codes = Format == nab::CodeFormat::Signed ? 128 : 256;
    std::vector<double> points;
    for (int c = 0; c < codes; ++c) {
        points.push_back(code_value(format, static_cast<uint8_t>(c)));
        if (c + 1 < codes) {
            points.push_back((code_value(format, static_cast<uint8_t>(c)) + code_value(format, static_cast<uint8_t>(c + 1))) / 2);
        }
    }
    points.push_back(0x1p-33);  // below the smallest unsigned code
    for (float scale : {1.0f, std::ldexp(1.0f, -126), 3.0f, 1e30f}) {
        for (double point : points) {
            const float center = static_cast<float>(point * scale);
            if (!std::isfinite(center) || center == 0.0f) continue;
            const uint32_t bits = nab::ScalarLanes::bits(center);
            for (int delta = -4; delta <= 4; ++delta) {
                const float value = float_of(bits + static_cast<uint32_t>(delta));
                if (!(value >= 0.0f) || !std::isfinite(value) || value * (1.0f / scale) > 1.0000002f) continue;
                ASSERT_TRUE(same_code<Format>(value, scale));
                if (Format == nab::CodeFormat::Signed) {
                    ASSERT_TRUE(same_code<Format>(-value, scale));
                }
            }
        }
    }
}

TEST(EightBitFormatTest, NearestCodeAtEveryBoundary) {
    expect_nearest_code_at_every_boundary<nab::CodeFormat::Signed>();
    expect_nearest_code_at_every_boundary<nab::CodeFormat::Unsigned>();
}

TEST(EightBitFormatTest, NearestCodeForRandomValues) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    for (int i = 0; i < 200000; ++i) {
        // A block's largest magnitude (its scale) and a value at most that large, their ratio
        // spread over 2^-40 .. 1 (below the formats' ranges too).
        const float scale = static_cast<float>(std::pow(10.0, random.uniform(-37.0, 38.0)));
        const float value = static_cast<float>(scale * std::ldexp(random.uniform(0.5, 1.0), -static_cast<int>(random.integer(0, 40))));
        if (!(value > 0.0f) || value > scale) continue;
        ASSERT_TRUE(same_code<nab::CodeFormat::Signed>(random.chance(0.5) ? value : -value, scale));
        ASSERT_TRUE(same_code<nab::CodeFormat::Unsigned>(value, scale));
    }
}

TEST(EightBitFormatTest, ZeroAndSignedZeroAndSubnormalInputs) {
    EXPECT_TRUE(same_code<nab::CodeFormat::Signed>(0.0f, 1.0f));
    EXPECT_TRUE(same_code<nab::CodeFormat::Signed>(-0.0f, 1.0f));
    EXPECT_TRUE(same_code<nab::CodeFormat::Unsigned>(0.0f, 1.0f));  // no zero: the smallest code
    EXPECT_EQ((nab::encode<nab::CodeFormat::Unsigned, nab::ScalarLanes>(0.0f, 1.0f)), 0u);
    for (uint32_t bits : {1u, 0x00400000u, 0x007fffffu}) {  // float32 subnormals
        const float value = float_of(bits);
        EXPECT_TRUE(same_code<nab::CodeFormat::Signed>(value, std::ldexp(1.0f, -126)));
        EXPECT_TRUE(same_code<nab::CodeFormat::Unsigned>(value, std::ldexp(1.0f, -126)));
    }
    // The largest element (y = 1 within a rounding) gets the code that stands for 1.
    for (float scale : {1.0f, 3.0f, 0.7f, 1e-30f, std::numeric_limits<float>::max()}) {
        EXPECT_EQ((nab::encode<nab::CodeFormat::Signed, nab::ScalarLanes>(scale, 1.0f / scale)), 127u) << scale;
        EXPECT_EQ((nab::encode<nab::CodeFormat::Signed, nab::ScalarLanes>(-scale, 1.0f / scale)), 255u) << scale;
        EXPECT_EQ((nab::encode<nab::CodeFormat::Unsigned, nab::ScalarLanes>(scale, 1.0f / scale)), 255u) << scale;
    }
}

TEST(EightBitFormatTest, BlockScaleFollowsTheRule) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    std::vector<float> samples = {std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
                                  std::numeric_limits<float>::max(), 1.0f, 3.0f, float_of(0x007fffffu)};
    for (int i = 0; i < 100000; ++i) {
        samples.push_back(float_of(static_cast<uint32_t>(random.integer(1, 0x7f7fffff))));
    }
    for (float largest : samples) {
        const nab::BlockScale s = nab::block_scale<nab::ScalarLanes>(nab::ScalarLanes::bits(largest));
        ASSERT_TRUE(s.finite);
        ASSERT_EQ(static_cast<double>(s.scale), reference_block_scale(largest)) << "largest " << largest;
        ASSERT_EQ(static_cast<double>(s.inverse), reference_inverse(s.scale)) << "largest " << largest;
        ASSERT_TRUE(std::isfinite(s.inverse)) << "largest " << largest;
    }
    EXPECT_EQ(nab::block_scale<nab::ScalarLanes>(0).scale, 0.0f);
    EXPECT_FALSE(nab::block_scale<nab::ScalarLanes>(0x7f800000u).finite);
    EXPECT_TRUE(std::isnan(nab::block_scale<nab::ScalarLanes>(0x7fc00000u).scale));
    EXPECT_TRUE(std::isnan(reference_block_scale(INFINITY)));
}

// Blocks whose values span far more than the formats' ranges: the unsigned format (s, s_max)
// never stores 0 while its block holds a non-zero value, values below its range take its
// smallest code (2^-32 of the scale: larger than the value, never smaller), values inside it
// are within 1/15 of themselves, and the largest is exact.
TEST(EightBitFormatTest, ExtremeDynamicRangeNeverQuantizesSToZero) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    for (int round = 0; round < 200; ++round) {
        std::vector<float> values(kEightBitBlock);
        for (float& v : values) v = static_cast<float>(std::pow(10.0, random.uniform(-38.0, 38.0)));
        values[random.integer(0, kEightBitBlock - 1)] = 0.0f;
        std::vector<uint8_t> codes(values.size());
        float scale = 0.0f;
        nab::quantize_array<nab::CodeFormat::Unsigned>(values.data(), values.size(), codes.data(), &scale);
        std::vector<float> decoded(values.size());
        nab::dequantize_array<nab::CodeFormat::Unsigned>(codes.data(), &scale, values.size(), decoded.data());
        const float largest = *std::max_element(values.begin(), values.end());
        ASSERT_EQ(scale, largest);
        for (std::size_t i = 0; i < values.size(); ++i) {
            ASSERT_GT(decoded[i], 0.0f) << "s quantized to 0 at " << i << " (value " << values[i] << ")";
            const double floor = std::ldexp(1.0, -32) * scale;
            if (values[i] == largest) {
                ASSERT_EQ(decoded[i], largest);
            } else if (values[i] >= floor) {
                ASSERT_LE(std::fabs(decoded[i] - values[i]), values[i] / 15.0) << i;
            } else {
                ASSERT_EQ(static_cast<double>(decoded[i]), static_cast<double>(static_cast<float>(floor))) << i;
            }
        }
    }
}

TEST(EightBitFormatTest, StateDecodeMatchesTheOptimizersDecoding) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    const std::size_t count = 1000;  // 4 blocks, the last one partial
    std::vector<uint8_t> codes(count);
    for (uint8_t& c : codes) c = static_cast<uint8_t>(random.integer(0, 255));
    const std::vector<float> scales = {1.0f, std::ldexp(1.0f, -126), 0.0f, 3.25e11f};
    for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
        std::vector<float> decoded(count);
        NAB_ASSERT_OK(nab_state_decode(NAB_STATE_ENCODING_BLOCKWISE_8BIT, kind, codes.data(), count, scales.data(),
                                       scales.size(), decoded.data()));
        const std::vector<double> expected = decode(format_of(kind), CodedArray{codes, scales});
        for (std::size_t i = 0; i < count; ++i) {
            ASSERT_EQ(decoded[i], static_cast<float>(expected[i])) << "kind " << kind << ", element " << i;
        }
        ASSERT_NE(nab_state_format_name(NAB_STATE_ENCODING_BLOCKWISE_8BIT, kind), nullptr);
    }
    EXPECT_STRNE(nab_state_format_name(NAB_STATE_ENCODING_BLOCKWISE_8BIT, NAB_STATE_FIRST_MOMENT),
                 nab_state_format_name(NAB_STATE_ENCODING_BLOCKWISE_8BIT, NAB_STATE_SECOND_MOMENT));
    EXPECT_STREQ(nab_state_format_name(NAB_STATE_ENCODING_BLOCKWISE_8BIT, NAB_STATE_SECOND_MOMENT),
                 nab_state_format_name(NAB_STATE_ENCODING_BLOCKWISE_8BIT, NAB_STATE_MAX_SECOND_MOMENT));
    EXPECT_EQ(nab_state_format_name(NAB_STATE_ENCODING_FLOAT32, NAB_STATE_FIRST_MOMENT), nullptr);
    EXPECT_EQ(nab_state_format_name(NAB_STATE_ENCODING_BLOCKWISE_8BIT, NAB_STATE_MASTER_PARAMETERS), nullptr);
}

}  // namespace
}  // namespace nabtest
