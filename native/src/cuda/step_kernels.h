// Host-callable launchers of the fused kernels (step_kernels.cu).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/hyperparameters.h"
#include "core/step_coefficients.h"
#include "cuda/device_tables.h"

namespace nab::cuda {

// The switches that are fixed per launch (template parameters of the kernel); the update
// rule, which depends on each tensor's step count, is decided per block on the device.
struct LaunchVariant {
    bool l2_gradient;
    bool square_gradient;
    bool keeps_max;
    bool operator==(const LaunchVariant& other) const {
        return l2_gradient == other.l2_gradient && square_gradient == other.square_gradient &&
               keeps_max == other.keeps_max;
    }
};

// One step of every tensor in `tensors` (device memory, sorted by first_block): their step
// counts + 1, their plans written to `plans` (one per tensor), then the fused update.
// Asynchronous on `stream`; returns the launch error, if any.
cudaError_t launch_step(const LaunchVariant& variant, const DeviceTensor* tensors, std::uint32_t tensor_count,
                        std::uint64_t block_count, const GroupOptions* groups, std::int64_t* steps,
                        TensorStepPlan* plans, cudaStream_t stream);

// Zeroes the gradients of every tensor in `tensors` (laid out like a step launch).
cudaError_t launch_zero_gradients(const DeviceTensor* tensors, std::uint32_t tensor_count, std::uint64_t block_count,
                                  cudaStream_t stream);

// Adds the number of NaN and +-Inf gradient elements of every tensor in `tensors` (laid out
// like the zero-gradients launch) to *total, a device counter the caller zeroed.
cudaError_t launch_count_nonfinite(const DeviceTensor* tensors, std::uint32_t tensor_count, std::uint64_t block_count,
                                  unsigned long long* total, cudaStream_t stream);

}  // namespace nab::cuda
