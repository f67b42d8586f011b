#include "cuda/cuda_backend.h"

#include <algorithm>
#include <string>

#include "core/step_coefficients.h"
#include "cuda/cuda_api.h"
#include "cuda/cuda_error.h"
#include "cuda/launch_layout.h"

namespace nab::cuda {

namespace {

// Whether an array of `dtype` starts at a multiple of a vector group (kVectorWidth elements),
// so the kernels may move a group in one access. A null array (absent s_max or master copy) is.
bool vector_aligned(const void* data, nab_dtype dtype) {
    return reinterpret_cast<std::uintptr_t>(data) % (kVectorWidth * dtype_size(dtype)) == 0;
}

LaunchVariant launch_variant_of(const GroupOptions& options) {
    // The launch-fixed switches do not depend on t: plan step 1 and keep those.
    const KernelVariant v = plan_tensor_step(options, 1).variant;
    return {v.l2_gradient, v.square_gradient, v.keeps_max};
}

__global__ void set_learning_rate_kernel(GroupOptions* groups, std::uint32_t group_id, double learning_rate) {
    groups[group_id].learning_rate = learning_rate;
}

__global__ void set_step_options_kernel(DeviceStepState* state, StepOptions options) { state->options = options; }

__global__ void set_step_kernel(std::int64_t* steps, std::uint32_t tensor_id, std::int64_t step) {
    steps[tensor_id] = step;
}

}  // namespace

template <class T>
void DeviceArray<T>::reserve(std::size_t count) {
    if (count <= capacity_) return;
    T* grown = nullptr;
    check_cuda(cudaMalloc(&grown, count * sizeof(T)), "cudaMalloc of an optimizer table");
    reset();
    data_ = grown;
    capacity_ = count;
}

template <class T>
void DeviceArray<T>::reset() noexcept {
    if (data_ != nullptr) cudaFree(data_);
    data_ = nullptr;
    capacity_ = 0;
}

CudaBackend::CudaBackend(int device_ordinal) : device_ordinal_(device_ordinal) {
    int count = 0;
    check_cuda(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
    if (device_ordinal < 0 || device_ordinal >= count) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "config->device_ordinal = " + std::to_string(device_ordinal) +
                                              " is invalid: this machine has " + std::to_string(count) +
                                              " CUDA device(s)");
    }
    use_device(device_ordinal_);
}

CudaBackend::~CudaBackend() {
    // Work still queued may read the tables and state; let it finish before they are freed.
    // Errors are ignored: at process exit the runtime may already be unloading.
    cudaSetDevice(device_ordinal_);
    cudaStreamSynchronize(stream_);
}

float* CudaBackend::allocate_state(std::size_t count) {
    use_device(device_ordinal_);
    float* data = nullptr;
    const cudaError_t allocated = cudaMalloc(&data, count * sizeof(float));
    if (allocated == cudaErrorMemoryAllocation) {
        cudaGetLastError();  // clear the (non-sticky) error
        fail(NAB_STATUS_OUT_OF_MEMORY, "cudaMalloc of " + std::to_string(count * sizeof(float)) +
                                           " bytes of optimizer state on device " + std::to_string(device_ordinal_) +
                                           " failed: out of device memory");
    }
    check_cuda(allocated, "cudaMalloc of optimizer state");
    const cudaError_t zeroed = cudaMemsetAsync(data, 0, count * sizeof(float), stream_);
    if (zeroed != cudaSuccess) {
        cudaFree(data);
        check_cuda(zeroed, "cudaMemsetAsync of new optimizer state");
    }
    return data;
}

void CudaBackend::free_state(float* data) noexcept {
    cudaSetDevice(device_ordinal_);
    cudaFree(data);  // cudaFree waits for the device, so no queued step still reads it
}

void CudaBackend::copy_state_to_host(float* host_destination, const float* state, std::size_t count) {
    use_device(device_ordinal_);
    check_cuda(cudaMemcpyAsync(host_destination, state, count * sizeof(float), cudaMemcpyDeviceToHost, stream_),
               "cudaMemcpyAsync of optimizer state to the host");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after reading optimizer state");
}

void CudaBackend::copy_state_from_host(float* state, const float* host_source, std::size_t count) {
    use_device(device_ordinal_);
    check_cuda(cudaMemcpyAsync(state, host_source, count * sizeof(float), cudaMemcpyHostToDevice, stream_),
               "cudaMemcpyAsync of optimizer state from the host");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after writing optimizer state");
}

void CudaBackend::validate_buffer(const void* data, const char* argument_name) {
    if (data == nullptr) return;
    cudaPointerAttributes attributes{};
    const cudaError_t queried = cudaPointerGetAttributes(&attributes, data);
    if (queried != cudaSuccess) {
        cudaGetLastError();
        fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " is not memory CUDA knows (" +
                                              cudaGetErrorString(queried) + ")");
    }
    const bool device_memory = attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
    if (!device_memory || attributes.device != device_ordinal_) {
        fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) +
                                              " is not device memory of CUDA device " + std::to_string(device_ordinal_) +
                                              " (a CUDA optimizer steps device pointers; see nab_cuda_buffer_allocate)");
    }
}

void CudaBackend::append_launch(const std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups,
                                const LaunchVariant* variant, std::vector<DeviceTensor>& entries,
                                std::vector<Launch>& launches) {
    Launch launch{variant != nullptr ? *variant : LaunchVariant{}, static_cast<std::uint32_t>(entries.size()), 0, 0};
    for (std::uint32_t id = 0; id < tensors.size(); ++id) {
        const TensorRecord& t = tensors[id];
        if (t.gradients == nullptr) continue;
        if (variant != nullptr && !(launch_variant_of(groups[t.group_id]) == *variant)) continue;
        DeviceTensor entry{t.parameters,
                           t.gradients,
                           t.master_parameters.data(),
                           t.first_moment.data(),
                           t.second_moment.data(),
                           variant != nullptr && variant->keeps_max ? t.max_second_moment.data() : nullptr,
                           t.element_count,
                           launch.block_count,
                           id,
                           t.group_id,
                           t.parameter_dtype,
                           t.gradient_dtype,
                           0,
                           0};
        // The step needs every array aligned; the zero and gradient passes only the gradients.
        const bool gradients_aligned = vector_aligned(t.gradients, t.gradient_dtype);
        const bool aligned = variant == nullptr
                                 ? gradients_aligned
                                 : gradients_aligned && vector_aligned(t.parameters, t.parameter_dtype) &&
                                       vector_aligned(entry.master, NAB_DTYPE_FLOAT32) &&
                                       vector_aligned(entry.first_moment, NAB_DTYPE_FLOAT32) &&
                                       vector_aligned(entry.second_moment, NAB_DTYPE_FLOAT32) &&
                                       vector_aligned(entry.max_second_moment, NAB_DTYPE_FLOAT32);
        entry.vectorized = aligned ? 1 : 0;
        entries.push_back(entry);
        launch.block_count += blocks_for(t.element_count);
    }
    launch.entry_count = static_cast<std::uint32_t>(entries.size()) - launch.first_entry;
    if (launch.block_count > 0x7fffffffu) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "one step would need " + std::to_string(launch.block_count) +
                                              " CUDA blocks, more than a grid holds");
    }
    if (launch.entry_count > 0) launches.push_back(launch);
}

void CudaBackend::refuse_while_capturing(const char* message) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    use_device(device_ordinal_);
    check_cuda(cudaStreamIsCapturing(stream_, &capture), "cudaStreamIsCapturing");
    if (capture != cudaStreamCaptureStatusNone) fail(NAB_STATUS_INVALID_ARGUMENT, message);
}

void CudaBackend::update_tables(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups) {
    refuse_while_capturing(
        "the optimizer's tensors, buffers or options changed since its last step; run one step (or "
        "nab_optimizer_synchronize) before capturing a CUDA graph, and change only learning rates and step options "
        "inside it");
    // Step counts: bring the device's into the records before the table is rebuilt.
    refresh_steps(tensors);

    std::vector<DeviceTensor> entries;
    std::vector<Launch> launches;
    std::vector<LaunchVariant> variants;
    for (const TensorRecord& t : tensors) {
        if (t.gradients == nullptr) continue;
        const LaunchVariant v = launch_variant_of(groups[t.group_id]);
        if (std::find(variants.begin(), variants.end(), v) == variants.end()) variants.push_back(v);
    }
    for (const LaunchVariant& v : variants) append_launch(tensors, groups, &v, entries, launches);
    const auto step_entry_count = static_cast<std::uint32_t>(entries.size());
    std::vector<Launch> zero_launches;
    append_launch(tensors, groups, nullptr, entries, zero_launches);

    std::vector<std::int64_t> steps(tensors.size());
    for (std::size_t id = 0; id < tensors.size(); ++id) steps[id] = tensors[id].step;

    use_device(device_ordinal_);
    tensor_table_.reserve(std::max<std::size_t>(entries.size(), 1));
    group_table_.reserve(std::max<std::size_t>(groups.size(), 1));
    step_counts_.reserve(std::max<std::size_t>(steps.size(), 1));
    plans_.reserve(std::max<std::size_t>(entries.size(), 1));
    const std::uint64_t gradient_blocks = zero_launches.empty() ? 0 : zero_launches.front().block_count;
    partials_.reserve(std::max<std::uint64_t>(gradient_blocks, 1));
    if (step_state_.data() == nullptr) {
        // Once: the report (and its running step_calls) must survive later table rebuilds.
        step_state_.reserve(1);
        const DeviceStepState initial{step_options_, StepReport{}};
        check_cuda(cudaMemcpyAsync(step_state_.data(), &initial, sizeof initial, cudaMemcpyHostToDevice, stream_),
                   "upload of the step state");
    }
    // Pageable sources are staged before cudaMemcpyAsync returns, so the vectors may go.
    if (!entries.empty()) {
        check_cuda(cudaMemcpyAsync(tensor_table_.data(), entries.data(), entries.size() * sizeof(DeviceTensor),
                                   cudaMemcpyHostToDevice, stream_),
                   "upload of the tensor table");
    }
    if (!groups.empty()) {
        check_cuda(cudaMemcpyAsync(group_table_.data(), groups.data(), groups.size() * sizeof(GroupOptions),
                                   cudaMemcpyHostToDevice, stream_),
                   "upload of the group table");
    }
    if (!steps.empty()) {
        check_cuda(cudaMemcpyAsync(step_counts_.data(), steps.data(), steps.size() * sizeof(std::int64_t),
                                   cudaMemcpyHostToDevice, stream_),
                   "upload of the step counts");
    }
    step_count_size_ = static_cast<std::uint32_t>(steps.size());
    step_launches_ = std::move(launches);
    step_entry_count_ = step_entry_count;
    zero_launch_ = zero_launches.empty() ? Launch{} : zero_launches.front();
    tables_current_ = true;
}

void CudaBackend::step(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups) {
    if (!tables_current_) update_tables(tensors, groups);
    use_device(device_ordinal_);
    // The gradient pass runs once per step, before the decision that every launch obeys.
    const bool gradient_pass = step_options_.needs_gradient_statistics();
    if (gradient_pass) {
        check_cuda(launch_gradient_statistics(tensor_table_.data() + zero_launch_.first_entry, zero_launch_.entry_count,
                                              zero_launch_.block_count, partials_.data(), stream_),
                   "the fused gradient pass launch");
    }
    check_cuda(launch_plan(tensor_table_.data(), step_entry_count_, group_table_.data(), step_counts_.data(),
                           plans_.data(), gradient_pass ? partials_.data() : nullptr,
                           static_cast<std::uint32_t>(zero_launch_.block_count), step_state_.data(), stream_),
               "the step planning kernel launch");
    for (const Launch& launch : step_launches_) {
        check_cuda(launch_step(launch.variant, tensor_table_.data() + launch.first_entry, launch.entry_count,
                               launch.block_count, plans_.data() + launch.first_entry, step_state_.data(), stream_),
                   "the fused step kernel launch");
    }
}

void CudaBackend::set_step_options(const StepOptions& options) {
    if (step_state_.data() != nullptr) {
        use_device(device_ordinal_);
        set_step_options_kernel<<<1, 1, 0, stream_>>>(step_state_.data(), options);
        check_cuda(cudaGetLastError(), "the step-options update launch");
    }  // otherwise the first table upload carries them
    step_options_ = options;
}

StepReport CudaBackend::last_step_report() {
    refuse_while_capturing(
        "nab_optimizer_get_last_step_report waits for the device and cannot be captured in a CUDA graph; call it "
        "outside the capture");
    if (step_state_.data() == nullptr) return StepReport{};  // no step yet
    DeviceStepState state;
    check_cuda(cudaMemcpyAsync(&state, step_state_.data(), sizeof state, cudaMemcpyDeviceToHost, stream_),
               "download of the step report");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after downloading the step report");
    return state.report;
}

void CudaBackend::initialize_master(float* master, const void* parameters, nab_dtype dtype, std::size_t count) {
    use_device(device_ordinal_);
    check_cuda(launch_widen(master, parameters, dtype, count, stream_), "the master-copy initialisation launch");
}

void CudaBackend::zero_gradients(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups) {
    if (!tables_current_) update_tables(tensors, groups);
    use_device(device_ordinal_);
    check_cuda(launch_zero_gradients(tensor_table_.data() + zero_launch_.first_entry, zero_launch_.entry_count,
                                     zero_launch_.block_count, stream_),
               "the fused zero-gradients kernel launch");
}

std::uint64_t CudaBackend::count_nonfinite_gradients(std::vector<TensorRecord>& tensors,
                                                     const std::vector<GroupOptions>& groups) {
    // The count comes back to the host synchronously, which a stream being captured forbids.
    refuse_while_capturing(
        "nab_optimizer_count_nonfinite_gradients waits for its result and cannot be captured in a CUDA graph; "
        "call it outside the capture");
    if (!tables_current_) update_tables(tensors, groups);
    if (zero_launch_.entry_count == 0) return 0;
    use_device(device_ordinal_);
    gradient_totals_.reserve(1);
    check_cuda(launch_gradient_statistics(tensor_table_.data() + zero_launch_.first_entry, zero_launch_.entry_count,
                                          zero_launch_.block_count, partials_.data(), stream_),
               "the fused gradient pass launch");
    check_cuda(launch_sum_statistics(partials_.data(), static_cast<std::uint32_t>(zero_launch_.block_count),
                                     gradient_totals_.data(), stream_),
               "the gradient totals launch");
    GradientStatistics totals;
    check_cuda(cudaMemcpyAsync(&totals, gradient_totals_.data(), sizeof totals, cudaMemcpyDeviceToHost, stream_),
               "download of the non-finite count");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after counting non-finite gradients");
    return totals.nonfinite_count;
}

void CudaBackend::learning_rate_changed(std::uint32_t group_id, double learning_rate) {
    if (!tables_current_) return;  // the next table upload carries it
    use_device(device_ordinal_);
    set_learning_rate_kernel<<<1, 1, 0, stream_>>>(group_table_.data(), group_id, learning_rate);
    check_cuda(cudaGetLastError(), "the learning-rate update launch");
}

void CudaBackend::refresh_steps(std::vector<TensorRecord>& tensors) {
    if (step_count_size_ == 0) return;
    std::vector<std::int64_t> steps(step_count_size_);
    use_device(device_ordinal_);
    check_cuda(cudaMemcpyAsync(steps.data(), step_counts_.data(), steps.size() * sizeof(std::int64_t),
                               cudaMemcpyDeviceToHost, stream_),
               "download of the step counts");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after downloading step counts");
    for (std::size_t id = 0; id < steps.size(); ++id) tensors[id].step = steps[id];
}

void CudaBackend::step_count_changed(std::uint32_t tensor_id, std::int64_t step) {
    if (tensor_id >= step_count_size_) return;  // not on the device yet: the next upload carries it
    use_device(device_ordinal_);
    set_step_kernel<<<1, 1, 0, stream_>>>(step_counts_.data(), tensor_id, step);
    check_cuda(cudaGetLastError(), "the step-count update launch");
}

void CudaBackend::set_thread_count(int) {
    fail(NAB_STATUS_INVALID_ARGUMENT, "this optimizer runs on CUDA; thread_count applies only to NAB_DEVICE_CPU");
}

void CudaBackend::set_simd_level(nab_simd_level) {
    fail(NAB_STATUS_INVALID_ARGUMENT, "this optimizer runs on CUDA; simd_level applies only to NAB_DEVICE_CPU");
}

void CudaBackend::set_cuda_stream(void* stream) {
    // Work already queued on the old stream must finish before the new stream may reuse the
    // same state and tables.
    use_device(device_ordinal_);
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize of the previous stream");
    stream_ = static_cast<cudaStream_t>(stream);
}

void CudaBackend::synchronize() {
    use_device(device_ordinal_);
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

std::unique_ptr<Backend> create_backend(int device_ordinal) { return std::make_unique<CudaBackend>(device_ordinal); }

}  // namespace nab::cuda
