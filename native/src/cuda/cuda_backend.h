// The CUDA backend: state in device memory, one fused launch per step (per distinct launch
// variant among the groups, usually one) after a planning launch and, when the step options
// ask for it, a fused gradient pass; on the caller's stream, without host synchronisation, and
// safe to capture in a CUDA graph: the step counts live in device memory (the optimizer's
// array), the groups' options and the step options are mirrored into device tables read by
// every launch (SettingsMirror), and the skip decision and gradient scale are made and used
// there.
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
    // `count` elements; throws nab::Error (OutOfMemory when the device has no room).
    explicit DeviceArray(std::size_t count);
    DeviceArray(DeviceArray&& other) noexcept;
    DeviceArray& operator=(DeviceArray&& other) noexcept;
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    ~DeviceArray() { reset(); }
    T* data() const noexcept { return data_; }
    std::size_t capacity() const noexcept { return capacity_; }
    void reset() noexcept;

private:
    T* data_ = nullptr;
    std::size_t capacity_ = 0;
};

class CudaBackend final : public Backend, public SettingsMirror {
public:
    explicit CudaBackend(int device_ordinal);
    ~CudaBackend() override;

    void* allocate(std::size_t bytes) override;
    void release(void* data) noexcept override;
    void download(void* host_destination, const void* source, std::size_t bytes) override;
    void upload(void* destination, const void* host_source, std::size_t bytes) override;
    void copy(void* destination, const void* source, std::size_t bytes) override;
    void check_caller_buffer(const void* data, const char* argument) override;
    void initialize_master(float* master, const void* parameters, ElementType type, std::size_t count) override;

    void step(const StepWork& work) override;
    // Refused while the stream is being captured; otherwise a synchronous copy of the device's.
    StepReport last_step_report() override;
    void zero_gradients(const StepWork& work) override;
    // The gradient pass over the zero-gradients table and the sum of its partials, then a
    // synchronous copy of the count.
    std::uint64_t count_nonfinite_gradients(const StepWork& work) override;
    // The same pass over a table whose "gradients" are the parameters (or master copies), built
    // for the call.
    std::uint64_t count_nonfinite_parameters(const StepWork& work) override;
    void synchronize() override;

    SettingsMirror* settings_mirror() noexcept override { return this; }
    // Queued on the stream once the tables exist (a replayed graph sees them); otherwise the
    // first table upload carries them. Refused while the stream is being captured.
    void learning_rate_changed(std::uint32_t group_id, double learning_rate) override;
    void step_options_changed(const StepOptions& options) override;
    void before_layout_change() override;
    // Moves the device's layout generation on, so that work captured before does nothing.
    void layout_changed(std::uint64_t layout_generation) override;

    // The CUDA backend's own setting (the ABI reaches it for CUDA optimizers only).
    void set_stream(void* stream);

private:
    struct Launch {
        LaunchVariant variant;
        std::uint32_t first_entry;  // into the device tensor table
        std::uint32_t entry_count;
        std::uint64_t block_count;
    };

    // The one place that refuses work which would allocate, copy, wait or be captured by mistake
    // while the optimizer's stream is being captured: InvalidArgument naming `what`, before
    // anything touches the stream, so the caller's capture stays valid.
    void refuse_while_capturing(const char* what);
    // Rebuilds and uploads the tensor and group tables when the optimizer's layout changed
    // since the last upload (and the step state, the first time).
    void update_tables(const StepWork& work);
    void append_launch(const StepWork& work, const LaunchVariant* variant, std::vector<DeviceTensor>& entries,
                       std::vector<Launch>& launches);
    // Runs the gradient pass over `table` (block_count blocks) and downloads its totals.
    GradientStatistics statistics_of(const DeviceTensor* table, std::uint32_t entry_count, std::uint64_t block_count);

    int device_ordinal_;
    cudaStream_t stream_ = nullptr;
    bool tables_uploaded_ = false;
    // The optimizer's layout generation the tables were built from; every launch carries it.
    std::uint64_t tables_generation_ = 0;
    std::uint32_t uploaded_group_count_ = 0;
    std::vector<Launch> step_launches_;
    std::uint32_t step_entry_count_ = 0;  // the step launches' entries: the first ones of the table
    Launch zero_launch_{};  // also the layout of the gradient pass
    DeviceArray<DeviceTensor> tensor_table_;
    DeviceArray<GroupOptions> group_table_;
    DeviceArray<TensorStepPlan> plans_;  // one per tensor table entry, written by each step
    DeviceArray<DeviceStepState> step_state_;  // allocated with the first tables, then kept
    DeviceArray<GradientStatistics> partials_;  // one per block of the gradient pass
    // The counting calls' own partials and sum, so that they never move an array a captured
    // step reads.
    DeviceArray<GradientStatistics> count_partials_;
    DeviceArray<GradientStatistics> gradient_totals_;
    DeviceArray<DeviceTensor> parameter_table_;        // the parameters as a gradient-pass table
};

}  // namespace nab::cuda
