#include "streaming_limit.h"

#include <algorithm>

namespace nab::bench {

namespace {

// The element loop, compiled for the widest vectors the CPU has and chosen once at load time
// (GCC function multi-versioning), as the optimizer picks its SIMD kernel at run time. Built
// only for baseline x86-64 (SSE2), one core streams 10-15% less from DRAM than with AVX-512,
// and the "limit" would understate what memory allows.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void stream_range(float* __restrict parameters, const float* __restrict gradients, float* __restrict first_moment,
                  float* __restrict second_moment, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
        const float g = gradients[i];
        first_moment[i] = first_moment[i] + g;
        second_moment[i] = second_moment[i] + g;
        parameters[i] = parameters[i] - g;
    }
}

// 256 elements (one block of the 8-bit state) per call.
constexpr std::size_t kBlock = 256;

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void stream_blocks_8bit(float* __restrict parameters, const float* __restrict gradients,
                        std::uint8_t* __restrict first_moment_codes, std::uint8_t* __restrict second_moment_codes,
                        float* __restrict first_moment_scales, float* __restrict second_moment_scales,
                        std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
        parameters[i] = parameters[i] - gradients[i];
        first_moment_codes[i] = static_cast<std::uint8_t>(first_moment_codes[i] + 1);
        second_moment_codes[i] = static_cast<std::uint8_t>(second_moment_codes[i] + 3);
    }
    for (std::size_t block = begin / kBlock; block < (end + kBlock - 1) / kBlock; ++block) {
        first_moment_scales[block] = first_moment_scales[block] * 0.5f;
        second_moment_scales[block] = second_moment_scales[block] * 0.5f;
    }
}

}  // namespace

void streaming_limit_8bit(cpu::ThreadPool& pool, float* parameters, const float* gradients,
                          std::uint8_t* first_moment_codes, std::uint8_t* second_moment_codes,
                          float* first_moment_scales, float* second_moment_scales, std::size_t element_count) {
    const std::size_t threads = static_cast<std::size_t>(pool.thread_count());
    const std::size_t blocks = (element_count + kBlock - 1) / kBlock;
    auto job = [&](int thread_index) {
        const std::size_t share = (blocks + threads - 1) / threads;
        const std::size_t first = std::min(blocks, share * static_cast<std::size_t>(thread_index));
        const std::size_t last = std::min(blocks, first + share);
        stream_blocks_8bit(parameters, gradients, first_moment_codes, second_moment_codes, first_moment_scales,
                           second_moment_scales, first * kBlock, std::min(element_count, last * kBlock));
    };
    pool.run(job);
}

double streaming_limit_8bit_bytes(std::size_t element_count) {
    const double blocks = static_cast<double>((element_count + kBlock - 1) / kBlock);
    return 16.0 * static_cast<double>(element_count) + 16.0 * blocks;
}

void streaming_limit(cpu::ThreadPool& pool, float* parameters, const float* gradients, float* first_moment,
                     float* second_moment, std::size_t element_count) {
    const std::size_t threads = static_cast<std::size_t>(pool.thread_count());
    auto job = [&](int thread_index) {
        const std::size_t share = (element_count + threads - 1) / threads;
        const std::size_t begin = std::min(element_count, share * static_cast<std::size_t>(thread_index));
        const std::size_t end = std::min(element_count, begin + share);
        stream_range(parameters, gradients, first_moment, second_moment, begin, end);
    };
    pool.run(job);
}

}  // namespace nab::bench
