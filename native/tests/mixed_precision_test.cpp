// 16-bit parameters and gradients (nab_dtype): narrowing rounds to nearest even exactly as the
// formats define it and widening is exact, at every SIMD level; a float32 master copy follows
// the float64 reference with the float32 tolerances and the 16-bit parameters are its exact
// rounding; without a master copy every step starts from the rounded parameters; results are
// bit-identical across SIMD levels and thread counts, and between a tensor stepped in the
// kernel's registers and one stepped through float32 blocks; steps that move no parameter keep
// 16-bit parameters bit for bit; zeroing, counting and registration handle the 2-byte elements.
//
// Tolerances: with a master copy the master is an ordinary float32 parameter, so the harness's
// float32 bounds apply unchanged (reference_harness.h), and the 16-bit parameter must be
// exactly the rounding of the master the library holds (no tolerance: both are defined bit by
// bit). Without a master copy each step rounds the float32 result to 16 bits; the library's
// float32 result differs from the float64 one by a few float32 ulps (2^-24 relative), far
// below a 16-bit ulp (2^-11 or 2^-8), so the rounded result can differ only where the exact
// value lies within those few float32 ulps of a 16-bit rounding boundary, and then by one
// 16-bit ulp: the test allows exactly that.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "native_adabelief.h"
#include "support/reference_adabelief.h"
#include "support/reference_harness.h"
#include "support/sixteen_bit.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

const char* dtype_name(nab_dtype dtype) {
    return dtype == NAB_DTYPE_FLOAT16 ? "float16" : dtype == NAB_DTYPE_BFLOAT16 ? "bfloat16" : "float32";
}

uint32_t add_tensor(nab_optimizer* optimizer, uint32_t group, std::size_t count, void* parameters,
                    nab_dtype parameter_dtype, void* gradients, nab_dtype gradient_dtype, bool master) {
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.group_id = group;
    desc.element_count = count;
    desc.parameters = parameters;
    desc.gradients = gradients;
    desc.parameter_dtype = parameter_dtype;
    desc.gradient_dtype = gradient_dtype;
    desc.master_parameters = master ? 1 : 0;
    uint32_t id = 0;
    EXPECT_EQ(nab_optimizer_add_tensor(optimizer, &desc, &id), NAB_STATUS_OK) << nab_get_last_error();
    return id;
}

uint32_t add_group(nab_optimizer* optimizer, const nab_group_options& options) {
    uint32_t id = 0;
    EXPECT_EQ(nab_optimizer_add_group(optimizer, &options, &id), NAB_STATUS_OK) << nab_get_last_error();
    return id;
}

void step(nab_optimizer* optimizer) { ASSERT_EQ(nab_optimizer_step(optimizer), NAB_STATUS_OK) << nab_get_last_error(); }

// Non-NaN floats that probe the rounding: ties in both directions, the largest finite values
// and the overflow threshold, the subnormal ranges of both formats and of float32, zeros,
// infinities, then random bit patterns over every exponent.
std::vector<float> rounding_probes(Random& random, std::size_t random_count) {
    std::vector<float> values = {0.0f, -0.0f, INFINITY, -INFINITY, 65504.0f, 65519.99f, 65520.0f, -65520.0f,
                                 std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                                 std::numeric_limits<float>::min(), 5.9604645e-8f, 2.9802322e-8f, 2.98023259e-8f};
    for (uint32_t bits : {0x3f808000u, 0x3f818000u, 0x3f80c000u, 0x007fffffu, 0x00400000u, 0x7f7f8000u,
                          0x7f7f7fffu, 0x387fe000u, 0x33000000u, 0x33000001u, 0x3f801000u, 0x3f803000u}) {
        values.push_back(float_from_bits(bits));
        values.push_back(float_from_bits(bits | 0x80000000u));
    }
    while (values.size() < random_count) {
        const uint32_t bits = static_cast<uint32_t>(random.engine()());
        const float value = float_from_bits(bits);
        if (!std::isnan(value)) values.push_back(value);
    }
    return values;
}

// The learning rate 0 and zero gradients leave a float32 parameter exactly as it is (every
// operation adds or multiplies a zero or one), so a step writes the rounding of the master
// copy into the 16-bit parameters and nothing else: this observes the library's narrowing.
class NarrowingTest : public testing::TestWithParam<nab_dtype> {};

// What such a step at SIMD `level` writes into `dtype` parameters from the master copies
// `masters`, and the master copies it leaves.
struct Narrowed {
    std::vector<uint16_t> parameters;
    std::vector<float> masters_after;
};
Narrowed narrow_by_step(nab_dtype dtype, int32_t level, const std::vector<float>& masters) {
    OptimizerPtr optimizer = make_optimizer(2, level);
    nab_group_options options = default_options();
    options.learning_rate = 0.0;
    const uint32_t group = add_group(optimizer.get(), options);
    Narrowed result{std::vector<uint16_t>(masters.size(), 0), {}};
    std::vector<float> gradients(masters.size(), 0.0f);
    const uint32_t id = add_tensor(optimizer.get(), group, masters.size(), result.parameters.data(), dtype,
                                   gradients.data(), NAB_DTYPE_FLOAT32, true);
    EXPECT_EQ(nab_optimizer_write_state(optimizer.get(), id, NAB_STATE_MASTER_PARAMETERS, masters.data(), masters.size()),
              NAB_STATUS_OK);
    step(optimizer.get());
    result.masters_after = read_state(optimizer.get(), id, NAB_STATE_MASTER_PARAMETERS);
    return result;
}

TEST_P(NarrowingTest, RoundsToNearestEvenAsTheFormatDefinesAtEverySimdLevel) {
    const nab_dtype dtype = GetParam();
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    const std::vector<float> masters = rounding_probes(random, 100003);
    for (int32_t level : supported_simd_levels()) {
        SCOPED_TRACE(testing::Message() << "simd level " << level);
        const Narrowed narrowed = narrow_by_step(dtype, level, masters);
        const std::vector<uint16_t>& parameters = narrowed.parameters;
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < masters.size(); ++i) {
            const uint16_t expected = encode_sixteen_bit(masters[i], dtype);
            if (parameters[i] != expected && wrong++ < 5) {
                ADD_FAILURE() << dtype_name(dtype) << " of " << masters[i] << " (bits " << std::hex
                              << float_bits(masters[i]) << "): library " << parameters[i]
                              << ", definition " << expected;
            }
        }
        EXPECT_EQ(wrong, 0u);
        EXPECT_EQ(narrowed.masters_after, masters);
    }
}

// A NaN master copy narrows as x86's conversions do (core/half_precision.h): sign and the top
// payload bits kept, the NaN made quiet. The step's own arithmetic on the NaN (times one, minus
// zero) keeps it, quieting a signaling one, which does not change the narrowed pattern.
TEST_P(NarrowingTest, NanKeepsItsSignAndTopPayloadAndBecomesQuietAtEverySimdLevel) {
    const nab_dtype dtype = GetParam();
    std::vector<float> masters;
    for (uint32_t payload : {0x400000u, 0x000001u, 0x7fffffu, 0x3fffffu, 0x00ffffu, 0x010000u, 0x012345u, 0x5a5a5au}) {
        masters.push_back(float_from_bits(0x7f800000u | payload));
        masters.push_back(float_from_bits(0xff800000u | payload));
    }
    masters.resize(37, float_from_bits(0x7fc00001u));  // every SIMD tail
    auto definition = [dtype](float value) {
        const uint32_t bits = float_bits(value);
        const uint32_t sign = (bits >> 16) & 0x8000u;
        return static_cast<uint16_t>(dtype == NAB_DTYPE_BFLOAT16 ? (bits >> 16) | 0x40u
                                                                 : sign | 0x7e00u | ((bits >> 13) & 0x3ffu));
    };
    for (int32_t level : supported_simd_levels()) {
        SCOPED_TRACE(testing::Message() << "simd level " << level);
        const std::vector<uint16_t> parameters = narrow_by_step(dtype, level, masters).parameters;
        for (std::size_t i = 0; i < masters.size(); ++i) {
            EXPECT_EQ(parameters[i], definition(masters[i])) << dtype_name(dtype) << " of NaN bits " << std::hex
                                                             << float_bits(masters[i]);
        }
    }
}

// Every finite 16-bit gradient pattern, stepped once, gives the same moments and parameters as
// float32 gradients holding the decoded values: the widening is exact.
TEST_P(NarrowingTest, WideningOfEveryFiniteGradientPatternIsExact) {
    const nab_dtype dtype = GetParam();
    std::vector<uint16_t> narrow_gradients;
    std::vector<float> wide_gradients;
    for (uint32_t bits = 0; bits <= 0xffffu; ++bits) {
        if (is_nonfinite_sixteen_bit(static_cast<uint16_t>(bits), dtype)) continue;
        narrow_gradients.push_back(static_cast<uint16_t>(bits));
        wide_gradients.push_back(static_cast<float>(decode_sixteen_bit(static_cast<uint16_t>(bits), dtype)));
    }
    const std::size_t count = narrow_gradients.size();
    Random random(fresh_seed());
    const std::vector<float> initial = random_parameters(random, count);
    for (int32_t level : supported_simd_levels()) {
        SCOPED_TRACE(testing::Message() << "simd level " << level);
        std::vector<float> narrow_parameters = initial, wide_parameters = initial;
        OptimizerPtr narrow = make_optimizer(2, level), wide = make_optimizer(2, level);
        nab_group_options options = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
        options.rectify = 0;
        const uint32_t narrow_id = add_tensor(narrow.get(), add_group(narrow.get(), options), count,
                                              narrow_parameters.data(), NAB_DTYPE_FLOAT32, narrow_gradients.data(),
                                              dtype, false);
        const uint32_t wide_id = add_tensor(wide.get(), add_group(wide.get(), options), count, wide_parameters.data(),
                                            NAB_DTYPE_FLOAT32, wide_gradients.data(), NAB_DTYPE_FLOAT32, false);
        step(narrow.get());
        step(wide.get());
        EXPECT_EQ(std::memcmp(narrow_parameters.data(), wide_parameters.data(), count * sizeof(float)), 0);
        for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT}) {
            const std::vector<float> a = read_state(narrow.get(), narrow_id, kind);
            const std::vector<float> b = read_state(wide.get(), wide_id, kind);
            EXPECT_EQ(std::memcmp(a.data(), b.data(), count * sizeof(float)), 0) << "state kind " << kind;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(SixteenBit, NarrowingTest, testing::Values(NAB_DTYPE_FLOAT16, NAB_DTYPE_BFLOAT16),
                         [](const testing::TestParamInfo<nab_dtype>& param_info) { return dtype_name(param_info.param); });

// One 16-bit tensor against the float64 reference over many steps.
struct TrainingCase {
    nab_dtype parameter_dtype;
    nab_dtype gradient_dtype;
    int32_t compatibility;
};

std::string case_name(const testing::TestParamInfo<TrainingCase>& param_info) {
    return std::string(dtype_name(param_info.param.parameter_dtype)) + "_parameters_" +
           dtype_name(param_info.param.gradient_dtype) +
           "_gradients_" + (param_info.param.compatibility == NAB_COMPATIBILITY_LABML ? "labml" : "pytorch");
}

class SixteenBitTrainingTest : public testing::TestWithParam<TrainingCase> {
protected:
    // Fresh gradients for one step: float32 values, rounded to the gradient dtype when it is
    // 16-bit (the reference is fed the values the library reads).
    void draw_gradients(Random& random, const GradientSource& source, std::vector<float>& values,
                        std::vector<uint16_t>& narrow) const {
        source.fill(random, values.data());
        if (GetParam().gradient_dtype == NAB_DTYPE_FLOAT32) return;
        for (std::size_t i = 0; i < values.size(); ++i) {
            narrow[i] = encode_sixteen_bit(values[i], GetParam().gradient_dtype);
            values[i] = static_cast<float>(decode_sixteen_bit(narrow[i], GetParam().gradient_dtype));
        }
    }
    void* gradient_buffer(std::vector<float>& values, std::vector<uint16_t>& narrow) const {
        return GetParam().gradient_dtype == NAB_DTYPE_FLOAT32 ? static_cast<void*>(values.data()) : narrow.data();
    }
};

TEST_P(SixteenBitTrainingTest, MasterCopyFollowsTheReferenceAndParametersAreItsRounding) {
    const TrainingCase c = GetParam();
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    for (std::size_t count : {std::size_t{1}, std::size_t{37}, std::size_t{70001}}) {
        SCOPED_TRACE(testing::Message() << count << " elements");
        std::vector<uint16_t> parameters(count);
        std::vector<float> initial(count);
        for (std::size_t i = 0; i < count; ++i) {
            parameters[i] = encode_sixteen_bit(random.normal(), c.parameter_dtype);
            initial[i] = static_cast<float>(decode_sixteen_bit(parameters[i], c.parameter_dtype));
        }
        const GradientSource source(random, count);
        std::vector<float> gradients(count);
        std::vector<uint16_t> narrow_gradients(count);
        OptimizerPtr optimizer = make_optimizer(2);
        nab_group_options options = default_options(c.compatibility);
        options.weight_decay = 0.01;
        const uint32_t id = add_tensor(optimizer.get(), add_group(optimizer.get(), options), count, parameters.data(),
                                       c.parameter_dtype, gradient_buffer(gradients, narrow_gradients),
                                       c.gradient_dtype, true);
        const nab_tensor_info info = tensor_info(optimizer.get(), id);
        EXPECT_EQ(info.parameter_dtype, c.parameter_dtype);
        EXPECT_EQ(info.gradient_dtype, c.gradient_dtype);
        EXPECT_EQ(info.has_master_parameters, 1);
        EXPECT_EQ(read_state(optimizer.get(), id, NAB_STATE_MASTER_PARAMETERS), initial);

        ReferenceTensor reference(initial);
        for (int step_index = 0; step_index < 25; ++step_index) {
            draw_gradients(random, source, gradients, narrow_gradients);
            step(optimizer.get());
            reference_step(options, reference, gradients.data());
        }
        const std::vector<float> master = read_state(optimizer.get(), id, NAB_STATE_MASTER_PARAMETERS);
        const std::vector<float> m = read_state(optimizer.get(), id, NAB_STATE_FIRST_MOMENT);
        const std::vector<float> s = read_state(optimizer.get(), id, NAB_STATE_SECOND_MOMENT);
        const WorstError theta_error =
            worst_relative_error(Quantity::Theta, master.data(), reference.theta, reference.theta_magnitude);
        const WorstError m_error = worst_relative_error(Quantity::FirstMoment, m.data(), reference.m, reference.m_magnitude);
        const WorstError s_error =
            worst_relative_error(Quantity::SecondMoment, s.data(), reference.s, reference.s_magnitude);
        EXPECT_LE(theta_error.relative, kRelativeTolerance) << "master copy, element " << theta_error.index;
        EXPECT_LE(m_error.relative, kRelativeTolerance) << "m, element " << m_error.index;
        EXPECT_LE(s_error.relative, kRelativeTolerance) << "s, element " << s_error.index;
        for (std::size_t i = 0; i < count; ++i) {
            ASSERT_EQ(parameters[i], encode_sixteen_bit(master[i], c.parameter_dtype)) << "element " << i;
        }
        EXPECT_EQ(tensor_info(optimizer.get(), id).step, 25);
    }
}

TEST_P(SixteenBitTrainingTest, WithoutMasterCopyEachStepStartsFromTheRoundedParameters) {
    const TrainingCase c = GetParam();
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    const std::size_t count = 40009;
    std::vector<uint16_t> parameters(count);
    for (std::size_t i = 0; i < count; ++i) parameters[i] = encode_sixteen_bit(random.normal(), c.parameter_dtype);
    const GradientSource source(random, count);
    std::vector<float> gradients(count);
    std::vector<uint16_t> narrow_gradients(count);
    OptimizerPtr optimizer = make_optimizer(2);
    // No weight decay: then m and s do not depend on theta, and the reference's moments can
    // run on their own while its theta is reset to the rounded parameters every step.
    const nab_group_options options = default_options(c.compatibility);
    const uint32_t id = add_tensor(optimizer.get(), add_group(optimizer.get(), options), count, parameters.data(),
                                   c.parameter_dtype, gradient_buffer(gradients, narrow_gradients), c.gradient_dtype,
                                   false);
    EXPECT_EQ(tensor_info(optimizer.get(), id).has_master_parameters, 0);
    std::vector<float> widened(count);
    for (std::size_t i = 0; i < count; ++i) widened[i] = static_cast<float>(decode_sixteen_bit(parameters[i], c.parameter_dtype));
    ReferenceTensor reference(widened);
    std::size_t off_by_one = 0;
    for (int step_index = 0; step_index < 20; ++step_index) {
        for (std::size_t i = 0; i < count; ++i) reference.theta[i] = decode_sixteen_bit(parameters[i], c.parameter_dtype);
        draw_gradients(random, source, gradients, narrow_gradients);
        step(optimizer.get());
        reference_step(options, reference, gradients.data());
        for (std::size_t i = 0; i < count; ++i) {
            const uint16_t expected = encode_sixteen_bit(reference.theta[i], c.parameter_dtype);
            const uint32_t distance = sixteen_bit_distance(parameters[i], expected);
            ASSERT_LE(distance, 1u) << "step " << step_index + 1 << ", element " << i << ": library "
                                    << decode_sixteen_bit(parameters[i], c.parameter_dtype) << ", reference "
                                    << reference.theta[i];
            off_by_one += distance;
        }
    }
    // A boundary within a few float32 ulps is rare: a systematic error would hit most elements.
    EXPECT_LT(off_by_one, count * 20 / 1000) << "more than 0.1% of the roundings differ";
    const std::vector<float> m = read_state(optimizer.get(), id, NAB_STATE_FIRST_MOMENT);
    const WorstError m_error = worst_relative_error(Quantity::FirstMoment, m.data(), reference.m, reference.m_magnitude);
    EXPECT_LE(m_error.relative, kRelativeTolerance) << "m, element " << m_error.index;
}

INSTANTIATE_TEST_SUITE_P(
    Dtypes, SixteenBitTrainingTest,
    testing::Values(TrainingCase{NAB_DTYPE_BFLOAT16, NAB_DTYPE_BFLOAT16, NAB_COMPATIBILITY_LABML},
                    TrainingCase{NAB_DTYPE_BFLOAT16, NAB_DTYPE_FLOAT32, NAB_COMPATIBILITY_ADABELIEF_PYTORCH},
                    TrainingCase{NAB_DTYPE_FLOAT16, NAB_DTYPE_FLOAT16, NAB_COMPATIBILITY_ADABELIEF_PYTORCH},
                    TrainingCase{NAB_DTYPE_FLOAT16, NAB_DTYPE_BFLOAT16, NAB_COMPATIBILITY_LABML}),
    case_name);

// How one tensor's parameters and gradients are stored.
struct Layout {
    nab_dtype parameter_dtype;
    nab_dtype gradient_dtype;
    bool master;
};

// Every kind of layout: 16-bit parameters and gradients of one format with and without a master
// copy (each stepped in the kernel's registers), and the mixes (stepped through float32 blocks).
constexpr Layout kLayouts[] = {
    {NAB_DTYPE_FLOAT32, NAB_DTYPE_FLOAT32, false},   {NAB_DTYPE_BFLOAT16, NAB_DTYPE_BFLOAT16, true},
    {NAB_DTYPE_BFLOAT16, NAB_DTYPE_BFLOAT16, false}, {NAB_DTYPE_FLOAT16, NAB_DTYPE_FLOAT16, true},
    {NAB_DTYPE_FLOAT16, NAB_DTYPE_FLOAT16, false},   {NAB_DTYPE_BFLOAT16, NAB_DTYPE_FLOAT16, true},
    {NAB_DTYPE_FLOAT16, NAB_DTYPE_BFLOAT16, false},  {NAB_DTYPE_FLOAT32, NAB_DTYPE_FLOAT16, false},
    {NAB_DTYPE_BFLOAT16, NAB_DTYPE_FLOAT32, false},
};

// One tensor's memory: the float32 or the 16-bit vectors, as its layout says.
struct StoredTensor {
    Layout layout;
    std::vector<float> float_parameters, float_gradients;
    std::vector<uint16_t> narrow_parameters, narrow_gradients;

    StoredTensor(Layout stored_as, Random& random, std::size_t count) : layout(stored_as) {
        if (layout.parameter_dtype == NAB_DTYPE_FLOAT32) {
            float_parameters = random_parameters(random, count);
        } else {
            narrow_parameters.resize(count);
            for (uint16_t& p : narrow_parameters) p = encode_sixteen_bit(random.normal(), layout.parameter_dtype);
        }
        if (layout.gradient_dtype == NAB_DTYPE_FLOAT32) {
            float_gradients.resize(count);
        } else {
            narrow_gradients.resize(count);
        }
    }
    void* parameters() {
        return layout.parameter_dtype == NAB_DTYPE_FLOAT32 ? static_cast<void*>(float_parameters.data())
                                                           : narrow_parameters.data();
    }
    void* gradients() {
        return layout.gradient_dtype == NAB_DTYPE_FLOAT32 ? static_cast<void*>(float_gradients.data())
                                                          : narrow_gradients.data();
    }
    // Fresh gradients; float16 ones small enough to reach its subnormals.
    void draw_gradients(Random& random) {
        const double scale = layout.gradient_dtype == NAB_DTYPE_FLOAT16 ? 0.01 : 0.1;
        for (float& g : float_gradients) g = static_cast<float>(scale * random.normal());
        for (uint16_t& g : narrow_gradients) g = encode_sixteen_bit(scale * random.normal(), layout.gradient_dtype);
    }
};

// Everything a mixed step writes, for comparing runs: each tensor's parameters (float32 or 16-bit)
// and its state arrays (m, s, s_max, and the master copy where it has one).
struct MixedRun {
    std::vector<std::vector<uint16_t>> narrow_parameters;
    std::vector<std::vector<float>> float_arrays;
};

MixedRun run_mixed(uint64_t seed, int32_t threads, int32_t level) {
    Random random(seed);
    const std::size_t count = 100003;  // several chunks and a tail at every SIMD width
    std::vector<StoredTensor> tensors;
    for (const Layout& layout : kLayouts) tensors.emplace_back(layout, random, count);
    OptimizerPtr optimizer = make_optimizer(threads, level);
    nab_group_options options = default_options();
    options.amsgrad = 1;
    // Not rectified: every step takes an adaptive rule, which the 16-bit kernels are compiled for
    // (a rectified run's first five take SGD's, through float32 blocks for every 16-bit layout).
    options.rectify = 0;
    const uint32_t group = add_group(optimizer.get(), options);
    for (StoredTensor& t : tensors) {
        add_tensor(optimizer.get(), group, count, t.parameters(), t.layout.parameter_dtype, t.gradients(),
                   t.layout.gradient_dtype, t.layout.master);
    }
    for (int s = 0; s < 4; ++s) {
        for (StoredTensor& t : tensors) t.draw_gradients(random);
        EXPECT_EQ(nab_optimizer_step(optimizer.get()), NAB_STATUS_OK);
    }
    MixedRun run;
    for (uint32_t id = 0; id < tensors.size(); ++id) {
        run.narrow_parameters.push_back(tensors[id].narrow_parameters);
        run.float_arrays.push_back(tensors[id].float_parameters);
        for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
            run.float_arrays.push_back(read_state(optimizer.get(), id, kind));
        }
        if (tensors[id].layout.master) {
            run.float_arrays.push_back(read_state(optimizer.get(), id, NAB_STATE_MASTER_PARAMETERS));
        }
    }
    return run;
}

// Float arrays compared bit for bit (NaN-safe).
void expect_same_bits(const std::vector<float>& actual, const std::vector<float>& expected, const char* what) {
    ASSERT_EQ(actual.size(), expected.size()) << what;
    if (actual.empty()) return;  // memcmp must not see the null data() of an empty vector
    EXPECT_EQ(std::memcmp(actual.data(), expected.data(), actual.size() * sizeof(float)), 0) << what;
}

TEST(MixedPrecisionTest, BitIdenticalForEverySimdLevelAndThreadCount) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    const MixedRun baseline = run_mixed(seed, 1, NAB_SIMD_SCALAR);
    for (int32_t level : supported_simd_levels()) {
        for (int32_t threads : {1, 3}) {
            SCOPED_TRACE(testing::Message() << "simd level " << level << ", " << threads << " threads");
            const MixedRun run = run_mixed(seed, threads, level);
            EXPECT_EQ(run.narrow_parameters, baseline.narrow_parameters);
            ASSERT_EQ(run.float_arrays.size(), baseline.float_arrays.size());
            for (std::size_t k = 0; k < run.float_arrays.size(); ++k) {
                SCOPED_TRACE(testing::Message() << "float array " << k);
                expect_same_bits(run.float_arrays[k], baseline.float_arrays[k], "float array");
            }
        }
    }
}

// Runs `body(level, dtype, master)` for every SIMD level this CPU runs, both 16-bit formats, with
// and without a master copy: each 16-bit kernel storage at each level.
void for_each_level_and_sixteen_bit_storage(const std::function<void(int32_t, nab_dtype, bool)>& body) {
    for (int32_t level : supported_simd_levels()) {
        for (nab_dtype dtype : {NAB_DTYPE_BFLOAT16, NAB_DTYPE_FLOAT16}) {
            for (bool master : {true, false}) {
                SCOPED_TRACE(testing::Message() << "simd level " << level << ", " << dtype_name(dtype)
                                                << (master ? " with" : " without") << " a master copy");
                body(level, dtype, master);
            }
        }
    }
}

// A 16-bit tensor is stepped in the kernel's registers when its gradients have its parameters'
// format and through float32 blocks otherwise: the same values give the same bits either way.
// Each pair of tensors below shares its parameters and gradient values; the second one's
// gradients are float32 (the first one's exact widening).
TEST(MixedPrecisionTest, RegistersAndFloat32BlocksGiveTheSameBits) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    const std::size_t count = 70001;
    for_each_level_and_sixteen_bit_storage([&](int32_t level, nab_dtype dtype, bool master) {
        StoredTensor in_registers({dtype, dtype, master}, random, count);
        StoredTensor by_block({dtype, NAB_DTYPE_FLOAT32, master}, random, count);
        by_block.narrow_parameters = in_registers.narrow_parameters;
        OptimizerPtr optimizer = make_optimizer(2, level);
        nab_group_options options = default_options();
        options.weight_decay = 0.01;
        options.rectify = 0;  // adaptive steps, which the 16-bit kernels are compiled for
        const uint32_t group = add_group(optimizer.get(), options);
        for (StoredTensor* t : {&in_registers, &by_block}) {
            add_tensor(optimizer.get(), group, count, t->parameters(), t->layout.parameter_dtype,
                       t->gradients(), t->layout.gradient_dtype, master);
        }
        for (int s = 0; s < 3; ++s) {
            in_registers.draw_gradients(random);
            for (std::size_t i = 0; i < count; ++i) {
                const uint16_t bits = in_registers.narrow_gradients[i];
                by_block.float_gradients[i] = static_cast<float>(decode_sixteen_bit(bits, dtype));
            }
            ASSERT_EQ(nab_optimizer_step(optimizer.get()), NAB_STATUS_OK);
        }
        EXPECT_EQ(by_block.narrow_parameters, in_registers.narrow_parameters);
        for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT}) {
            expect_same_bits(read_state(optimizer.get(), 1, kind), read_state(optimizer.get(), 0, kind), "m or s");
        }
        if (master) {
            expect_same_bits(read_state(optimizer.get(), 1, NAB_STATE_MASTER_PARAMETERS),
                             read_state(optimizer.get(), 0, NAB_STATE_MASTER_PARAMETERS), "master copy");
        }
    });
}

// A rectified run's first five steps without the SGD fallback (degenerate_to_sgd off) move no
// parameter, and 16-bit tensors take them through float32 blocks (cpu::has_narrow_kernels): their
// parameters and master copies keep their bits, and their moments are those of a float32 twin
// that holds the same values.
TEST(MixedPrecisionTest, StepsThatMoveNoParameterKeepSixteenBitParametersBitForBit) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    const std::size_t count = 4099;
    for_each_level_and_sixteen_bit_storage([&](int32_t level, nab_dtype dtype, bool master) {
        StoredTensor narrow({dtype, dtype, master}, random, count);
        StoredTensor twin({NAB_DTYPE_FLOAT32, NAB_DTYPE_FLOAT32, false}, random, count);
        for (std::size_t i = 0; i < count; ++i) {
            twin.float_parameters[i] = static_cast<float>(decode_sixteen_bit(narrow.narrow_parameters[i], dtype));
        }
        const std::vector<uint16_t> initial = narrow.narrow_parameters;
        const std::vector<float> widened = twin.float_parameters;
        OptimizerPtr optimizer = make_optimizer(2, level);
        nab_group_options options = default_options();
        ASSERT_EQ(options.rectify, 1);
        options.degenerate_to_sgd = 0;
        options.weight_decay = 0.0;  // its factor would move the parameters
        const uint32_t group = add_group(optimizer.get(), options);
        for (StoredTensor* t : {&narrow, &twin}) {
            add_tensor(optimizer.get(), group, count, t->parameters(), t->layout.parameter_dtype,
                       t->gradients(), t->layout.gradient_dtype, t->layout.master);
        }
        for (int s = 0; s < 5; ++s) {
            narrow.draw_gradients(random);
            for (std::size_t i = 0; i < count; ++i) {
                twin.float_gradients[i] = static_cast<float>(decode_sixteen_bit(narrow.narrow_gradients[i], dtype));
            }
            ASSERT_EQ(nab_optimizer_step(optimizer.get()), NAB_STATUS_OK);
        }
        EXPECT_EQ(narrow.narrow_parameters, initial);
        expect_same_bits(twin.float_parameters, widened, "float32 twin's parameters");
        if (master) expect_same_bits(read_state(optimizer.get(), 0, NAB_STATE_MASTER_PARAMETERS), widened, "master copy");
        for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT}) {
            const std::vector<float> m_or_s = read_state(optimizer.get(), 0, kind);
            EXPECT_FALSE(std::all_of(m_or_s.begin(), m_or_s.end(), [](float v) { return v == 0.0f; }));
            expect_same_bits(m_or_s, read_state(optimizer.get(), 1, kind), "m or s");
        }
    });
}

TEST(MixedPrecisionTest, ZeroingAndCountingReadTwoByteGradients) {
    const std::size_t count = 70001;
    for (nab_dtype dtype : {NAB_DTYPE_FLOAT16, NAB_DTYPE_BFLOAT16}) {
        SCOPED_TRACE(dtype_name(dtype));
        // One guard element after the tensor: zeroing must stop at 2 * count bytes.
        std::vector<uint16_t> gradients(count + 1, encode_sixteen_bit(1.5, dtype));
        const uint16_t infinity = encode_sixteen_bit(INFINITY, dtype);
        gradients[0] = infinity;
        gradients[count / 2] = static_cast<uint16_t>(infinity | 0x8000u);
        gradients[count - 1] = static_cast<uint16_t>(infinity | 1u);  // NaN
        gradients[count] = infinity;                                   // outside the tensor
        std::vector<float> parameters(count, 1.0f);
        OptimizerPtr optimizer = make_optimizer(2);
        add_tensor(optimizer.get(), add_group(optimizer.get(), default_options()), count, parameters.data(),
                   NAB_DTYPE_FLOAT32, gradients.data(), dtype, false);
        uint64_t found = 0;
        ASSERT_EQ(nab_optimizer_count_nonfinite_gradients(optimizer.get(), &found), NAB_STATUS_OK);
        EXPECT_EQ(found, 3u);
        ASSERT_EQ(nab_optimizer_zero_gradients(optimizer.get()), NAB_STATUS_OK);
        for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(gradients[i], 0u) << "element " << i;
        EXPECT_EQ(gradients[count], infinity) << "zeroing wrote past the tensor";
    }
}

TEST(MixedPrecisionTest, RegistrationChecksTypesMasterCopiesAndTwoByteOverlap) {
    OptimizerPtr optimizer = make_optimizer(1);
    add_group(optimizer.get(), default_options());
    std::vector<uint16_t> storage(64);
    auto refused = [&](nab_tensor_desc desc, const char* needle) {
        uint32_t id = 1234;
        EXPECT_EQ(nab_optimizer_add_tensor(optimizer.get(), &desc, &id), NAB_STATUS_INVALID_ARGUMENT) << needle;
        EXPECT_TRUE(contains_text(nab_get_last_error(), needle)) << nab_get_last_error();
        EXPECT_EQ(id, 1234u);
    };
    nab_tensor_desc valid{};
    valid.struct_size = sizeof valid;
    valid.element_count = 16;
    valid.parameters = storage.data();
    valid.gradients = storage.data() + 16;  // bytes 32..63 after parameters' 0..31: no overlap
    valid.parameter_dtype = NAB_DTYPE_BFLOAT16;
    valid.gradient_dtype = NAB_DTYPE_FLOAT16;
    valid.master_parameters = 1;
    for (int32_t dtype : {3, -1}) {
        nab_tensor_desc d = valid;
        d.parameter_dtype = dtype;
        refused(d, "tensor->parameter_dtype");
        d = valid;
        d.gradient_dtype = dtype;
        refused(d, "tensor->gradient_dtype");
    }
    nab_tensor_desc d = valid;
    d.master_parameters = 2;
    refused(d, "tensor->master_parameters");
    d = valid;
    d.parameter_dtype = NAB_DTYPE_FLOAT32;  // float32 parameters are their own master
    d.gradients = storage.data() + 32;      // bytes 64.., clear of the parameters' 0..63
    refused(d, "master_parameters");
    d = valid;
    d.reserved = 1;
    refused(d, "tensor->reserved");
    d = valid;
    d.gradients = storage.data() + 15;  // the last parameter element is the first gradient one
    refused(d, "overlaps");
    d = valid;
    d.gradient_dtype = NAB_DTYPE_FLOAT32;
    d.gradients = storage.data() + 16;
    d.parameters = storage.data() + 1;  // bfloat16 bytes 2..33 reach the float32 gradients' 32..95
    refused(d, "overlaps");
    uint32_t tensors = 99;
    ASSERT_EQ(nab_optimizer_get_tensor_count(optimizer.get(), &tensors), NAB_STATUS_OK);
    EXPECT_EQ(tensors, 0u);
    uint32_t id = 0;
    EXPECT_EQ(nab_optimizer_add_tensor(optimizer.get(), &valid, &id), NAB_STATUS_OK) << nab_get_last_error();
}

}  // namespace
}  // namespace nabtest
