#include "cpu/cpu_backend.h"

#include <atomic>
#include <cstring>

#include "core/errors.h"
#include "cpu/cpu_features.h"

namespace nab::cpu {

namespace {

int resolve_thread_count(int thread_count) { return thread_count == 0 ? hardware_thread_count() : thread_count; }

nab_simd_level resolve_simd_level(nab_simd_level level) {
    return level == NAB_SIMD_AUTO ? best_simd_level() : level;
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

void CpuBackend::run_step(const std::vector<StepTensor>& tensors) {
    run_chunked(
        tensors.size(), [&](std::size_t item) { return tensors[item].element_count; },
        [&](std::size_t item, std::size_t begin, std::size_t end) {
            const StepTensor& tensor = tensors[item];
            tensor.kernel(tensor.arrays, begin, end, tensor.coefficients);
        });
}

void CpuBackend::zero(const std::vector<std::pair<float*, std::size_t>>& arrays) {
    run_chunked(
        arrays.size(), [&](std::size_t item) { return arrays[item].second; },
        [&](std::size_t item, std::size_t begin, std::size_t end) {
            std::memset(arrays[item].first + begin, 0, (end - begin) * sizeof(float));
        });
}

}  // namespace nab::cpu
