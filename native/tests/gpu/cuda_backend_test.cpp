// The CUDA backend against the CPU backend, through the C ABI: every option of both
// compatibility modes, several groups, null gradients, sizes from 1 to 10^7, unaligned
// pointers; float16/bfloat16 parameters and gradients with and without master copies, the
// step options (skipping, clipping, the inverse scale) and their report; 8-bit state (the same
// codes and scales as the CPU, bit for bit). Skipped, with the reason, where no CUDA device is
// visible.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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
    EXPECT_NE(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, 16, reinterpret_cast<void**>(&buffer)), NAB_STATUS_OK);
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

// 8-bit state runs the same IEEE float32 operations and integer code arithmetic on both
// backends: parameters, codes and scales must be identical, for every option combination, every
// tail of a 256-element block, unaligned and 16-bit buffers, float32 tensors of the same group.
TEST(CudaBackendTest, EightBitStateMatchesTheCpuBitForBit) {
    NAB_REQUIRE_CUDA_DEVICE();
    const std::vector<TensorSpec> tensors = {{0, 4096, 0},
                                             {0, 4097, 1},
                                             {0, 4096 + 255, 3},
                                             {0, 70001, 0},
                                             {0, 17, 0},
                                             {0, 5000, 0, NAB_DTYPE_BFLOAT16, NAB_DTYPE_BFLOAT16, true},
                                             {0, 6001, 1, NAB_DTYPE_FLOAT16, NAB_DTYPE_FLOAT16, false}};
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
                                nab_group_options o =
                                    options(compatibility, wd_mode, second, amsgrad, rectify, degenerate, optimized);
                                o.state_encoding = NAB_STATE_ENCODING_BLOCKWISE_8BIT;
                                const Problem problem = random_problem({o}, tensors, 12, 5000 + combinations, true);
                                EXPECT_EQ(compare(run_on_cpu(problem), run_on_cuda(problem), 0.0), "")
                                    << "combination " << combinations << ": compatibility=" << compatibility
                                    << " wd_mode=" << wd_mode << " second_moment=" << second << " amsgrad=" << amsgrad
                                    << " rectify=" << rectify << " degenerate=" << degenerate
                                    << " optimized=" << optimized;
                                ++combinations;
                            }
                        }
                    }
                }
            }
        }
    }
}

// A non-finite gradient under skip_nonfinite: the device skips the step and the 8-bit codes and
// scales stay as they were, as on the CPU.
TEST(CudaBackendTest, ASkippedStepLeavesEightBitStateUntouched) {
    NAB_REQUIRE_CUDA_DEVICE();
    nab_group_options o = options(NAB_COMPATIBILITY_LABML, NAB_WEIGHT_DECAY_DECOUPLED, NAB_SECOND_MOMENT_BELIEF, 1, 1, 1, 1);
    o.state_encoding = NAB_STATE_ENCODING_BLOCKWISE_8BIT;
    Problem problem = random_problem({o}, {{0, 9000, 0}, {0, 100, 0}}, 6, 77, false);
    problem.step_options.skip_nonfinite = 1;
    put_nonfinite(problem.gradients[3][0], NAB_DTYPE_FLOAT32, 4321, NonFinite::Nan);
    const Result cpu = run_on_cpu(problem), cuda = run_on_cuda(problem);
    EXPECT_EQ(cpu.reports[3].skipped, 1);
    EXPECT_EQ(cpu.steps.front(), 5);
    EXPECT_EQ(compare(cpu, cuda, 0.0), "");
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
    const nab_tensor_desc desc = tensor_desc(group, host.size(), host.data(), nullptr);
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
        check(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, sizes[t] + 1, reinterpret_cast<void**>(&parameters)), "parameters");
        check(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, sizes[t] + 1, reinterpret_cast<void**>(&gradients)), "gradients");
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
        check(nab_cuda_copy_to_device(gradients + misalignment, g.data(), g.size() * sizeof(float)), "copy");
        host_gradients.push_back(g);
        const nab_tensor_desc desc = tensor_desc(group, sizes[t], parameters + misalignment, gradients + misalignment);
        check(nab_optimizer_add_tensor(optimizer, &desc, &id), "add tensor");
    }
    check(nab_optimizer_count_nonfinite_gradients(optimizer, &count), "count");
    EXPECT_EQ(count, expected);
    for (std::size_t t = 0; t < sizes.size(); ++t) {  // read-only
        std::vector<float> back(sizes[t]);
        check(nab_cuda_copy_to_host(back.data(), buffers[2 * t + 1] + t % 2, sizes[t] * sizeof(float)), "copy back");
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

// ---- Mixed precision and step options --------------------------------------------------------

constexpr nab_dtype kDtypes[] = {NAB_DTYPE_FLOAT32, NAB_DTYPE_FLOAT16, NAB_DTYPE_BFLOAT16};

// Two groups whose launch variants differ (so a step issues two step launches).
std::vector<nab_group_options> two_kernel_groups() {
    return {options(NAB_COMPATIBILITY_LABML, NAB_WEIGHT_DECAY_DECOUPLED, NAB_SECOND_MOMENT_BELIEF, 0, 1, 1, 1),
            options(NAB_COMPATIBILITY_LABML, NAB_WEIGHT_DECAY_L2, NAB_SECOND_MOMENT_SQUARE, 1, 0, 0, 0)};
}

// Every combination of parameter type, gradient type and master copy, each as a large aligned
// tensor (the 4-element vector path) and a small one shifted by one element (the scalar path),
// spread over both groups.
std::vector<TensorSpec> every_element_type_combination() {
    std::vector<TensorSpec> tensors;
    for (const nab_dtype parameters : kDtypes) {
        for (const nab_dtype gradients : kDtypes) {
            for (const bool master : {false, true}) {
                if (master && parameters == NAB_DTYPE_FLOAT32) continue;
                const auto group = static_cast<std::uint32_t>(tensors.size() / 2 % 2);
                tensors.push_back({group, 70001, 0, parameters, gradients, master});
                tensors.push_back({1 - group, 1001, 1, parameters, gradients, master});
            }
        }
    }
    return tensors;
}

std::size_t index_of(const std::vector<TensorSpec>& tensors, nab_dtype parameters, nab_dtype gradients, bool master) {
    const auto found = std::find_if(tensors.begin(), tensors.end(), [&](const TensorSpec& t) {
        return t.parameter_dtype == parameters && t.gradient_dtype == gradients && t.master == master;
    });
    return static_cast<std::size_t>(found - tensors.begin());
}

// Widening, the float32 update, narrowing and the master copies use the CPU's own functions
// and operation order, so the two backends agree bit for bit; after 0 steps this compares the
// master copies as initialised from the parameters.
TEST(CudaBackendTest, SixteenBitParametersAndGradientsMatchTheCpuBitForBit) {
    NAB_REQUIRE_CUDA_DEVICE();
    for (const int steps : {0, 1, 6}) {
        const Problem problem = random_problem(two_kernel_groups(), every_element_type_combination(), steps,
                                               2000 + steps, true);
        EXPECT_EQ(compare(run_on_cpu(problem), run_on_cuda(problem), 0.0), "") << "after " << steps << " steps";
    }
}

TEST(CudaBackendTest, TheReportBeforeAnyStepAndWithoutAGradientPassSaysNothingWasChecked) {
    NAB_REQUIRE_CUDA_DEVICE();
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config), "config");
    config.device_type = NAB_DEVICE_CUDA;
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer), "create");
    std::uint32_t group = 0, tensor = 0;
    const nab_group_options o = two_kernel_groups().front();
    check(nab_optimizer_add_group(optimizer, &o, &group), "group");
    void *parameters = nullptr, *gradients = nullptr;
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_BFLOAT16, 100, &parameters), "parameters");
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_BFLOAT16, 100, &gradients), "gradients");
    const nab_tensor_desc desc =
        tensor_desc(group, 100, parameters, gradients, NAB_DTYPE_BFLOAT16, NAB_DTYPE_BFLOAT16, true);
    check(nab_optimizer_add_tensor(optimizer, &desc, &tensor), "tensor");
    auto report = [&] {
        nab_step_report r{};
        r.struct_size = sizeof r;
        check(nab_optimizer_get_last_step_report(optimizer, &r), "report");
        return r;
    };
    auto expect_unchecked = [](const nab_step_report& r, std::uint64_t step_calls) {
        EXPECT_EQ(r.gradients_checked, 0);
        EXPECT_EQ(r.skipped, 0);
        EXPECT_EQ(r.nonfinite_count, 0u);
        EXPECT_TRUE(std::isnan(r.gradient_norm)) << r.gradient_norm;
        EXPECT_EQ(r.gradient_scale, 1.0);
        EXPECT_EQ(r.step_calls, step_calls);
    };
    expect_unchecked(report(), 0);
    check(nab_optimizer_zero_gradients(optimizer), "zero");  // uploads the tables, no step yet
    expect_unchecked(report(), 0);
    check(nab_optimizer_step(optimizer), "step");
    expect_unchecked(report(), 1);
    nab_optimizer_destroy(optimizer);
    nab_cuda_buffer_free(parameters);
    nab_cuda_buffer_free(gradients);
}

// With skip_nonfinite, a step that meets a NaN or an infinity in any gradient changes no
// parameter (16-bit or float32), master copy, moment or step count, and says so; the steps
// around it run normally, and the whole sequence matches the CPU.
TEST(CudaBackendTest, ANonFiniteGradientSkipsTheWholeStepOnTheDevice) {
    NAB_REQUIRE_CUDA_DEVICE();
    const std::vector<TensorSpec> tensors = every_element_type_combination();
    Problem problem = random_problem(two_kernel_groups(), tensors, 3, 77, false);
    problem.step_options.skip_nonfinite = 1;
    std::vector<Bytes>& second = problem.gradients[1];
    put_nonfinite(second[index_of(tensors, NAB_DTYPE_BFLOAT16, NAB_DTYPE_BFLOAT16, true)], NAB_DTYPE_BFLOAT16, 12345,
                  NonFinite::Nan);
    put_nonfinite(second[index_of(tensors, NAB_DTYPE_FLOAT16, NAB_DTYPE_FLOAT16, false) + 1], NAB_DTYPE_FLOAT16, 1000,
                  NonFinite::PositiveInfinity);
    put_nonfinite(second[index_of(tensors, NAB_DTYPE_FLOAT32, NAB_DTYPE_FLOAT32, false)], NAB_DTYPE_FLOAT32, 0,
                  NonFinite::NegativeInfinity);

    const Result cuda = run_on_cuda(problem);
    ASSERT_EQ(cuda.reports.size(), 3u);
    for (std::size_t s = 0; s < 3; ++s) {
        const nab_step_report& r = cuda.reports[s];
        EXPECT_EQ(r.gradients_checked, 1) << s;
        EXPECT_EQ(r.skipped, s == 1 ? 1 : 0) << s;
        EXPECT_EQ(r.nonfinite_count, s == 1 ? 3u : 0u) << s;
        EXPECT_EQ(std::isfinite(r.gradient_norm), s != 1) << s << ": " << r.gradient_norm;
        EXPECT_EQ(r.step_calls, s + 1) << s;
    }
    for (const std::int64_t step : cuda.steps) EXPECT_EQ(step, 2);

    // The skipped step in the middle changed nothing: the same as the two other steps alone.
    Problem without_skipped = problem;
    without_skipped.gradients.erase(without_skipped.gradients.begin() + 1);
    Result unskipped = run_on_cuda(without_skipped), skipped = cuda;
    unskipped.reports.clear();
    skipped.reports.clear();
    EXPECT_EQ(compare(unskipped, skipped, 0.0), "");

    EXPECT_EQ(compare(run_on_cpu(problem), cuda, 0.0), "");
}

// The inverse scale and clipping by the global norm: the report's norm and scale equal the
// CPU's (to 1e-12: the squares are added in different orders) and every parameter and state
// value is bit-identical. The limits cover no clipping (1e6), clipping on every step (1e-2)
// and only the norm being reported (0).
TEST(CudaBackendTest, ClippingAndTheInverseScaleMatchTheCpu) {
    NAB_REQUIRE_CUDA_DEVICE();
    const double inverse_scale = 1.0 / 64;
    for (const double max_norm : {0.0, 1e-2, 1e6}) {
        Problem problem = random_problem(two_kernel_groups(), every_element_type_combination(), 4, 99, true);
        problem.step_options.inverse_gradient_scale = inverse_scale;
        problem.step_options.max_gradient_norm = max_norm;
        problem.step_options.compute_gradient_norm = 1;
        const Result cuda = run_on_cuda(problem);
        EXPECT_EQ(compare(run_on_cpu(problem), cuda, 0.0), "") << "max_gradient_norm " << max_norm;
        for (const nab_step_report& r : cuda.reports) {
            EXPECT_EQ(r.gradients_checked, 1);
            EXPECT_GT(r.gradient_norm, max_norm == 1e-2 ? max_norm : 0.0);
            if (max_norm == 1e-2) {
                EXPECT_NEAR(r.gradient_scale, inverse_scale * max_norm / (r.gradient_norm + 1e-6), 1e-15);
            } else {
                EXPECT_EQ(r.gradient_scale, inverse_scale);
            }
        }
    }
}

// count_nonfinite_gradients and zero_gradients on 2-byte gradients: both formats, vector and
// scalar paths (8-byte aligned or not), the largest finite values not counted.
TEST(CudaBackendTest, CountsAndZeroesSixteenBitGradients) {
    NAB_REQUIRE_CUDA_DEVICE();
    for (const nab_dtype dtype : {NAB_DTYPE_FLOAT16, NAB_DTYPE_BFLOAT16}) {
        SCOPED_TRACE(dtype == NAB_DTYPE_FLOAT16 ? "float16" : "bfloat16");
        nab_optimizer_config config;
        check(nab_optimizer_config_init(&config), "config");
        config.device_type = NAB_DEVICE_CUDA;
        nab_optimizer* optimizer = nullptr;
        check(nab_optimizer_create(&config, &optimizer), "create");
        nab_group_options o;
        check(nab_group_options_init(&o, NAB_COMPATIBILITY_LABML), "init");
        std::uint32_t group = 0, id = 0;
        check(nab_optimizer_add_group(optimizer, &o, &group), "group");
        const std::uint16_t largest_finite = dtype == NAB_DTYPE_FLOAT16 ? 0x7bff : 0x7f7f;
        const std::vector<std::uint64_t> sizes = {1, 17, 70001, 16384 * 3 + 5};
        const std::vector<std::uint64_t> misalignments = {0, 1, 4, 3};  // elements: 4 keeps 8-byte alignment
        std::mt19937_64 random(31);
        std::vector<void*> buffers;
        std::vector<std::uint16_t*> gradient_pointers;
        std::vector<Bytes> uploaded;
        std::uint64_t expected = 0;
        for (std::size_t t = 0; t < sizes.size(); ++t) {
            void *parameters = nullptr, *gradients = nullptr;
            check(nab_cuda_buffer_allocate(0, dtype, sizes[t] + misalignments[t], &parameters), "parameters");
            check(nab_cuda_buffer_allocate(0, dtype, sizes[t] + misalignments[t], &gradients), "gradients");
            buffers.push_back(parameters);
            buffers.push_back(gradients);
            Bytes g(2 * sizes[t]);
            for (std::size_t i = 0; i + 1 < sizes[t]; ++i) {
                const std::uint64_t draw = random() % 64;
                std::uint16_t bits = random_sixteen_bit(random, dtype, 0, dtype == NAB_DTYPE_FLOAT16 ? 30 : 254);
                if (draw == 0) bits = largest_finite;
                std::memcpy(g.data() + 2 * i, &bits, 2);
                if (draw >= 1 && draw <= 3) {
                    put_nonfinite(g, dtype, i, draw == 1 ? NonFinite::Nan : draw == 2 ? NonFinite::PositiveInfinity
                                                                                      : NonFinite::NegativeInfinity);
                    ++expected;
                }
            }
            put_nonfinite(g, dtype, sizes[t] - 1, NonFinite::Nan);  // the tail element of every tensor
            ++expected;
            auto* gradient_data = static_cast<std::uint16_t*>(gradients) + misalignments[t];
            check(nab_cuda_copy_to_device(gradient_data, g.data(), g.size()), "upload");
            gradient_pointers.push_back(gradient_data);
            uploaded.push_back(g);
            auto* parameter_data = static_cast<std::uint16_t*>(parameters) + misalignments[t];
            const nab_tensor_desc desc = tensor_desc(group, sizes[t], parameter_data, gradient_data, dtype, dtype);
            check(nab_optimizer_add_tensor(optimizer, &desc, &id), "add tensor");
        }
        std::uint64_t count = 0;
        check(nab_optimizer_count_nonfinite_gradients(optimizer, &count), "count");
        EXPECT_EQ(count, expected);
        for (std::size_t t = 0; t < sizes.size(); ++t) {  // read-only
            Bytes back(uploaded[t].size());
            check(nab_cuda_copy_to_host(back.data(), gradient_pointers[t], back.size()), "download");
            EXPECT_EQ(back, uploaded[t]) << t;
        }
        check(nab_optimizer_zero_gradients(optimizer), "zero");
        check(nab_optimizer_count_nonfinite_gradients(optimizer, &count), "count after zeroing");
        EXPECT_EQ(count, 0u);
        for (std::size_t t = 0; t < sizes.size(); ++t) {
            Bytes back(uploaded[t].size(), 0xff);
            check(nab_cuda_copy_to_host(back.data(), gradient_pointers[t], back.size()), "download");
            EXPECT_EQ(back, Bytes(back.size(), 0)) << t;
        }
        nab_optimizer_destroy(optimizer);
        for (void* b : buffers) nab_cuda_buffer_free(b);
    }
}

}  // namespace
}  // namespace nab::gpu_test
