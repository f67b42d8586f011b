// The CUDA backend: state in device memory, one fused launch per step (per distinct launch
// variant among the groups, usually one), on the caller's stream, without host
// synchronisation, and safe to capture in a CUDA graph: step counts and the groups' options
// (learning rate included) live on the device and are read there by every launch.
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
    void zero_gradients(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups) override;
    // One reduction launch over the zero-gradients table, then a synchronous copy of the count.
    std::uint64_t count_nonfinite_gradients(std::vector<TensorRecord>& tensors,
                                            const std::vector<GroupOptions>& groups) override;

    void validate_buffer(const float* data, const char* argument_name) override;
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

    // Rebuilds and uploads the tensor tables, groups and step counts after a layout change.
    void update_tables(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups);
    void append_launch(const std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups,
                       const LaunchVariant* variant, std::vector<DeviceTensor>& entries, std::vector<Launch>& launches);

    int device_ordinal_;
    cudaStream_t stream_ = nullptr;
    bool tables_current_ = false;
    std::vector<Launch> step_launches_;
    Launch zero_launch_{};
    DeviceArray<DeviceTensor> tensor_table_;
    DeviceArray<GroupOptions> group_table_;
    DeviceArray<std::int64_t> step_counts_;
    DeviceArray<TensorStepPlan> plans_;  // one per tensor table entry, written by each step
    DeviceArray<unsigned long long> nonfinite_count_;  // the counter of count_nonfinite_gradients
    std::uint32_t step_count_size_ = 0;  // tensors whose counts live in step_counts_
};

}  // namespace nab::cuda
