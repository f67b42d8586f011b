#include "cuda/cuda_backend.h"

#include <algorithm>
#include <string>
#include <utility>

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

__global__ void set_layout_generation_kernel(DeviceStepState* state, std::uint64_t generation) {
    state->layout_generation = generation;
}

// Makes room for `count` elements in `replacement` when `current` has less: the growth of one
// table, allocated before any table is replaced.
template <class T>
void prepare_growth(const DeviceArray<T>& current, std::size_t count, DeviceArray<T>& replacement) {
    if (count > current.capacity()) replacement = DeviceArray<T>(count);
}

template <class T>
void commit_growth(DeviceArray<T>& current, DeviceArray<T>& replacement) noexcept {
    if (replacement.data() != nullptr) current = std::move(replacement);
}

}  // namespace

template <class T>
DeviceArray<T>::DeviceArray(std::size_t count)
    : data_(static_cast<T*>(device_malloc(count * sizeof(T), "an optimizer table"))), capacity_(count) {}

template <class T>
DeviceArray<T>::DeviceArray(DeviceArray&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), capacity_(std::exchange(other.capacity_, 0)) {}

template <class T>
DeviceArray<T>& DeviceArray<T>::operator=(DeviceArray&& other) noexcept {
    if (this != &other) {
        reset();
        data_ = std::exchange(other.data_, nullptr);
        capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
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
    refuse_while_capturing("allocating optimizer state");
    use_device(device_ordinal_);
    void* data = device_malloc(bytes, "optimizer state");
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
    refuse_while_capturing("reading optimizer state");
    use_device(device_ordinal_);
    check_cuda(cudaMemcpyAsync(host_destination, source, bytes, cudaMemcpyDeviceToHost, stream_),
               "cudaMemcpyAsync of optimizer state to the host");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after reading optimizer state");
}

void CudaBackend::upload(void* destination, const void* host_source, std::size_t bytes) {
    refuse_while_capturing("writing optimizer state");
    use_device(device_ordinal_);
    check_cuda(cudaMemcpyAsync(destination, host_source, bytes, cudaMemcpyHostToDevice, stream_),
               "cudaMemcpyAsync of optimizer state from the host");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after writing optimizer state");
}

void CudaBackend::copy(void* destination, const void* source, std::size_t bytes) {
    refuse_while_capturing("copying optimizer state");
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

void CudaBackend::refuse_while_capturing(const char* what) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    use_device(device_ordinal_);
    const cudaError_t queried = cudaStreamIsCapturing(stream_, &capture);
    // The legacy stream, asked while another stream captures in global mode, answers with this
    // error: it is a capture in progress too (and the error must not stay behind).
    const bool implicit = queried == cudaErrorStreamCaptureImplicit;
    if (implicit) cudaGetLastError();
    if (!implicit) check_cuda(queried, "cudaStreamIsCapturing");
    if (implicit || capture != cudaStreamCaptureStatusNone) {
        fail(ErrorCode::InvalidArgument,
             std::string(what) + " cannot run while the optimizer's CUDA stream is being captured (a capture is in "
                                 "progress): a graph may hold only steps, zeroing, and learning rates and step options set "
                                 "between replays; do this before the capture or after it");
    }
}

void CudaBackend::update_tables(const StepWork& work) {
    if (tables_uploaded_ && tables_generation_ == work.layout_generation) return;
    refuse_while_capturing(
        "building the optimizer's tables (its tensors, buffers or options changed since its last step: run one step "
        "before capturing a CUDA graph)");

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
    // Every table that must grow is allocated before any is replaced: running out of device
    // memory leaves every table (and so the optimizer) as it was.
    const std::uint64_t gradient_blocks = zero_launches.empty() ? 0 : zero_launches.front().block_count;
    DeviceArray<DeviceTensor> tensor_table;
    DeviceArray<GroupOptions> group_table;
    DeviceArray<TensorStepPlan> plans;
    DeviceArray<GradientStatistics> partials;
    DeviceArray<DeviceStepState> step_state;
    prepare_growth(tensor_table_, std::max<std::size_t>(entries.size(), 1), tensor_table);
    prepare_growth(group_table_, std::max<std::size_t>(work.groups.size(), 1), group_table);
    prepare_growth(plans_, std::max<std::size_t>(entries.size(), 1), plans);
    prepare_growth(partials_, static_cast<std::size_t>(std::max<std::uint64_t>(gradient_blocks, 1)), partials);
    prepare_growth(step_state_, 1, step_state);  // once: the report's running step_calls outlives rebuilds
    if (step_state.data() != nullptr) {
        const DeviceStepState initial{work.step_options, StepReport{}, work.layout_generation, 0};
        check_cuda(cudaMemcpyAsync(step_state.data(), &initial, sizeof initial, cudaMemcpyHostToDevice, stream_),
                   "upload of the step state");
    }
    commit_growth(tensor_table_, tensor_table);
    commit_growth(group_table_, group_table);
    commit_growth(plans_, plans);
    commit_growth(partials_, partials);
    commit_growth(step_state_, step_state);
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
    // Work built for older tables finds this generation and does nothing (a stale CUDA graph).
    check_cuda(cudaMemcpyAsync(&step_state_.data()->layout_generation, &work.layout_generation,
                               sizeof work.layout_generation, cudaMemcpyHostToDevice, stream_),
               "upload of the layout generation");
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
    const std::uint64_t generation = tables_generation_;
    if (gradient_pass) {
        check_cuda(launch_gradient_statistics(tensor_table_.data() + zero_launch_.first_entry, zero_launch_.entry_count,
                                              zero_launch_.block_count, partials_.data(), step_state_.data(), generation,
                                              stream_),
                   "the fused gradient pass launch");
    }
    if (work.guard_step_counts) {
        check_cuda(launch_step_count_guard(tensor_table_.data(), step_entry_count_, work.step_counts, step_state_.data(),
                                           generation, stream_),
                   "the step-count guard launch");
    }
    check_cuda(launch_plan(tensor_table_.data(), step_entry_count_, group_table_.data(), work.step_counts,
                           plans_.data(), gradient_pass ? partials_.data() : nullptr,
                           static_cast<std::uint32_t>(zero_launch_.block_count), step_state_.data(), generation, stream_),
               "the step planning kernel launch");
    for (const Launch& launch : step_launches_) {
        check_cuda(launch_step(launch.variant, tensor_table_.data() + launch.first_entry, launch.entry_count,
                               launch.block_count, plans_.data() + launch.first_entry, step_state_.data(), generation,
                               stream_),
                   "the fused step kernel launch");
    }
}

void CudaBackend::step_options_changed(const StepOptions& options) {
    refuse_while_capturing("setting step options");
    if (step_state_.data() == nullptr) return;  // the first table upload carries them
    use_device(device_ordinal_);
    set_step_options_kernel<<<1, 1, 0, stream_>>>(step_state_.data(), options);
    check_cuda(cudaGetLastError(), "the step-options update launch");
}

void CudaBackend::learning_rate_changed(std::uint32_t group_id, double learning_rate) {
    refuse_while_capturing("setting a learning rate");
    if (group_id >= uploaded_group_count_) return;  // the next table upload carries it
    use_device(device_ordinal_);
    set_learning_rate_kernel<<<1, 1, 0, stream_>>>(group_table_.data(), group_id, learning_rate);
    check_cuda(cudaGetLastError(), "the learning-rate update launch");
}

void CudaBackend::before_layout_change() { refuse_while_capturing("changing the optimizer's tensors, buffers or options"); }

void CudaBackend::layout_changed(std::uint64_t layout_generation) {
    if (step_state_.data() == nullptr) return;  // no tables yet, so no work built for them
    use_device(device_ordinal_);
    set_layout_generation_kernel<<<1, 1, 0, stream_>>>(step_state_.data(), layout_generation);
    check_cuda(cudaGetLastError(), "the layout-generation update launch");
}

StepReport CudaBackend::last_step_report() {
    refuse_while_capturing("reading the step report (it waits for the device)");
    if (step_state_.data() == nullptr) return StepReport{};  // no step yet
    DeviceStepState state;
    check_cuda(cudaMemcpyAsync(&state, step_state_.data(), sizeof state, cudaMemcpyDeviceToHost, stream_),
               "download of the step report");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after downloading the step report");
    return state.report;
}

void CudaBackend::initialize_master(float* master, const void* parameters, ElementType type, std::size_t count) {
    refuse_while_capturing("initialising a master copy");
    use_device(device_ordinal_);
    check_cuda(launch_widen(master, parameters, type, count, stream_), "the master-copy initialisation launch");
}

void CudaBackend::zero_gradients(const StepWork& work) {
    update_tables(work);
    use_device(device_ordinal_);
    check_cuda(launch_zero_gradients(tensor_table_.data() + zero_launch_.first_entry, zero_launch_.entry_count,
                                     zero_launch_.block_count, step_state_.data(), tables_generation_, stream_),
               "the fused zero-gradients kernel launch");
}

GradientStatistics CudaBackend::statistics_of(const DeviceTensor* table, std::uint32_t entry_count,
                                              std::uint64_t block_count) {
    if (entry_count == 0) return GradientStatistics{};
    use_device(device_ordinal_);
    if (gradient_totals_.data() == nullptr) gradient_totals_ = DeviceArray<GradientStatistics>(1);
    if (block_count > count_partials_.capacity()) count_partials_ = DeviceArray<GradientStatistics>(block_count);
    check_cuda(launch_gradient_statistics(table, entry_count, block_count, count_partials_.data(), nullptr, 0, stream_),
               "the fused gradient pass launch");
    check_cuda(launch_sum_statistics(count_partials_.data(), static_cast<std::uint32_t>(block_count), gradient_totals_.data(),
                                     stream_),
               "the totals launch");
    GradientStatistics totals;
    check_cuda(cudaMemcpyAsync(&totals, gradient_totals_.data(), sizeof totals, cudaMemcpyDeviceToHost, stream_),
               "download of the non-finite count");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after counting non-finite values");
    return totals;
}

std::uint64_t CudaBackend::count_nonfinite_gradients(const StepWork& work) {
    // The count comes back to the host synchronously, which a stream being captured forbids.
    refuse_while_capturing("counting non-finite gradients (it waits for its result)");
    update_tables(work);
    return statistics_of(tensor_table_.data() + zero_launch_.first_entry, zero_launch_.entry_count,
                         zero_launch_.block_count)
        .nonfinite_count;
}

std::uint64_t CudaBackend::count_nonfinite_parameters(const StepWork& work) {
    refuse_while_capturing("counting non-finite parameters (it waits for its result)");
    // The gradient pass reads an entry's `gradients` in `gradient_type`: point them at the values
    // to count. Built per call: the check is rare, and the step's tables stay as they are.
    std::vector<DeviceTensor> entries;
    std::uint64_t blocks = 0;
    for (std::uint32_t id = 0; id < work.tensors.size(); ++id) {
        const TensorRecord& t = work.tensors[id];
        const bool master = !t.master_parameters.empty();
        DeviceTensor entry{};
        entry.gradients = master ? static_cast<const void*>(t.master_parameters.data()) : t.parameters;
        entry.gradient_type = master ? ElementType::Float32 : t.parameter_type;
        entry.parameter_type = entry.gradient_type;
        entry.element_count = t.element_count;
        entry.first_block = blocks;
        entry.tensor_id = id;
        entry.group_id = t.group_id;
        entry.vectorized = vector_aligned(entry.gradients, entry.gradient_type) ? 1 : 0;
        entries.push_back(entry);
        blocks += blocks_for(t.element_count);
    }
    if (entries.empty()) return 0;
    use_device(device_ordinal_);
    if (entries.size() > parameter_table_.capacity()) parameter_table_ = DeviceArray<DeviceTensor>(entries.size());
    check_cuda(cudaMemcpyAsync(parameter_table_.data(), entries.data(), entries.size() * sizeof(DeviceTensor),
                               cudaMemcpyHostToDevice, stream_),
               "upload of the parameter table");
    return statistics_of(parameter_table_.data(), static_cast<std::uint32_t>(entries.size()), blocks).nonfinite_count;
}

void CudaBackend::set_stream(void* stream) {
    refuse_while_capturing("changing the stream");
    // Work already queued on the old stream must finish before the new stream may reuse the
    // same state and tables.
    use_device(device_ordinal_);
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize of the previous stream");
    stream_ = static_cast<cudaStream_t>(stream);
}

void CudaBackend::synchronize() {
    refuse_while_capturing("waiting for the stream");
    use_device(device_ordinal_);
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

std::unique_ptr<Backend> create_backend(int device_ordinal) { return std::make_unique<CudaBackend>(device_ordinal); }

void set_stream(Backend& backend, void* stream) { static_cast<CudaBackend&>(backend).set_stream(stream); }

}  // namespace nab::cuda
