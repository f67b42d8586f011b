#include "core/optimizer.h"

#include <limits>
#include <string>
#include <vector>

#include "core/block_quantization.h"
#include "core/errors.h"
#include "core/step_counts.h"

namespace nab {

namespace {

// True when [a, a + a_bytes) and [b, b + b_bytes) share memory.
bool buffers_overlap(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
    if (a == nullptr || b == nullptr) return false;
    const auto first = reinterpret_cast<std::uintptr_t>(a), second = reinterpret_cast<std::uintptr_t>(b);
    return first < second + b_bytes && second < first + a_bytes;
}

[[noreturn]] void fail_same_tensor_overlap(const char* argument) {
    fail_argument(argument, "overlaps the tensor's other buffer: parameters and gradients must be separate memory");
}

const char* state_kind_name(StateKind kind) {
    switch (kind) {
        case StateKind::FirstMoment: return "the first moment (m)";
        case StateKind::SecondMoment: return "the second moment (s)";
        case StateKind::MaxSecondMoment: return "s_max";
        case StateKind::MasterParameters: break;
    }
    return "the master copy";
}

}  // namespace

Optimizer::Optimizer(std::unique_ptr<Backend> backend) : backend_(std::move(backend)) {}

void Optimizer::check_not_registered(const RegisteredMemory& registered, const void* data, std::size_t bytes,
                                     BufferOwner owner, bool replaces, const char* argument) const {
    if (data == nullptr) return;
    const std::optional<BufferOwner> other =
        registered.find_overlap(data, bytes, replaces ? std::optional<BufferOwner>(owner) : std::nullopt);
    if (!other) return;
    if (other->tensor_id == owner.tensor_id) fail_same_tensor_overlap(argument);
    const std::string added = owner.tensor_id == tensors_.size() ? ", the tensor being added" : "";
    fail_argument(argument, "(tensor " + std::to_string(owner.tensor_id) + "'s " + buffer_role_name(owner.role) +
                                added + ") overlap tensor " + std::to_string(other->tensor_id) + "'s " +
                                buffer_role_name(other->role) +
                                ": memory may be registered once, as one buffer of one tensor (an element registered "
                                "twice would be stepped twice, or raced between worker threads)");
}

void Optimizer::check_group(std::uint32_t group_id, const char* argument) const {
    if (group_id >= groups_.size()) {
        fail_argument(argument, "= " + std::to_string(group_id) + " is not a group of this optimizer (it has " +
                                    std::to_string(groups_.size()) + ")",
                      ErrorCode::NotFound);
    }
}

TensorRecord& Optimizer::tensor(std::uint32_t tensor_id) {
    if (tensor_id >= tensors_.size()) {
        fail_argument("tensor_id", "= " + std::to_string(tensor_id) + " is not a tensor of this optimizer (it has " +
                                       std::to_string(tensors_.size()) + ")",
                      ErrorCode::NotFound);
    }
    return tensors_[tensor_id];
}

void Optimizer::check_layout_change() {
    if (SettingsMirror* mirror = backend_->settings_mirror()) mirror->before_layout_change();
}

void Optimizer::layout_changed() {
    ++layout_generation_;
    if (SettingsMirror* mirror = backend_->settings_mirror()) mirror->layout_changed(layout_generation_);
}

StepWork Optimizer::work() {
    return StepWork{tensors_, groups_, step_options_, step_counts_.data(), layout_generation_, guard_step_counts_};
}

std::uint32_t Optimizer::add_group(const GroupOptions& options) {
    validate(options);
    if (groups_.size() >= std::numeric_limits<std::uint32_t>::max()) {
        fail(ErrorCode::InvalidArgument, "this optimizer already has the maximum number of groups");
    }
    check_layout_change();
    groups_.push_back(options);
    layout_changed();
    return static_cast<std::uint32_t>(groups_.size() - 1);
}

const GroupOptions& Optimizer::group_options(std::uint32_t group_id) const {
    check_group(group_id, "group_id");
    return groups_[group_id];
}

void Optimizer::set_group_options(std::uint32_t group_id, const GroupOptions& options) {
    check_group(group_id, "group_id");
    validate(options);
    check_layout_change();
    // Allocate every missing s_max and convert the state of every tensor whose encoding changes
    // into new buffers before touching anything, so a failure changes nothing.
    struct Replacement {
        TensorRecord* tensor;
        StateEncoding encoding;
        StateBuffer first_moment, second_moment, max_second_moment;
    };
    std::vector<Replacement> replacements;
    for (TensorRecord& t : tensors_) {
        if (t.group_id != group_id) continue;
        const StateEncoding encoding = resolve_state_encoding(options.state_encoding, t.element_count);
        const bool reencode = encoding != t.state_encoding;
        const bool new_maximum = options.amsgrad && t.max_second_moment.empty();
        if (!reencode && !new_maximum) continue;
        Replacement r{&t, encoding, {}, {}, {}};
        if (reencode) {
            r.first_moment = converted(t.first_moment, StateKind::FirstMoment, t.element_count, encoding);
            r.second_moment = converted(t.second_moment, StateKind::SecondMoment, t.element_count, encoding);
            if (!t.max_second_moment.empty()) {
                r.max_second_moment = converted(t.max_second_moment, StateKind::MaxSecondMoment, t.element_count, encoding);
            }
        }
        if (new_maximum) r.max_second_moment = StateBuffer(*backend_, encoding, t.element_count);
        replacements.push_back(std::move(r));
    }
    for (Replacement& r : replacements) {
        TensorRecord& t = *r.tensor;
        if (r.encoding != t.state_encoding) {
            t.state_encoding = r.encoding;
            t.first_moment = std::move(r.first_moment);
            t.second_moment = std::move(r.second_moment);
        }
        if (!r.max_second_moment.empty()) t.max_second_moment = std::move(r.max_second_moment);
    }
    groups_[group_id] = options;
    layout_changed();
}

void Optimizer::set_learning_rate(std::uint32_t group_id, double learning_rate) {
    check_group(group_id, "group_id");
    GroupOptions changed = groups_[group_id];
    changed.learning_rate = learning_rate;
    validate_learning_rate(changed, "learning_rate");
    if (SettingsMirror* mirror = backend_->settings_mirror()) mirror->learning_rate_changed(group_id, learning_rate);
    groups_[group_id].learning_rate = learning_rate;
}

void Optimizer::reserve_step_count() {
    if (tensors_.size() < step_counts_.size()) return;
    const std::size_t capacity = step_counts_.size() < 16 ? 16 : 2 * step_counts_.size();
    BackendArray<std::int64_t> grown(*backend_, capacity);
    if (!tensors_.empty()) backend_->copy(grown.data(), step_counts_.data(), tensors_.size() * sizeof(std::int64_t));
    step_counts_ = std::move(grown);
    layout_changed();
}

std::uint32_t Optimizer::add_tensor(const TensorSpec& spec) {
    // Three state arrays of this many floats must be addressable.
    constexpr std::size_t element_limit = std::numeric_limits<std::size_t>::max() / (4 * sizeof(float));
    if (spec.element_count == 0 || spec.element_count > element_limit) {
        fail_argument("element_count", "= " + std::to_string(spec.element_count) + " is invalid: must be between 1 and " +
                                           std::to_string(element_limit));
    }
    if (spec.parameters == nullptr) fail_argument("parameters", "is null");
    if (spec.master_parameters && !is_16_bit(spec.parameter_type)) {
        fail_argument("master_parameters", "= 1 is invalid with float32 parameters: a master copy is for 16-bit "
                                           "parameters (float32 parameters are their own)");
    }
    check_group(spec.group_id, "group_id");
    const std::size_t parameter_bytes = spec.element_count * element_size(spec.parameter_type);
    const std::size_t gradient_bytes = spec.element_count * element_size(spec.gradient_type);
    if (buffers_overlap(spec.parameters, parameter_bytes, spec.gradients, gradient_bytes)) {
        fail_same_tensor_overlap("gradients");
    }
    const auto id = static_cast<std::uint32_t>(tensors_.size());
    check_not_registered(registered_memory_, spec.parameters, parameter_bytes, BufferOwner{id, BufferRole::Parameters},
                         false, "parameters");
    check_not_registered(registered_memory_, spec.gradients, gradient_bytes, BufferOwner{id, BufferRole::Gradients},
                         false, "gradients");
    backend_->check_caller_buffer(spec.parameters, "parameters");
    backend_->check_caller_buffer(spec.gradients, "gradients");
    if (tensors_.size() >= std::numeric_limits<std::uint32_t>::max()) {
        fail(ErrorCode::InvalidArgument, "this optimizer already has the maximum number of tensors");
    }
    check_layout_change();
    // Everything that can fail comes before the first change.
    const GroupOptions& group = groups_[spec.group_id];
    const StateEncoding encoding = resolve_state_encoding(group.state_encoding, spec.element_count);
    TensorRecord t{spec.group_id,
                   spec.element_count,
                   spec.parameters,
                   spec.gradients,
                   spec.parameter_type,
                   spec.gradient_type,
                   encoding,
                   StateBuffer(*backend_, encoding, spec.element_count),
                   StateBuffer(*backend_, encoding, spec.element_count),
                   StateBuffer(),
                   StateArray()};
    if (group.amsgrad) t.max_second_moment = StateBuffer(*backend_, encoding, spec.element_count);
    if (spec.master_parameters) {
        t.master_parameters = StateArray(*backend_, spec.element_count);
        backend_->initialize_master(t.master_parameters.data(), t.parameters, t.parameter_type, spec.element_count);
    }
    reserve_step_count();
    // So that push_back, after the registration, cannot fail (doubling keeps adds amortized O(1)).
    if (tensors_.size() == tensors_.capacity()) tensors_.reserve(2 * tensors_.size() + 1);
    registered_memory_.add_tensor(id, t.parameters, parameter_bytes, t.gradients, gradient_bytes);
    tensors_.push_back(std::move(t));  // its count, entry `id`, is already 0
    layout_changed();
    return static_cast<std::uint32_t>(tensors_.size() - 1);
}

TensorFacts Optimizer::tensor_facts(std::uint32_t tensor_id) {
    const TensorRecord& t = tensor(tensor_id);
    std::int64_t step = 0;
    backend_->download(&step, step_counts_.data() + tensor_id, sizeof step);
    return TensorFacts{t.group_id,
                       t.element_count,
                       step,
                       !t.max_second_moment.empty(),
                       t.gradients != nullptr,
                       t.parameter_type,
                       t.gradient_type,
                       !t.master_parameters.empty(),
                       t.state_encoding};
}

void Optimizer::read_step_counts(std::int64_t* destination, std::size_t count) {
    if (count != tensors_.size()) {
        fail_argument("count", "= " + std::to_string(count) + " does not match the tensor count " +
                                   std::to_string(tensors_.size()));
    }
    if (count != 0) backend_->download(destination, step_counts_.data(), count * sizeof(std::int64_t));
}

void Optimizer::set_tensor_parameters(std::uint32_t tensor_id, void* parameters) {
    if (parameters == nullptr) fail_argument("parameters", "is null");
    TensorRecord& t = tensor(tensor_id);
    const std::size_t bytes = t.element_count * element_size(t.parameter_type);
    const BufferOwner owner{tensor_id, BufferRole::Parameters};
    check_not_registered(registered_memory_, parameters, bytes, owner, true, "parameters");
    backend_->check_caller_buffer(parameters, "parameters");
    check_layout_change();
    // A master copy takes the new parameters' values, into a new array so that a failure
    // changes nothing.
    StateArray master;
    if (!t.master_parameters.empty()) {
        master = StateArray(*backend_, t.element_count);
        backend_->initialize_master(master.data(), parameters, t.parameter_type, t.element_count);
    }
    registered_memory_.replace(owner, t.parameters, parameters, bytes);
    t.parameters = parameters;
    if (!master.empty()) t.master_parameters = std::move(master);
    layout_changed();
}

void Optimizer::set_tensor_gradients(std::uint32_t tensor_id, void* gradients) {
    TensorRecord& t = tensor(tensor_id);
    const std::size_t bytes = t.element_count * element_size(t.gradient_type);
    const BufferOwner owner{tensor_id, BufferRole::Gradients};
    check_not_registered(registered_memory_, gradients, bytes, owner, true, "gradients");
    if (gradients == t.gradients) return;
    backend_->check_caller_buffer(gradients, "gradients");
    check_layout_change();
    registered_memory_.replace(owner, t.gradients, gradients, bytes);
    t.gradients = gradients;
    layout_changed();
}

void Optimizer::set_gradients(void* const* gradients, std::size_t count) {
    if (count != tensors_.size()) {
        fail_argument("count", "= " + std::to_string(count) + " is not the tensor count " + std::to_string(tensors_.size()) +
                                   ": give one gradient pointer (or null) for every tensor");
    }
    if (count > 0 && gradients == nullptr) fail_argument("gradients", "is null");
    bool changed = false;
    for (std::size_t i = 0; i < count && !changed; ++i) changed = gradients[i] != tensors_[i].gradients;
    if (!changed) return;  // the registered layout was checked when it was made
    // The new layout is checked as a whole, as if registered afresh (O(N log N)): a gradient may
    // move into memory another tensor's old gradients held, but not into memory still registered.
    RegisteredMemory next;
    for (std::size_t i = 0; i < count; ++i) {
        const TensorRecord& t = tensors_[i];
        next.add_tensor(static_cast<std::uint32_t>(i), t.parameters, t.element_count * element_size(t.parameter_type),
                        nullptr, 0);
    }
    for (std::size_t i = 0; i < count; ++i) {
        const TensorRecord& t = tensors_[i];
        const std::string name = "gradients[" + std::to_string(i) + "]";
        const BufferOwner owner{static_cast<std::uint32_t>(i), BufferRole::Gradients};
        const std::size_t bytes = t.element_count * element_size(t.gradient_type);
        check_not_registered(next, gradients[i], bytes, owner, false, name.c_str());
        if (gradients[i] != t.gradients) backend_->check_caller_buffer(gradients[i], name.c_str());
        next.replace(owner, nullptr, gradients[i], bytes);
    }
    check_layout_change();
    registered_memory_ = std::move(next);
    for (std::size_t i = 0; i < count; ++i) tensors_[i].gradients = gradients[i];
    layout_changed();
}

void Optimizer::set_tensor_step(std::uint32_t tensor_id, std::int64_t step) {
    tensor(tensor_id);
    if (step < 0) fail_argument("step", "= " + std::to_string(step) + " is invalid: must be >= 0");
    check_layout_change();
    backend_->upload(step_counts_.data() + tensor_id, &step, sizeof step);
    if (step >= kStepCountGuardThreshold && !guard_step_counts_) {
        guard_step_counts_ = true;
        layout_changed();
    }
}

void Optimizer::initialize_master_parameters(std::uint32_t tensor_id) {
    TensorRecord& t = tensor(tensor_id);
    if (t.master_parameters.empty()) {
        fail_argument("tensor_id", "= " + std::to_string(tensor_id) +
                                       " has no master copy (it was added without master_parameters)");
    }
    backend_->initialize_master(t.master_parameters.data(), t.parameters, t.parameter_type, t.element_count);
}

StateBuffer& Optimizer::moment_buffer(TensorRecord& t, StateKind kind) {
    switch (kind) {
        case StateKind::FirstMoment: return t.first_moment;
        case StateKind::SecondMoment: return t.second_moment;
        case StateKind::MaxSecondMoment: return t.max_second_moment;
        case StateKind::MasterParameters: break;
    }
    fail_argument("state_kind", "= " + std::to_string(static_cast<int>(kind)) +
                                    " (the master copy) has no codes: it is float32 in every encoding");
}

void Optimizer::check_state_access(std::uint32_t tensor_id, std::size_t element_count) {
    const TensorRecord& t = tensor(tensor_id);
    if (element_count != t.element_count) {
        fail_argument("element_count", "= " + std::to_string(element_count) + " does not match tensor " +
                                           std::to_string(tensor_id) + "'s " + std::to_string(t.element_count));
    }
}

void Optimizer::download_values(const StateBuffer& buffer, StateKind kind, std::size_t count, float* destination) {
    if (buffer.encoding() == StateEncoding::Float32) {
        backend_->download(destination, buffer.values(), count * sizeof(float));
        return;
    }
    const std::size_t blocks = quantization_block_count(count);
    std::vector<std::uint8_t> codes(count);
    std::vector<float> scales(blocks);
    backend_->download(codes.data(), buffer.codes(), count);
    backend_->download(scales.data(), buffer.scales(), blocks * sizeof(float));
    if (code_format(kind) == CodeFormat::Signed) {
        dequantize_array<CodeFormat::Signed>(codes.data(), scales.data(), count, destination);
    } else {
        dequantize_array<CodeFormat::Unsigned>(codes.data(), scales.data(), count, destination);
    }
}

void Optimizer::upload_values(const StateBuffer& buffer, StateKind kind, std::size_t count, const float* source) {
    if (buffer.encoding() == StateEncoding::Float32) {
        backend_->upload(buffer.values(), source, count * sizeof(float));
        return;
    }
    const std::size_t blocks = quantization_block_count(count);
    std::vector<std::uint8_t> codes(count);
    std::vector<float> scales(blocks);
    if (code_format(kind) == CodeFormat::Signed) {
        quantize_array<CodeFormat::Signed>(source, count, codes.data(), scales.data());
    } else {
        quantize_array<CodeFormat::Unsigned>(source, count, codes.data(), scales.data());
    }
    backend_->upload(buffer.codes(), codes.data(), count);
    backend_->upload(buffer.scales(), scales.data(), blocks * sizeof(float));
}

StateBuffer Optimizer::converted(const StateBuffer& from, StateKind kind, std::size_t count, StateEncoding encoding) {
    std::vector<float> values(count);
    download_values(from, kind, count, values.data());
    StateBuffer to(*backend_, encoding, count);
    upload_values(to, kind, count, values.data());
    return to;
}

StateArray& Optimizer::master_copy(TensorRecord& t, std::uint32_t tensor_id) {
    if (t.master_parameters.empty()) {
        fail_argument("state_kind", "= " + std::to_string(static_cast<int>(StateKind::MasterParameters)) +
                                        " asks for the master copy, which tensor " + std::to_string(tensor_id) +
                                        " does not have (it was added without a master copy)");
    }
    return t.master_parameters;
}

void Optimizer::read_state(std::uint32_t tensor_id, StateKind kind, float* destination, std::size_t element_count) {
    if (destination == nullptr) fail_argument("destination", "is null");
    check_state_access(tensor_id, element_count);
    TensorRecord& t = tensors_[tensor_id];
    if (kind == StateKind::MasterParameters) {
        backend_->download(destination, master_copy(t, tensor_id).data(), element_count * sizeof(float));
        return;
    }
    const StateBuffer& buffer = moment_buffer(t, kind);
    if (buffer.empty()) {
        fail_argument("state_kind", "= " + std::to_string(static_cast<int>(kind)) + " asks for " + state_kind_name(kind) +
                                        ", which tensor " + std::to_string(tensor_id) +
                                        " does not have (its group never had amsgrad on)");
    }
    download_values(buffer, kind, element_count, destination);
}

void Optimizer::write_state(std::uint32_t tensor_id, StateKind kind, const float* source, std::size_t element_count) {
    if (source == nullptr) fail_argument("source", "is null");
    check_state_access(tensor_id, element_count);
    TensorRecord& t = tensors_[tensor_id];
    if (kind == StateKind::MasterParameters) {
        backend_->upload(master_copy(t, tensor_id).data(), source, element_count * sizeof(float));
        return;
    }
    StateBuffer& buffer = moment_buffer(t, kind);
    if (buffer.empty()) {  // s_max may be absent: writing it creates it
        check_layout_change();
        StateBuffer created(*backend_, t.state_encoding, element_count);
        upload_values(created, kind, element_count, source);
        buffer = std::move(created);
        layout_changed();
        return;
    }
    upload_values(buffer, kind, element_count, source);
}

void Optimizer::read_state_codes(std::uint32_t tensor_id, StateKind kind, std::uint8_t* codes,
                                 std::size_t element_count, float* scales, std::size_t scale_count) {
    if (codes == nullptr) fail_argument("codes", "is null");
    if (scales == nullptr) fail_argument("scales", "is null");
    const StateBuffer& buffer = coded_buffer(tensor_id, kind, element_count, scale_count);
    backend_->download(codes, buffer.codes(), element_count);
    backend_->download(scales, buffer.scales(), scale_count * sizeof(float));
}

void Optimizer::write_state_codes(std::uint32_t tensor_id, StateKind kind, const std::uint8_t* codes,
                                  std::size_t element_count, const float* scales, std::size_t scale_count) {
    if (codes == nullptr) fail_argument("codes", "is null");
    if (scales == nullptr) fail_argument("scales", "is null");
    coded_buffer(tensor_id, kind, element_count, scale_count, /*may_be_absent=*/true);
    for (std::size_t block = 0; block < scale_count; ++block) {
        if (!is_valid_block_scale(scales[block])) {
            fail_argument("scales[" + std::to_string(block) + "]", "= " + format_value(scales[block]) +
                                        " is invalid: a block scale is 0, NaN, or finite and at least 2^-126");
        }
    }
    TensorRecord& t = tensors_[tensor_id];
    StateBuffer& buffer = moment_buffer(t, kind);
    if (buffer.empty()) {  // s_max may be absent: writing it creates it
        check_layout_change();
        StateBuffer created(*backend_, t.state_encoding, element_count);
        backend_->upload(created.codes(), codes, element_count);
        backend_->upload(created.scales(), scales, scale_count * sizeof(float));
        buffer = std::move(created);
        layout_changed();
        return;
    }
    backend_->upload(buffer.codes(), codes, element_count);
    backend_->upload(buffer.scales(), scales, scale_count * sizeof(float));
}

const StateBuffer& Optimizer::coded_buffer(std::uint32_t tensor_id, StateKind kind, std::size_t element_count,
                                           std::size_t scale_count, bool may_be_absent) {
    check_state_access(tensor_id, element_count);
    TensorRecord& t = tensors_[tensor_id];
    const StateBuffer& buffer = moment_buffer(t, kind);
    if (t.state_encoding != StateEncoding::Blockwise8Bit) {
        fail_argument("tensor_id", "= " + std::to_string(tensor_id) + " keeps float32 state (" +
                                       (groups_[t.group_id].state_encoding == StateEncoding::Float32
                                            ? std::string("its group's state_encoding is float32")
                                            : "it has " + std::to_string(t.element_count) +
                                                  " elements, fewer than the " + std::to_string(kMinQuantizedElements) +
                                                  " an 8-bit tensor needs") +
                                       "): it has no codes; read and write its state as floats");
    }
    if (scale_count != quantization_block_count(element_count)) {
        fail_argument("scale_count", "= " + std::to_string(scale_count) + " does not match tensor " +
                                         std::to_string(tensor_id) + "'s " +
                                         std::to_string(quantization_block_count(element_count)) + " blocks of " +
                                         std::to_string(kQuantizationBlockSize) + " elements");
    }
    if (buffer.empty() && !may_be_absent) {
        fail_argument("state_kind", "= " + std::to_string(static_cast<int>(kind)) + " asks for " + state_kind_name(kind) +
                                        ", which tensor " + std::to_string(tensor_id) +
                                        " does not have (its group never had amsgrad on)");
    }
    return buffer;
}

StagedRestore& Optimizer::staged_restore(const char* call) {
    if (restore_ == nullptr) {
        fail(ErrorCode::InvalidArgument, std::string(call) + " needs a restore begun with nab_optimizer_begin_restore");
    }
    return *restore_;
}

void Optimizer::begin_restore() {
    auto restore = std::make_unique<StagedRestore>();
    restore->group_count = groups_.size();
    restore->tensor_count = tensors_.size();
    restore->groups.resize(groups_.size());
    restore->tensors.resize(tensors_.size());
    restore_ = std::move(restore);
}

void Optimizer::restore_group(std::uint32_t group_id, const GroupOptions& options) {
    StagedRestore& restore = staged_restore("staging a group");
    check_group(group_id, "group_id");
    if (group_id >= restore.groups.size()) {
        fail_argument("group_id", "= " + std::to_string(group_id) + " was added after the restore began");
    }
    validate(options);
    restore.groups[group_id] = options;
}

void Optimizer::restore_tensor(std::uint32_t tensor_id, const TensorState& state) {
    StagedRestore& restore = staged_restore("staging a tensor");
    const TensorRecord& t = tensor(tensor_id);
    if (tensor_id >= restore.tensors.size()) {
        fail_argument("tensor_id", "= " + std::to_string(tensor_id) + " was added after the restore began");
    }
    if (state.step < 0) fail_argument("step", "= " + std::to_string(state.step) + " is invalid: must be >= 0");
    if (state.element_count != t.element_count) {
        fail_argument("element_count", "= " + std::to_string(state.element_count) + " does not match tensor " +
                                           std::to_string(tensor_id) + "'s " + std::to_string(t.element_count));
    }
    if (state.first_moment == nullptr) fail_argument("first_moment", "is null");
    if (state.second_moment == nullptr) fail_argument("second_moment", "is null");
    if ((state.master_parameters != nullptr) != !t.master_parameters.empty()) {
        fail_argument("master_parameters", t.master_parameters.empty()
                                               ? "is given, but tensor " + std::to_string(tensor_id) + " keeps no master copy"
                                               : "is null, but tensor " + std::to_string(tensor_id) + " keeps a master copy");
    }
    const GroupOptions& group = restore.groups[t.group_id] ? *restore.groups[t.group_id] : groups_[t.group_id];
    check_state_values(tensor_id, state, group);

    // m, s and s_max in the encoding the tensor would have under the group as staged so far (the
    // commit converts them where a group staged later changes it); 8-bit state is quantized here.
    const StateEncoding encoding = resolve_state_encoding(group.state_encoding, t.element_count);
    auto moment_copy = [&](const float* source, StateKind kind) {
        StateBuffer buffer;
        if (source != nullptr) {
            buffer = StateBuffer(*backend_, encoding, t.element_count);
            upload_values(buffer, kind, t.element_count, source);
        }
        return buffer;
    };
    StagedTensor staged;
    staged.step = state.step;
    staged.first_moment = moment_copy(state.first_moment, StateKind::FirstMoment);
    staged.second_moment = moment_copy(state.second_moment, StateKind::SecondMoment);
    staged.max_second_moment = moment_copy(state.max_second_moment, StateKind::MaxSecondMoment);
    if (state.master_parameters != nullptr) {
        staged.master_parameters = StateArray(*backend_, t.element_count);
        backend_->upload(staged.master_parameters.data(), state.master_parameters, t.element_count * sizeof(float));
    }
    staged.staged = true;
    restore.tensors[tensor_id] = std::move(staged);
}

void Optimizer::commit_restore() {
    StagedRestore& restore = staged_restore("committing a restore");
    if (groups_.size() != restore.group_count || tensors_.size() != restore.tensor_count) {
        fail(ErrorCode::InvalidArgument, "groups or tensors were added since the restore began (it has " +
                                             std::to_string(restore.group_count) + " groups and " +
                                             std::to_string(restore.tensor_count) + " tensors; the optimizer now " +
                                             std::to_string(groups_.size()) + " and " + std::to_string(tensors_.size()) +
                                             "); begin it again");
    }
    for (std::size_t g = 0; g < restore.groups.size(); ++g) {
        if (!restore.groups[g]) fail(ErrorCode::InvalidArgument, "group " + std::to_string(g) + " was not staged");
    }
    for (std::size_t id = 0; id < restore.tensors.size(); ++id) {
        if (!restore.tensors[id].staged) fail(ErrorCode::InvalidArgument, "tensor " + std::to_string(id) + " was not staged");
    }
    check_layout_change();
    // Everything that can fail, before the first change: the step counts in new memory, the
    // staged m, s and s_max in the encoding of the group as finally staged, and a zeroed s_max
    // for every tensor that will keep one but had none staged (a zeroed s_max acts exactly as
    // none: amsgrad raises it to s at the next step).
    BackendArray<std::int64_t> counts;
    if (!tensors_.empty()) {
        counts = BackendArray<std::int64_t>(*backend_, step_counts_.size());
        std::vector<std::int64_t> staged_counts(tensors_.size());
        for (std::size_t id = 0; id < tensors_.size(); ++id) staged_counts[id] = restore.tensors[id].step;
        backend_->upload(counts.data(), staged_counts.data(), staged_counts.size() * sizeof(std::int64_t));
    }
    std::vector<StateEncoding> encodings(tensors_.size());
    for (std::size_t id = 0; id < tensors_.size(); ++id) {
        StagedTensor& staged = restore.tensors[id];
        const TensorRecord& t = tensors_[id];
        const GroupOptions& group = *restore.groups[t.group_id];
        const StateEncoding encoding = resolve_state_encoding(group.state_encoding, t.element_count);
        encodings[id] = encoding;
        auto reencode = [&](StateBuffer& buffer, StateKind kind) {
            if (!buffer.empty() && buffer.encoding() != encoding) buffer = converted(buffer, kind, t.element_count, encoding);
        };
        reencode(staged.first_moment, StateKind::FirstMoment);
        reencode(staged.second_moment, StateKind::SecondMoment);
        reencode(staged.max_second_moment, StateKind::MaxSecondMoment);
        const bool keeps_max = group.amsgrad || !t.max_second_moment.empty();
        if (staged.max_second_moment.empty() && keeps_max) {
            staged.max_second_moment = StateBuffer(*backend_, encoding, t.element_count);
        }
    }
    // The swap: nothing below can fail.
    bool huge_count = false;
    for (std::size_t g = 0; g < groups_.size(); ++g) groups_[g] = *restore.groups[g];
    for (std::size_t id = 0; id < tensors_.size(); ++id) {
        TensorRecord& t = tensors_[id];
        StagedTensor& staged = restore.tensors[id];
        t.state_encoding = encodings[id];
        t.first_moment = std::move(staged.first_moment);
        t.second_moment = std::move(staged.second_moment);
        t.max_second_moment = std::move(staged.max_second_moment);
        if (!staged.master_parameters.empty()) t.master_parameters = std::move(staged.master_parameters);
        huge_count = huge_count || staged.step >= kStepCountGuardThreshold;
    }
    if (!tensors_.empty()) step_counts_ = std::move(counts);
    guard_step_counts_ = guard_step_counts_ || huge_count;
    restore_.reset();
    layout_changed();
}

void Optimizer::set_step_options(const StepOptions& options) {
    validate(options);
    if (SettingsMirror* mirror = backend_->settings_mirror()) mirror->step_options_changed(options);
    step_options_ = options;
}

void Optimizer::step() { backend_->step(work()); }

void Optimizer::gradient_chunk_statistics(double* sums, std::uint64_t* counts, std::size_t count) {
    const StepWork current = work();
    const std::size_t expected = backend_->gradient_chunk_count(current);
    if (count != expected) {
        fail_argument("chunk_count", "= " + std::to_string(count) + " does not match this optimizer's " +
                                         std::to_string(expected) + " gradient chunks");
    }
    backend_->gradient_chunk_statistics(current, sums, counts);
}

void Optimizer::step_with_gradient_statistics(const double* sums, const std::uint64_t* counts, std::size_t count) {
    GradientStatistics totals;
    if (step_options_.needs_gradient_statistics()) {
        for (std::size_t index = 0; index < count; ++index) accumulate(totals, GradientStatistics{sums[index], counts[index]});
    }
    backend_->step_with_statistics(work(), totals);
}

void Optimizer::zero_gradients() { backend_->zero_gradients(work()); }

std::uint64_t Optimizer::count_nonfinite_gradients() { return backend_->count_nonfinite_gradients(work()); }

std::uint64_t Optimizer::count_nonfinite_parameters() { return backend_->count_nonfinite_parameters(work()); }

}  // namespace nab
