// How an optimizer stores a tensor's m, s and s_max: float32 (the default) or blockwise 8-bit
// (one byte per element and one float32 scale per block; core/block_quantization.h has the
// formats, docs/algorithm.md the arithmetic). A group chooses; each tensor resolves the choice
// by its size, once, when it is added (or when its group's choice changes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nab {

// The ABI's nab_state_encoding has the same values; api/ converts between them.
enum class StateEncoding : std::int32_t { Float32 = 0, Blockwise8Bit = 1 };

// Elements per block of the 8-bit encoding: each block of m, s and s_max has its own scale.
constexpr std::size_t kQuantizationBlockSize = 256;

// A tensor of an 8-bit group with fewer elements than this keeps float32 state: its scales
// would cost more than its codes save (bitsandbytes' min_8bit_size, 4096, for the same reason),
// and small tensors (biases, norms) are where 8 bits would hurt most.
constexpr std::size_t kMinQuantizedElements = 4096;

// The encoding a tensor of `element_count` elements gets in a group that asks for `requested`.
constexpr StateEncoding resolve_state_encoding(StateEncoding requested, std::size_t element_count) noexcept {
    return requested == StateEncoding::Blockwise8Bit && element_count >= kMinQuantizedElements
               ? StateEncoding::Blockwise8Bit
               : StateEncoding::Float32;
}

// Blocks of an 8-bit array of `element_count` elements (the last one may be shorter).
constexpr std::size_t quantization_block_count(std::size_t element_count) noexcept {
    return (element_count + kQuantizationBlockSize - 1) / kQuantizationBlockSize;
}

constexpr const char* state_encoding_name(StateEncoding encoding) noexcept {
    return encoding == StateEncoding::Float32 ? "float32" : "blockwise 8-bit";
}

}  // namespace nab
