// The memory limit of a step: a kernel that moves exactly the step's bytes (reads parameter,
// gradient, m and s; writes parameter, m and s: 28 bytes per element) with almost no
// arithmetic, split over threads like the step. The fused step cannot beat it; the goal is
// to come close.
#pragma once

#include <cstddef>

#include "cpu/thread_pool.h"

namespace nab::bench {

void streaming_limit(cpu::ThreadPool& pool, float* parameters, const float* gradients, float* first_moment,
                     float* second_moment, std::size_t element_count);

}  // namespace nab::bench
