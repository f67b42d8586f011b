// The tables a CUDA launch reads from device memory: one entry per tensor of the launch
// (its arrays, their element types and its place in the grid) and, separately, the groups'
// options, the tensors' step counts and the step state, which stay on the device so a
// captured graph advances on replay.
#pragma once

#include <cstdint>

#include "core/element_type.h"
#include "core/gradient_scaling.h"

namespace nab::cuda {

struct DeviceTensor {
    void* parameters;          // element_count elements of parameter_type
    const void* gradients;     // element_count elements of gradient_type
    float* master;             // float32 master copy of 16-bit parameters; null unless the tensor has one
    // float32 state (null for a tensor with 8-bit state)
    float* first_moment;
    float* second_moment;
    float* max_second_moment;  // null unless the launch keeps s_max
    // 8-bit state (core/block_quantization.h; null for a tensor with float32 state): codes per
    // element, scales per block of kQuantizationBlockSize
    std::uint8_t* first_moment_codes;
    float* first_moment_scales;
    std::uint8_t* second_moment_codes;
    float* second_moment_scales;
    std::uint8_t* max_second_moment_codes;  // null unless the launch keeps s_max
    float* max_second_moment_scales;
    std::uint64_t element_count;
    std::uint64_t first_block;  // this tensor's first block in the grid
    std::uint32_t tensor_id;    // index into the step counts
    std::uint32_t group_id;     // index into the groups
    ElementType parameter_type;
    ElementType gradient_type;
    // 1 when every array the launch touches starts at a multiple of kVectorWidth elements of its
    // own type (16 bytes for float32, 8 for 16-bit), so 4 elements move in one load or store.
    std::uint32_t vectorized;
    std::uint32_t reserved;
};

// What the step's gradient decision reads and writes on the device. The options are written
// by the host (upload, or a queued kernel when they change), so a replayed CUDA graph sees new
// values; the report is written by the planning kernel of every step and read by the step
// kernels (the skip flag) and by last_step_report (report.step_calls is the running count).
struct DeviceStepState {
    StepOptions options;
    StepReport report;
    // The optimizer's layout generation the device tables belong to, moved on (in stream order)
    // whenever the layout changes. Every launch carries the generation it was built for and does
    // nothing when they differ: a CUDA graph captured before a layout change, replayed after it,
    // touches no table, array or count (its step is reported skipped, stale_graph).
    std::uint64_t layout_generation;
    // Written by the step-count guard kernel when it runs (1: a stepped tensor is at
    // kLastStepCount), read by the planning kernel.
    std::uint32_t step_count_exhausted;
};

}  // namespace nab::cuda
