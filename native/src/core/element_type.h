// The element types of a caller's parameter and gradient buffers, as the core and every
// backend (host and device code) see them. The ABI's nab_dtype has the same values; api/
// converts between them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nab {

enum class ElementType : std::int32_t {
    Float32 = 0,   // IEEE-754 binary32
    Float16 = 1,   // IEEE-754 binary16
    BFloat16 = 2   // the upper half of a float32
};

// Bytes per element.
constexpr std::size_t element_size(ElementType type) noexcept { return type == ElementType::Float32 ? 4 : 2; }

constexpr bool is_16_bit(ElementType type) noexcept { return type != ElementType::Float32; }

constexpr const char* element_type_name(ElementType type) noexcept {
    return type == ElementType::Float32 ? "float32" : type == ElementType::Float16 ? "float16" : "bfloat16";
}

}  // namespace nab
