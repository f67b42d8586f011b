// The problems of the CUDA graph tests (cuda_graph_test.cpp), shared with runs of the same
// problems on the CPU backend (graph_scenarios_test.cpp). Those runs check on every machine
// what the GPU tests assume of their data: the first version generated it with
// `static_cast<float>((i % 97) - 48)` on a size_t i, which wraps to ~1.8e19, clipped every
// step and made a GPU test fail for a reason in its own data -- visible only with a GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gpu/gpu_test_support.h"

namespace nab::gpu_test {

// ((i mod period) - period / 2) * scale: a ramp of `period` values centred on zero, computed
// in signed arithmetic whatever the type of i.
float centered_ramp(std::size_t i, unsigned period, float scale);

// CudaGraphTest.TenReplaysOfACapturedStepEqualTenEagerSteps: one float32 tensor, labml
// defaults with beta2 0.9, the learning rate changed before every step.
struct TenStepsScenario {
    static constexpr std::size_t count = 300'001;
    static constexpr int steps = 10;
    nab_group_options group{};
    std::vector<float> parameters, gradients;  // count each: within +-0.48 and +-0.018
    static double learning_rate(int step) { return 1e-3 * (1.0 + step); }
};
TenStepsScenario ten_steps_scenario();

// CudaGraphTest.ReplaysSeeNewStepOptionsAndSkipANonFiniteStepOnTheDevice: a bfloat16 tensor
// with a master copy (group 0) and a float32 tensor (group 1, amsgrad: a second step launch),
// ten steps skipping non-finite gradients, the inverse scale and the clipping limit changed
// before every step, and a NaN in the float32 gradients during step `nonfinite_step` only.
struct ChangingStepOptionsScenario {
    static constexpr std::size_t count = 300'001, small_count = 1001, nan_index = 7;
    static constexpr int steps = 10, nonfinite_step = 4;
    nab_group_options groups[2]{};
    std::vector<std::uint16_t> parameters, gradients;      // bfloat16 bits, count each
    std::vector<float> float_parameters, float_gradients;  // small_count each: +-0.48 and +-180
    // The options in force for step `step` (0-based): skip_nonfinite, inverse scale
    // 1 / (128 << (step % 3)), clipping at 0.5 on even steps, at 1e6 (never reached) on odd ones.
    static nab_step_options step_options(int step);
};
ChangingStepOptionsScenario changing_step_options_scenario();

// What a run of the changing-step-options scenario ends with.
struct OptionSteps {
    Bytes parameters;  // bfloat16
    std::vector<float> master, first_moment, float_parameters, float_first_moment;
    std::int64_t steps[2] = {0, 0};
    nab_step_report skipped_report{}, last_report{};
};

// The scenario run eagerly on the CPU backend through the C ABI.
OptionSteps run_changing_step_options_on_cpu(const ChangingStepOptionsScenario& scenario);

// What every run of the scenario must show (GoogleTest expectations): nine steps of ten, the
// skipped one reported as such, and the last step's report -- odd, so no clipping, with the
// inverse scale 1/128 as the gradient scale.
void expect_changing_step_options_outcome(const OptionSteps& run, const char* name);

}  // namespace nab::gpu_test
