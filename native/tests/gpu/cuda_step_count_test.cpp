// The step-count limit on CUDA: a tensor whose count is INT64_MAX cannot take another step. The
// CPU refuses such a step with an error; a CUDA step runs asynchronously, so its device-side
// guard skips the whole step instead and the report says why. Nothing may change, and the
// count must never wrap.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "gpu/gpu_test_support.h"
#include "native_adabelief.h"

namespace nab::gpu_test {
namespace {

TEST(CudaStepCountTest, AStepPastTheLargestCountIsSkippedOnTheDeviceAndChangesNothing) {
    NAB_REQUIRE_CUDA_DEVICE();
    nab_optimizer_config config{};
    check(nab_optimizer_config_init(&config), "config");
    config.device_type = NAB_DEVICE_CUDA;
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer), "create");
    nab_group_options options{};
    check(nab_group_options_init(&options, NAB_COMPATIBILITY_LABML), "options");
    uint32_t group = 0;
    check(nab_optimizer_add_group(optimizer, &options, &group), "group");

    constexpr uint64_t kCount = 1000;
    std::vector<float> host(kCount, 0.5f);
    void* buffers[4] = {};
    uint32_t tensors[2] = {};
    for (int t = 0; t < 2; ++t) {
        check(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, kCount, &buffers[2 * t]), "parameters");
        check(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, kCount, &buffers[2 * t + 1]), "gradients");
        check(nab_cuda_copy_to_device(buffers[2 * t], host.data(), kCount * sizeof(float)), "upload");
        check(nab_cuda_copy_to_device(buffers[2 * t + 1], host.data(), kCount * sizeof(float)), "upload");
        const nab_tensor_desc desc = tensor_desc(group, kCount, buffers[2 * t], buffers[2 * t + 1]);
        check(nab_optimizer_add_tensor(optimizer, &desc, &tensors[t]), "tensor");
    }
    const int64_t largest = std::numeric_limits<int64_t>::max();
    check(nab_optimizer_set_tensor_step(optimizer, tensors[0], largest - 1), "step count");
    check(nab_optimizer_step(optimizer), "the step to the largest count");
    check(nab_optimizer_synchronize(optimizer), "synchronize");
    int64_t steps[2] = {};
    check(nab_optimizer_get_step_counts(optimizer, steps, 2), "step counts");
    EXPECT_EQ(steps[0], largest);
    EXPECT_EQ(steps[1], 1);

    std::vector<float> parameters_before(kCount), first_moment_before(kCount);
    check(nab_cuda_copy_to_host(parameters_before.data(), buffers[2], kCount * sizeof(float)), "download");
    check(nab_optimizer_read_state(optimizer, tensors[1], NAB_STATE_FIRST_MOMENT, first_moment_before.data(), kCount),
          "m");
    // Queued like any step (it cannot fail on the host), then skipped on the device as a whole.
    check(nab_optimizer_step(optimizer), "the step past the largest count");
    nab_step_report report{};
    report.struct_size = sizeof report;
    check(nab_optimizer_get_last_step_report(optimizer, &report), "report");
    EXPECT_EQ(report.skipped, 1);
    EXPECT_EQ(report.step_count_exhausted, 1);
    EXPECT_EQ(report.step_calls, 2u);
    check(nab_optimizer_get_step_counts(optimizer, steps, 2), "step counts");
    EXPECT_EQ(steps[0], largest) << "the count wrapped";
    EXPECT_EQ(steps[1], 1) << "another tensor stepped in a refused step";
    std::vector<float> parameters_after(kCount), first_moment_after(kCount);
    check(nab_cuda_copy_to_host(parameters_after.data(), buffers[2], kCount * sizeof(float)), "download");
    check(nab_optimizer_read_state(optimizer, tensors[1], NAB_STATE_FIRST_MOMENT, first_moment_after.data(), kCount),
          "m");
    EXPECT_EQ(parameters_after, parameters_before);
    EXPECT_EQ(first_moment_after, first_moment_before);

    // A smaller count lets it step again.
    check(nab_optimizer_set_tensor_step(optimizer, tensors[0], 5), "step count");
    check(nab_optimizer_step(optimizer), "step");
    check(nab_optimizer_get_last_step_report(optimizer, &report), "report");
    EXPECT_EQ(report.skipped, 0);
    EXPECT_EQ(report.step_count_exhausted, 0);
    check(nab_optimizer_get_step_counts(optimizer, steps, 2), "step counts");
    EXPECT_EQ(steps[0], 6);
    EXPECT_EQ(steps[1], 2);

    check(nab_optimizer_destroy(optimizer), "destroy");
    for (void* buffer : buffers) check(nab_cuda_buffer_free(buffer), "free");
}

}  // namespace
}  // namespace nab::gpu_test
