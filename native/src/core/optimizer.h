// The optimizer: parameter groups, tensors with their state, and the step over all of them.
// Every public method validates its arguments first and throws nab::Error before changing
// anything; api/c_api.cpp turns that into a status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/backend.h"
#include "core/gradient_scaling.h"
#include "core/hyperparameters.h"
#include "native_adabelief.h"

namespace nab {

class Optimizer {
public:
    explicit Optimizer(std::unique_ptr<Backend> backend);

    Backend& backend() noexcept { return *backend_; }

    std::uint32_t add_group(const GroupOptions& options);
    std::uint32_t group_count() const noexcept { return static_cast<std::uint32_t>(groups_.size()); }
    const GroupOptions& group_options(std::uint32_t group_id) const;
    void set_group_options(std::uint32_t group_id, const GroupOptions& options);
    void set_learning_rate(std::uint32_t group_id, double learning_rate);

    // The caller's side of one tensor (nab_tensor_desc, already read).
    struct TensorBuffers {
        void* parameters;
        void* gradients;
        nab_dtype parameter_dtype;
        nab_dtype gradient_dtype;
        bool master_parameters;
    };
    std::uint32_t add_tensor(std::uint32_t group_id, std::size_t element_count, const TensorBuffers& buffers);
    std::uint32_t tensor_count() const noexcept { return static_cast<std::uint32_t>(tensors_.size()); }
    void describe_tensor(std::uint32_t tensor_id, nab_tensor_info* out);
    void set_tensor_parameters(std::uint32_t tensor_id, void* parameters);
    void set_tensor_gradients(std::uint32_t tensor_id, void* gradients);
    void set_tensor_step(std::uint32_t tensor_id, std::int64_t step);
    void read_state(std::uint32_t tensor_id, nab_state_kind kind, float* destination, std::size_t element_count);
    void write_state(std::uint32_t tensor_id, nab_state_kind kind, const float* source, std::size_t element_count);

    void set_step_options(const StepOptions& options);
    const StepOptions& step_options() const noexcept { return step_options_; }
    StepReport last_step_report() { return backend_->last_step_report(); }

    void step();
    void zero_gradients();
    std::uint64_t count_nonfinite_gradients();
    void synchronize();

private:
    void check_group(std::uint32_t group_id, const char* argument_name) const;
    TensorRecord& tensor(std::uint32_t tensor_id, const char* argument_name);
    StateArray& state_array(TensorRecord& t, nab_state_kind kind);
    [[noreturn]] void fail_missing_state(std::uint32_t tensor_id, nab_state_kind kind);
    void check_state_access(std::uint32_t tensor_id, std::size_t element_count);

    // Declared first so it outlives the state arrays it frees.
    std::unique_ptr<Backend> backend_;
    std::vector<GroupOptions> groups_;
    std::vector<TensorRecord> tensors_;
    StepOptions step_options_;
};

}  // namespace nab
