// The optimizer: parameter groups, tensors with their state, and the step over all of them.
// Every public method validates its arguments first and throws nab::Error before changing
// anything; api/c_api.cpp turns that into a status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/backend.h"
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

    std::uint32_t add_tensor(std::uint32_t group_id, std::size_t element_count, float* parameters, float* gradients);
    std::uint32_t tensor_count() const noexcept { return static_cast<std::uint32_t>(tensors_.size()); }
    void describe_tensor(std::uint32_t tensor_id, nab_tensor_info* out);
    void set_tensor_parameters(std::uint32_t tensor_id, float* parameters);
    void set_tensor_gradients(std::uint32_t tensor_id, float* gradients);
    void set_tensor_step(std::uint32_t tensor_id, std::int64_t step);
    void read_state(std::uint32_t tensor_id, nab_state_kind kind, float* destination, std::size_t element_count);
    void write_state(std::uint32_t tensor_id, nab_state_kind kind, const float* source, std::size_t element_count);

    void step();
    void zero_gradients();
    std::uint64_t count_nonfinite_gradients();
    void synchronize();

private:
    void check_group(std::uint32_t group_id, const char* argument_name) const;
    TensorRecord& tensor(std::uint32_t tensor_id, const char* argument_name);
    StateArray& state_array(TensorRecord& t, nab_state_kind kind);
    void check_state_access(std::uint32_t tensor_id, std::size_t element_count);

    // Declared first so it outlives the state arrays it frees.
    std::unique_ptr<Backend> backend_;
    std::vector<GroupOptions> groups_;
    std::vector<TensorRecord> tensors_;
};

}  // namespace nab
