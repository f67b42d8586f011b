// A captured CUDA graph of one step, replayed 10 times with a learning-rate (or step-options)
// change before each replay, equals 10 eager steps with the same changes: step counts, group
// options and step options live on the device, and so do the skip decision and the gradient
// scale. Built only when the CUDA toolkit is present; skipped without a device.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "gpu/gpu_test_support.h"
#include "gpu/graph_instantiate.h"
#include "gpu/graph_scenarios.h"

namespace nab::gpu_test {
namespace {

void check_cuda(cudaError_t result, const char* what) {
    if (result != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(result));
}

// A CUDA optimizer queuing its work on a new non-blocking stream (a capture needs a stream
// other than the legacy default one). The caller destroys both.
nab_optimizer* create_optimizer_on_new_stream(cudaStream_t& stream) {
    check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config), "config");
    config.device_type = NAB_DEVICE_CUDA;
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer), "create");
    check(nab_optimizer_set_cuda_stream(optimizer, stream), "stream");
    return optimizer;
}

struct TenSteps {
    std::vector<float> parameters, first_moment;
    std::int64_t step = 0;
};

TenSteps run_ten_steps(bool use_graph) {
    const TenStepsScenario s = ten_steps_scenario();
    constexpr std::size_t count = TenStepsScenario::count;
    constexpr int steps = TenStepsScenario::steps;
    TenSteps out;
    cudaStream_t stream = nullptr;
    nab_optimizer* optimizer = create_optimizer_on_new_stream(stream);
    std::uint32_t group = 0, tensor = 0;
    check(nab_optimizer_add_group(optimizer, &s.group, &group), "group");
    float *parameters = nullptr, *gradients = nullptr;
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, count, reinterpret_cast<void**>(&parameters)), "alloc");
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, count, reinterpret_cast<void**>(&gradients)), "alloc");
    check(nab_cuda_copy_to_device(parameters, s.parameters.data(), count * sizeof(float)), "upload");
    check(nab_cuda_copy_to_device(gradients, s.gradients.data(), count * sizeof(float)), "upload");
    const nab_tensor_desc desc = tensor_desc(group, count, parameters, gradients);
    check(nab_optimizer_add_tensor(optimizer, &desc, &tensor), "tensor");

    auto learning_rate = TenStepsScenario::learning_rate;
    check(nab_optimizer_set_learning_rate(optimizer, group, learning_rate(0)), "lr");
    check(nab_optimizer_step(optimizer), "first eager step");  // uploads the tables
    if (use_graph) {
        cudaGraph_t graph = nullptr;
        cudaGraphExec_t exec = nullptr;
        check_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "begin capture");
        check(nab_optimizer_step(optimizer), "captured step");
        check_cuda(cudaStreamEndCapture(stream, &graph), "end capture");
        check_cuda(nab::gpu_test::instantiate_graph(&exec, graph), "instantiate");
        for (int step = 1; step < steps; ++step) {
            check(nab_optimizer_set_learning_rate(optimizer, group, learning_rate(step)), "lr");
            check_cuda(cudaGraphLaunch(exec, stream), "replay");
        }
        check_cuda(cudaGraphExecDestroy(exec), "destroy exec");
        check_cuda(cudaGraphDestroy(graph), "destroy graph");
    } else {
        for (int step = 1; step < steps; ++step) {
            check(nab_optimizer_set_learning_rate(optimizer, group, learning_rate(step)), "lr");
            check(nab_optimizer_step(optimizer), "eager step");
        }
    }
    check(nab_optimizer_synchronize(optimizer), "synchronize");
    out.parameters.resize(count);
    check(nab_cuda_copy_to_host(out.parameters.data(), parameters, count * sizeof(float)), "download");
    out.first_moment.resize(count);
    check(nab_optimizer_read_state(optimizer, tensor, NAB_STATE_FIRST_MOMENT, out.first_moment.data(), count), "m");
    nab_tensor_info info{};
    info.struct_size = sizeof info;
    check(nab_optimizer_get_tensor_info(optimizer, tensor, &info), "info");
    out.step = info.step;
    nab_optimizer_destroy(optimizer);
    nab_cuda_buffer_free(parameters);
    nab_cuda_buffer_free(gradients);
    cudaStreamDestroy(stream);
    return out;
}

TEST(CudaGraphTest, TenReplaysOfACapturedStepEqualTenEagerSteps) {
    NAB_REQUIRE_CUDA_DEVICE();
    const TenSteps eager = run_ten_steps(false);
    const TenSteps graph = run_ten_steps(true);
    EXPECT_EQ(eager.step, 10);
    EXPECT_EQ(graph.step, 10);
    EXPECT_EQ(eager.parameters, graph.parameters);  // same kernels, same inputs: bit-identical
    EXPECT_EQ(eager.first_moment, graph.first_moment);
}

// ---- Step options in a graph ------------------------------------------------------------------

nab_step_report last_report(nab_optimizer* optimizer) {
    nab_step_report report{};
    report.struct_size = sizeof report;
    check(nab_optimizer_get_last_step_report(optimizer, &report), "nab_optimizer_get_last_step_report");
    return report;
}

// The changing-step-options scenario (graph_scenarios.h) on the device, eagerly or as one
// captured step replayed nine times.
OptionSteps run_with_changing_step_options(const ChangingStepOptionsScenario& s, bool use_graph) {
    constexpr std::size_t count = ChangingStepOptionsScenario::count;
    constexpr std::size_t small_count = ChangingStepOptionsScenario::small_count;
    constexpr std::size_t nan_index = ChangingStepOptionsScenario::nan_index;
    constexpr int nonfinite_step = ChangingStepOptionsScenario::nonfinite_step;
    OptionSteps out;
    cudaStream_t stream = nullptr;
    nab_optimizer* optimizer = create_optimizer_on_new_stream(stream);
    std::uint32_t groups[2] = {0, 0}, tensors[2] = {0, 0};
    for (int g = 0; g < 2; ++g) check(nab_optimizer_add_group(optimizer, &s.groups[g], &groups[g]), "group");

    void *parameters = nullptr, *gradients = nullptr, *float_parameters = nullptr, *float_gradients = nullptr;
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_BFLOAT16, count, &parameters), "alloc");
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_BFLOAT16, count, &gradients), "alloc");
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, small_count, &float_parameters), "alloc");
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, small_count, &float_gradients), "alloc");
    check(nab_cuda_copy_to_device(parameters, s.parameters.data(), 2 * count), "upload");
    check(nab_cuda_copy_to_device(gradients, s.gradients.data(), 2 * count), "upload");
    check(nab_cuda_copy_to_device(static_cast<float*>(float_parameters), s.float_parameters.data(), small_count * sizeof(float)),
          "upload");
    check(nab_cuda_copy_to_device(static_cast<float*>(float_gradients), s.float_gradients.data(), small_count * sizeof(float)),
          "upload");
    const nab_tensor_desc sixteen_desc =
        tensor_desc(groups[0], count, parameters, gradients, NAB_DTYPE_BFLOAT16, NAB_DTYPE_BFLOAT16, true);
    check(nab_optimizer_add_tensor(optimizer, &sixteen_desc, &tensors[0]), "tensor");
    const nab_tensor_desc float_desc = tensor_desc(groups[1], small_count, float_parameters, float_gradients);
    check(nab_optimizer_add_tensor(optimizer, &float_desc, &tensors[1]), "tensor");

    auto set_options = [&](int step) {
        const nab_step_options options = ChangingStepOptionsScenario::step_options(step);
        check(nab_optimizer_set_step_options(optimizer, &options), "nab_optimizer_set_step_options");
    };
    // A NaN into the float32 gradients before one step, the original value back after it, in
    // stream order (pageable sources are staged before cudaMemcpyAsync returns).
    auto write_gradient = [&](float value) {
        check_cuda(cudaMemcpyAsync(static_cast<float*>(float_gradients) + nan_index, &value, sizeof value,
                                   cudaMemcpyHostToDevice, stream),
                   "gradient write");
    };
    set_options(0);
    check(nab_optimizer_step(optimizer), "first eager step");  // uploads the tables
    cudaGraphExec_t exec = nullptr;
    if (use_graph) {
        cudaGraph_t graph = nullptr;
        check_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "begin capture");
        check(nab_optimizer_step(optimizer), "captured step");
        nab_step_report refused{};
        refused.struct_size = sizeof refused;
        const nab_status status = nab_optimizer_get_last_step_report(optimizer, &refused);
        check_cuda(cudaStreamEndCapture(stream, &graph), "end capture");
        if (status != NAB_STATUS_INVALID_ARGUMENT) {
            throw std::runtime_error("nab_optimizer_get_last_step_report was not refused during the capture");
        }
        check_cuda(nab::gpu_test::instantiate_graph(&exec, graph), "instantiate");
        check_cuda(cudaGraphDestroy(graph), "destroy graph");
    }
    for (int step = 1; step < ChangingStepOptionsScenario::steps; ++step) {
        set_options(step);
        if (step == nonfinite_step) write_gradient(std::numeric_limits<float>::quiet_NaN());
        if (step == nonfinite_step + 1) write_gradient(s.float_gradients[nan_index]);
        if (use_graph) {
            check_cuda(cudaGraphLaunch(exec, stream), "replay");
        } else {
            check(nab_optimizer_step(optimizer), "eager step");
        }
        if (step == nonfinite_step) out.skipped_report = last_report(optimizer);
    }
    if (exec != nullptr) check_cuda(cudaGraphExecDestroy(exec), "destroy exec");
    check(nab_optimizer_synchronize(optimizer), "synchronize");
    out.last_report = last_report(optimizer);
    out.parameters.resize(2 * count);
    check(nab_cuda_copy_to_host(out.parameters.data(), parameters, out.parameters.size()), "download");
    auto read = [&](std::uint32_t tensor, nab_state_kind kind, std::size_t n) {
        std::vector<float> values(n);
        check(nab_optimizer_read_state(optimizer, tensor, kind, values.data(), n), "read_state");
        return values;
    };
    out.master = read(tensors[0], NAB_STATE_MASTER_PARAMETERS, count);
    out.first_moment = read(tensors[0], NAB_STATE_FIRST_MOMENT, count);
    out.float_first_moment = read(tensors[1], NAB_STATE_FIRST_MOMENT, small_count);
    out.float_parameters.resize(small_count);
    check(nab_cuda_copy_to_host(out.float_parameters.data(), static_cast<float*>(float_parameters), small_count * sizeof(float)),
          "download");
    for (int t = 0; t < 2; ++t) {
        nab_tensor_info info{};
        info.struct_size = sizeof info;
        check(nab_optimizer_get_tensor_info(optimizer, tensors[t], &info), "info");
        out.steps[t] = info.step;
    }
    nab_optimizer_destroy(optimizer);
    for (void* buffer : {parameters, gradients, float_parameters, float_gradients}) nab_cuda_buffer_free(buffer);
    cudaStreamDestroy(stream);
    return out;
}

TEST(CudaGraphTest, ReplaysSeeNewStepOptionsAndSkipANonFiniteStepOnTheDevice) {
    NAB_REQUIRE_CUDA_DEVICE();
    const ChangingStepOptionsScenario scenario = changing_step_options_scenario();
    const OptionSteps eager = run_with_changing_step_options(scenario, false);
    const OptionSteps graph = run_with_changing_step_options(scenario, true);
    expect_changing_step_options_outcome(eager, "cuda, eager");
    expect_changing_step_options_outcome(graph, "cuda, graph");
    // Same kernels, same inputs, same order of additions: bit-identical.
    EXPECT_EQ(eager.parameters, graph.parameters);
    EXPECT_EQ(eager.master, graph.master);
    EXPECT_EQ(eager.first_moment, graph.first_moment);
    EXPECT_EQ(eager.float_parameters, graph.float_parameters);
    EXPECT_EQ(eager.float_first_moment, graph.float_first_moment);
    EXPECT_EQ(std::memcmp(&eager.last_report, &graph.last_report, sizeof eager.last_report), 0);
    // And the same as the CPU backend (graph_scenarios_test.cpp checks that run on every
    // machine): bit for bit, except the norm, whose squares the two add in different orders.
    const OptionSteps cpu = run_changing_step_options_on_cpu(scenario);
    EXPECT_EQ(eager.parameters, cpu.parameters);
    EXPECT_EQ(eager.master, cpu.master);
    EXPECT_EQ(eager.first_moment, cpu.first_moment);
    EXPECT_EQ(eager.float_parameters, cpu.float_parameters);
    EXPECT_EQ(eager.float_first_moment, cpu.float_first_moment);
    EXPECT_NEAR(eager.last_report.gradient_norm, cpu.last_report.gradient_norm, 1e-12 * cpu.last_report.gradient_norm);
    EXPECT_EQ(eager.last_report.gradient_scale, cpu.last_report.gradient_scale);
}

// Whether a step makes the gradient pass is fixed when it is captured (like the launch
// variants): a graph captured while the options asked for no check has no pass to decide
// from, so after skip_nonfinite is turned on its replays still step unchecked, and the report
// says so (gradients_checked = 0) instead of claiming a check. Capture again to add the pass.
TEST(CudaGraphTest, AGraphCapturedWithoutTheGradientPassReportsItsStepsUnchecked) {
    NAB_REQUIRE_CUDA_DEVICE();
    constexpr std::size_t count = 4096;
    cudaStream_t stream = nullptr;
    nab_optimizer* optimizer = create_optimizer_on_new_stream(stream);
    nab_group_options o;
    check(nab_group_options_init(&o, NAB_COMPATIBILITY_LABML), "init");
    std::uint32_t group = 0, tensor = 0;
    check(nab_optimizer_add_group(optimizer, &o, &group), "group");
    float *parameters = nullptr, *gradients = nullptr;
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, count, reinterpret_cast<void**>(&parameters)), "alloc");
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, count, reinterpret_cast<void**>(&gradients)), "alloc");
    std::vector<float> host(count, 0.25f);
    host[3] = std::numeric_limits<float>::quiet_NaN();
    check(nab_cuda_copy_to_device(gradients, host.data(), count * sizeof(float)), "upload");
    const nab_tensor_desc desc = tensor_desc(group, count, parameters, gradients);
    check(nab_optimizer_add_tensor(optimizer, &desc, &tensor), "tensor");
    check(nab_optimizer_step(optimizer), "first eager step");
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    check_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "begin capture");
    check(nab_optimizer_step(optimizer), "captured step");
    check_cuda(cudaStreamEndCapture(stream, &graph), "end capture");
    check_cuda(nab::gpu_test::instantiate_graph(&exec, graph), "instantiate");
    nab_step_options options;
    check(nab_step_options_init(&options), "nab_step_options_init");
    options.skip_nonfinite = 1;
    check(nab_optimizer_set_step_options(optimizer, &options), "nab_optimizer_set_step_options");
    check_cuda(cudaGraphLaunch(exec, stream), "replay");
    const nab_step_report replayed = last_report(optimizer);
    EXPECT_EQ(replayed.gradients_checked, 0);
    EXPECT_EQ(replayed.skipped, 0);
    EXPECT_EQ(replayed.step_calls, 2u);
    check(nab_optimizer_step(optimizer), "eager step");  // launched now with the pass
    const nab_step_report eager = last_report(optimizer);
    EXPECT_EQ(eager.gradients_checked, 1);
    EXPECT_EQ(eager.skipped, 1);
    EXPECT_EQ(eager.nonfinite_count, 1u);
    EXPECT_EQ(eager.step_calls, 3u);
    check_cuda(cudaGraphExecDestroy(exec), "destroy exec");
    check_cuda(cudaGraphDestroy(graph), "destroy graph");
    nab_optimizer_destroy(optimizer);
    nab_cuda_buffer_free(parameters);
    nab_cuda_buffer_free(gradients);
    cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace nab::gpu_test
