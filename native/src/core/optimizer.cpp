#include "core/optimizer.h"

#include <cstring>
#include <limits>
#include <string>

#include "core/errors.h"
#include "core/step_coefficients.h"
#include "cpu/cpu_features.h"

namespace nab {

namespace {

std::string id_text(const char* argument_name, std::uint32_t id) {
    return std::string(argument_name) + " = " + std::to_string(id);
}

const char* state_kind_name(nab_state_kind kind) {
    switch (kind) {
        case NAB_STATE_FIRST_MOMENT: return "NAB_STATE_FIRST_MOMENT";
        case NAB_STATE_SECOND_MOMENT: return "NAB_STATE_SECOND_MOMENT";
        case NAB_STATE_MAX_SECOND_MOMENT: return "NAB_STATE_MAX_SECOND_MOMENT";
    }
    return "unknown";
}

}  // namespace

Optimizer::Optimizer(int thread_count, nab_simd_level simd_level) : backend_(thread_count, simd_level) {}

void Optimizer::set_thread_count(int thread_count) { backend_.set_thread_count(thread_count); }

void Optimizer::set_simd_level(nab_simd_level simd_level) { backend_.set_simd_level(simd_level); }

void Optimizer::check_group(std::uint32_t group_id, const char* argument_name) const {
    if (group_id >= groups_.size()) {
        fail(NAB_STATUS_NOT_FOUND, id_text(argument_name, group_id) + " is not a group of this optimizer (it has " +
                                       std::to_string(groups_.size()) + ")");
    }
}

Optimizer::Tensor& Optimizer::tensor(std::uint32_t tensor_id, const char* argument_name) {
    return const_cast<Tensor&>(static_cast<const Optimizer&>(*this).tensor(tensor_id, argument_name));
}

const Optimizer::Tensor& Optimizer::tensor(std::uint32_t tensor_id, const char* argument_name) const {
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
    return static_cast<std::uint32_t>(groups_.size() - 1);
}

const GroupOptions& Optimizer::group_options(std::uint32_t group_id) const {
    check_group(group_id, "group_id");
    return groups_[group_id];
}

void Optimizer::set_group_options(std::uint32_t group_id, const GroupOptions& options) {
    check_group(group_id, "group_id");
    // Allocate every missing s_max before touching anything, so a failure changes nothing.
    std::vector<std::pair<Tensor*, AlignedFloatArray>> new_maxima;
    if (options.amsgrad) {
        for (Tensor& t : tensors_) {
            if (t.group_id == group_id && t.max_second_moment.empty()) {
                new_maxima.emplace_back(&t, AlignedFloatArray(t.element_count));
            }
        }
    }
    for (auto& [t, maxima] : new_maxima) t->max_second_moment = std::move(maxima);
    groups_[group_id] = options;
}

void Optimizer::set_learning_rate(std::uint32_t group_id, double learning_rate) {
    check_group(group_id, "group_id");
    check_learning_rate(learning_rate, "learning_rate");
    groups_[group_id].learning_rate = learning_rate;
}

std::uint32_t Optimizer::add_tensor(std::uint32_t group_id, std::size_t element_count, float* parameters,
                                    float* gradients) {
    check_group(group_id, "tensor->group_id");
    if (tensors_.size() >= std::numeric_limits<std::uint32_t>::max()) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "this optimizer already has the maximum number of tensors");
    }
    Tensor t{group_id, element_count, parameters, gradients, AlignedFloatArray(element_count),
             AlignedFloatArray(element_count), AlignedFloatArray(), 0};
    if (groups_[group_id].amsgrad) t.max_second_moment = AlignedFloatArray(element_count);
    step_tensors_.reserve(tensors_.size() + 1);
    zero_arrays_.reserve(tensors_.size() + 1);
    tensors_.push_back(std::move(t));
    return static_cast<std::uint32_t>(tensors_.size() - 1);
}

void Optimizer::describe_tensor(std::uint32_t tensor_id, nab_tensor_info* out) const {
    const Tensor& t = tensor(tensor_id, "tensor_id");
    out->group_id = t.group_id;
    out->element_count = t.element_count;
    out->step = t.step;
    out->has_max_second_moment = t.max_second_moment.empty() ? 0 : 1;
    out->has_gradients = t.gradients == nullptr ? 0 : 1;
}

void Optimizer::set_tensor_parameters(std::uint32_t tensor_id, float* parameters) {
    Tensor& t = tensor(tensor_id, "tensor_id");
    if (parameters == t.gradients) fail(NAB_STATUS_INVALID_ARGUMENT, "parameters is the tensor's gradient buffer");
    t.parameters = parameters;
}

void Optimizer::set_tensor_gradients(std::uint32_t tensor_id, float* gradients) {
    Tensor& t = tensor(tensor_id, "tensor_id");
    if (gradients != nullptr && gradients == t.parameters) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "gradients is the tensor's parameter buffer");
    }
    t.gradients = gradients;
}

void Optimizer::set_tensor_step(std::uint32_t tensor_id, std::int64_t step) {
    Tensor& t = tensor(tensor_id, "tensor_id");
    if (step < 0) fail(NAB_STATUS_INVALID_ARGUMENT, "step = " + std::to_string(step) + " is invalid: must be >= 0");
    t.step = step;
}

const AlignedFloatArray& Optimizer::state_array(const Tensor& t, nab_state_kind kind) const {
    switch (kind) {
        case NAB_STATE_FIRST_MOMENT: return t.first_moment;
        case NAB_STATE_SECOND_MOMENT: return t.second_moment;
        case NAB_STATE_MAX_SECOND_MOMENT: return t.max_second_moment;
    }
    fail(NAB_STATUS_INVALID_ARGUMENT, "state_kind = " + std::to_string(static_cast<int>(kind)) +
                                          " is invalid: must be NAB_STATE_FIRST_MOMENT (0), "
                                          "NAB_STATE_SECOND_MOMENT (1) or NAB_STATE_MAX_SECOND_MOMENT (2)");
}

void Optimizer::read_state(std::uint32_t tensor_id, nab_state_kind kind, float* destination,
                           std::size_t element_count) const {
    const Tensor& t = tensor(tensor_id, "tensor_id");
    const AlignedFloatArray& array = state_array(t, kind);
    if (element_count != t.element_count) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "element_count = " + std::to_string(element_count) +
                                              " does not match tensor " + std::to_string(tensor_id) + "'s " +
                                              std::to_string(t.element_count));
    }
    if (array.empty()) {
        fail(NAB_STATUS_INVALID_ARGUMENT, std::string("state_kind = ") + state_kind_name(kind) + ": tensor " +
                                              std::to_string(tensor_id) + " has no s_max (its group never had amsgrad on)");
    }
    std::memcpy(destination, array.data(), element_count * sizeof(float));
}

void Optimizer::write_state(std::uint32_t tensor_id, nab_state_kind kind, const float* source,
                            std::size_t element_count) {
    Tensor& t = tensor(tensor_id, "tensor_id");
    const AlignedFloatArray& array = state_array(t, kind);
    if (element_count != t.element_count) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "element_count = " + std::to_string(element_count) +
                                              " does not match tensor " + std::to_string(tensor_id) + "'s " +
                                              std::to_string(t.element_count));
    }
    if (array.empty()) t.max_second_moment = AlignedFloatArray(t.element_count);  // only s_max can be absent
    std::memcpy(state_array(t, kind).data(), source, element_count * sizeof(float));
}

void Optimizer::step() {
    step_tensors_.clear();
    for (Tensor& t : tensors_) {
        if (t.gradients == nullptr) continue;
        const TensorStepPlan plan = plan_tensor_step(groups_[t.group_id], t.step + 1);
        cpu::TensorArrays arrays{t.parameters, t.gradients, t.first_moment.data(), t.second_moment.data(),
                                 t.max_second_moment.data()};
        step_tensors_.push_back({arrays, t.element_count, backend_.kernel_for(plan.variant), plan.coefficients});
    }
    backend_.run_step(step_tensors_);
    for (Tensor& t : tensors_) {
        if (t.gradients != nullptr) ++t.step;
    }
}

void Optimizer::zero_gradients() {
    zero_arrays_.clear();
    for (const Tensor& t : tensors_) {
        if (t.gradients != nullptr) zero_arrays_.emplace_back(t.gradients, t.element_count);
    }
    backend_.zero(zero_arrays_);
}

}  // namespace nab
