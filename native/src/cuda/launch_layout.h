// How a fused CUDA launch maps (block, thread) to tensor elements. Plain C++ shared by the
// kernels and by the host: the host sizes the grid with it, the kernels walk their elements
// with it, and a CPU test (native/tests/cuda_launch_layout_test.cpp) walks every block and
// thread of a launch to check that each element is visited exactly once.
//
// Every tensor of a launch owns a run of consecutive blocks ([first_block, first_block +
// blocks_for(count))); block b of the grid finds its tensor by binary search over
// first_block. The table lives in device memory, so a launch has no argument-size cap on
// its block count and fills every multiprocessor.
#pragma once

#include <cstdint>

#include "core/update_math.h"

namespace nab::cuda {

constexpr unsigned kThreadsPerBlock = 512;
// Elements per block: 512 threads x 4 floats x 8 passes. Small enough that a 10^7-parameter
// step has ~600 blocks (4+ per H100 multiprocessor), large enough to amortise the block's
// per-tensor planning.
constexpr std::uint64_t kElementsPerBlock = 16384;
constexpr unsigned kVectorWidth = 4;  // float4: 16-byte loads and stores

NAB_HOST_DEVICE std::uint64_t blocks_for(std::uint64_t element_count) {
    return (element_count + kElementsPerBlock - 1) / kElementsPerBlock;
}

// The index of the tensor that owns `block`: the last entry whose first_block <= block.
// Entries must be sorted by first_block, the first being 0. `Entry` has a first_block member.
template <class Entry>
NAB_HOST_DEVICE std::uint32_t tensor_of_block(const Entry* entries, std::uint32_t entry_count, std::uint64_t block) {
    std::uint32_t low = 0, high = entry_count;  // answer in [low, high)
    while (high - low > 1) {
        const std::uint32_t middle = low + (high - low) / 2;
        if (entries[middle].first_block <= block) {
            low = middle;
        } else {
            high = middle;
        }
    }
    return low;
}

struct ElementRange {
    std::uint64_t begin;
    std::uint64_t end;
};

// The elements of a tensor that block `block` (a global block index) updates.
NAB_HOST_DEVICE ElementRange block_elements(std::uint64_t element_count, std::uint64_t first_block, std::uint64_t block) {
    const std::uint64_t begin = (block - first_block) * kElementsPerBlock;
    const std::uint64_t end = begin + kElementsPerBlock < element_count ? begin + kElementsPerBlock : element_count;
    return {begin, end};
}

// Calls visit(index, width) for the elements one thread handles within a block's range:
// width 4 for a float4 starting at index (when the tensor's arrays are 16-byte aligned),
// width 1 otherwise and for the tail. Consecutive threads touch consecutive addresses.
template <class Visit>
NAB_HOST_DEVICE void for_each_thread_element(ElementRange range, bool vectorized, unsigned thread, unsigned threads,
                                             Visit&& visit) {
    // A block past its tensor's run (a grid from another layout) has begin > end: nothing of it
    // is this block's (without this, end - begin would wrap and the tail be visited twice).
    if (range.begin >= range.end) return;
    std::uint64_t scalar_begin = range.begin;
    if (vectorized) {
        const std::uint64_t vector_end = range.begin + (range.end - range.begin) / kVectorWidth * kVectorWidth;
        for (std::uint64_t i = range.begin + std::uint64_t{kVectorWidth} * thread; i < vector_end;
             i += std::uint64_t{kVectorWidth} * threads) {
            visit(i, kVectorWidth);
        }
        scalar_begin = vector_end;
    }
    for (std::uint64_t i = scalar_begin + thread; i < range.end; i += threads) visit(i, 1u);
}

}  // namespace nab::cuda
