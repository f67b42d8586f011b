// nab_optimizer_count_nonfinite_parameters, the check of what the steps wrote: it counts exactly
// the non-finite values among the parameters (the master copy where a tensor has one), changes
// nothing, and finds the one NaN a step makes from finite inputs and valid options, which the
// originals make too: epsilon = 0 with a gradient that stays exactly 0 (0 / 0 in the update).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>
#include <vector>

#include "native_adabelief.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

uint64_t nonfinite_parameters(nab_optimizer* optimizer) {
    uint64_t count = 0xdeadbeefu;
    EXPECT_EQ(nab_optimizer_count_nonfinite_parameters(optimizer, &count), NAB_STATUS_OK) << nab_get_last_error();
    return count;
}

nab_tensor_desc float_tensor(std::vector<float>& parameters, std::vector<float>* gradients) {
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.element_count = parameters.size();
    desc.parameters = parameters.data();
    desc.gradients = gradients == nullptr ? nullptr : gradients->data();
    return desc;
}

TEST(NonfiniteParametersTest, CountsExactlyTheNonfiniteParametersAndChangesNothing) {
    OptimizerPtr optimizer = make_optimizer(2);
    ASSERT_TRUE(optimizer);
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t group = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &options, &group));
    EXPECT_EQ(nonfinite_parameters(optimizer.get()), 0u);
    // Large enough to be counted in parallel chunks; no gradients registered for one tensor.
    std::vector<float> a(70001, 1.0f), b(33, -2.0f), gradients(70001, 0.5f);
    a[5] = std::numeric_limits<float>::quiet_NaN();
    a[70000] = -std::numeric_limits<float>::infinity();
    a[40000] = std::numeric_limits<float>::max();  // finite
    b[32] = std::numeric_limits<float>::infinity();
    nab_tensor_desc da = float_tensor(a, &gradients), db = float_tensor(b, nullptr);
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &da, &id));
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &db, &id));
    const std::vector<float> before_a = a, before_b = b;
    EXPECT_EQ(nonfinite_parameters(optimizer.get()), 3u);
    EXPECT_EQ(0, std::memcmp(a.data(), before_a.data(), a.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(b.data(), before_b.data(), b.size() * sizeof(float)));
    EXPECT_EQ(nab_optimizer_count_nonfinite_parameters(optimizer.get(), nullptr), NAB_STATUS_INVALID_ARGUMENT);
}

TEST(NonfiniteParametersTest, AMasterCopyIsWhatIsCounted) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t group = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &options, &group));
    std::vector<uint16_t> parameters(10, 0x3c00), gradients(10, 0);  // float16 ones and zeros
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.element_count = parameters.size();
    desc.parameters = parameters.data();
    desc.gradients = gradients.data();
    desc.parameter_dtype = NAB_DTYPE_FLOAT16;
    desc.gradient_dtype = NAB_DTYPE_FLOAT16;
    desc.master_parameters = 1;
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &desc, &id));
    EXPECT_EQ(nonfinite_parameters(optimizer.get()), 0u);
    std::vector<float> master(10, 1.0f);
    master[3] = std::numeric_limits<float>::quiet_NaN();
    NAB_ASSERT_OK(nab_optimizer_write_state(optimizer.get(), id, NAB_STATE_MASTER_PARAMETERS, master.data(), master.size()));
    EXPECT_EQ(nonfinite_parameters(optimizer.get()), 1u);  // the 16-bit parameters are all finite still
}

// The documented exception: epsilon 0 and a gradient that is exactly 0 from the first step on
// (a frozen layer): s = 0 and m = 0, so the update is 0 / 0. Every other element stays finite.
TEST(NonfiniteParametersTest, EpsilonZeroWithAZeroGradientMakesNaNAndTheCheckFindsIt) {
    for (int32_t compatibility : {NAB_COMPATIBILITY_LABML, NAB_COMPATIBILITY_ADABELIEF_PYTORCH}) {
        SCOPED_TRACE(compatibility);
        OptimizerPtr optimizer = make_optimizer(1);
        ASSERT_TRUE(optimizer);
        nab_group_options options = default_options(compatibility);
        options.epsilon = 0.0;
        options.rectify = 0;  // the adaptive update from the first step
        uint32_t group = 0;
        NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &options, &group));
        std::vector<float> parameters(8, 1.0f), gradients(8, 0.25f);
        gradients[2] = 0.0f;
        nab_tensor_desc desc = float_tensor(parameters, &gradients);
        uint32_t id = 0;
        NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &desc, &id));
        NAB_ASSERT_OK(nab_optimizer_step(optimizer.get()));
        EXPECT_TRUE(std::isnan(parameters[2]));
        for (std::size_t i = 0; i < parameters.size(); ++i) {
            if (i != 2) {
                EXPECT_TRUE(std::isfinite(parameters[i])) << i;
            }
        }
        EXPECT_EQ(nonfinite_parameters(optimizer.get()), 1u);
        uint64_t gradient_count = 7;
        NAB_ASSERT_OK(nab_optimizer_count_nonfinite_gradients(optimizer.get(), &gradient_count));
        EXPECT_EQ(gradient_count, 0u);  // the gradients were finite: only this check finds it
    }
}

}  // namespace
}  // namespace nabtest
