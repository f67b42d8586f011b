#include "cuda/cuda_backend.h"

#include <algorithm>
#include <string>

#include "core/step_coefficients.h"
#include "cuda/cuda_api.h"
#include "cuda/cuda_error.h"
#include "cuda/launch_layout.h"

namespace nab::cuda {

namespace {

// Whether an array of `type` starts at a multiple of a vector group (kVectorWidth elements),
// so the kernels may move a group in one access. A null array (absent s_max or master copy) is.
bool vector_aligned(const void* data, ElementType type) {
    return reinterpret_cast<std::uintptr_t>(data) % (kVectorWidth * element_size(type)) == 0;
}

LaunchVariant launch_variant_of(const GroupOptions& options, const TensorRecord& tensor) {
    // The launch-fixed switches do not depend on t: plan step 1 and keep those.
    const KernelVariant v = plan_tensor_step(options, 1).variant;
    return {v.l2_gradient, v.square_gradient, v.keeps_max, tensor.state_encoding == StateEncoding::Blockwise8Bit};
}

__global__ void set_learning_rate_kernel(GroupOptions* groups, std::uint32_t group_id, double learning_rate) {
    groups[group_id].learning_rate = learning_rate;
}

__global__ void set_step_options_kernel(DeviceStepState* state, StepOptions options) { state->options = options; }

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
        fail_argument("device_ordinal", "= " + std::to_string(device_ordinal) + " is invalid: this machine has " +
                                            std::to_string(count) + " CUDA device(s)");
    }
    use_device(device_ordinal_);
}

CudaBackend::~CudaBackend() {
    // Work still queued may read the tables and state; let it finish before they are freed.
    // Errors are ignored: at process exit the runtime may already be unloading.
    cudaSetDevice(device_ordinal_);
    cudaStreamSynchronize(stream_);
}

void* CudaBackend::allocate(std::size_t bytes) {
    use_device(device_ordinal_);
    void* data = nullptr;
    const cudaError_t allocated = cudaMalloc(&data, bytes);
    if (allocated == cudaErrorMemoryAllocation) {
        cudaGetLastError();  // clear the (non-sticky) error
        fail(ErrorCode::OutOfMemory, "cudaMalloc of " + std::to_string(bytes) + " bytes of optimizer state on device " +
                                         std::to_string(device_ordinal_) + " failed: out of device memory");
    }
    check_cuda(allocated, "cudaMalloc of optimizer state");
    const cudaError_t zeroed = cudaMemsetAsync(data, 0, bytes, stream_);
    if (zeroed != cudaSuccess) {
        cudaFree(data);
        check_cuda(zeroed, "cudaMemsetAsync of new optimizer state");
    }
    return data;
}

void CudaBackend::release(void* data) noexcept {
    cudaSetDevice(device_ordinal_);
    cudaFree(data);  // cudaFree waits for the device, so no queued step still reads it
}

void CudaBackend::download(void* host_destination, const void* source, std::size_t bytes) {
    use_device(device_ordinal_);
    check_cuda(cudaMemcpyAsync(host_destination, source, bytes, cudaMemcpyDeviceToHost, stream_),
               "cudaMemcpyAsync of optimizer state to the host");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after reading optimizer state");
}

void CudaBackend::upload(void* destination, const void* host_source, std::size_t bytes) {
    use_device(device_ordinal_);
    check_cuda(cudaMemcpyAsync(destination, host_source, bytes, cudaMemcpyHostToDevice, stream_),
               "cudaMemcpyAsync of optimizer state from the host");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after writing optimizer state");
}

void CudaBackend::copy(void* destination, const void* source, std::size_t bytes) {
    use_device(device_ordinal_);
    check_cuda(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDeviceToDevice, stream_),
               "cudaMemcpyAsync of optimizer state within the device");
}

void CudaBackend::check_caller_buffer(const void* data, const char* argument) {
    if (data == nullptr) return;
    cudaPointerAttributes attributes{};
    const cudaError_t queried = cudaPointerGetAttributes(&attributes, data);
    if (queried != cudaSuccess) {
        cudaGetLastError();
        fail_argument(argument, std::string("is not memory CUDA knows (") + cudaGetErrorString(queried) + ")");
    }
    const bool device_memory = attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
    if (!device_memory || attributes.device != device_ordinal_) {
        fail_argument(argument, "is not device memory of CUDA device " + std::to_string(device_ordinal_) +
                                    " (a CUDA optimizer steps device pointers; see nab_cuda_buffer_allocate)");
    }
}

void CudaBackend::append_launch(const StepWork& work, const LaunchVariant* variant, std::vector<DeviceTensor>& entries,
                                std::vector<Launch>& launches) {
    Launch launch{variant != nullptr ? *variant : LaunchVariant{}, static_cast<std::uint32_t>(entries.size()), 0, 0};
    for (std::uint32_t id = 0; id < work.tensors.size(); ++id) {
        const TensorRecord& t = work.tensors[id];
        if (t.gradients == nullptr) continue;
        if (variant != nullptr && !(launch_variant_of(work.groups[t.group_id], t) == *variant)) continue;
        const bool keeps_max = variant != nullptr && variant->keeps_max;
        DeviceTensor entry{t.parameters,
                           t.gradients,
                           t.master_parameters.data(),
                           t.first_moment.values(),
                           t.second_moment.values(),
                           keeps_max ? t.max_second_moment.values() : nullptr,
                           t.first_moment.codes(),
                           t.first_moment.scales(),
                           t.second_moment.codes(),
                           t.second_moment.scales(),
                           keeps_max ? t.max_second_moment.codes() : nullptr,
                           keeps_max ? t.max_second_moment.scales() : nullptr,
                           t.element_count,
                           launch.block_count,
                           id,
                           t.group_id,
                           t.parameter_type,
                           t.gradient_type,
                           0,
                           0};
        // The step needs every array aligned; the zero and gradient passes only the gradients.
        const bool gradients_aligned = vector_aligned(t.gradients, t.gradient_type);
        const bool aligned = variant == nullptr
                                 ? gradients_aligned
                                 : gradients_aligned && vector_aligned(t.parameters, t.parameter_type) &&
                                       vector_aligned(entry.master, ElementType::Float32) &&
                                       vector_aligned(entry.first_moment, ElementType::Float32) &&
                                       vector_aligned(entry.second_moment, ElementType::Float32) &&
                                       vector_aligned(entry.max_second_moment, ElementType::Float32);
        entry.vectorized = aligned ? 1 : 0;
        entries.push_back(entry);
        launch.block_count += blocks_for(t.element_count);
    }
    launch.entry_count = static_cast<std::uint32_t>(entries.size()) - launch.first_entry;
    if (launch.block_count > 0x7fffffffu) {
        fail(ErrorCode::InvalidArgument,
             "one step would need " + std::to_string(launch.block_count) + " CUDA blocks, more than a grid holds");
    }
    if (launch.entry_count > 0) launches.push_back(launch);
}

void CudaBackend::refuse_while_capturing(const char* message) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    use_device(device_ordinal_);
    check_cuda(cudaStreamIsCapturing(stream_, &capture), "cudaStreamIsCapturing");
    if (capture != cudaStreamCaptureStatusNone) fail(ErrorCode::InvalidArgument, message);
}

void CudaBackend::update_tables(const StepWork& work) {
    if (tables_uploaded_ && tables_generation_ == work.layout_generation) return;
    refuse_while_capturing(
        "the optimizer's tensors, buffers or options changed since its last step; run one step (or "
        "nab_optimizer_synchronize) before capturing a CUDA graph, and change only learning rates and step options "
        "inside it");

    std::vector<DeviceTensor> entries;
    std::vector<Launch> launches;
    std::vector<LaunchVariant> variants;
    for (const TensorRecord& t : work.tensors) {
        if (t.gradients == nullptr) continue;
        const LaunchVariant v = launch_variant_of(work.groups[t.group_id], t);
        if (std::find(variants.begin(), variants.end(), v) == variants.end()) variants.push_back(v);
    }
    for (const LaunchVariant& v : variants) append_launch(work, &v, entries, launches);
    const auto step_entry_count = static_cast<std::uint32_t>(entries.size());
    std::vector<Launch> zero_launches;
    append_launch(work, nullptr, entries, zero_launches);

    use_device(device_ordinal_);
    tensor_table_.reserve(std::max<std::size_t>(entries.size(), 1));
    group_table_.reserve(std::max<std::size_t>(work.groups.size(), 1));
    plans_.reserve(std::max<std::size_t>(entries.size(), 1));
    const std::uint64_t gradient_blocks = zero_launches.empty() ? 0 : zero_launches.front().block_count;
    partials_.reserve(std::max<std::uint64_t>(gradient_blocks, 1));
    if (step_state_.data() == nullptr) {
        // Once: the report (and its running step_calls) must survive later table rebuilds.
        step_state_.reserve(1);
        const DeviceStepState initial{work.step_options, StepReport{}, 0};
        check_cuda(cudaMemcpyAsync(step_state_.data(), &initial, sizeof initial, cudaMemcpyHostToDevice, stream_),
                   "upload of the step state");
    }
    // Pageable sources are staged before cudaMemcpyAsync returns, so the vectors may go.
    if (!entries.empty()) {
        check_cuda(cudaMemcpyAsync(tensor_table_.data(), entries.data(), entries.size() * sizeof(DeviceTensor),
                                   cudaMemcpyHostToDevice, stream_),
                   "upload of the tensor table");
    }
    if (!work.groups.empty()) {
        check_cuda(cudaMemcpyAsync(group_table_.data(), work.groups.data(), work.groups.size() * sizeof(GroupOptions),
                                   cudaMemcpyHostToDevice, stream_),
                   "upload of the group table");
    }
    uploaded_group_count_ = static_cast<std::uint32_t>(work.groups.size());
    step_launches_ = std::move(launches);
    step_entry_count_ = step_entry_count;
    zero_launch_ = zero_launches.empty() ? Launch{} : zero_launches.front();
    tables_uploaded_ = true;
    tables_generation_ = work.layout_generation;
}

void CudaBackend::step(const StepWork& work) {
    update_tables(work);
    use_device(device_ordinal_);
    // The gradient pass runs once per step, before the decision that every launch obeys.
    const bool gradient_pass = work.step_options.needs_gradient_statistics();
    if (gradient_pass) {
        check_cuda(launch_gradient_statistics(tensor_table_.data() + zero_launch_.first_entry, zero_launch_.entry_count,
                                              zero_launch_.block_count, partials_.data(), stream_),
                   "the fused gradient pass launch");
    }
    if (work.guard_step_counts) {
        check_cuda(launch_step_count_guard(tensor_table_.data(), step_entry_count_, work.step_counts, step_state_.data(),
                                           stream_),
                   "the step-count guard launch");
    }
    check_cuda(launch_plan(tensor_table_.data(), step_entry_count_, group_table_.data(), work.step_counts,
                           plans_.data(), gradient_pass ? partials_.data() : nullptr,
                           static_cast<std::uint32_t>(zero_launch_.block_count), step_state_.data(), stream_),
               "the step planning kernel launch");
    for (const Launch& launch : step_launches_) {
        check_cuda(launch_step(launch.variant, tensor_table_.data() + launch.first_entry, launch.entry_count,
                               launch.block_count, plans_.data() + launch.first_entry, step_state_.data(), stream_),
                   "the fused step kernel launch");
    }
}

void CudaBackend::step_options_changed(const StepOptions& options) {
    if (step_state_.data() == nullptr) return;  // the first table upload carries them
    use_device(device_ordinal_);
    set_step_options_kernel<<<1, 1, 0, stream_>>>(step_state_.data(), options);
    check_cuda(cudaGetLastError(), "the step-options update launch");
}

void CudaBackend::learning_rate_changed(std::uint32_t group_id, double learning_rate) {
    if (group_id >= uploaded_group_count_) return;  // the next table upload carries it
    use_device(device_ordinal_);
    set_learning_rate_kernel<<<1, 1, 0, stream_>>>(group_table_.data(), group_id, learning_rate);
    check_cuda(cudaGetLastError(), "the learning-rate update launch");
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

void CudaBackend::initialize_master(float* master, const void* parameters, ElementType type, std::size_t count) {
    use_device(device_ordinal_);
    check_cuda(launch_widen(master, parameters, type, count, stream_), "the master-copy initialisation launch");
}

void CudaBackend::zero_gradients(const StepWork& work) {
    update_tables(work);
    use_device(device_ordinal_);
    check_cuda(launch_zero_gradients(tensor_table_.data() + zero_launch_.first_entry, zero_launch_.entry_count,
                                     zero_launch_.block_count, stream_),
               "the fused zero-gradients kernel launch");
}

std::uint64_t CudaBackend::count_nonfinite_gradients(const StepWork& work) {
    // The count comes back to the host synchronously, which a stream being captured forbids.
    refuse_while_capturing(
        "nab_optimizer_count_nonfinite_gradients waits for its result and cannot be captured in a CUDA graph; "
        "call it outside the capture");
    update_tables(work);
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

void CudaBackend::set_stream(void* stream) {
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

void set_stream(Backend& backend, void* stream) { static_cast<CudaBackend&>(backend).set_stream(stream); }

}  // namespace nab::cuda
