#include "core/optimizer.h"

#include <limits>
#include <string>

#include "core/errors.h"

namespace nab {

namespace {

std::string id_text(const char* argument_name, std::uint32_t id) {
    return std::string(argument_name) + " = " + std::to_string(id);
}

// True when [a, a + a_bytes) and [b, b + b_bytes) share memory.
bool buffers_overlap(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
    if (a == nullptr || b == nullptr) return false;
    const auto first = reinterpret_cast<std::uintptr_t>(a), second = reinterpret_cast<std::uintptr_t>(b);
    return first < second + b_bytes && second < first + a_bytes;
}

void check_no_overlap(const void* parameters, nab_dtype parameter_dtype, const void* gradients, nab_dtype gradient_dtype,
                      std::size_t count, const char* argument_name) {
    if (buffers_overlap(parameters, count * dtype_size(parameter_dtype), gradients, count * dtype_size(gradient_dtype))) {
        fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) +
                                              " overlaps the tensor's other buffer: parameters and gradients "
                                              "must be separate memory");
    }
}

}  // namespace

Optimizer::Optimizer(std::unique_ptr<Backend> backend) : backend_(std::move(backend)) {}

void Optimizer::check_group(std::uint32_t group_id, const char* argument_name) const {
    if (group_id >= groups_.size()) {
        fail(NAB_STATUS_NOT_FOUND, id_text(argument_name, group_id) + " is not a group of this optimizer (it has " +
                                       std::to_string(groups_.size()) + ")");
    }
}

TensorRecord& Optimizer::tensor(std::uint32_t tensor_id, const char* argument_name) {
    if (tensor_id >= tensors_.size()) {
        fail(NAB_STATUS_NOT_FOUND, id_text(argument_name, tensor_id) + " is not a tensor of this optimizer (it has " +
                                       std::to_string(tensors_.size()) + ")");
    }
    return tensors_[tensor_id];
}

std::uint32_t Optimizer::add_group(const GroupOptions& options) {
    if (groups_.size() >= std::numeric_limits<std::uint32_t>::max()) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "this optimizer already has the maximum number of groups");
    }
    groups_.push_back(options);
    backend_->layout_changed();
    return static_cast<std::uint32_t>(groups_.size() - 1);
}

const GroupOptions& Optimizer::group_options(std::uint32_t group_id) const {
    check_group(group_id, "group_id");
    return groups_[group_id];
}

void Optimizer::set_group_options(std::uint32_t group_id, const GroupOptions& options) {
    check_group(group_id, "group_id");
    // Allocate every missing s_max before touching anything, so a failure changes nothing.
    std::vector<std::pair<TensorRecord*, StateArray>> new_maxima;
    if (options.amsgrad) {
        for (TensorRecord& t : tensors_) {
            if (t.group_id == group_id && t.max_second_moment.empty()) {
                new_maxima.emplace_back(&t, StateArray(*backend_, t.element_count));
            }
        }
    }
    for (auto& [t, maxima] : new_maxima) t->max_second_moment = std::move(maxima);
    groups_[group_id] = options;
    backend_->layout_changed();
}

void Optimizer::set_learning_rate(std::uint32_t group_id, double learning_rate) {
    check_group(group_id, "group_id");
    check_learning_rate(learning_rate, "learning_rate");
    backend_->learning_rate_changed(group_id, learning_rate);
    groups_[group_id].learning_rate = learning_rate;
}

std::uint32_t Optimizer::add_tensor(std::uint32_t group_id, std::size_t element_count, const TensorBuffers& buffers) {
    if (buffers.master_parameters && buffers.parameter_dtype == NAB_DTYPE_FLOAT32) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "tensor->master_parameters = 1 with tensor->parameter_dtype = NAB_DTYPE_FLOAT32: "
                                          "a master copy is for 16-bit parameters (float32 parameters are their own)");
    }
    check_group(group_id, "tensor->group_id");
    check_no_overlap(buffers.parameters, buffers.parameter_dtype, buffers.gradients, buffers.gradient_dtype, element_count,
                     "tensor->gradients");
    backend_->validate_buffer(buffers.parameters, "tensor->parameters");
    backend_->validate_buffer(buffers.gradients, "tensor->gradients");
    if (tensors_.size() >= std::numeric_limits<std::uint32_t>::max()) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "this optimizer already has the maximum number of tensors");
    }
    TensorRecord t{group_id,
                   element_count,
                   buffers.parameters,
                   buffers.gradients,
                   buffers.parameter_dtype,
                   buffers.gradient_dtype,
                   StateArray(*backend_, element_count),
                   StateArray(*backend_, element_count),
                   StateArray(),
                   StateArray(),
                   0};
    if (groups_[group_id].amsgrad) t.max_second_moment = StateArray(*backend_, element_count);
    if (buffers.master_parameters) {
        t.master_parameters = StateArray(*backend_, element_count);
        backend_->initialize_master(t.master_parameters.data(), t.parameters, t.parameter_dtype, element_count);
    }
    tensors_.push_back(std::move(t));
    backend_->layout_changed();
    return static_cast<std::uint32_t>(tensors_.size() - 1);
}

void Optimizer::describe_tensor(std::uint32_t tensor_id, nab_tensor_info* out) {
    const TensorRecord& t = tensor(tensor_id, "tensor_id");
    backend_->refresh_steps(tensors_);
    out->group_id = t.group_id;
    out->element_count = t.element_count;
    out->step = t.step;
    out->has_max_second_moment = t.max_second_moment.empty() ? 0 : 1;
    out->has_gradients = t.gradients == nullptr ? 0 : 1;
    out->parameter_dtype = t.parameter_dtype;
    out->gradient_dtype = t.gradient_dtype;
    out->has_master_parameters = t.master_parameters.empty() ? 0 : 1;
    out->reserved = 0;
}

void Optimizer::set_tensor_parameters(std::uint32_t tensor_id, void* parameters) {
    TensorRecord& t = tensor(tensor_id, "tensor_id");
    check_no_overlap(parameters, t.parameter_dtype, t.gradients, t.gradient_dtype, t.element_count, "parameters");
    backend_->validate_buffer(parameters, "parameters");
    t.parameters = parameters;
    backend_->layout_changed();
}

void Optimizer::set_tensor_gradients(std::uint32_t tensor_id, void* gradients) {
    TensorRecord& t = tensor(tensor_id, "tensor_id");
    check_no_overlap(t.parameters, t.parameter_dtype, gradients, t.gradient_dtype, t.element_count, "gradients");
    if (gradients == t.gradients) return;
    backend_->validate_buffer(gradients, "gradients");
    t.gradients = gradients;
    backend_->layout_changed();
}

void Optimizer::set_tensor_step(std::uint32_t tensor_id, std::int64_t step) {
    TensorRecord& t = tensor(tensor_id, "tensor_id");
    if (step < 0) fail(NAB_STATUS_INVALID_ARGUMENT, "step = " + std::to_string(step) + " is invalid: must be >= 0");
    backend_->step_count_changed(tensor_id, step);
    t.step = step;
}

StateArray& Optimizer::state_array(TensorRecord& t, nab_state_kind kind) {
    switch (kind) {
        case NAB_STATE_FIRST_MOMENT: return t.first_moment;
        case NAB_STATE_SECOND_MOMENT: return t.second_moment;
        case NAB_STATE_MAX_SECOND_MOMENT: return t.max_second_moment;
        case NAB_STATE_MASTER_PARAMETERS: break;
    }
    return t.master_parameters;
}

void Optimizer::check_state_access(std::uint32_t tensor_id, std::size_t element_count) {
    const TensorRecord& t = tensor(tensor_id, "tensor_id");
    if (element_count != t.element_count) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "element_count = " + std::to_string(element_count) +
                                              " does not match tensor " + std::to_string(tensor_id) + "'s " +
                                              std::to_string(t.element_count));
    }
}

void Optimizer::fail_missing_state(std::uint32_t tensor_id, nab_state_kind kind) {
    if (kind == NAB_STATE_MASTER_PARAMETERS) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "state_kind = NAB_STATE_MASTER_PARAMETERS (3): tensor " + std::to_string(tensor_id) +
                                              " has no master copy (it was added with master_parameters = 0)");
    }
    fail(NAB_STATUS_INVALID_ARGUMENT, "state_kind = NAB_STATE_MAX_SECOND_MOMENT (2): tensor " + std::to_string(tensor_id) +
                                          " has no s_max (its group never had amsgrad on)");
}

void Optimizer::read_state(std::uint32_t tensor_id, nab_state_kind kind, float* destination,
                           std::size_t element_count) {
    check_state_access(tensor_id, element_count);
    StateArray& array = state_array(tensors_[tensor_id], kind);
    if (array.empty()) fail_missing_state(tensor_id, kind);
    backend_->copy_state_to_host(destination, array.data(), element_count);
}

void Optimizer::write_state(std::uint32_t tensor_id, nab_state_kind kind, const float* source,
                            std::size_t element_count) {
    check_state_access(tensor_id, element_count);
    StateArray& array = state_array(tensors_[tensor_id], kind);
    if (array.empty() && kind == NAB_STATE_MASTER_PARAMETERS) fail_missing_state(tensor_id, kind);
    if (array.empty()) {  // s_max may be absent: writing it creates it
        StateArray created(*backend_, element_count);
        backend_->copy_state_from_host(created.data(), source, element_count);
        array = std::move(created);
        backend_->layout_changed();
        return;
    }
    backend_->copy_state_from_host(array.data(), source, element_count);
}

void Optimizer::step() {
    // t + 1 must exist: a tensor whose count is already the largest int64 cannot step (it would
    // overflow, undefined behaviour). Refused before anything runs, so nothing changes.
    for (std::size_t id = 0; id < tensors_.size(); ++id) {
        const TensorRecord& t = tensors_[id];
        if (t.gradients != nullptr && t.step == std::numeric_limits<std::int64_t>::max()) {
            fail(NAB_STATUS_INVALID_ARGUMENT, "tensor " + std::to_string(id) + " has step count " + std::to_string(t.step) +
                                                  ", the largest there is, and cannot take another step (give it a smaller "
                                                  "one with nab_optimizer_set_tensor_step)");
        }
    }
    backend_->step(tensors_, groups_);
}

void Optimizer::set_step_options(const StepOptions& options) {
    backend_->set_step_options(options);
    step_options_ = options;
}

void Optimizer::synchronize() { backend_->synchronize(); }

void Optimizer::zero_gradients() { backend_->zero_gradients(tensors_, groups_); }

std::uint64_t Optimizer::count_nonfinite_gradients() { return backend_->count_nonfinite_gradients(tensors_, groups_); }

}  // namespace nab
