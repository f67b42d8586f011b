// The CPU step: every tensor of the step cut into fixed-size chunks, the chunks spread over
// the thread pool, each chunk run by the SIMD kernel of the chosen level.
//
// Chunk boundaries depend only on the tensor sizes, never on the thread count, and every
// SIMD level rounds identically, so results are bit-identical for any threads and level.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "cpu/thread_pool.h"
#include "native_adabelief.h"

namespace nab::cpu {

// One tensor's share of a step: its arrays, its compiled kernel and its scalars.
struct StepTensor {
    TensorArrays arrays;
    std::size_t element_count;
    RangeKernel kernel;
    ElementCoefficients<float> coefficients;
};

class CpuBackend {
public:
    // thread_count 0 = one per logical core. simd_level must be supported (or AUTO).
    CpuBackend(int thread_count, nab_simd_level simd_level);

    void set_thread_count(int thread_count);
    int thread_count() const noexcept { return pool_->thread_count(); }
    void set_simd_level(nab_simd_level simd_level);
    nab_simd_level simd_level() const noexcept { return simd_level_; }

    // The kernel of the current SIMD level for a variant.
    RangeKernel kernel_for(const KernelVariant& variant) const;

    // Runs one step over all tensors. Cannot fail once the chunk table has room (it keeps
    // its capacity from step to step, so a steady training loop allocates nothing).
    void run_step(const std::vector<StepTensor>& tensors);

    // Writes zeros over every (pointer, element count) in one chunked pass.
    void zero(const std::vector<std::pair<float*, std::size_t>>& arrays);

private:
    struct Chunk {
        std::size_t item;
        std::size_t begin;
        std::size_t end;
    };
    template <class Sizes, class Work>
    void run_chunked(std::size_t item_count, Sizes size_of, Work work);

    std::unique_ptr<ThreadPool> pool_;
    nab_simd_level simd_level_;
    std::vector<Chunk> chunks_;
};

// Elements per chunk: 32 Ki floats = 128 KiB per array, a multiple of every SIMD width.
constexpr std::size_t kChunkElements = std::size_t{1} << 15;
// Below this many elements in a whole step, waking the workers costs more than it saves.
constexpr std::size_t kParallelThreshold = std::size_t{1} << 16;

}  // namespace nab::cpu
