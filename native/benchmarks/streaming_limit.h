// The memory limit of a step: a kernel that moves exactly the step's bytes (reads parameter,
// gradient, m and s; writes parameter, m and s: 28 bytes per element) with almost no
// arithmetic, split over threads like the step. The fused step cannot beat it; the goal is
// to come close.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/thread_pool.h"

namespace nab::bench {

void streaming_limit(cpu::ThreadPool& pool, float* parameters, const float* gradients, float* first_moment,
                     float* second_moment, std::size_t element_count);

// The memory limit of a step with 8-bit state (NAB_STATE_ENCODING_BLOCKWISE_8BIT, no amsgrad):
// reads the parameter, the gradient, the codes of m and s and, per 256-element block, their two
// scales; writes the parameter, both codes and both scales: 16 bytes per element and 16 per
// block (2.03 bytes of state per element). Split over threads in whole blocks, like the step.
void streaming_limit_8bit(cpu::ThreadPool& pool, float* parameters, const float* gradients,
                          std::uint8_t* first_moment_codes, std::uint8_t* second_moment_codes,
                          float* first_moment_scales, float* second_moment_scales, std::size_t element_count);

// Bytes streaming_limit_8bit moves for `element_count` elements.
double streaming_limit_8bit_bytes(std::size_t element_count);

}  // namespace nab::bench
