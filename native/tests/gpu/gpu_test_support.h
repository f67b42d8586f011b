// Helpers of the GPU tests: skip loudly without a device, and run the same problem on a CPU
// optimizer and a CUDA optimizer through the C ABI.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <random>
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

// The raw contents of a caller buffer: element_count elements of some nab_dtype.
using Bytes = std::vector<std::uint8_t>;

std::size_t element_size(nab_dtype dtype);

// A tensor description with struct_size set and nothing reserved.
nab_tensor_desc tensor_desc(std::uint32_t group, std::uint64_t element_count, void* parameters, void* gradients,
                            nab_dtype parameter_dtype = NAB_DTYPE_FLOAT32, nab_dtype gradient_dtype = NAB_DTYPE_FLOAT32,
                            bool master = false);

// A random finite 16-bit pattern of `dtype` (NAB_DTYPE_FLOAT16 or NAB_DTYPE_BFLOAT16): random
// sign and fraction, biased exponent field in [lowest_exponent, highest_exponent] (0 gives the
// subnormals and zero). Built from the fields, so the tests need no conversion of their own.
std::uint16_t random_sixteen_bit(std::mt19937_64& random, nab_dtype dtype, unsigned lowest_exponent,
                                 unsigned highest_exponent);

enum class NonFinite { Nan, PositiveInfinity, NegativeInfinity };

// Overwrites element `index` of `values` (elements of `dtype`) with a NaN or an infinity.
void put_nonfinite(Bytes& values, nab_dtype dtype, std::size_t index, NonFinite kind);

struct TensorSpec {
    std::uint32_t group;
    std::uint64_t element_count;
    std::uint64_t misalignment;  // elements to offset the parameter and gradient pointers by
    nab_dtype parameter_dtype = NAB_DTYPE_FLOAT32;
    nab_dtype gradient_dtype = NAB_DTYPE_FLOAT32;
    bool master = false;  // a float32 master copy (16-bit parameters only)
};

// One problem: groups, tensors, per-step gradients (empty = null for that step) and the step
// options in force for every step.
struct Problem {
    std::vector<nab_group_options> groups;
    std::vector<TensorSpec> tensors;
    std::vector<Bytes> initial_parameters;      // [tensor]
    std::vector<std::vector<Bytes>> gradients;  // [step][tensor]
    nab_step_options step_options;
};

// Parameters around 1, gradients of magnitudes 1e-3 .. 10 (16-bit ones from 2^-24, subnormals
// and zeros included), default step options.
Problem random_problem(std::vector<nab_group_options> groups, std::vector<TensorSpec> tensors, int steps,
                       std::uint64_t seed, bool some_null_gradients);

struct Result {
    std::vector<nab_dtype> parameter_dtypes;
    std::vector<Bytes> parameters;  // as stored, in each tensor's parameter_dtype
    std::vector<std::vector<float>> first_moment, second_moment, max_second_moment, master;  // empty when absent
    // 8-bit state as stored: each array's codes, then its scales' bytes (empty for float32 state)
    std::vector<Bytes> codes;
    std::vector<std::int64_t> steps;
    std::vector<nab_step_report> reports;  // after each step
};

Result run_on_cpu(const Problem& problem);
Result run_on_cuda(const Problem& problem);

// "" when the results agree, else the first difference: equal step counts and reports
// (gradient_norm and gradient_scale within 1e-12 relative: the two backends add the squares in
// different orders), 16-bit parameters and 8-bit codes and scales bit for bit, float32
// parameters and state within rel_tolerance (relative to max(|cpu|, floor)); rel_tolerance 0
// asks for identical bits.
std::string compare(const Result& cpu, const Result& cuda, double rel_tolerance);

}  // namespace nab::gpu_test
