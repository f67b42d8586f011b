// Where an optimizer keeps its state and runs its step: the CPU (cpu/cpu_backend.h) or a CUDA
// device (cuda/cuda_backend.h). The optimizer owns every piece of state (groups, tensors,
// state arrays, step counts, step options) and checks every rule; a backend executes: it
// provides the memory the state lives in, runs the step, the zeroing and the gradient pass
// over the optimizer's tables, and reports what the last step did.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/element_type.h"
#include "core/errors.h"
#include "core/gradient_scaling.h"
#include "core/hyperparameters.h"
#include "core/state_encoding.h"

namespace nab {

class Backend;

// `count` elements of T in a backend's memory (host memory for the CPU, device memory for
// CUDA), zeroed when allocated and freed through that backend.
template <class T>
class BackendArray {
public:
    BackendArray() = default;
    BackendArray(Backend& owner, std::size_t count);
    BackendArray(BackendArray&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)),
          data_(std::exchange(other.data_, nullptr)),
          count_(std::exchange(other.count_, 0)) {}
    BackendArray& operator=(BackendArray&& other) noexcept {
        if (this != &other) {
            release();
            owner_ = std::exchange(other.owner_, nullptr);
            data_ = std::exchange(other.data_, nullptr);
            count_ = std::exchange(other.count_, 0);
        }
        return *this;
    }
    BackendArray(const BackendArray&) = delete;
    BackendArray& operator=(const BackendArray&) = delete;
    ~BackendArray() { release(); }

    T* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return count_; }
    bool empty() const noexcept { return data_ == nullptr; }

private:
    void release() noexcept;
    Backend* owner_ = nullptr;
    T* data_ = nullptr;
    std::size_t count_ = 0;
};

// Float32 state (m, s, s_max in the float32 encoding, master copies) and block scales.
using StateArray = BackendArray<float>;

// One state quantity of one tensor (m, s or s_max) in an encoding: element_count floats
// (float32), or one code per element and one scale per block of kQuantizationBlockSize
// (blockwise 8-bit, core/block_quantization.h). Zeroed when allocated, which both encodings
// read as all zeros. Empty (default-constructed) until the tensor has the quantity.
class StateBuffer {
public:
    StateBuffer() = default;
    StateBuffer(Backend& owner, StateEncoding encoding, std::size_t element_count);

    bool empty() const noexcept { return values_.empty() && codes_.empty(); }
    StateEncoding encoding() const noexcept { return encoding_; }
    float* values() const noexcept { return values_.data(); }          // float32; null in 8-bit
    std::uint8_t* codes() const noexcept { return codes_.data(); }     // 8-bit; null in float32
    float* scales() const noexcept { return scales_.data(); }          // 8-bit; null in float32

private:
    StateEncoding encoding_ = StateEncoding::Float32;
    StateArray values_;
    BackendArray<std::uint8_t> codes_;
    StateArray scales_;
};

// A registered tensor: the caller's buffers and the optimizer's state arrays for it. (Its step
// count is entry `id` of the optimizer's step-count array, which lives in backend memory so
// that a CUDA graph replay advances it on the device.)
struct TensorRecord {
    std::uint32_t group_id;
    std::size_t element_count;
    void* parameters;  // element_count elements of parameter_type
    void* gradients;   // element_count elements of gradient_type; null: skipped by the step
    ElementType parameter_type = ElementType::Float32;
    ElementType gradient_type = ElementType::Float32;
    // What m, s and s_max are stored in: the group's encoding resolved by the tensor's size
    // (resolve_state_encoding).
    StateEncoding state_encoding = StateEncoding::Float32;
    StateBuffer first_moment;
    StateBuffer second_moment;
    StateBuffer max_second_moment;  // empty until the group has amsgrad on
    StateArray master_parameters;   // float32 copy of 16-bit parameters; empty unless asked for
};

// What a step, a zeroing or a gradient pass works on: the optimizer's tables and settings. The
// backend writes only the state arrays and the step counts of the tensors it steps.
struct StepWork {
    const std::vector<TensorRecord>& tensors;
    const std::vector<GroupOptions>& groups;
    const StepOptions& step_options;
    // One count per tensor (index = tensor id), in this backend's memory.
    std::int64_t* step_counts;
    // Changes whenever anything a backend may have copied into its own tables changes: tensors,
    // their buffers or state arrays, group options (not a learning rate alone), the step-count
    // array, or guard_step_counts.
    std::uint64_t layout_generation;
    // Some count may be near kLastStepCount (core/step_counts.h): check every stepped count.
    bool guard_step_counts;
};

// Implemented by a backend whose queued or captured work (CUDA graphs) reads the learning
// rates and the step options from its own memory: the optimizer tells it of every change, so
// a replay sees the new values without a new step call, and of every layout change, so that a
// replay of work captured before it does nothing (its tables may be gone). Each may refuse
// (nab::Error) while the backend's work is being captured; before_layout_change comes before
// the optimizer changes anything, layout_changed after.
class SettingsMirror {
public:
    virtual void learning_rate_changed(std::uint32_t group_id, double learning_rate) = 0;
    virtual void step_options_changed(const StepOptions& options) = 0;
    virtual void before_layout_change() = 0;
    virtual void layout_changed(std::uint64_t layout_generation) = 0;

protected:
    ~SettingsMirror() = default;
};

class Backend {
public:
    virtual ~Backend() = default;

    // Memory for the optimizer's state: `bytes` zeroed bytes (throws nab::Error on failure),
    // its release, and copies between it and host memory or within it.
    virtual void* allocate(std::size_t bytes) = 0;
    virtual void release(void* data) noexcept = 0;
    virtual void download(void* host_destination, const void* source, std::size_t bytes) = 0;
    virtual void upload(void* destination, const void* host_source, std::size_t bytes) = 0;
    virtual void copy(void* destination, const void* source, std::size_t bytes) = 0;

    // Refuses (nab::Error naming `argument`) a caller buffer this backend cannot read and
    // write, before the optimizer records it: e.g. host memory handed to a CUDA optimizer.
    virtual void check_caller_buffer(const void* /*data*/, const char* /*argument*/) {}
    // Widens `count` 16-bit parameters into a master copy (at registration, and when the caller
    // re-initialises it).
    virtual void initialize_master(float* master, const void* parameters, ElementType type, std::size_t count) = 0;

    // One step over every tensor with a gradient: the gradient pass when the step options ask
    // for it, then (unless it decides to skip) the update, which advances the step counts.
    // Refuses a step that would advance a count past kLastStepCount: the CPU before changing
    // anything (nab::Error), CUDA on the device (the step is skipped and its report says so).
    virtual void step(const StepWork& work) = 0;
    // What the last step did (waits for it on asynchronous backends).
    virtual StepReport last_step_report() = 0;
    // Zeroes every registered gradient.
    virtual void zero_gradients(const StepWork& work) = 0;
    // Counts the NaN and +-Inf elements of every registered gradient (read-only; waits for the
    // result on asynchronous backends).
    virtual std::uint64_t count_nonfinite_gradients(const StepWork& work) = 0;
    // The same count over every tensor's parameters: the float32 master copy where a tensor
    // has one, else the caller's parameters (read-only).
    virtual std::uint64_t count_nonfinite_parameters(const StepWork& work) = 0;
    // Waits until the work queued by earlier calls has finished (CUDA); no-op on the CPU.
    virtual void synchronize() {}

    // For a model split across optimizers (nab_optimizer_compute_gradient_chunk_statistics): the
    // gradient pass cut into chunks of NAB_GRADIENT_CHUNK_ELEMENTS elements from each tensor's
    // first element, their number, and each chunk's totals into sums[i] and counts[i] (tensors in
    // id order, chunks in element order). A backend whose pass is cut otherwise refuses them.
    virtual std::size_t gradient_chunk_count(const StepWork& /*work*/) { refuse_chunk_statistics(); }
    virtual void gradient_chunk_statistics(const StepWork& /*work*/, double* /*sums*/, std::uint64_t* /*counts*/) {
        refuse_chunk_statistics();
    }
    // step(), deciding from `totals` (what the chunk totals of the whole model add up to) instead
    // of making a gradient pass of its own.
    virtual void step_with_statistics(const StepWork& /*work*/, const GradientStatistics& /*totals*/) {
        refuse_chunk_statistics();
    }

    // Null unless the backend mirrors settings (see SettingsMirror).
    virtual SettingsMirror* settings_mirror() noexcept { return nullptr; }

private:
    [[noreturn]] static void refuse_chunk_statistics() {
        fail(ErrorCode::Unsupported,
             "the gradient pass in chunks (and a step given their totals) is available on CPU optimizers only: this "
             "backend cuts its pass differently");
    }
};

template <class T>
BackendArray<T>::BackendArray(Backend& owner, std::size_t count)
    : owner_(&owner), data_(static_cast<T*>(owner.allocate(count * sizeof(T)))), count_(count) {}

template <class T>
void BackendArray<T>::release() noexcept {
    if (owner_ != nullptr && data_ != nullptr) owner_->release(data_);
    data_ = nullptr;
}

inline StateBuffer::StateBuffer(Backend& owner, StateEncoding encoding, std::size_t element_count)
    : encoding_(encoding) {
    if (encoding == StateEncoding::Float32) {
        values_ = StateArray(owner, element_count);
    } else {
        codes_ = BackendArray<std::uint8_t>(owner, element_count);
        scales_ = StateArray(owner, quantization_block_count(element_count));
    }
}

}  // namespace nab
