// Host-callable launchers of the fused kernels (step_kernels.cu).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "core/gradient_scaling.h"
#include "core/hyperparameters.h"
#include "core/step_coefficients.h"
#include "cuda/device_tables.h"

namespace nab::cuda {

// The switches that are fixed per launch (template parameters of the kernel, and which kernel:
// float32 or 8-bit state); the update rule, which depends on each tensor's step count, is
// decided per block on the device.
struct LaunchVariant {
    bool l2_gradient;
    bool square_gradient;
    bool keeps_max;
    bool eight_bit;  // the launch's tensors keep 8-bit state
    bool operator==(const LaunchVariant& other) const {
        return l2_gradient == other.l2_gradient && square_gradient == other.square_gradient &&
               keeps_max == other.keeps_max && eight_bit == other.eight_bit;
    }
};

// Every launch below that reads the tables takes the step state and the layout generation its
// tables were built for, and does nothing unless the device's generation is still that one (a
// stale CUDA graph replay; see DeviceStepState::layout_generation).

// The gradient pass: per block of a zero-gradients layout, the sum of squares (in double) and
// the count of non-finite elements of the gradients as stored, written to partials[block]
// (block_count entries; no atomics, so the totals do not depend on scheduling). A null `state`
// means a table built for this call only (the counting calls): no generation to compare.
cudaError_t launch_gradient_statistics(const DeviceTensor* tensors, std::uint32_t tensor_count,
                                       std::uint64_t block_count, GradientStatistics* partials,
                                       const DeviceStepState* state, std::uint64_t generation, cudaStream_t stream);

// Adds up partial_count partials in a fixed order into *total.
cudaError_t launch_sum_statistics(const GradientStatistics* partials, std::uint32_t partial_count,
                                  GradientStatistics* total, cudaStream_t stream);

// Before launch_plan, while some step count may be kLastStepCount (core/step_counts.h): sets
// state->step_count_exhausted when a tensor of `tensors` has that count, which makes the plan
// skip the whole step.
cudaError_t launch_step_count_guard(const DeviceTensor* tensors, std::uint32_t tensor_count, const std::int64_t* steps,
                                    DeviceStepState* state, std::uint64_t generation, cudaStream_t stream);

// Once per step, before every launch_step of it: decides the step from the device's step
// options and, when `partials` is not null, the gradient pass's partial_count partials
// (decide_gradient_scaling), writes state->report and advances report.step_calls; then, unless
// the step is skipped, advances the step count of every tensor in `tensors` (all step
// launches' entries) and writes its plan, gradient scale included, to `plans`. `partials`
// null means this step has no gradient pass, so nothing is checked or clipped.
cudaError_t launch_plan(const DeviceTensor* tensors, std::uint32_t tensor_count, const GroupOptions* groups,
                        std::int64_t* steps, TensorStepPlan* plans, const GradientStatistics* partials,
                        std::uint32_t partial_count, DeviceStepState* state, std::uint64_t generation,
                        cudaStream_t stream);

// The fused update of every tensor in `tensors` (device memory, sorted by first_block) with
// its plan, unless state->report says the step is skipped. Asynchronous on `stream`; returns
// the launch error, if any.
cudaError_t launch_step(const LaunchVariant& variant, const DeviceTensor* tensors, std::uint32_t tensor_count,
                        std::uint64_t block_count, const TensorStepPlan* plans, const DeviceStepState* state,
                        std::uint64_t generation, cudaStream_t stream);

// Zeroes the gradients of every tensor in `tensors` (laid out like a step launch).
cudaError_t launch_zero_gradients(const DeviceTensor* tensors, std::uint32_t tensor_count, std::uint64_t block_count,
                                  const DeviceStepState* state, std::uint64_t generation, cudaStream_t stream);

// master[i] = parameters[i] widened to float32, for count elements of `type`.
cudaError_t launch_widen(float* master, const void* parameters, ElementType type, std::size_t count,
                         cudaStream_t stream);

}  // namespace nab::cuda
