#include "cpu/cpu_backend.h"

#include <atomic>
#include <cstring>

#include "core/aligned_memory.h"
#include "core/errors.h"
#include "core/step_coefficients.h"
#include "cpu/cpu_features.h"

namespace nab::cpu {

namespace {

int resolve_thread_count(int thread_count) { return thread_count == 0 ? hardware_thread_count() : thread_count; }

nab_simd_level resolve_simd_level(nab_simd_level level) {
    return level == NAB_SIMD_AUTO ? best_simd_level() : level;
}

// The number of elements of data[0, count) whose exponent bits are all ones (NaN, +Inf,
// -Inf). Integer arithmetic on the bit patterns: exact, independent of the floating-point
// environment and of flags such as -ffast-math, and vectorised by the compiler.
std::uint64_t count_nonfinite(const float* data, std::size_t count) {
    constexpr std::uint32_t exponent_mask = 0x7f800000u;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < count; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, data + i, sizeof bits);
        total += (bits & exponent_mask) == exponent_mask ? 1u : 0u;
    }
    return total;
}

}  // namespace

CpuBackend::CpuBackend(int thread_count, nab_simd_level simd_level)
    : pool_(std::make_unique<ThreadPool>(resolve_thread_count(thread_count))),
      simd_level_(resolve_simd_level(simd_level)) {}

void CpuBackend::set_thread_count(int thread_count) {
    const int resolved = resolve_thread_count(thread_count);
    if (resolved == pool_->thread_count()) return;
    pool_ = std::make_unique<ThreadPool>(resolved);
}

void CpuBackend::set_simd_level(nab_simd_level simd_level) { simd_level_ = resolve_simd_level(simd_level); }

void CpuBackend::set_cuda_stream(void*) {
    fail(NAB_STATUS_INVALID_ARGUMENT, "this optimizer runs on the CPU; a CUDA stream applies only to NAB_DEVICE_CUDA");
}

float* CpuBackend::allocate_state(std::size_t count) {
    return static_cast<float*>(aligned_allocate(count * sizeof(float)));
}

void CpuBackend::free_state(float* data) noexcept { aligned_free(data); }

void CpuBackend::copy_state_to_host(float* host_destination, const float* state, std::size_t count) {
    std::memcpy(host_destination, state, count * sizeof(float));
}

void CpuBackend::copy_state_from_host(float* state, const float* host_source, std::size_t count) {
    std::memcpy(state, host_source, count * sizeof(float));
}

RangeKernel CpuBackend::kernel_for(const KernelVariant& variant) const {
    switch (simd_level_) {
        case NAB_SIMD_AVX512: return select_avx512_kernel(variant);
        case NAB_SIMD_AVX2: return select_avx2_kernel(variant);
        default: return select_scalar_kernel(variant);
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
        for (const Chunk& chunk : chunks_) work(chunk.item, chunk.begin, chunk.end);
        return;
    }
    std::atomic<std::size_t> next{0};
    auto job = [&](int) {
        for (std::size_t index = next.fetch_add(1, std::memory_order_relaxed); index < chunks_.size();
             index = next.fetch_add(1, std::memory_order_relaxed)) {
            const Chunk& chunk = chunks_[index];
            work(chunk.item, chunk.begin, chunk.end);
        }
    };
    pool_->run(job);
}

void CpuBackend::step(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>& groups) {
    step_tensors_.clear();
    // The tensors of a group usually share their step count, and so their plan: compute it once
    // per (group, t) rather than per tensor (two pow calls and a kernel lookup each).
    plans_.assign(groups.size(), CachedPlan{});
    for (const TensorRecord& t : tensors) {
        if (t.gradients == nullptr) continue;
        CachedPlan& cached = plans_[t.group_id];
        if (cached.step != t.step + 1) {
            cached.step = t.step + 1;
            cached.plan = plan_tensor_step(groups[t.group_id], cached.step);
            cached.kernel = kernel_for(cached.plan.variant);
        }
        const TensorArrays arrays{t.parameters, t.gradients, t.first_moment.data(), t.second_moment.data(),
                                  t.max_second_moment.data()};
        step_tensors_.push_back({arrays, t.element_count, cached.kernel, cached.plan.coefficients});
    }
    run_chunked(
        step_tensors_.size(), [&](std::size_t item) { return step_tensors_[item].element_count; },
        [&](std::size_t item, std::size_t begin, std::size_t end) {
            const StepTensor& tensor = step_tensors_[item];
            tensor.kernel(tensor.arrays, begin, end, tensor.coefficients);
        });
    for (TensorRecord& t : tensors) {
        if (t.gradients != nullptr) ++t.step;
    }
}

void CpuBackend::zero_gradients(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>&) {
    run_chunked(
        tensors.size(), [&](std::size_t item) { return tensors[item].gradients == nullptr ? 0 : tensors[item].element_count; },
        [&](std::size_t item, std::size_t begin, std::size_t end) {
            std::memset(tensors[item].gradients + begin, 0, (end - begin) * sizeof(float));
        });
}

std::uint64_t CpuBackend::count_nonfinite_gradients(std::vector<TensorRecord>& tensors, const std::vector<GroupOptions>&) {
    std::atomic<std::uint64_t> total{0};
    run_chunked(
        tensors.size(), [&](std::size_t item) { return tensors[item].gradients == nullptr ? 0 : tensors[item].element_count; },
        [&](std::size_t item, std::size_t begin, std::size_t end) {
            const std::uint64_t found = count_nonfinite(tensors[item].gradients + begin, end - begin);
            if (found != 0) total.fetch_add(found, std::memory_order_relaxed);
        });
    return total.load(std::memory_order_relaxed);
}

}  // namespace nab::cpu
