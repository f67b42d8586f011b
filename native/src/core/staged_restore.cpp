#include "core/staged_restore.h"

#include <cmath>
#include <string>

#include "core/errors.h"

namespace nab {

namespace {

[[noreturn]] void refuse(std::uint32_t tensor_id, const char* array, std::size_t index, float value, const char* rule) {
    fail_argument("state", "of tensor " + std::to_string(tensor_id) + " is invalid: its " + array + "[" +
                               std::to_string(index) + "] = " + format_value(value) + ", " + rule);
}

void check_second_moment(std::uint32_t tensor_id, const char* array, const float* values, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        if (!(values[i] >= 0.0f)) refuse(tensor_id, array, i, values[i], "but it is a mean of squares: >= 0 and not NaN");
    }
}

bool all_zero(const float* values, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        if (values[i] != 0.0f) return false;
    }
    return true;
}

}  // namespace

void check_state_values(std::uint32_t tensor_id, const TensorState& state, const GroupOptions& group) {
    const std::size_t n = state.element_count;
    check_second_moment(tensor_id, "second moment s", state.second_moment, n);
    if (state.max_second_moment != nullptr) {
        check_second_moment(tensor_id, "s_max", state.max_second_moment, n);
        if (group.amsgrad && state.step > 0 && state.source_encoding == StateEncoding::Float32 &&
            !all_zero(state.max_second_moment, n)) {
            for (std::size_t i = 0; i < n; ++i) {
                if (state.max_second_moment[i] < state.second_moment[i]) {
                    refuse(tensor_id, "s_max", i, state.max_second_moment[i],
                           ("below s = " + format_value(state.second_moment[i]) +
                            ", but with amsgrad on each step keeps s_max >= s")
                               .c_str());
                }
            }
        }
    }
    if (state.master_parameters != nullptr) {
        for (std::size_t i = 0; i < n; ++i) {
            if (!std::isfinite(state.master_parameters[i])) {
                refuse(tensor_id, "master copy", i, state.master_parameters[i], "but a master copy is finite");
            }
        }
    }
}

}  // namespace nab
