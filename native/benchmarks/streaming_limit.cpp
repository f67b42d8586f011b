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

}  // namespace

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
