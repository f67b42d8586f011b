// Helpers of the GPU tests: skip loudly without a device, and run the same problem on a CPU
// optimizer and a CUDA optimizer through the C ABI.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "native_adabelief.h"

namespace nab::gpu_test {

// GTEST_SKIP with the reason when this process sees no CUDA device.
#define NAB_REQUIRE_CUDA_DEVICE()                                                                          \
    do {                                                                                                   \
        int32_t nab_device_count = 0;                                                                      \
        ASSERT_EQ(nab_cuda_get_device_count(&nab_device_count), NAB_STATUS_OK) << nab_get_last_error();    \
        if (nab_device_count == 0) {                                                                       \
            GTEST_SKIP() << "no CUDA device visible (no NVIDIA driver/GPU, or a build without nvcc): "      \
                            "the CUDA backend is validated on a GPU machine, see docs/gpu-validation.md";  \
        }                                                                                                  \
    } while (0)

void check(nab_status status, const std::string& what);

struct TensorSpec {
    std::uint32_t group;
    std::uint64_t element_count;
    std::uint64_t misalignment;  // floats to offset the parameter and gradient pointers by
};

// One problem: groups, tensors, and per-step gradients (empty = null for that step).
struct Problem {
    std::vector<nab_group_options> groups;
    std::vector<TensorSpec> tensors;
    std::vector<std::vector<float>> initial_parameters;
    std::vector<std::vector<std::vector<float>>> gradients;  // [step][tensor][element]
};

Problem random_problem(std::vector<nab_group_options> groups, std::vector<TensorSpec> tensors, int steps,
                       std::uint64_t seed, bool some_null_gradients);

struct Result {
    std::vector<std::vector<float>> parameters, first_moment, second_moment, max_second_moment;
    std::vector<std::int64_t> steps;
};

Result run_on_cpu(const Problem& problem);
Result run_on_cuda(const Problem& problem);

// "" when every value agrees within rel_tolerance (relative to max(|cpu|, floor)).
std::string compare(const Result& cpu, const Result& cuda, double rel_tolerance);

}  // namespace nab::gpu_test
