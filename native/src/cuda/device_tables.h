// The tables a CUDA launch reads from device memory: one entry per tensor of the launch
// (its arrays and its place in the grid) and, separately, the groups' options and the
// tensors' step counts, which stay on the device so a captured graph advances on replay.
#pragma once

#include <cstdint>

namespace nab::cuda {

struct DeviceTensor {
    float* parameters;
    const float* gradients;
    float* first_moment;
    float* second_moment;
    float* max_second_moment;  // null unless the launch keeps s_max
    std::uint64_t element_count;
    std::uint64_t first_block;  // this tensor's first block in the grid
    std::uint32_t tensor_id;    // index into the step counts
    std::uint32_t group_id;     // index into the groups
    std::uint32_t vectorized;   // 1 when every array above is 16-byte aligned
    std::uint32_t reserved;
};

}  // namespace nab::cuda
