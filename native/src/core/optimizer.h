// The optimizer: parameter groups, tensors with their state, the step counts and the step
// options, and the step over all of them. It owns every piece of that state and checks every
// rule before changing anything (throwing nab::Error, which api/ turns into a status); its
// backend executes the work on the memory it provides.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/backend.h"
#include "core/block_quantization.h"
#include "core/element_type.h"
#include "core/gradient_scaling.h"
#include "core/hyperparameters.h"
#include "core/staged_restore.h"
#include "core/registered_memory.h"
#include "core/state_encoding.h"

namespace nab {

// The state arrays an optimizer keeps per tensor (numbered as the ABI's nab_state_kind, which
// messages quote).
enum class StateKind { FirstMoment = 0, SecondMoment = 1, MaxSecondMoment = 2, MasterParameters = 3 };

// The 8-bit format of m, s or s_max (the master copy has none: it is float32 in every encoding).
constexpr CodeFormat code_format(StateKind kind) noexcept {
    return kind == StateKind::FirstMoment ? kFirstMomentFormat : kSecondMomentFormat;
}

// The caller's side of one tensor.
struct TensorSpec {
    std::uint32_t group_id = 0;
    std::size_t element_count = 0;
    void* parameters = nullptr;
    void* gradients = nullptr;  // null: none yet
    ElementType parameter_type = ElementType::Float32;
    ElementType gradient_type = ElementType::Float32;
    bool master_parameters = false;  // keep a float32 master copy of 16-bit parameters
};

// What the optimizer knows about one tensor.
struct TensorFacts {
    std::uint32_t group_id;
    std::size_t element_count;
    std::int64_t step;
    bool has_max_second_moment;
    bool has_gradients;
    ElementType parameter_type;
    ElementType gradient_type;
    bool has_master_parameters;
    StateEncoding state_encoding;  // of m, s and s_max
};

class Optimizer {
public:
    explicit Optimizer(std::unique_ptr<Backend> backend);

    Backend& backend() noexcept { return *backend_; }

    std::uint32_t add_group(const GroupOptions& options);
    std::uint32_t group_count() const noexcept { return static_cast<std::uint32_t>(groups_.size()); }
    const GroupOptions& group_options(std::uint32_t group_id) const;
    void set_group_options(std::uint32_t group_id, const GroupOptions& options);
    void set_learning_rate(std::uint32_t group_id, double learning_rate);

    std::uint32_t add_tensor(const TensorSpec& spec);
    std::uint32_t tensor_count() const noexcept { return static_cast<std::uint32_t>(tensors_.size()); }
    TensorFacts tensor_facts(std::uint32_t tensor_id);
    // Points a tensor at new parameters; a master copy takes their values (widened exactly).
    void set_tensor_parameters(std::uint32_t tensor_id, void* parameters);
    void set_tensor_gradients(std::uint32_t tensor_id, void* gradients);
    // Every tensor's gradient pointer at once (`count` must be the tensor count; null = none),
    // all checked before any changes; the layout changes only if a pointer did.
    void set_gradients(void* const* gradients, std::size_t count);
    void set_tensor_step(std::uint32_t tensor_id, std::int64_t step);
    // Sets a tensor's master copy to its 16-bit parameters, widened (exactly).
    void initialize_master_parameters(std::uint32_t tensor_id);
    // Every tensor's step count in one copy (`count` must be the tensor count).
    void read_step_counts(std::int64_t* destination, std::size_t count);
    // Float32 values of a state array (m, s and s_max of an 8-bit tensor dequantized; writing
    // them quantizes).
    void read_state(std::uint32_t tensor_id, StateKind kind, float* destination, std::size_t element_count);
    void write_state(std::uint32_t tensor_id, StateKind kind, const float* source, std::size_t element_count);
    // The codes and block scales of m, s or s_max of an 8-bit tensor, as they are.
    void read_state_codes(std::uint32_t tensor_id, StateKind kind, std::uint8_t* codes, std::size_t element_count,
                          float* scales, std::size_t scale_count);
    void write_state_codes(std::uint32_t tensor_id, StateKind kind, const std::uint8_t* codes,
                           std::size_t element_count, const float* scales, std::size_t scale_count);

    // An all-or-nothing restore (see nab_optimizer_begin_restore): stage, then commit or abort.
    void begin_restore();
    void restore_group(std::uint32_t group_id, const GroupOptions& options);
    void restore_tensor(std::uint32_t tensor_id, const TensorState& state);
    void commit_restore();
    void abort_restore() noexcept { restore_.reset(); }

    void set_step_options(const StepOptions& options);
    const StepOptions& step_options() const noexcept { return step_options_; }
    StepReport last_step_report() { return backend_->last_step_report(); }

    void step();
    // For a model split across optimizers (see the ABI's "gradient pass in chunks"): the number
    // of chunks of this optimizer's gradient pass, each chunk's totals (`count` must be that
    // number), and a step that decides from the given chunk totals, added in order, instead of
    // making a pass of its own (they are read only when the step options need a pass).
    std::size_t gradient_chunk_count() { return backend_->gradient_chunk_count(work()); }
    void gradient_chunk_statistics(double* sums, std::uint64_t* counts, std::size_t count);
    void step_with_gradient_statistics(const double* sums, const std::uint64_t* counts, std::size_t count);
    void zero_gradients();
    std::uint64_t count_nonfinite_gradients();
    std::uint64_t count_nonfinite_parameters();
    void synchronize() { backend_->synchronize(); }

private:
    void check_group(std::uint32_t group_id, const char* argument) const;
    TensorRecord& tensor(std::uint32_t tensor_id);
    // The tensor's master copy; refuses a tensor without one.
    StateArray& master_copy(TensorRecord& t, std::uint32_t tensor_id);
    // m, s or s_max of a tensor; refuses the master copy (`argument` names the kind).
    StateBuffer& moment_buffer(TensorRecord& t, StateKind kind);
    void check_state_access(std::uint32_t tensor_id, std::size_t element_count);
    // Refuses (naming `argument` and both tensors) a buffer for `owner` that shares memory with
    // a buffer in `registered` other than the one it replaces.
    void check_not_registered(const RegisteredMemory& registered, const void* data, std::size_t bytes,
                              BufferOwner owner, bool replaces, const char* argument) const;
    // A state buffer's float32 values through host memory, converting from or to 8 bits.
    void download_values(const StateBuffer& buffer, StateKind kind, std::size_t count, float* destination);
    void upload_values(const StateBuffer& buffer, StateKind kind, std::size_t count, const float* source);
    // A new buffer in `encoding` holding `from`'s values (converted), for a group whose encoding changes.
    StateBuffer converted(const StateBuffer& from, StateKind kind, std::size_t count, StateEncoding encoding);
    // The 8-bit buffer of m, s or s_max for raw access, after checking the tensor, its encoding
    // and the counts (`may_be_absent`: an s_max not yet allocated is fine, for writing).
    const StateBuffer& coded_buffer(std::uint32_t tensor_id, StateKind kind, std::size_t element_count,
                                    std::size_t scale_count, bool may_be_absent = false);
    // Room for one more step count (the array grows by doubling, keeping the counts).
    void reserve_step_count();
    // Around every change of what a backend may have copied into its own tables (StepWork's
    // layout_generation): the check before anything changes, the notice after.
    void check_layout_change();
    void layout_changed();
    StepWork work();
    StagedRestore& staged_restore(const char* call);

    // Declared first so it outlives the arrays it frees.
    std::unique_ptr<Backend> backend_;
    std::vector<GroupOptions> groups_;
    std::vector<TensorRecord> tensors_;
    // Every tensor's parameters and gradients, for the rule that memory is registered once.
    RegisteredMemory registered_memory_;
    // Step count t of tensor i at index i; capacity >= tensors_.size().
    BackendArray<std::int64_t> step_counts_;
    StepOptions step_options_;
    // A restore being staged, or null.
    std::unique_ptr<StagedRestore> restore_;
    std::uint64_t layout_generation_ = 0;
    // True once the caller set a count at or above kStepCountGuardThreshold.
    bool guard_step_counts_ = false;
};

}  // namespace nab
