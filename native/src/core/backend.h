// Where an optimizer keeps its state and how it runs a step: the CPU (cpu/cpu_backend.h) or
// a CUDA device (cuda/cuda_backend.h). The optimizer validates; a backend only executes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/gradient_scaling.h"
#include "core/hyperparameters.h"
#include "native_adabelief.h"

namespace nab {

class Backend;

// One state array (m, s or s_max) in a backend's memory; freed through that backend.
class StateArray {
public:
    StateArray() = default;
    StateArray(Backend& owner, std::size_t count);
    StateArray(StateArray&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)),
          data_(std::exchange(other.data_, nullptr)),
          count_(std::exchange(other.count_, 0)) {}
    StateArray& operator=(StateArray&& other) noexcept {
        if (this != &other) {
            release();
            owner_ = std::exchange(other.owner_, nullptr);
            data_ = std::exchange(other.data_, nullptr);
            count_ = std::exchange(other.count_, 0);
        }
        return *this;
    }
    StateArray(const StateArray&) = delete;
    StateArray& operator=(const StateArray&) = delete;
    ~StateArray() { release(); }

    float* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return count_; }
    bool empty() const noexcept { return data_ == nullptr; }

private:
    void release() noexcept;
    Backend* owner_ = nullptr;
    float* data_ = nullptr;
    std::size_t count_ = 0;
};

// Bytes per element of a caller buffer.
constexpr std::size_t dtype_size(nab_dtype dtype) noexcept { return dtype == NAB_DTYPE_FLOAT32 ? 4 : 2; }

// A registered tensor: the caller's buffers and the optimizer's state for it.
struct TensorRecord {
    std::uint32_t group_id;
    std::size_t element_count;
    void* parameters;  // element_count elements of parameter_dtype
    void* gradients;   // element_count elements of gradient_dtype; null: skipped by the step
    nab_dtype parameter_dtype = NAB_DTYPE_FLOAT32;
    nab_dtype gradient_dtype = NAB_DTYPE_FLOAT32;
    StateArray first_moment;
    StateArray second_moment;
    StateArray max_second_moment;  // empty until the group has amsgrad on
    StateArray master_parameters;  // float32 copy of 16-bit parameters; empty unless asked for
    std::int64_t step = 0;
};

class Backend {
public:
    virtual ~Backend() = default;

    // Zeroed memory for `count` floats of state; throws nab::Error on failure.
    virtual float* allocate_state(std::size_t count) = 0;
    virtual void free_state(float* data) noexcept = 0;
    virtual void copy_state_to_host(float* host_destination, const float* state, std::size_t count) = 0;
    virtual void copy_state_from_host(float* state, const float* host_source, std::size_t count) = 0;

    // One step over every tensor with a gradient under the step options in force (see
    // set_step_options): the gradient pass when they ask for it, then (unless it decides to
    // skip) the update, which advances the step counts.
    virtual void step(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups) = 0;
    // The step options later steps use (validated by the caller).
    virtual void set_step_options(const StepOptions& options) = 0;
    // What the last step did (waits for it on asynchronous backends).
    virtual StepReport last_step_report() = 0;
    // Widens 16-bit parameters into a new master copy (element_count elements).
    virtual void initialize_master(float* master, const void* parameters, nab_dtype dtype, std::size_t count) = 0;
    // Zeroes every registered gradient.
    virtual void zero_gradients(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups) = 0;
    // Counts the NaN and +-Inf elements of every registered gradient (read-only; waits for
    // the result on asynchronous backends).
    virtual std::uint64_t count_nonfinite_gradients(std::vector<TensorRecord>& tensors,
                                                    const std::vector<GroupOptions>& groups) = 0;

    // Refuses (nab::Error) a caller buffer this backend cannot read and write, before the
    // optimizer records it: e.g. host memory handed to a CUDA optimizer.
    virtual void validate_buffer(const void* /*data*/, const char* /*argument_name*/) {}
    // Waits until the work queued by earlier calls has finished (CUDA); no-op on the CPU.
    virtual void synchronize() {}

    // Notifications from the optimizer, for backends that mirror its tables (CUDA).
    virtual void layout_changed() {}
    virtual void learning_rate_changed(std::uint32_t /*group_id*/, double /*learning_rate*/) {}
    // Brings TensorRecord::step up to date where the backend advances it on its own
    // (CUDA graph replays), and pushes a changed one back.
    virtual void refresh_steps(std::vector<TensorRecord>& /*tensors*/) {}
    virtual void step_count_changed(std::uint32_t /*tensor_id*/, std::int64_t /*step*/) {}

    // Execution settings; a backend refuses the ones that do not apply to it.
    virtual void set_thread_count(int thread_count) = 0;
    virtual int thread_count() const noexcept = 0;
    virtual void set_simd_level(nab_simd_level simd_level) = 0;
    virtual nab_simd_level simd_level() const noexcept = 0;
    virtual void set_cuda_stream(void* stream) = 0;
};

inline StateArray::StateArray(Backend& owner, std::size_t count)
    : owner_(&owner), data_(owner.allocate_state(count)), count_(count) {}

inline void StateArray::release() noexcept {
    if (owner_ != nullptr && data_ != nullptr) owner_->free_state(data_);
    data_ = nullptr;
}

}  // namespace nab
