// The CPU step: every tensor of the step cut into fixed-size chunks, the chunks spread over
// the thread pool, each chunk run by the SIMD kernel of the chosen level.
//
// Chunk boundaries depend only on the tensor sizes, never on the thread count, and every
// SIMD level rounds identically, so results are bit-identical for any threads and level.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/backend.h"
#include "core/step_coefficients.h"
#include "cpu/cpu_kernels.h"
#include "cpu/gradient_statistics.h"
#include "cpu/thread_pool.h"
#include "native_adabelief.h"

namespace nab::cpu {

// One tensor's share of a step: its arrays, its compiled kernel and its scalars. Its m, s and
// s_max are float32 (`arrays`, `kernel`: the kernel converts 16-bit parameters and gradients in
// its registers when they are stored as one of its KernelStorage) or blockwise 8-bit
// (`quantized_arrays`, `quantized_kernel`: that kernel works on float32 parameters and
// gradients). 16-bit data that the kernel does not convert goes through small L1-resident blocks
// around it (`converts_by_block`, see run_step_range).
struct StepTensor {
    TensorArrays arrays;  // parameters: the float32 parameters or master copy, else null;
                          // gradients: the float32 gradients, else null; the 16-bit ones
    QuantizedTensorArrays quantized_arrays;  // the same parameters and gradients; codes and scales
    void* parameters;     // the caller's parameters, whatever their type
    const void* gradients;
    ElementType parameter_type;
    ElementType gradient_type;
    std::size_t element_count;
    RangeKernel kernel;                   // null for an 8-bit tensor
    QuantizedRangeKernel quantized_kernel;  // null for a float32 tensor
    bool converts_by_block;
    ElementCoefficients<float> coefficients;
};

class CpuBackend final : public Backend {
public:
    // thread_count 0 = one per logical core. simd_level must be supported (or AUTO).
    CpuBackend(int thread_count, nab_simd_level simd_level);

    void* allocate(std::size_t bytes) override;
    void release(void* data) noexcept override;
    void download(void* host_destination, const void* source, std::size_t bytes) override;
    void upload(void* destination, const void* host_source, std::size_t bytes) override;
    void copy(void* destination, const void* source, std::size_t bytes) override;
    void initialize_master(float* master, const void* parameters, ElementType type, std::size_t count) override;

    // Plans every tensor on the host, then runs all chunks of all tensors in one pass. The
    // tables keep their capacity from step to step: a steady training loop allocates nothing.
    void step(const StepWork& work) override;
    StepReport last_step_report() override { return last_report_; }
    void zero_gradients(const StepWork& work) override;
    // The gradient pass's count alone, and the same pass over the parameters.
    std::uint64_t count_nonfinite_gradients(const StepWork& work) override;
    std::uint64_t count_nonfinite_parameters(const StepWork& work) override;
    // The pass's own chunks (kChunkElements), each chunk's totals as the pass computes them.
    std::size_t gradient_chunk_count(const StepWork& work) override;
    void gradient_chunk_statistics(const StepWork& work, double* sums, std::uint64_t* counts) override;
    void step_with_statistics(const StepWork& work, const GradientStatistics& totals) override;

    // The CPU backend's own settings (the ABI reaches them for CPU optimizers only).
    void set_thread_count(int thread_count);
    int thread_count() const noexcept { return pool_->thread_count(); }
    void set_simd_level(nab_simd_level simd_level);
    nab_simd_level simd_level() const noexcept { return simd_level_; }

private:
    // The step: decides from `given` totals when not null, else from its own gradient pass.
    void step_deciding(const StepWork& work, const GradientStatistics* given);
    RangeKernel kernel_for(const KernelVariant& variant, KernelStorage storage) const;
    QuantizedRangeKernel quantized_kernel_for(const KernelVariant& variant) const;
    // prefetch: the step's, for the kernel (cpu_kernels.h).
    void run_step_range(const StepTensor& tensor, std::size_t begin, std::size_t end, bool prefetch) const;
    // Runs the tensor's kernel (float32 or 8-bit state) on elements [begin, begin + count) with
    // the float32 parameters and gradients at `parameters` and `gradients` (the tensor's own, or
    // L1 conversion blocks), asking ahead with `prefetch` (the RangeKernel's).
    void run_kernel(const StepTensor& tensor, float* parameters, const float* gradients, std::size_t begin,
                    std::size_t count, bool prefetch) const;
    // The gradient pass: chunked over the pool like the step; each chunk's totals land in its
    // own slot of chunk_totals_ (chunk_passes) and the slots are added in chunk order
    // (gradient_statistics), so any thread count gives the same bits. It reads the gradients, or
    // with `parameters` the parameters (the master copy where a tensor has one).
    void chunk_passes(const std::vector<TensorRecord>& tensors, bool parameters = false);
    GradientStatistics gradient_statistics(const std::vector<TensorRecord>& tensors, bool parameters = false);
    GradientStatistics chunk_statistics(const void* gradients, ElementType type, std::size_t begin,
                                        std::size_t end) const;

    struct Chunk {
        std::size_t item;
        std::size_t begin;
        std::size_t end;
    };
    // Calls work(chunk_index, chunk) for every chunk of every item, on the pool.
    template <class Sizes, class Work>
    void run_chunked(std::size_t item_count, Sizes size_of, Work work);

    std::unique_ptr<ThreadPool> pool_;
    nab_simd_level simd_level_;
    ConversionKernels conversions_;
    StepReport last_report_;
    std::uint64_t step_calls_ = 0;
    std::vector<Chunk> chunks_;
    std::vector<GradientStatistics> chunk_totals_;
    std::vector<StepTensor> step_tensors_;
    // The last plan computed for each group during the current step.
    struct CachedPlan {
        std::int64_t step = -1;
        TensorStepPlan plan{};
        RangeKernel kernels[kKernelStorages] = {};  // by KernelStorage
        QuantizedRangeKernel quantized_kernel = nullptr;
    };
    std::vector<CachedPlan> plans_;
};

// Elements per chunk: 32 Ki floats = 128 KiB per array, a multiple of every SIMD width and of
// the 8-bit state's block. The ABI promises it (NAB_GRADIENT_CHUNK_ELEMENTS) to callers that
// split a model at chunk boundaries.
constexpr std::size_t kChunkElements = NAB_GRADIENT_CHUNK_ELEMENTS;
// Elements per conversion block of a 16-bit tensor with 8-bit state: 4 KiB per float32 scratch array, so the
// block and the state it updates stay in L1 between the conversion and the update. A multiple
// of the 8-bit state's block, so a conversion block holds whole quantization blocks.
constexpr std::size_t kConversionBlock = 1024;
static_assert(kChunkElements % kQuantizationBlockSize == 0 && kConversionBlock % kQuantizationBlockSize == 0,
              "chunks and conversion blocks start on 8-bit quantization blocks");
// Below this many elements in a whole step, waking the workers costs more than it saves.
constexpr std::size_t kParallelThreshold = std::size_t{1} << 16;

}  // namespace nab::cpu
