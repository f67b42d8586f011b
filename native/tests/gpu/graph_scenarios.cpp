#include "gpu/graph_scenarios.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace nab::gpu_test {

float centered_ramp(std::size_t i, unsigned period, float scale) {
    const auto offset = static_cast<long long>(i % period) - static_cast<long long>(period / 2);
    return static_cast<float>(offset) * scale;
}

TenStepsScenario ten_steps_scenario() {
    TenStepsScenario s;
    check(nab_group_options_init(&s.group, NAB_COMPATIBILITY_LABML), "nab_group_options_init");
    s.group.beta2 = 0.9;
    s.parameters.resize(s.count);
    s.gradients.resize(s.count);
    for (std::size_t i = 0; i < s.count; ++i) {
        s.parameters[i] = centered_ramp(i, 97, 0.01f);
        s.gradients[i] = centered_ramp(i, 13, 0.003f);
    }
    return s;
}

ChangingStepOptionsScenario changing_step_options_scenario() {
    ChangingStepOptionsScenario s;
    check(nab_group_options_init(&s.groups[0], NAB_COMPATIBILITY_LABML), "nab_group_options_init");
    s.groups[0].beta2 = 0.9;
    s.groups[1] = s.groups[0];
    s.groups[1].amsgrad = 1;
    std::mt19937_64 random(8);
    s.parameters.resize(s.count);
    s.gradients.resize(s.count);
    for (std::uint16_t& v : s.parameters) v = random_sixteen_bit(random, NAB_DTYPE_BFLOAT16, 125, 128);
    for (std::uint16_t& v : s.gradients) v = random_sixteen_bit(random, NAB_DTYPE_BFLOAT16, 110, 133);  // "loss-scaled"
    s.float_parameters.resize(s.small_count);
    s.float_gradients.resize(s.small_count);
    for (std::size_t i = 0; i < s.small_count; ++i) {
        s.float_parameters[i] = centered_ramp(i, 97, 0.01f);
        s.float_gradients[i] = centered_ramp(i, 13, 30.0f);
    }
    return s;
}

nab_step_options ChangingStepOptionsScenario::step_options(int step) {
    nab_step_options options;
    check(nab_step_options_init(&options), "nab_step_options_init");
    options.skip_nonfinite = 1;
    options.inverse_gradient_scale = 1.0 / (128 << (step % 3));
    options.max_gradient_norm = step % 2 == 0 ? 0.5 : 1e6;
    return options;
}

namespace {

struct HostBuffer {
    void* data = nullptr;
    HostBuffer(nab_dtype dtype, std::size_t count) {
        check(nab_buffer_allocate(dtype, count, &data), "nab_buffer_allocate");
    }
    ~HostBuffer() { nab_buffer_free(data); }
    HostBuffer(const HostBuffer&) = delete;
    HostBuffer& operator=(const HostBuffer&) = delete;
};

nab_step_report report_of(nab_optimizer* optimizer) {
    nab_step_report report{};
    report.struct_size = sizeof report;
    check(nab_optimizer_get_last_step_report(optimizer, &report), "nab_optimizer_get_last_step_report");
    return report;
}

}  // namespace

OptionSteps run_changing_step_options_on_cpu(const ChangingStepOptionsScenario& s) {
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config), "nab_optimizer_config_init");
    config.device_type = NAB_DEVICE_CPU;
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer), "nab_optimizer_create");
    struct Destroy {
        nab_optimizer* o;
        ~Destroy() { nab_optimizer_destroy(o); }
    } destroy{optimizer};
    std::uint32_t groups[2] = {0, 0}, tensors[2] = {0, 0};
    for (int g = 0; g < 2; ++g) check(nab_optimizer_add_group(optimizer, &s.groups[g], &groups[g]), "add_group");
    HostBuffer parameters(NAB_DTYPE_BFLOAT16, s.count), gradients(NAB_DTYPE_BFLOAT16, s.count);
    HostBuffer float_parameters(NAB_DTYPE_FLOAT32, s.small_count), float_gradients(NAB_DTYPE_FLOAT32, s.small_count);
    std::memcpy(parameters.data, s.parameters.data(), 2 * s.count);
    std::memcpy(gradients.data, s.gradients.data(), 2 * s.count);
    std::memcpy(float_parameters.data, s.float_parameters.data(), sizeof(float) * s.small_count);
    std::memcpy(float_gradients.data, s.float_gradients.data(), sizeof(float) * s.small_count);
    const nab_tensor_desc sixteen = tensor_desc(groups[0], s.count, parameters.data, gradients.data,
                                                NAB_DTYPE_BFLOAT16, NAB_DTYPE_BFLOAT16, true);
    check(nab_optimizer_add_tensor(optimizer, &sixteen, &tensors[0]), "add_tensor");
    const nab_tensor_desc single = tensor_desc(groups[1], s.small_count, float_parameters.data, float_gradients.data);
    check(nab_optimizer_add_tensor(optimizer, &single, &tensors[1]), "add_tensor");

    OptionSteps out;
    auto* float_gradient_values = static_cast<float*>(float_gradients.data);
    for (int step = 0; step < s.steps; ++step) {
        const nab_step_options options = s.step_options(step);
        check(nab_optimizer_set_step_options(optimizer, &options), "set_step_options");
        if (step == s.nonfinite_step) float_gradient_values[s.nan_index] = std::numeric_limits<float>::quiet_NaN();
        if (step == s.nonfinite_step + 1) float_gradient_values[s.nan_index] = s.float_gradients[s.nan_index];
        check(nab_optimizer_step(optimizer), "step");
        if (step == s.nonfinite_step) out.skipped_report = report_of(optimizer);
    }
    out.last_report = report_of(optimizer);
    out.parameters.resize(2 * s.count);
    std::memcpy(out.parameters.data(), parameters.data, out.parameters.size());
    auto read = [&](std::uint32_t tensor, nab_state_kind kind, std::size_t n) {
        std::vector<float> values(n);
        check(nab_optimizer_read_state(optimizer, tensor, kind, values.data(), n), "read_state");
        return values;
    };
    out.master = read(tensors[0], NAB_STATE_MASTER_PARAMETERS, s.count);
    out.first_moment = read(tensors[0], NAB_STATE_FIRST_MOMENT, s.count);
    out.float_first_moment = read(tensors[1], NAB_STATE_FIRST_MOMENT, s.small_count);
    out.float_parameters.assign(static_cast<const float*>(float_parameters.data),
                                static_cast<const float*>(float_parameters.data) + s.small_count);
    for (int t = 0; t < 2; ++t) {
        nab_tensor_info info{};
        info.struct_size = sizeof info;
        check(nab_optimizer_get_tensor_info(optimizer, tensors[t], &info), "get_tensor_info");
        out.steps[t] = info.step;
    }
    return out;
}

void expect_changing_step_options_outcome(const OptionSteps& run, const char* name) {
    SCOPED_TRACE(name);
    EXPECT_EQ(run.steps[0], 9);  // ten steps, one skipped
    EXPECT_EQ(run.steps[1], 9);
    EXPECT_EQ(run.skipped_report.skipped, 1);
    EXPECT_EQ(run.skipped_report.nonfinite_count, 1u);
    EXPECT_EQ(run.skipped_report.step_calls, 5u);
    EXPECT_EQ(run.last_report.gradients_checked, 1);
    EXPECT_EQ(run.last_report.skipped, 0);
    EXPECT_EQ(run.last_report.step_calls, 10u);
    // Step 9: odd, so no clipping (the norm stays far below 1e6); its inverse scale is 1 / (128 << 0).
    EXPECT_LT(run.last_report.gradient_norm, 1e6);
    EXPECT_EQ(run.last_report.gradient_scale, 1.0 / 128);
}

}  // namespace nab::gpu_test
