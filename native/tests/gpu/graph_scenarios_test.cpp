// The CUDA graph tests' problems (graph_scenarios.h) checked on the CPU backend, on every
// machine: their data has the magnitudes the GPU tests assume, and the eager run on the CPU
// ends as the GPU tests expect their eager and replayed runs to end. With the data of the
// first version (an unsigned wrap to ~1.8e19), the gradient scale of the last step was
// 8.4e-17 instead of 1/128, which these tests report without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "gpu/graph_scenarios.h"

namespace nab::gpu_test {
namespace {

float largest_magnitude(const std::vector<float>& values) {
    float largest = 0.0f;
    for (const float v : values) largest = std::max(largest, std::fabs(v));
    return largest;
}

TEST(GraphScenarioDataTest, CenteredRampIsSignedWhateverTheIndexType) {
    EXPECT_EQ(centered_ramp(0, 97, 0.01f), -48 * 0.01f);
    EXPECT_EQ(centered_ramp(48, 97, 0.01f), 0.0f);
    EXPECT_EQ(centered_ramp(96, 97, 0.01f), 48 * 0.01f);
    EXPECT_EQ(centered_ramp(97, 97, 0.01f), -48 * 0.01f);
    EXPECT_EQ(centered_ramp(std::size_t{300'000}, 13, 30.0f), static_cast<float>(300'000 % 13 - 6) * 30.0f);
    EXPECT_EQ(centered_ramp(std::numeric_limits<std::size_t>::max(), 2, 1.0f), 0.0f);  // 2^64 - 1 is odd
}

TEST(GraphScenarioDataTest, TheGraphTestsDataHaveTheMagnitudesTheyAssume) {
    const TenStepsScenario ten = ten_steps_scenario();
    EXPECT_EQ(largest_magnitude(ten.parameters), 48 * 0.01f);
    EXPECT_EQ(largest_magnitude(ten.gradients), 6 * 0.003f);
    EXPECT_LT(*std::min_element(ten.parameters.begin(), ten.parameters.end()), 0.0f);
    const ChangingStepOptionsScenario options = changing_step_options_scenario();
    EXPECT_EQ(largest_magnitude(options.float_parameters), 48 * 0.01f);
    EXPECT_EQ(largest_magnitude(options.float_gradients), 6 * 30.0f);
    EXPECT_LT(*std::min_element(options.float_gradients.begin(), options.float_gradients.end()), 0.0f);
    // Steps 1 and 2 scale by 1/256 and 1/512, step 0 and every third by 1/128; clipping at 0.5
    // on even steps, none on odd ones.
    EXPECT_EQ(ChangingStepOptionsScenario::step_options(9).inverse_gradient_scale, 1.0 / 128);
    EXPECT_EQ(ChangingStepOptionsScenario::step_options(9).max_gradient_norm, 1e6);
    EXPECT_EQ(ChangingStepOptionsScenario::step_options(4).inverse_gradient_scale, 1.0 / 256);
    EXPECT_EQ(ChangingStepOptionsScenario::step_options(4).max_gradient_norm, 0.5);
}

// Ten eager steps on the CPU with the graph test's learning rates: every parameter stays
// finite and within 1 of zero (it starts within 0.48 and moves at most ~0.1).
TEST(GraphScenarioOnTheCpuTest, TenStepsOfTheReplayProblemStayBounded) {
    const TenStepsScenario s = ten_steps_scenario();
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config), "config");
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer), "create");
    std::uint32_t group = 0, tensor = 0;
    check(nab_optimizer_add_group(optimizer, &s.group, &group), "group");
    std::vector<float> parameters = s.parameters, gradients = s.gradients;
    const nab_tensor_desc desc = tensor_desc(group, s.count, parameters.data(), gradients.data());
    check(nab_optimizer_add_tensor(optimizer, &desc, &tensor), "tensor");
    for (int step = 0; step < s.steps; ++step) {
        check(nab_optimizer_set_learning_rate(optimizer, group, s.learning_rate(step)), "lr");
        check(nab_optimizer_step(optimizer), "step");
    }
    nab_tensor_info info{};
    info.struct_size = sizeof info;
    check(nab_optimizer_get_tensor_info(optimizer, tensor, &info), "info");
    nab_optimizer_destroy(optimizer);
    EXPECT_EQ(info.step, s.steps);
    for (std::size_t i = 0; i < parameters.size(); ++i) {
        ASSERT_TRUE(std::isfinite(parameters[i]) && std::fabs(parameters[i]) < 1.0f) << i << ": " << parameters[i];
    }
    EXPECT_NE(parameters, s.parameters);
}

TEST(GraphScenarioOnTheCpuTest, ChangingStepOptionsEndAsTheGraphTestExpects) {
    const ChangingStepOptionsScenario s = changing_step_options_scenario();
    expect_changing_step_options_outcome(run_changing_step_options_on_cpu(s), "cpu");
}

}  // namespace
}  // namespace nab::gpu_test
