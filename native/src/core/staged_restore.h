// A whole optimizer state staged for an all-or-nothing restore (what loading a checkpoint does):
// every group's options and every tensor's arrays, copied into new arrays of the optimizer's
// memory and checked as they are staged, so that the commit (core/optimizer.cpp) only swaps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/backend.h"
#include "core/hyperparameters.h"

namespace nab {

// One tensor's saved state, as the caller hands it (host memory, element_count floats each).
struct TensorState {
    std::int64_t step = 0;
    std::size_t element_count = 0;
    // What the values were saved in: 8-bit s and s_max, quantized separately, need not keep s_max >= s.
    StateEncoding source_encoding = StateEncoding::Float32;
    const float* first_moment = nullptr;
    const float* second_moment = nullptr;
    const float* max_second_moment = nullptr;  // null: none
    const float* master_parameters = nullptr;  // null: the tensor keeps none
};

struct StagedTensor {
    bool staged = false;
    std::int64_t step = 0;
    // m, s and s_max in the encoding the tensor has under its group's staged options (8-bit
    // state quantized from the caller's floats as nab_optimizer_write_state quantizes).
    StateBuffer first_moment;
    StateBuffer second_moment;
    StateBuffer max_second_moment;  // empty: none staged
    StateArray master_parameters;
};

struct StagedRestore {
    // The optimizer's shape when the restore began: a commit into another shape is refused.
    std::size_t group_count = 0;
    std::size_t tensor_count = 0;
    std::vector<std::optional<GroupOptions>> groups;
    std::vector<StagedTensor> tensors;
};

// The rules a saved state's values follow (throws nab::Error naming "state", the tensor and the
// first bad element): s and s_max >= 0 and not NaN; the master copy finite; and, where `group`
// keeps s_max, the tensor has stepped and the values were saved in float32, s_max >= s wherever
// s_max is not all zero (a freshly turned-on AMSGrad starts from zeros, which a step then raises
// to s).
void check_state_values(std::uint32_t tensor_id, const TensorState& state, const GroupOptions& group);

}  // namespace nab
