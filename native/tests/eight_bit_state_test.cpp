// 8-bit state through the C ABI, beyond the reference comparison (eight_bit_reference_test.cpp):
// which tensors get it and what it costs in memory; reading and writing it as floats and as raw
// codes; converting a group's state when its encoding changes; every refusal naming its argument
// and changing nothing; the step options (skip on non-finite gradients, loss scaling, clipping)
// and 16-bit parameters and gradients with it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "native_adabelief.h"
#include "support/reference_eight_bit.h"
#include "support/sixteen_bit.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

nab_group_options eight_bit_options(int32_t compatibility = NAB_COMPATIBILITY_LABML) {
    nab_group_options o = default_options(compatibility);
    o.state_encoding = NAB_STATE_ENCODING_BLOCKWISE_8BIT;
    o.weight_decay = 0.01;
    return o;
}

std::size_t blocks_of(std::size_t count) { return (count + kEightBitBlock - 1) / kEightBitBlock; }

// An optimizer with one group and float32 tensors of the given sizes, and their gradients.
struct Rig {
    OptimizerPtr optimizer;
    std::vector<std::unique_ptr<OffsetBuffer>> parameters, gradients;

    Rig(Random& random, const nab_group_options& options, const std::vector<std::size_t>& sizes, int32_t threads = 2)
        : optimizer(make_optimizer(threads)) {
        uint32_t group = 0;
        EXPECT_EQ(nab_optimizer_add_group(optimizer.get(), &options, &group), NAB_STATUS_OK) << nab_get_last_error();
        for (std::size_t n : sizes) {
            parameters.push_back(std::make_unique<OffsetBuffer>(n, parameters.size() % 7));
            gradients.push_back(std::make_unique<OffsetBuffer>(n, (gradients.size() * 3) % 7));
            parameters.back()->assign(random_parameters(random, n));
            nab_tensor_desc desc{};
            desc.struct_size = sizeof desc;
            desc.group_id = group;
            desc.element_count = n;
            desc.parameters = parameters.back()->data();
            desc.gradients = gradients.back()->data();
            uint32_t id = 0;
            EXPECT_EQ(nab_optimizer_add_tensor(optimizer.get(), &desc, &id), NAB_STATUS_OK) << nab_get_last_error();
        }
    }
    nab_optimizer* get() const { return optimizer.get(); }
    void fill(Random& random) {
        for (auto& g : gradients) {
            const std::vector<float> values = random_parameters(random, g->size());
            for (std::size_t i = 0; i < values.size(); ++i) (*g)[i] = values[i] * 1e-2f;
        }
    }
    void steps(Random& random, int count) {
        for (int k = 0; k < count; ++k) {
            fill(random);
            EXPECT_EQ(nab_optimizer_step(get()), NAB_STATUS_OK) << nab_get_last_error();
        }
    }
};

// Codes and scales of every 8-bit array of every tensor, and the parameters: what must not change.
std::vector<CodedArray> all_codes(nab_optimizer* optimizer, std::size_t tensors) {
    std::vector<CodedArray> out;
    for (uint32_t t = 0; t < tensors; ++t) {
        const nab_tensor_info info = tensor_info(optimizer, t);
        if (info.state_encoding != NAB_STATE_ENCODING_BLOCKWISE_8BIT) continue;
        for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
            if (kind == NAB_STATE_MAX_SECOND_MOMENT && info.has_max_second_moment == 0) continue;
            out.push_back(read_codes(optimizer, t, kind, info.element_count));
        }
    }
    return out;
}

TEST(EightBitStateTest, TensorsOfAtLeast4096ElementsOfAnEightBitGroupGetIt) {
    NAB_SEEDED_RANDOM(random);
    Rig s(random, eight_bit_options(), {1, 4095, 4096, 100000});
    const int32_t expected[] = {NAB_STATE_ENCODING_FLOAT32, NAB_STATE_ENCODING_FLOAT32, NAB_STATE_ENCODING_BLOCKWISE_8BIT,
                                NAB_STATE_ENCODING_BLOCKWISE_8BIT};
    for (uint32_t t = 0; t < 4; ++t) EXPECT_EQ(tensor_info(s.get(), t).state_encoding, expected[t]) << t;
    nab_group_options read{};
    read.struct_size = sizeof read;
    NAB_ASSERT_OK(nab_optimizer_get_group_options(s.get(), 0, &read));
    EXPECT_EQ(read.state_encoding, NAB_STATE_ENCODING_BLOCKWISE_8BIT);
    Rig plain(random, default_options(), {100000});
    EXPECT_EQ(tensor_info(plain.get(), 0).state_encoding, NAB_STATE_ENCODING_FLOAT32);
}

// m and s of an 8-bit tensor cost one byte per element and 4 per block each (plus the
// allocator's 64-byte header per array): 2.03 bytes per element instead of 8.
TEST(EightBitStateTest, StateMemoryIsTwoBytesPerElementAndTwoScalesPerBlock) {
    NAB_SEEDED_RANDOM(random);
    const std::size_t n = 1 << 20;
    uint64_t before = 0, after_float = 0, after_eight = 0;
    NAB_ASSERT_OK(nab_get_allocated_bytes(&before));
    {
        Rig s(random, default_options(), {n});
        NAB_ASSERT_OK(nab_get_allocated_bytes(&after_float));
    }
    {
        Rig s(random, eight_bit_options(), {n});
        NAB_ASSERT_OK(nab_get_allocated_bytes(&after_eight));
    }
    // The same step-count array in both; the state is the difference.
    const double float_state = static_cast<double>(after_float - before), eight_state = static_cast<double>(after_eight - before);
    EXPECT_NEAR(float_state - eight_state, 8.0 * n - (2.0 * n + 8.0 * static_cast<double>(blocks_of(n))), 4 * 64.0);
    EXPECT_LE((eight_state - (float_state - 8.0 * n)) / n, 2.05);
}

TEST(EightBitStateTest, ReadStateDecodesTheCodesAndWriteStateEncodesAsAStepDoes) {
    NAB_SEEDED_RANDOM(random);
    Rig s(random, eight_bit_options(), {5000});
    s.steps(random, 3);
    for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT}) {
        const CodedArray codes = read_codes(s.get(), 0, kind, 5000);
        const std::vector<double> decoded = decode(format_of(kind), codes);
        const std::vector<float> read = read_state(s.get(), 0, kind);
        for (std::size_t i = 0; i < read.size(); ++i) ASSERT_EQ(read[i], static_cast<float>(decoded[i])) << i;
        // Writing the decoded values back changes no code and no scale (each block's largest
        // value is stored exactly, so it is the block's scale again).
        NAB_ASSERT_OK(nab_optimizer_write_state(s.get(), 0, kind, read.data(), read.size()));
        EXPECT_TRUE(read_codes(s.get(), 0, kind, 5000) == codes) << "kind " << kind;
        // Arbitrary values: encoded with fresh scales (each block's largest magnitude), nearest codes.
        std::vector<float> values = random_parameters(random, 5000);
        if (kind == NAB_STATE_SECOND_MOMENT) {
            for (float& v : values) v = v * v;
        }
        NAB_ASSERT_OK(nab_optimizer_write_state(s.get(), 0, kind, values.data(), values.size()));
        const CodedArray written = read_codes(s.get(), 0, kind, 5000);
        const std::vector<double> exact(values.begin(), values.end());
        std::vector<double> zero_magnitude(values.size(), 0.0);
        const CodeComparison comparison = compare_codes(format_of(kind), written, exact, zero_magnitude);
        EXPECT_EQ(comparison.failure, "");
        EXPECT_EQ(comparison.code_ties, 0u);
    }
}

TEST(EightBitStateTest, RawCodesAndScalesRoundTripAndWritingSMaxCreatesIt) {
    NAB_SEEDED_RANDOM(random);
    Rig s(random, eight_bit_options(), {4097});
    CodedArray raw;
    raw.codes.resize(4097);
    raw.scales.resize(blocks_of(4097));
    for (uint8_t& c : raw.codes) c = static_cast<uint8_t>(random.integer(0, 255));
    for (float& x : raw.scales) x = static_cast<float>(random.uniform(1e-3, 1e3));
    raw.scales[3] = 0.0f;
    raw.scales[5] = kNaN;
    ASSERT_EQ(tensor_info(s.get(), 0).has_max_second_moment, 0);
    for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
        NAB_ASSERT_OK(nab_optimizer_write_state_codes(s.get(), 0, kind, raw.codes.data(), raw.codes.size(),
                                                      raw.scales.data(), raw.scales.size()));
        EXPECT_TRUE(read_codes(s.get(), 0, kind, 4097) == raw) << "kind " << kind;
    }
    EXPECT_EQ(tensor_info(s.get(), 0).has_max_second_moment, 1);
}

TEST(EightBitStateTest, EveryRefusalNamesItsArgumentAndChangesNothing) {
    NAB_SEEDED_RANDOM(random);
    Rig s(random, eight_bit_options(), {5000, 100});  // tensor 1 keeps float32 state
    s.steps(random, 2);
    const std::vector<CodedArray> before = all_codes(s.get(), 2);
    const std::vector<float> small_m = read_state(s.get(), 1, NAB_STATE_FIRST_MOMENT);
    std::vector<uint8_t> codes(5000, 7);
    std::vector<float> scales(blocks_of(5000), 1.0f);
    auto expect_refused = [&](nab_status status, const std::string& argument, const std::string& text) {
        EXPECT_EQ(status, NAB_STATUS_INVALID_ARGUMENT) << text << ": " << nab_get_last_error();
        EXPECT_EQ(std::string(nab_get_last_error_argument()), argument) << text << ": " << nab_get_last_error();
        EXPECT_TRUE(all_codes(s.get(), 2) == before) << text << " changed the codes";
        EXPECT_EQ(read_state(s.get(), 1, NAB_STATE_FIRST_MOMENT), small_m) << text;
    };
    nab_optimizer* o = s.get();
    expect_refused(nab_optimizer_read_state_codes(o, 0, NAB_STATE_FIRST_MOMENT, nullptr, 5000, scales.data(), scales.size()),
                   "codes", "null codes");
    expect_refused(nab_optimizer_read_state_codes(o, 0, NAB_STATE_FIRST_MOMENT, codes.data(), 5000, nullptr, scales.size()),
                   "scales", "null scales");
    expect_refused(nab_optimizer_read_state_codes(o, 0, NAB_STATE_FIRST_MOMENT, codes.data(), 4999, scales.data(), scales.size()),
                   "element_count", "wrong element count");
    expect_refused(nab_optimizer_read_state_codes(o, 0, NAB_STATE_FIRST_MOMENT, codes.data(), 5000, scales.data(), 19),
                   "scale_count", "wrong scale count");
    expect_refused(nab_optimizer_read_state_codes(o, 0, NAB_STATE_MASTER_PARAMETERS, codes.data(), 5000, scales.data(),
                                                  scales.size()),
                   "state_kind", "the master copy");
    expect_refused(nab_optimizer_read_state_codes(o, 0, NAB_STATE_MAX_SECOND_MOMENT, codes.data(), 5000, scales.data(),
                                                  scales.size()),
                   "state_kind", "an s_max that does not exist");
    expect_refused(nab_optimizer_read_state_codes(o, 0, 9, codes.data(), 5000, scales.data(), scales.size()), "state_kind",
                   "an unknown kind");
    expect_refused(nab_optimizer_read_state_codes(o, 1, NAB_STATE_FIRST_MOMENT, codes.data(), 100, scales.data(), 1),
                   "tensor_id", "a float32 tensor");
    EXPECT_TRUE(contains_text(nab_get_last_error(), "fewer than the 4096")) << nab_get_last_error();
    for (float bad : {-1.0f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::denorm_min(), -0.0f}) {
        std::vector<float> spoiled = scales;
        spoiled[7] = bad;
        expect_refused(nab_optimizer_write_state_codes(o, 0, NAB_STATE_SECOND_MOMENT, codes.data(), 5000, spoiled.data(),
                                                       spoiled.size()),
                       "scales[7]", "scale " + std::to_string(bad));
    }
    expect_refused(nab_optimizer_write_state_codes(o, 1, NAB_STATE_SECOND_MOMENT, codes.data(), 100, scales.data(), 1),
                   "tensor_id", "writing codes to a float32 tensor");
    EXPECT_EQ(nab_optimizer_read_state_codes(o, 7, NAB_STATE_FIRST_MOMENT, codes.data(), 5000, scales.data(), scales.size()),
              NAB_STATUS_NOT_FOUND);
    float out[1];
    const uint8_t one_code[1] = {0};
    const float one_scale[1] = {1.0f};
    EXPECT_EQ(nab_state_decode(NAB_STATE_ENCODING_FLOAT32, NAB_STATE_FIRST_MOMENT, one_code, 1, one_scale, 1, out),
              NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "state_encoding");
    EXPECT_EQ(nab_state_decode(NAB_STATE_ENCODING_BLOCKWISE_8BIT, NAB_STATE_MASTER_PARAMETERS, one_code, 1, one_scale, 1, out),
              NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "state_kind");
    EXPECT_EQ(nab_state_decode(NAB_STATE_ENCODING_BLOCKWISE_8BIT, NAB_STATE_FIRST_MOMENT, one_code, 1, one_scale, 2, out),
              NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "scale_count");
    EXPECT_EQ(nab_state_decode(NAB_STATE_ENCODING_BLOCKWISE_8BIT, NAB_STATE_FIRST_MOMENT, nullptr, 1, one_scale, 1, out),
              NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "codes");
    NAB_EXPECT_OK(nab_state_decode(NAB_STATE_ENCODING_BLOCKWISE_8BIT, NAB_STATE_FIRST_MOMENT, nullptr, 0, nullptr, 0, nullptr));
}

// set_group_options with another encoding converts the group's state: float32 values encoded
// (as write_state does), codes decoded (as read_state does); small tensors stay float32.
TEST(EightBitStateTest, ChangingAGroupsEncodingConvertsItsState) {
    NAB_SEEDED_RANDOM(random);
    nab_group_options o = default_options();
    o.amsgrad = 1;
    Rig s(random, o, {6000, 50});
    s.steps(random, 4);
    std::vector<std::vector<float>> float_state;
    for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
        float_state.push_back(read_state(s.get(), 0, kind));
    }
    const std::vector<float> small_m = read_state(s.get(), 1, NAB_STATE_FIRST_MOMENT);
    o.state_encoding = NAB_STATE_ENCODING_BLOCKWISE_8BIT;
    NAB_ASSERT_OK(nab_optimizer_set_group_options(s.get(), 0, &o));
    EXPECT_EQ(tensor_info(s.get(), 0).state_encoding, NAB_STATE_ENCODING_BLOCKWISE_8BIT);
    EXPECT_EQ(tensor_info(s.get(), 1).state_encoding, NAB_STATE_ENCODING_FLOAT32);
    EXPECT_EQ(read_state(s.get(), 1, NAB_STATE_FIRST_MOMENT), small_m);
    int k = 0;
    std::vector<CodedArray> converted;
    for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
        converted.push_back(read_codes(s.get(), 0, kind, 6000));
        const std::vector<double> exact(float_state[k].begin(), float_state[k].end());
        const CodeComparison comparison =
            compare_codes(format_of(kind), converted.back(), exact, std::vector<double>(exact.size(), 0.0));
        EXPECT_EQ(comparison.failure, "") << "kind " << kind;
        EXPECT_EQ(comparison.code_ties, 0u) << "kind " << kind;
        ++k;
    }
    s.steps(random, 2);
    std::vector<std::vector<float>> decoded;
    for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
        decoded.push_back(read_state(s.get(), 0, kind));
    }
    o.state_encoding = NAB_STATE_ENCODING_FLOAT32;
    NAB_ASSERT_OK(nab_optimizer_set_group_options(s.get(), 0, &o));
    EXPECT_EQ(tensor_info(s.get(), 0).state_encoding, NAB_STATE_ENCODING_FLOAT32);
    k = 0;
    for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
        EXPECT_EQ(read_state(s.get(), 0, kind), decoded[k]) << "kind " << kind;
        ++k;
    }
}

// A skipped step (skip_nonfinite) leaves every code and scale as it was; without skipping, a NaN
// gradient poisons its own 256-element block (scale NaN, codes 0) and nothing else.
TEST(EightBitStateTest, SkippedStepsLeaveTheCodesAndANanPoisonsOnlyItsBlock) {
    NAB_SEEDED_RANDOM(random);
    nab_group_options o = eight_bit_options();
    o.amsgrad = 1;
    Rig s(random, o, {9000, 100});
    s.steps(random, 3);
    nab_step_options skip;
    NAB_ASSERT_OK(nab_step_options_init(&skip));
    skip.skip_nonfinite = 1;
    NAB_ASSERT_OK(nab_optimizer_set_step_options(s.get(), &skip));
    s.fill(random);
    (*s.gradients[0])[4321] = kNaN;
    const std::vector<CodedArray> before = all_codes(s.get(), 2);
    const std::vector<float> parameters = s.parameters[0]->copy();
    NAB_ASSERT_OK(nab_optimizer_step(s.get()));
    nab_step_report report{};
    report.struct_size = sizeof report;
    NAB_ASSERT_OK(nab_optimizer_get_last_step_report(s.get(), &report));
    EXPECT_EQ(report.skipped, 1);
    EXPECT_TRUE(all_codes(s.get(), 2) == before) << "a skipped step changed 8-bit state";
    EXPECT_EQ(s.parameters[0]->copy(), parameters);
    EXPECT_EQ(tensor_info(s.get(), 0).step, 3);

    skip.skip_nonfinite = 0;
    NAB_ASSERT_OK(nab_optimizer_set_step_options(s.get(), &skip));
    NAB_ASSERT_OK(nab_optimizer_step(s.get()));
    const std::size_t poisoned_block = 4321 / kEightBitBlock;
    for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
        const CodedArray codes = read_codes(s.get(), 0, kind, 9000);
        for (std::size_t b = 0; b < codes.scales.size(); ++b) {
            ASSERT_EQ(std::isnan(codes.scales[b]), b == poisoned_block) << "kind " << kind << " block " << b;
        }
        for (std::size_t i = poisoned_block * kEightBitBlock; i < (poisoned_block + 1) * kEightBitBlock; ++i) {
            ASSERT_EQ(codes.codes[i], 0) << "kind " << kind << " element " << i;
        }
    }
    // The parameters: only the NaN's own element this step (the block's state is NaN from now on).
    for (std::size_t i = 0; i < 9000; ++i) ASSERT_EQ(std::isnan((*s.parameters[0])[i]), i == 4321) << i;
}

// The inverse gradient scale of loss scaling, and clipping, multiply the gradients inside the
// step: the same codes as a step over gradients multiplied by that float32 factor beforehand.
TEST(EightBitStateTest, LossScalingAndClippingGiveTheCodesOfPreScaledGradients) {
    NAB_SEEDED_RANDOM(random);
    const uint64_t seed = static_cast<uint64_t>(random.integer(0, 1 << 30));
    Random ra(seed), rb(seed);
    Rig a(ra, eight_bit_options(), {8192 + 33});
    Rig b(rb, eight_bit_options(), {8192 + 33});
    nab_step_options options;
    NAB_ASSERT_OK(nab_step_options_init(&options));
    options.inverse_gradient_scale = 1.0 / 1024.0;
    options.max_gradient_norm = 0.05;
    NAB_ASSERT_OK(nab_optimizer_set_step_options(a.get(), &options));
    for (int step = 0; step < 8; ++step) {
        a.fill(ra);
        b.fill(rb);
        for (std::size_t i = 0; i < a.gradients[0]->size(); ++i) (*a.gradients[0])[i] *= 1024.0f;
        NAB_ASSERT_OK(nab_optimizer_step(a.get()));
        nab_step_report report{};
        report.struct_size = sizeof report;
        NAB_ASSERT_OK(nab_optimizer_get_last_step_report(a.get(), &report));
        const float factor = static_cast<float>(report.gradient_scale);
        for (std::size_t i = 0; i < b.gradients[0]->size(); ++i) {
            (*b.gradients[0])[i] = ((*b.gradients[0])[i] * 1024.0f) * factor;
        }
        NAB_ASSERT_OK(nab_optimizer_step(b.get()));
        ASSERT_TRUE(all_codes(a.get(), 1) == all_codes(b.get(), 1)) << "step " << step;
        ASSERT_EQ(a.parameters[0]->copy(), b.parameters[0]->copy()) << "step " << step;
    }
}

// 16-bit parameters and gradients: the step widens them exactly, updates in float32 (a master
// copy, or the widened parameters) and rounds the parameters back; the 8-bit state sees the
// same float32 values as a float32 tensor holding the widened ones would.
TEST(EightBitStateTest, SixteenBitParametersAndGradientsWithEightBitState) {
    NAB_SEEDED_RANDOM(random);
    for (nab_dtype dtype : {NAB_DTYPE_BFLOAT16, NAB_DTYPE_FLOAT16}) {
        for (int master : {1, 0}) {
            SCOPED_TRACE(std::string(dtype == NAB_DTYPE_BFLOAT16 ? "bfloat16" : "float16") + (master ? " with" : " without") +
                         " a master copy");
            const std::size_t n = 4096 * 2 + 77;
            OptimizerPtr narrow = make_optimizer(2), wide = make_optimizer(2);
            const nab_group_options o = eight_bit_options();
            uint32_t id = 0;
            NAB_ASSERT_OK(nab_optimizer_add_group(narrow.get(), &o, &id));
            NAB_ASSERT_OK(nab_optimizer_add_group(wide.get(), &o, &id));
            std::vector<uint16_t> p16(n), g16(n);
            std::vector<float> p32(n), g32(n);
            for (std::size_t i = 0; i < n; ++i) {
                p16[i] = encode_sixteen_bit(random.normal(), dtype);
                p32[i] = static_cast<float>(decode_sixteen_bit(p16[i], dtype));
            }
            nab_tensor_desc d{};
            d.struct_size = sizeof d;
            d.element_count = n;
            d.parameters = p16.data();
            d.gradients = g16.data();
            d.parameter_dtype = d.gradient_dtype = dtype;
            d.master_parameters = master;
            NAB_ASSERT_OK(nab_optimizer_add_tensor(narrow.get(), &d, &id));
            nab_tensor_desc w{};
            w.struct_size = sizeof w;
            w.element_count = n;
            w.parameters = p32.data();
            w.gradients = g32.data();
            NAB_ASSERT_OK(nab_optimizer_add_tensor(wide.get(), &w, &id));
            for (int step = 0; step < 6; ++step) {
                for (std::size_t i = 0; i < n; ++i) {
                    g16[i] = encode_sixteen_bit(random.normal() * 1e-2, dtype);
                    g32[i] = static_cast<float>(decode_sixteen_bit(g16[i], dtype));
                }
                NAB_ASSERT_OK(nab_optimizer_step(narrow.get()));
                NAB_ASSERT_OK(nab_optimizer_step(wide.get()));
                ASSERT_TRUE(all_codes(narrow.get(), 1) == all_codes(wide.get(), 1)) << "step " << step;
                if (master == 1) {
                    ASSERT_EQ(read_state(narrow.get(), 0, NAB_STATE_MASTER_PARAMETERS), p32) << "step " << step;
                }
                for (std::size_t i = 0; i < n; ++i) {
                    ASSERT_EQ(p16[i], encode_sixteen_bit(p32[i], dtype)) << "step " << step << " element " << i;
                }
                // Without a master copy the float32 twin must also see the rounded parameters.
                if (master == 0) {
                    for (std::size_t i = 0; i < n; ++i) p32[i] = static_cast<float>(decode_sixteen_bit(p16[i], dtype));
                }
            }
        }
    }
}

}  // namespace
}  // namespace nabtest
