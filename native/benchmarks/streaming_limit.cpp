#include "streaming_limit.h"

#include <algorithm>

namespace nab::bench {

void streaming_limit(cpu::ThreadPool& pool, float* parameters, const float* gradients, float* first_moment,
                     float* second_moment, std::size_t element_count) {
    const std::size_t threads = static_cast<std::size_t>(pool.thread_count());
    auto job = [&](int thread_index) {
        const std::size_t share = (element_count + threads - 1) / threads;
        const std::size_t begin = std::min(element_count, share * static_cast<std::size_t>(thread_index));
        const std::size_t end = std::min(element_count, begin + share);
        for (std::size_t i = begin; i < end; ++i) {
            const float g = gradients[i];
            first_moment[i] = first_moment[i] + g;
            second_moment[i] = second_moment[i] + g;
            parameters[i] = parameters[i] - g;
        }
    };
    pool.run(job);
}

}  // namespace nab::bench
