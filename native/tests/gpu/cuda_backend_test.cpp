// The CUDA backend against the CPU backend, through the C ABI: every option of both
// compatibility modes, several groups, null gradients, sizes from 1 to 10^7, unaligned
// pointers. Skipped, with the reason, where no CUDA device is visible.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gpu/gpu_test_support.h"

namespace nab::gpu_test {
namespace {

nab_group_options options(int32_t compatibility, int32_t weight_decay_mode, int32_t second_moment, int32_t amsgrad,
                          int32_t rectify, int32_t degenerate, int32_t optimized) {
    nab_group_options o;
    check(nab_group_options_init(&o, compatibility), "nab_group_options_init");
    o.learning_rate = 3e-3;
    o.beta2 = 0.9;  // rectification becomes tractable within a few steps
    o.epsilon = 1e-8;
    o.weight_decay = 0.05;
    o.weight_decay_mode = weight_decay_mode;
    o.second_moment = second_moment;
    o.amsgrad = amsgrad;
    o.rectify = rectify;
    o.degenerate_to_sgd = degenerate;
    o.optimized_update = optimized;
    return o;
}

TEST(CudaBackendTest, WithoutADeviceCreatingACudaOptimizerFailsClearlyAndTheCpuStillWorks) {
    int32_t device_count = -1;
    ASSERT_EQ(nab_cuda_get_device_count(&device_count), NAB_STATUS_OK);
    if (device_count > 0) GTEST_SKIP() << "a CUDA device is present; this test covers machines without one";
    nab_optimizer_config config;
    ASSERT_EQ(nab_optimizer_config_init(&config), NAB_STATUS_OK);
    config.device_type = NAB_DEVICE_CUDA;
    nab_optimizer* optimizer = reinterpret_cast<nab_optimizer*>(&config);  // must be reset to null
    const nab_status status = nab_optimizer_create(&config, &optimizer);
    EXPECT_TRUE(status == NAB_STATUS_UNSUPPORTED || status == NAB_STATUS_DEVICE_ERROR) << status;
    EXPECT_EQ(optimizer, nullptr);
    const std::string message = nab_get_last_error();
    EXPECT_NE(message.find("CUDA"), std::string::npos) << message;
    float* buffer = nullptr;
    EXPECT_NE(nab_cuda_buffer_allocate(0, 16, &buffer), NAB_STATUS_OK);
    EXPECT_EQ(buffer, nullptr);

    const Problem problem = random_problem({options(NAB_COMPATIBILITY_LABML, 0, 0, 0, 1, 1, 1)}, {{0, 100, 0}}, 3,
                                           42, false);
    const Result cpu = run_on_cpu(problem);
    EXPECT_EQ(cpu.steps.front(), 3);
}

TEST(CudaBackendTest, EveryOptionOfBothModesMatchesTheCpuAfterOneAndAfterManySteps) {
    NAB_REQUIRE_CUDA_DEVICE();
    const std::vector<TensorSpec> tensors = {{0, 1, 0}, {0, 3, 1}, {0, 17, 0}, {0, 1000, 3}, {0, 70001, 0}};
    int combinations = 0;
    for (int32_t compatibility : {NAB_COMPATIBILITY_LABML, NAB_COMPATIBILITY_ADABELIEF_PYTORCH}) {
        for (int32_t wd_mode : {NAB_WEIGHT_DECAY_DECOUPLED, NAB_WEIGHT_DECAY_ABSOLUTE, NAB_WEIGHT_DECAY_L2}) {
            for (int32_t second : {NAB_SECOND_MOMENT_BELIEF, NAB_SECOND_MOMENT_SQUARE}) {
                for (int32_t amsgrad : {0, 1}) {
                    for (int32_t rectify : {0, 1}) {
                        for (int32_t degenerate : {0, 1}) {
                            for (int32_t optimized : {0, 1}) {
                                const bool labml = compatibility == NAB_COMPATIBILITY_LABML;
                                if (!labml && (second == NAB_SECOND_MOMENT_SQUARE || optimized == 0)) continue;
                                const auto o = options(compatibility, wd_mode, second, amsgrad, rectify, degenerate,
                                                       optimized);
                                for (int steps : {1, 12}) {
                                    const Problem problem = random_problem({o}, tensors, steps, 1000 + combinations, true);
                                    const std::string error = compare(run_on_cpu(problem), run_on_cuda(problem), 1e-6);
                                    EXPECT_EQ(error, "") << "combination " << combinations << " after " << steps
                                                         << " steps: compatibility=" << compatibility
                                                         << " wd_mode=" << wd_mode << " second_moment=" << second
                                                         << " amsgrad=" << amsgrad << " rectify=" << rectify
                                                         << " degenerate=" << degenerate << " optimized=" << optimized;
                                }
                                ++combinations;
                            }
                        }
                    }
                }
            }
        }
    }
    EXPECT_EQ(combinations, 2 * 3 * 2 * 2 * 2 * 2 + 3 * 2 * 2 * 2);
}

TEST(CudaBackendTest, SeveralGroupsWithDifferentKernelsInOneStepMatchTheCpu) {
    NAB_REQUIRE_CUDA_DEVICE();
    // Three groups whose template switches differ, so one step issues several launches.
    const Problem problem = random_problem(
        {options(NAB_COMPATIBILITY_LABML, NAB_WEIGHT_DECAY_DECOUPLED, NAB_SECOND_MOMENT_BELIEF, 0, 1, 1, 1),
         options(NAB_COMPATIBILITY_LABML, NAB_WEIGHT_DECAY_L2, NAB_SECOND_MOMENT_SQUARE, 1, 0, 0, 0),
         options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH, NAB_WEIGHT_DECAY_ABSOLUTE, NAB_SECOND_MOMENT_BELIEF, 1, 1, 1, 1)},
        {{0, 5000, 0}, {1, 33, 2}, {2, 40000, 1}, {0, 7, 0}, {1, 100000, 0}, {2, 1, 0}}, 20, 7, true);
    EXPECT_EQ(compare(run_on_cpu(problem), run_on_cuda(problem), 1e-6), "");
}

TEST(CudaBackendTest, TenMillionParametersMatchTheCpu) {
    NAB_REQUIRE_CUDA_DEVICE();
    const Problem problem = random_problem({options(NAB_COMPATIBILITY_LABML, 0, 0, 1, 1, 1, 1)},
                                           {{0, 10'000'000, 0}, {0, 10'000'001, 1}}, 2, 99, false);
    EXPECT_EQ(compare(run_on_cpu(problem), run_on_cuda(problem), 1e-6), "");
}

TEST(CudaBackendTest, HostPointersAndBadOrdinalsAreRefusedAndNothingChanges) {
    NAB_REQUIRE_CUDA_DEVICE();
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config), "config");
    config.device_type = NAB_DEVICE_CUDA;
    config.device_ordinal = 1000;
    nab_optimizer* optimizer = nullptr;
    EXPECT_EQ(nab_optimizer_create(&config, &optimizer), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(nab_get_last_error()).find("device_ordinal = 1000"), std::string::npos);
    config.device_ordinal = 0;
    check(nab_optimizer_create(&config, &optimizer), "create");
    nab_group_options o;
    check(nab_group_options_init(&o, NAB_COMPATIBILITY_LABML), "init");
    std::uint32_t group = 0, tensor = 0;
    check(nab_optimizer_add_group(optimizer, &o, &group), "group");
    std::vector<float> host(64, 1.0f);
    nab_tensor_desc desc{sizeof desc, group, host.size(), host.data(), nullptr};
    EXPECT_EQ(nab_optimizer_add_tensor(optimizer, &desc, &tensor), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(nab_get_last_error()).find("tensor->parameters"), std::string::npos) << nab_get_last_error();
    std::uint32_t count = 99;
    check(nab_optimizer_get_tensor_count(optimizer, &count), "count");
    EXPECT_EQ(count, 0u);
    EXPECT_EQ(nab_optimizer_set_thread_count(optimizer, 2), NAB_STATUS_INVALID_ARGUMENT);
    nab_optimizer_destroy(optimizer);
}

// nab_optimizer_count_nonfinite_gradients on the device (one reduction launch, the count copied
// back): the same count as the host's, for aligned and misaligned gradients, tensors without
// gradients skipped, nothing written, and 0 after zeroing.
TEST(CudaBackendTest, CountsNonFiniteGradientsExactly) {
    NAB_REQUIRE_CUDA_DEVICE();
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config), "config");
    config.device_type = NAB_DEVICE_CUDA;
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer), "create");
    nab_group_options o;
    check(nab_group_options_init(&o, NAB_COMPATIBILITY_LABML), "init");
    std::uint32_t group = 0, id = 0;
    check(nab_optimizer_add_group(optimizer, &o, &group), "group");
    std::uint64_t count = 0;
    check(nab_optimizer_count_nonfinite_gradients(optimizer, &count), "count with no tensors");
    EXPECT_EQ(count, 0u);

    const std::vector<std::uint64_t> sizes = {1, 17, 1000, 70001, 16384 * 3 + 5};
    std::vector<float*> buffers;
    std::vector<std::vector<float>> host_gradients;
    std::uint64_t expected = 0, in_tensor_3 = 0;
    std::uint32_t state = 12345;
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        const std::uint64_t misalignment = t % 2;  // odd tensors start one float past 16-byte alignment
        float* parameters = nullptr;
        float* gradients = nullptr;
        check(nab_cuda_buffer_allocate(0, sizes[t] + 1, &parameters), "parameters");
        check(nab_cuda_buffer_allocate(0, sizes[t] + 1, &gradients), "gradients");
        buffers.push_back(parameters);
        buffers.push_back(gradients);
        std::vector<float> g(sizes[t]);
        for (std::size_t i = 0; i < g.size(); ++i) {
            state = state * 1664525u + 1013904223u;
            const std::uint32_t draw = state >> 24;
            g[i] = draw == 0 ? std::numeric_limits<float>::quiet_NaN()
                   : draw == 1 ? std::numeric_limits<float>::infinity()
                   : draw == 2 ? -std::numeric_limits<float>::infinity()
                   : draw == 3 ? std::numeric_limits<float>::max()
                               : static_cast<float>(state >> 8) * 1e-7f;
            if (draw < 3) {
                ++expected;
                if (t == 3) ++in_tensor_3;
            }
        }
        g.back() = std::numeric_limits<float>::quiet_NaN();
        ++expected;
        if (t == 3) ++in_tensor_3;
        check(nab_cuda_copy_to_device(gradients + misalignment, g.data(), g.size()), "copy");
        host_gradients.push_back(g);
        nab_tensor_desc desc{sizeof desc, group, sizes[t], parameters + misalignment, gradients + misalignment};
        check(nab_optimizer_add_tensor(optimizer, &desc, &id), "add tensor");
    }
    check(nab_optimizer_count_nonfinite_gradients(optimizer, &count), "count");
    EXPECT_EQ(count, expected);
    for (std::size_t t = 0; t < sizes.size(); ++t) {  // read-only
        std::vector<float> back(sizes[t]);
        check(nab_cuda_copy_to_host(back.data(), buffers[2 * t + 1] + t % 2, sizes[t]), "copy back");
        EXPECT_EQ(std::memcmp(back.data(), host_gradients[t].data(), back.size() * sizeof(float)), 0) << t;
    }
    check(nab_optimizer_set_tensor_gradients(optimizer, 3, nullptr), "clear tensor 3");
    check(nab_optimizer_count_nonfinite_gradients(optimizer, &count), "count without tensor 3");
    EXPECT_EQ(count, expected - in_tensor_3);
    check(nab_optimizer_zero_gradients(optimizer), "zero");
    check(nab_optimizer_count_nonfinite_gradients(optimizer, &count), "count after zeroing");
    EXPECT_EQ(count, 0u);
    EXPECT_EQ(nab_optimizer_count_nonfinite_gradients(optimizer, nullptr), NAB_STATUS_INVALID_ARGUMENT);
    nab_optimizer_destroy(optimizer);
    for (float* b : buffers) nab_cuda_buffer_free(b);
}

}  // namespace
}  // namespace nab::gpu_test
