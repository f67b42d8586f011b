// The 8-bit formats in float64. Read next to docs/algorithm.md, "8-bit state".
#include "support/reference_eight_bit.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>

#include "support/test_support.h"

namespace nabtest {

namespace {

// The codes of a format in ascending order of value: signed magnitudes 0..127 (the sign is a
// separate bit), unsigned codes 0..255. The 8-bit tests search a table once per element per
// step (with a search of the whole table, about half their time natively, and they run ten
// times slower under qemu), so each table also says where every binade's codes start: a value
// in [2^e, 2^(e+1)) has its lower bound between first_at_least[e - kLowestExponent] and
// first_at_least[e + 1 - kLowestExponent], one binade's codes (at most nine).
struct CodeTable {
    static constexpr int kLowestExponent = -64;  // below every nonzero code
    static constexpr int kBinades = 66;          // up to 2^2, above every code
    std::vector<double> values;                  // values[code]
    std::size_t first_at_least[kBinades + 1] = {};  // the first code whose value is >= 2^(j + kLowestExponent)

    void index_binades() {
        for (int j = 0; j <= kBinades; ++j) {
            const double bound = std::ldexp(1.0, j + kLowestExponent);
            first_at_least[j] = static_cast<std::size_t>(std::lower_bound(values.begin(), values.end(), bound) - values.begin());
        }
    }
};

const CodeTable& table_of(EightBitFormat format) {
    static const CodeTable signed_table = [] {
        CodeTable t;
        for (int a = 0; a < 128; ++a) {
            const int e = a >> 3, f = a & 7;
            t.values.push_back(a == 127 ? 1.0 : e == 0 ? std::ldexp(f / 8.0, -15) : std::ldexp(1.0 + f / 8.0, e - 16));
        }
        t.index_binades();
        return t;
    }();
    static const CodeTable unsigned_table = [] {
        CodeTable t;
        for (int c = 0; c < 256; ++c) {
            const int e = c >> 3, f = c & 7;
            t.values.push_back(c == 255 ? 1.0 : std::ldexp(1.0 + f / 8.0, e - 32));
        }
        t.index_binades();
        return t;
    }();
    return format == EightBitFormat::Signed ? signed_table : unsigned_table;
}

// std::lower_bound's answer over the whole table (the first code whose value is not below y),
// searched among y's binade only.
std::size_t lower_bound_index(const CodeTable& table, double y) {
    if (std::isnan(y)) return 0;  // no value compares: std::lower_bound stops at the start
    std::uint64_t bits = 0;
    std::memcpy(&bits, &y, sizeof bits);
    // y >= 0: a normal double lies in [2^exponent, 2^(exponent+1)); zero and the subnormals come
    // out below every binade, infinity above.
    const int exponent = static_cast<int>((bits >> 52) & 0x7ff) - 1023;
    const int j = exponent - CodeTable::kLowestExponent;
    const std::size_t lo = j <= 0 ? 0 : table.first_at_least[std::min(j, CodeTable::kBinades)];
    const std::size_t hi = j < 0 ? table.first_at_least[0]
                         : j >= CodeTable::kBinades ? table.values.size()
                                                    : table.first_at_least[j + 1];
    // Counted rather than bisected: the codes below y in its binade (eight in most binades, so the
    // loop's length is predicted), where std::lower_bound's comparisons, one mispredicted branch in
    // two on random values, made this search 45% of an 8-bit test's time.
    std::size_t below = lo;
    for (std::size_t k = lo; k < hi; ++k) below += table.values[k] < y ? 1 : 0;
    return below;
}

// The index of the value nearest to y >= 0 in an ascending table, ties to the even index.
int nearest_index(const CodeTable& table, double y) {
    const std::vector<double>& values = table.values;
    const std::size_t upper = lower_bound_index(table, y);
    if (upper == 0) return 0;
    if (upper == values.size()) return static_cast<int>(values.size()) - 1;
    const int above = static_cast<int>(upper), below = above - 1;
    const double to_below = y - values[below], to_above = values[above] - y;
    if (to_below < to_above) return below;
    if (to_above < to_below) return above;
    return below % 2 == 0 ? below : above;
}

}  // namespace

EightBitFormat format_of(int32_t state_kind) {
    return state_kind == NAB_STATE_FIRST_MOMENT ? EightBitFormat::Signed : EightBitFormat::Unsigned;
}

double code_value(EightBitFormat format, uint8_t code) {
    if (format == EightBitFormat::Unsigned) return table_of(format).values[code];
    const double magnitude = table_of(format).values[code & 0x7f];
    return (code & 0x80) != 0 ? -magnitude : magnitude;
}

double reference_block_scale(double largest) {
    if (!std::isfinite(largest)) return NAN;
    if (largest == 0.0) return 0.0;
    return std::max(largest, std::ldexp(1.0, -126));
}

double reference_inverse(float scale) { return static_cast<double>(1.0f / scale); }

uint8_t reference_code(EightBitFormat format, double y, bool negative) {
    const int index = nearest_index(table_of(format), y);
    if (format == EightBitFormat::Unsigned) return static_cast<uint8_t>(index);
    return static_cast<uint8_t>(index | (negative ? 0x80 : 0));
}

bool CodedArray::operator==(const CodedArray& other) const {
    if (codes != other.codes || scales.size() != other.scales.size()) return false;
    for (std::size_t i = 0; i < scales.size(); ++i) {
        // NaN scales compare by their bits.
        uint32_t a = 0, b = 0;
        std::memcpy(&a, &scales[i], sizeof a);
        std::memcpy(&b, &other.scales[i], sizeof b);
        if (a != b) return false;
    }
    return true;
}

CodedArray read_codes(nab_optimizer* optimizer, uint32_t tensor_id, int32_t state_kind, std::size_t element_count) {
    CodedArray coded;
    coded.codes.resize(element_count);
    coded.scales.resize((element_count + kEightBitBlock - 1) / kEightBitBlock);
    const nab_status status = nab_optimizer_read_state_codes(optimizer, tensor_id, state_kind, coded.codes.data(),
                                                             element_count, coded.scales.data(), coded.scales.size());
    EXPECT_EQ(status, NAB_STATUS_OK) << "nab_optimizer_read_state_codes(tensor " << tensor_id << ", kind "
                                     << state_kind << "): " << nab_get_last_error();
    return coded;
}

std::vector<double> decode(EightBitFormat format, const CodedArray& coded) {
    std::vector<double> values(coded.codes.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        values[i] = code_value(format, coded.codes[i]) * static_cast<double>(coded.scales[i / kEightBitBlock]);
    }
    return values;
}

CodeComparison compare_codes(EightBitFormat format, const CodedArray& library, const std::vector<double>& reference,
                             const std::vector<double>& magnitude) {
    CodeComparison result;
    std::ostringstream failure;
    failure.precision(9);
    auto fail = [&](const std::string& text) {
        if (result.failure.empty()) result.failure = text;
    };
    for (std::size_t block = 0; block < library.scales.size() && result.failure.empty(); ++block) {
        const std::size_t begin = block * kEightBitBlock;
        const std::size_t end = std::min(reference.size(), begin + kEightBitBlock);
        double largest = 0.0, largest_magnitude = 0.0;
        for (std::size_t i = begin; i < end; ++i) {
            largest = std::max(largest, std::fabs(reference[i]));
            largest_magnitude = std::max(largest_magnitude, magnitude[i]);
        }
        const float scale = library.scales[block];
        // The library's largest float32 value is within its rounding of the reference's.
        const double slack = kTieTolerance * largest_magnitude;
        const double expected = reference_block_scale(largest);
        if (!(scale == expected)) {
            if (!(std::fabs(scale - expected) <= slack || (scale == 0.0f && largest <= slack))) {
                std::ostringstream text;
                text.precision(9);
                text << "block " << block << ": scale " << scale << ", reference " << expected;
                fail(text.str());
                break;
            }
        }
        const double inverse = scale == 0.0f ? 0.0 : reference_inverse(scale);
        for (std::size_t i = begin; i < end; ++i) {
            ++result.codes;
            const uint8_t code = library.codes[i];
            if (scale == 0.0f) {
                // A block of zeros: every code stands for 0 (signed: +0 or -0); an unsigned code is 0.
                const bool zero = format == EightBitFormat::Signed ? (code & 0x7f) == 0 : code == 0;
                if (!zero) {
                    fail("element " + std::to_string(i) + ": code " + std::to_string(code) + " in a block of scale 0");
                    break;
                }
                continue;
            }
            // The library multiplies in float32 (core/block_quantization.h): its y is |value| x R
            // rounded to float32, which decides a value within that rounding of a midpoint. For a
            // float32 value the double product is exact and this is the library's one rounding.
            const double y = static_cast<float>(std::fabs(reference[i]) * inverse);
            const uint8_t wanted = reference_code(format, y, std::signbit(reference[i]));
            if (code == wanted) continue;
            const double to_library = std::fabs(reference[i] - code_value(format, code) * scale);
            const double to_reference = std::fabs(reference[i] - code_value(format, wanted) * scale);
            if (to_library - to_reference <= 2.0 * kTieTolerance * magnitude[i]) {
                ++result.code_ties;
                continue;
            }
            std::ostringstream text;
            text.precision(9);
            text << "element " << i << ": code " << int{code} << " (" << code_value(format, code) * scale
                 << "), reference " << int{wanted} << " (" << code_value(format, wanted) * scale << ") for value "
                 << reference[i] << " (magnitude " << magnitude[i] << ", scale " << scale << ")";
            fail(text.str());
            break;
        }
    }
    return result;
}

}  // namespace nabtest
