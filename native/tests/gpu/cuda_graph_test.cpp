// A captured CUDA graph of one step, replayed 10 times with a learning-rate change before
// each replay, equals 10 eager steps with the same learning rates: step counts and options
// live on the device. Built only when the CUDA toolkit is present; skipped without a device.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "gpu/gpu_test_support.h"

namespace nab::gpu_test {
namespace {

void check_cuda(cudaError_t result, const char* what) {
    if (result != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(result));
}

struct TenSteps {
    std::vector<float> parameters, first_moment;
    std::int64_t step = 0;
};

TenSteps run_ten_steps(bool use_graph) {
    constexpr std::size_t count = 300'001;
    constexpr int steps = 10;
    TenSteps out;
    cudaStream_t stream = nullptr;
    check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config), "config");
    config.device_type = NAB_DEVICE_CUDA;
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer), "create");
    check(nab_optimizer_set_cuda_stream(optimizer, stream), "stream");
    nab_group_options o;
    check(nab_group_options_init(&o, NAB_COMPATIBILITY_LABML), "init");
    o.beta2 = 0.9;
    std::uint32_t group = 0, tensor = 0;
    check(nab_optimizer_add_group(optimizer, &o, &group), "group");
    float *parameters = nullptr, *gradients = nullptr;
    check(nab_cuda_buffer_allocate(0, count, &parameters), "alloc");
    check(nab_cuda_buffer_allocate(0, count, &gradients), "alloc");
    std::vector<float> host(count);
    for (std::size_t i = 0; i < count; ++i) host[i] = static_cast<float>((i % 97) - 48) * 0.01f;
    check(nab_cuda_copy_to_device(parameters, host.data(), count), "upload");
    for (std::size_t i = 0; i < count; ++i) host[i] = static_cast<float>((i % 13) - 6) * 0.003f;
    check(nab_cuda_copy_to_device(gradients, host.data(), count), "upload");
    nab_tensor_desc desc{sizeof desc, group, count, parameters, gradients};
    check(nab_optimizer_add_tensor(optimizer, &desc, &tensor), "tensor");

    auto learning_rate = [](int step) { return 1e-3 * (1.0 + step); };
    check(nab_optimizer_set_learning_rate(optimizer, group, learning_rate(0)), "lr");
    check(nab_optimizer_step(optimizer), "first eager step");  // uploads the tables
    if (use_graph) {
        cudaGraph_t graph = nullptr;
        cudaGraphExec_t exec = nullptr;
        check_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "begin capture");
        check(nab_optimizer_step(optimizer), "captured step");
        check_cuda(cudaStreamEndCapture(stream, &graph), "end capture");
        check_cuda(cudaGraphInstantiate(&exec, graph, nullptr, nullptr, 0), "instantiate");
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
    check(nab_cuda_copy_to_host(out.parameters.data(), parameters, count), "download");
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

}  // namespace
}  // namespace nab::gpu_test
