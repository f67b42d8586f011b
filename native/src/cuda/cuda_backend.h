// The CUDA backend: state in device memory, one fused launch per step (per distinct launch
// variant among the groups, usually one) after a planning launch and, when the step options
// ask for it, a fused gradient pass; on the caller's stream, without host synchronisation, and
// safe to capture in a CUDA graph: step counts, the groups' options (learning rate included)
// and the step options live on the device and are read there by every launch, and the skip
// decision and gradient scale are made and used there.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "core/backend.h"
#include "cuda/device_tables.h"
#include "cuda/step_kernels.h"

namespace nab::cuda {

// A device array that frees itself.
template <class T>
class DeviceArray {
public:
    DeviceArray() = default;
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    ~DeviceArray() { reset(); }
    // Makes room for `count` elements (reallocating only to grow).
    void reserve(std::size_t count);
    T* data() const noexcept { return data_; }
    void reset() noexcept;

private:
    T* data_ = nullptr;
    std::size_t capacity_ = 0;
};

class CudaBackend final : public Backend {
public:
    explicit CudaBackend(int device_ordinal);
    ~CudaBackend() override;

    float* allocate_state(std::size_t count) override;
    void free_state(float* data) noexcept override;
    void copy_state_to_host(float* host_destination, const float* state, std::size_t count) override;
    void copy_state_from_host(float* state, const float* host_source, std::size_t count) override;

    void step(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups) override;
    // Queues the new options on the stream once they live on the device (like a learning rate).
    void set_step_options(const StepOptions& options) override;
    // Refused while the stream is being captured; otherwise a synchronous copy of the device's.
    StepReport last_step_report() override;
    void initialize_master(float* master, const void* parameters, nab_dtype dtype, std::size_t count) override;
    void zero_gradients(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups) override;
    // The gradient pass over the zero-gradients table and the sum of its partials, then a
    // synchronous copy of the count.
    std::uint64_t count_nonfinite_gradients(std::vector<TensorRecord>& tensors,
                                            const std::vector<GroupOptions>& groups) override;

    void validate_buffer(const void* data, const char* argument_name) override;
    void layout_changed() override { tables_current_ = false; }
    void learning_rate_changed(std::uint32_t group_id, double learning_rate) override;
    void refresh_steps(std::vector<TensorRecord>& tensors) override;
    void step_count_changed(std::uint32_t tensor_id, std::int64_t step) override;

    void set_thread_count(int thread_count) override;
    int thread_count() const noexcept override { return 1; }
    void set_simd_level(nab_simd_level simd_level) override;
    nab_simd_level simd_level() const noexcept override { return NAB_SIMD_AUTO; }
    void set_cuda_stream(void* stream) override;
    void synchronize() override;

private:
    struct Launch {
        LaunchVariant variant;
        std::uint32_t first_entry;  // into the device tensor table
        std::uint32_t entry_count;
        std::uint64_t block_count;
    };

    // Fails with INVALID_ARGUMENT and `message` while the stream is being captured.
    void refuse_while_capturing(const char* message);
    // Rebuilds and uploads the tensor tables, groups and step counts after a layout change
    // (and the step state, the first time).
    void update_tables(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups);
    void append_launch(const std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups,
                       const LaunchVariant* variant, std::vector<DeviceTensor>& entries, std::vector<Launch>& launches);

    int device_ordinal_;
    cudaStream_t stream_ = nullptr;
    bool tables_current_ = false;
    std::vector<Launch> step_launches_;
    std::uint32_t step_entry_count_ = 0;  // the step launches' entries: the first ones of the table
    Launch zero_launch_{};  // also the layout of the gradient pass
    StepOptions step_options_;  // the host's copy: whether a step launches the gradient pass
    DeviceArray<DeviceTensor> tensor_table_;
    DeviceArray<GroupOptions> group_table_;
    DeviceArray<std::int64_t> step_counts_;
    DeviceArray<TensorStepPlan> plans_;  // one per tensor table entry, written by each step
    DeviceArray<DeviceStepState> step_state_;  // allocated with the first tables, then kept
    DeviceArray<GradientStatistics> partials_;  // one per block of the gradient pass
    DeviceArray<GradientStatistics> gradient_totals_;  // the sum count_nonfinite_gradients reads
    std::uint32_t step_count_size_ = 0;  // tensors whose counts live in step_counts_
};

}  // namespace nab::cuda
