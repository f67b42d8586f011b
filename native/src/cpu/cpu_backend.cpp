#include "cpu/cpu_backend.h"

#include <cmath>
#include <cstring>

#include "core/aligned_memory.h"
#include "core/errors.h"
#include "core/step_coefficients.h"
#include "core/step_counts.h"
#include "cpu/cpu_features.h"
#include "cpu/prefetch_policy.h"

namespace nab::cpu {

namespace {

int resolve_thread_count(int thread_count) { return thread_count == 0 ? hardware_thread_count() : thread_count; }

nab_simd_level resolve_simd_level(nab_simd_level level) {
    return level == NAB_SIMD_AUTO ? best_simd_level() : level;
}

ConversionKernels conversions_for(nab_simd_level level) {
    switch (level) {
        case NAB_SIMD_AVX512: return avx512_conversions();
        case NAB_SIMD_AVX512_BF16: return avx512_bf16_conversions();
        case NAB_SIMD_AVX2: return avx2_conversions();
        case NAB_SIMD_NEON: return neon_conversions();
        default: return scalar_conversions();
    }
}

void widen(const ConversionKernels& conversions, const void* source, ElementType type, float* destination,
           std::size_t count) {
    const auto* bits = static_cast<const std::uint16_t*>(source);
    if (type == ElementType::Float16) {
        conversions.widen_half(bits, destination, count);
    } else {
        conversions.widen_bfloat16(bits, destination, count);
    }
}

void narrow(const ConversionKernels& conversions, const float* source, void* destination, ElementType type,
            std::size_t count) {
    auto* bits = static_cast<std::uint16_t*>(destination);
    if (type == ElementType::Float16) {
        conversions.narrow_half(source, bits, count);
    } else {
        conversions.narrow_bfloat16(source, bits, count);
    }
}

// The storage whose kernel steps a float32-state tensor in its registers: 16-bit parameters
// and gradients of one format, with or without a master copy, under a rule the 16-bit kernels
// are compiled for; Float32 for all-float32 tensors and for everything else, whose 16-bit data
// go through float32 blocks (see run_step_range).
KernelStorage kernel_storage(const TensorRecord& t, UpdateRule rule) {
    if (t.parameter_type == ElementType::Float32 || t.gradient_type != t.parameter_type || !has_narrow_kernels(rule)) {
        return KernelStorage::Float32;
    }
    const bool master = !t.master_parameters.empty();
    if (t.parameter_type == ElementType::BFloat16) {
        return master ? KernelStorage::Bfloat16Master : KernelStorage::Bfloat16;
    }
    return master ? KernelStorage::HalfMaster : KernelStorage::Half;
}

// The bytes a step moves for one stepped tensor (at least: s_max left out), which decide whether
// the kernels prefetch (cpu/prefetch_policy.h).
std::size_t step_bytes(const TensorRecord& t) {
    const std::size_t moment_bytes = t.state_encoding == StateEncoding::Blockwise8Bit ? 1 : 4;
    const std::size_t master_bytes = t.master_parameters.empty() ? 0 : 4;
    return prefetch_footprint(t.element_count, element_size(t.parameter_type), element_size(t.gradient_type),
                              master_bytes, moment_bytes);
}

}  // namespace

CpuBackend::CpuBackend(int thread_count, nab_simd_level simd_level)
    : pool_(std::make_unique<ThreadPool>(resolve_thread_count(thread_count))),
      simd_level_(resolve_simd_level(simd_level)),
      conversions_(conversions_for(simd_level_)) {}

void CpuBackend::set_thread_count(int thread_count) {
    const int resolved = resolve_thread_count(thread_count);
    if (resolved == pool_->thread_count()) return;
    pool_ = std::make_unique<ThreadPool>(resolved);
}

void CpuBackend::set_simd_level(nab_simd_level simd_level) {
    simd_level_ = resolve_simd_level(simd_level);
    conversions_ = conversions_for(simd_level_);
}

void* CpuBackend::allocate(std::size_t bytes) { return aligned_allocate(bytes); }

void CpuBackend::release(void* data) noexcept { aligned_free(data); }

void CpuBackend::download(void* host_destination, const void* source, std::size_t bytes) {
    std::memcpy(host_destination, source, bytes);
}

void CpuBackend::upload(void* destination, const void* host_source, std::size_t bytes) {
    std::memcpy(destination, host_source, bytes);
}

void CpuBackend::copy(void* destination, const void* source, std::size_t bytes) { std::memcpy(destination, source, bytes); }

void CpuBackend::initialize_master(float* master, const void* parameters, ElementType type, std::size_t count) {
    widen(conversions_, parameters, type, master, count);
}

RangeKernel CpuBackend::kernel_for(const KernelVariant& variant, KernelStorage storage) const {
    switch (simd_level_) {
        case NAB_SIMD_AVX512: return select_avx512_kernel(variant, storage);
        case NAB_SIMD_AVX512_BF16: return select_avx512_bf16_kernel(variant, storage);
        case NAB_SIMD_AVX2: return select_avx2_kernel(variant, storage);
        case NAB_SIMD_NEON: return select_neon_kernel(variant, storage);
        default: return select_scalar_kernel(variant, storage);
    }
}

QuantizedRangeKernel CpuBackend::quantized_kernel_for(const KernelVariant& variant) const {
    switch (simd_level_) {
        case NAB_SIMD_AVX512:
        case NAB_SIMD_AVX512_BF16: return select_avx512_quantized_kernel(variant);  // no 16-bit data
        case NAB_SIMD_AVX2: return select_avx2_quantized_kernel(variant);
        case NAB_SIMD_NEON: return select_neon_quantized_kernel(variant);
        default: return select_scalar_quantized_kernel(variant);
    }
}

template <class Sizes, class Work>
void CpuBackend::run_chunked(std::size_t item_count, Sizes size_of, Work work) {
    chunks_.clear();
    std::size_t total = 0;
    for (std::size_t item = 0; item < item_count; ++item) {
        const std::size_t count = size_of(item);
        total += count;
        for (std::size_t begin = 0; begin < count; begin += kChunkElements) {
            const std::size_t end = count - begin > kChunkElements ? begin + kChunkElements : count;
            chunks_.push_back({item, begin, end});
        }
    }
    if (total < kParallelThreshold || pool_->thread_count() == 1 || chunks_.size() == 1) {
        for (std::size_t index = 0; index < chunks_.size(); ++index) work(index, chunks_[index]);
        return;
    }
    auto run_chunk = [&](std::size_t index) { work(index, chunks_[index]); };
    pool_->for_each_index(chunks_.size(), run_chunk);
}

void CpuBackend::run_kernel(const StepTensor& tensor, float* parameters, const float* gradients, std::size_t begin,
                            std::size_t count, bool prefetch) const {
    if (tensor.kernel != nullptr) {
        const TensorArrays& a = tensor.arrays;
        const TensorArrays view{parameters, gradients, a.first_moment + begin, a.second_moment + begin,
                                a.max_second_moment != nullptr ? a.max_second_moment + begin : nullptr};
        tensor.kernel(view, 0, count, tensor.coefficients, prefetch);
        return;
    }
    // begin is a multiple of the quantization block (chunks and conversion blocks are).
    const QuantizedTensorArrays& q = tensor.quantized_arrays;
    const std::size_t block = begin / kQuantizationBlockSize;
    const bool keeps_max = q.max_second_moment_codes != nullptr;
    const QuantizedTensorArrays view{parameters,
                                     gradients,
                                     q.first_moment_codes + begin,
                                     q.first_moment_scales + block,
                                     q.second_moment_codes + begin,
                                     q.second_moment_scales + block,
                                     keeps_max ? q.max_second_moment_codes + begin : nullptr,
                                     keeps_max ? q.max_second_moment_scales + block : nullptr};
    tensor.quantized_kernel(view, 0, count, tensor.coefficients, prefetch);
}

void CpuBackend::run_step_range(const StepTensor& tensor, std::size_t begin, std::size_t end, bool prefetch) const {
    // float32 state: the kernel widens and narrows 16-bit parameters and gradients stored as it
    // expects in its registers, in its one pass over the chunk.
    const QuantizedTensorArrays& q = tensor.quantized_arrays;
    if (!tensor.converts_by_block) {
        if (tensor.kernel != nullptr) {
            tensor.kernel(tensor.arrays, begin, end, tensor.coefficients, prefetch);
        } else {
            run_kernel(tensor, q.parameters + begin, q.gradients + begin, begin, end - begin, prefetch);
        }
        return;
    }
    // 8-bit state with 16-bit data, or float32 state with 16-bit data stored as no kernel
    // expects (two formats, or float32 beside 16-bit; rare) or in a step whose rule no 16-bit
    // kernel has (the first steps of a rectified run): widen a block into float32 scratch,
    // run the kernel on it, narrow the parameters back. The master copy (when there is one) is
    // the kernel's parameter array, and the 16-bit parameters are only written, never read.
    alignas(64) float gradient_block[kConversionBlock];
    alignas(64) float parameter_block[kConversionBlock];
    for (std::size_t block = begin; block < end; block += kConversionBlock) {
        const std::size_t count = end - block < kConversionBlock ? end - block : kConversionBlock;
        const std::size_t gradient_offset = block * element_size(tensor.gradient_type);
        const std::size_t parameter_offset = block * element_size(tensor.parameter_type);
        const void* gradients = static_cast<const char*>(tensor.gradients) + gradient_offset;
        void* parameters = static_cast<char*>(tensor.parameters) + parameter_offset;
        float* float_parameters = q.parameters != nullptr ? q.parameters + block : parameter_block;
        const float* float_gradients = q.gradients != nullptr ? q.gradients + block : gradient_block;
        if (q.gradients == nullptr) widen(conversions_, gradients, tensor.gradient_type, gradient_block, count);
        if (q.parameters == nullptr) widen(conversions_, parameters, tensor.parameter_type, parameter_block, count);
        // L1 blocks: their own lines are in the cache; not measured asking for the tensor's ahead.
        run_kernel(tensor, float_parameters, float_gradients, block, count, false);
        if (tensor.parameter_type != ElementType::Float32) {
            narrow(conversions_, float_parameters, parameters, tensor.parameter_type, count);
        }
    }
}

GradientStatistics CpuBackend::chunk_statistics(const void* gradients, ElementType type, std::size_t begin,
                                                std::size_t end) const {
    // One run of lanes over the chunk whatever the element type (gradient_statistics.h), so the
    // totals do not depend on it: float32 read directly, 16-bit gradients by the SIMD level's
    // loops, which sum what their float32 widening would.
    const std::size_t count = end - begin;
    const void* data = static_cast<const char*>(gradients) + begin * element_size(type);
    SquareLanes lanes;
    switch (type) {
        case ElementType::Float32: add_float_squares(lanes, static_cast<const float*>(data), count); break;
        case ElementType::BFloat16:
            conversions_.add_bfloat16_squares(lanes, static_cast<const std::uint16_t*>(data), count);
            break;
        case ElementType::Float16:
            conversions_.add_half_squares(lanes, static_cast<const std::uint16_t*>(data), count);
            break;
    }
    GradientStatistics total;
    total.sum_of_squares = lanes.total();
    // Finite float32 squares cannot overflow a double sum, so the sum is finite exactly when
    // every value is: only then (rarely) is it worth counting the NaN and Inf elements.
    if (!std::isfinite(total.sum_of_squares)) total.nonfinite_count = nonfinite_count(data, type, count);
    return total;
}

namespace {

// What a pass reads: the gradients, or with `parameters` the parameters (the master copy where a
// tensor has one).
const void* pass_data(const TensorRecord& t, bool parameters) {
    if (!parameters) return t.gradients;
    return t.master_parameters.empty() ? t.parameters : t.master_parameters.data();
}

ElementType pass_type(const TensorRecord& t, bool parameters) {
    if (!parameters) return t.gradient_type;
    return t.master_parameters.empty() ? t.parameter_type : ElementType::Float32;
}

std::size_t pass_elements(const TensorRecord& t, bool parameters) {
    return pass_data(t, parameters) == nullptr ? 0 : t.element_count;
}

// The number of chunks run_chunked cuts the tensors' data into.
std::size_t pass_chunks(const std::vector<TensorRecord>& tensors, bool parameters) {
    std::size_t chunk_count = 0;
    for (const TensorRecord& t : tensors) {
        chunk_count += (pass_elements(t, parameters) + kChunkElements - 1) / kChunkElements;
    }
    return chunk_count;
}

}  // namespace

std::size_t CpuBackend::gradient_chunk_count(const StepWork& work) { return pass_chunks(work.tensors, false); }

void CpuBackend::chunk_passes(const std::vector<TensorRecord>& tensors, bool parameters) {
    // Sized before the pass: the chunk table is rebuilt by run_chunked from the same sizes.
    chunk_totals_.assign(pass_chunks(tensors, parameters), GradientStatistics{});
    run_chunked(
        tensors.size(), [&](std::size_t item) { return pass_elements(tensors[item], parameters); },
        [&](std::size_t index, const Chunk& chunk) {
            const TensorRecord& t = tensors[chunk.item];
            chunk_totals_[index] =
                chunk_statistics(pass_data(t, parameters), pass_type(t, parameters), chunk.begin, chunk.end);
        });
}

GradientStatistics CpuBackend::gradient_statistics(const std::vector<TensorRecord>& tensors, bool parameters) {
    chunk_passes(tensors, parameters);
    GradientStatistics total;
    for (const GradientStatistics& chunk : chunk_totals_) accumulate(total, chunk);
    return total;
}

void CpuBackend::gradient_chunk_statistics(const StepWork& work, double* sums, std::uint64_t* counts) {
    chunk_passes(work.tensors);
    for (std::size_t index = 0; index < chunk_totals_.size(); ++index) {
        sums[index] = chunk_totals_[index].sum_of_squares;
        counts[index] = chunk_totals_[index].nonfinite_count;
    }
}

void CpuBackend::step(const StepWork& work) { step_deciding(work, nullptr); }

void CpuBackend::step_with_statistics(const StepWork& work, const GradientStatistics& totals) {
    step_deciding(work, &totals);
}

void CpuBackend::step_deciding(const StepWork& work, const GradientStatistics* given) {
    const std::vector<TensorRecord>& tensors = work.tensors;
    // t + 1 must exist: refused before anything runs, so nothing changes.
    for (std::size_t id = 0; id < tensors.size(); ++id) {
        if (tensors[id].gradients != nullptr && !can_take_step(work.step_counts[id])) {
            fail(ErrorCode::InvalidArgument, "tensor " + std::to_string(id) + " has step count " +
                                                 std::to_string(work.step_counts[id]) +
                                                 ", the largest there is, and cannot take another step (set a "
                                                 "smaller count first)");
        }
    }
    ++step_calls_;
    GradientStatistics statistics;
    if (work.step_options.needs_gradient_statistics()) statistics = given != nullptr ? *given : gradient_statistics(tensors);
    last_report_ = decide_gradient_scaling(work.step_options, statistics, step_calls_);
    if (last_report_.skipped) return;
    const float gradient_scale = static_cast<float>(last_report_.gradient_scale);

    step_tensors_.clear();
    std::size_t bytes = 0;
    // The tensors of a group usually share their step count, and so their plan: compute it once
    // per (group, t) rather than per tensor (two pow calls and a kernel lookup each).
    plans_.assign(work.groups.size(), CachedPlan{});
    for (std::size_t id = 0; id < tensors.size(); ++id) {
        const TensorRecord& t = tensors[id];
        if (t.gradients == nullptr) continue;
        bytes += step_bytes(t);
        CachedPlan& cached = plans_[t.group_id];
        const std::int64_t step = work.step_counts[id] + 1;
        const bool quantized = t.state_encoding == StateEncoding::Blockwise8Bit;
        if (cached.step != step) {
            cached.step = step;
            cached.plan = plan_tensor_step(work.groups[t.group_id], step);
            cached.plan.coefficients.gradient_scale = gradient_scale;
            for (RangeKernel& kernel : cached.kernels) kernel = nullptr;
            cached.quantized_kernel = nullptr;
        }
        // A group may hold both encodings (its small tensors stay float32) and tensors stored
        // several ways: each kernel on demand.
        const KernelStorage storage = kernel_storage(t, cached.plan.variant.rule);
        RangeKernel& kernel = cached.kernels[static_cast<std::size_t>(storage)];
        if (!quantized && kernel == nullptr) kernel = kernel_for(cached.plan.variant, storage);
        if (quantized && cached.quantized_kernel == nullptr) cached.quantized_kernel = quantized_kernel_for(cached.plan.variant);
        float* float_parameters = !t.master_parameters.empty()                    ? t.master_parameters.data()
                                  : t.parameter_type == ElementType::Float32 ? static_cast<float*>(t.parameters)
                                                                              : nullptr;
        const float* float_gradients =
            t.gradient_type == ElementType::Float32 ? static_cast<const float*>(t.gradients) : nullptr;
        const bool keeps_max = cached.plan.variant.keeps_max;
        const bool narrow_parameters = t.parameter_type != ElementType::Float32;
        const bool narrow_gradients = t.gradient_type != ElementType::Float32;
        const bool converts_by_block =
            (narrow_parameters || narrow_gradients) && (quantized || storage == KernelStorage::Float32);
        const TensorArrays arrays{float_parameters,
                                  float_gradients,
                                  t.first_moment.values(),
                                  t.second_moment.values(),
                                  t.max_second_moment.values(),
                                  narrow_parameters ? static_cast<std::uint16_t*>(t.parameters) : nullptr,
                                  narrow_gradients ? static_cast<const std::uint16_t*>(t.gradients) : nullptr};
        const QuantizedTensorArrays quantized_arrays{float_parameters,
                                                     float_gradients,
                                                     t.first_moment.codes(),
                                                     t.first_moment.scales(),
                                                     t.second_moment.codes(),
                                                     t.second_moment.scales(),
                                                     keeps_max ? t.max_second_moment.codes() : nullptr,
                                                     keeps_max ? t.max_second_moment.scales() : nullptr};
        step_tensors_.push_back({arrays, quantized_arrays, t.parameters, t.gradients, t.parameter_type, t.gradient_type,
                                 t.element_count, quantized ? nullptr : kernel,
                                 quantized ? cached.quantized_kernel : nullptr, converts_by_block,
                                 cached.plan.coefficients});
    }
    run_chunked(
        step_tensors_.size(), [&](std::size_t item) { return step_tensors_[item].element_count; },
        [&, prefetch = step_prefetches(bytes)](std::size_t, const Chunk& chunk) {
            run_step_range(step_tensors_[chunk.item], chunk.begin, chunk.end, prefetch);
        });
    for (std::size_t id = 0; id < tensors.size(); ++id) {
        if (tensors[id].gradients != nullptr) ++work.step_counts[id];
    }
}

void CpuBackend::zero_gradients(const StepWork& work) {
    const std::vector<TensorRecord>& tensors = work.tensors;
    run_chunked(
        tensors.size(), [&](std::size_t item) { return tensors[item].gradients == nullptr ? 0 : tensors[item].element_count; },
        [&](std::size_t, const Chunk& chunk) {
            const TensorRecord& t = tensors[chunk.item];
            const std::size_t bytes_per_element = element_size(t.gradient_type);
            std::memset(static_cast<char*>(t.gradients) + chunk.begin * bytes_per_element, 0,
                        (chunk.end - chunk.begin) * bytes_per_element);
        });
}

std::uint64_t CpuBackend::count_nonfinite_gradients(const StepWork& work) {
    return gradient_statistics(work.tensors).nonfinite_count;
}

std::uint64_t CpuBackend::count_nonfinite_parameters(const StepWork& work) {
    return gradient_statistics(work.tensors, /*parameters=*/true).nonfinite_count;
}

}  // namespace nab::cpu
