// One float32 lane: the "vector" of the portable CPU kernel, of every CUDA thread and of the
// host's own state conversions. It supplies what the element update (update_math.h) and the
// 8-bit state formats (block_quantization.h) need of a SIMD level, for width 1; the SIMD levels
// supply the same for 8 or 16 lanes (cpu/simd_vector_*.h).
//
// What a lane type provides (the contract every SIMD level implements):
//   Vector        float lanes, with +, -, *, / and the free functions sqrt_of and max_of
//   Bits          uint32 lanes, with +, -, & and |
//   width         lanes per Vector
//   prefetches    whether the CPU kernel asks for lines ahead of its loads in a step the backend
//                 says streams from memory (cpu/kernel_body.h, cpu/quantized_kernel_body.h): the
//                 levels it was measured on
//   load, store, broadcast          float lanes from/to memory, and one float in every lane
//   bits, from_bits                 the same 32 bits seen as the other type (no conversion)
//   splat                           one uint32 in every lane
//   shift_right<N>, shift_left<N>   logical shifts by a constant
//   min, max                        unsigned lane-wise minimum and maximum
//   select_at_least(a, t, x, y)     x where a >= t, else y, for a and t below 2^31 (every caller's:
//                                   a float magnitude's bits or a code); above, either (only a
//                                   negative NaN's bits are, in a block whose codes are zeroed)
//   largest                         the largest lane (unsigned)
//   load_codes, store_codes         width bytes from/to memory, zero-extended into / truncated from Bits
//   store_codes_four                4 * width bytes: four Bits' codes stored in order, as store_codes
//                                   four times would (a level may pack them with fewer operations)
//   load_half, store_half           width float16 values from/to memory, widened / narrowed as
//   load_bfloat16, store_bfloat16   half_precision.h does (bfloat16 likewise)
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/half_precision.h"
#include "core/update_math.h"

namespace nab {

struct ScalarLanes {
    using Vector = float;
    using Bits = std::uint32_t;
    static constexpr std::size_t width = 1;
    static constexpr bool prefetches = false;  // not measured

    NAB_HOST_DEVICE static float load(const float* source) { return *source; }
    NAB_HOST_DEVICE static void store(float* destination, float value) { *destination = value; }
    NAB_HOST_DEVICE static float broadcast(float value) { return value; }

    NAB_HOST_DEVICE static Bits bits(float value) {
        Bits result;
        std::memcpy(&result, &value, sizeof result);
        return result;
    }
    NAB_HOST_DEVICE static float from_bits(Bits value) {
        float result;
        std::memcpy(&result, &value, sizeof result);
        return result;
    }
    NAB_HOST_DEVICE static Bits splat(std::uint32_t value) { return value; }
    template <int N>
    NAB_HOST_DEVICE static Bits shift_right(Bits value) {
        return value >> N;
    }
    template <int N>
    NAB_HOST_DEVICE static Bits shift_left(Bits value) {
        return value << N;
    }
    NAB_HOST_DEVICE static Bits min(Bits a, Bits b) { return a < b ? a : b; }
    NAB_HOST_DEVICE static Bits max(Bits a, Bits b) { return a > b ? a : b; }
    NAB_HOST_DEVICE static Bits select_at_least(Bits a, Bits threshold, Bits if_true, Bits if_false) {
        return a >= threshold ? if_true : if_false;
    }
    NAB_HOST_DEVICE static std::uint32_t largest(Bits value) { return value; }
    NAB_HOST_DEVICE static Bits load_codes(const std::uint8_t* source) { return *source; }
    NAB_HOST_DEVICE static void store_codes(std::uint8_t* destination, Bits codes) {
        *destination = static_cast<std::uint8_t>(codes);
    }
    NAB_HOST_DEVICE static void store_codes_four(std::uint8_t* destination, Bits a, Bits b, Bits c, Bits d) {
        store_codes(destination, a);
        store_codes(destination + 1, b);
        store_codes(destination + 2, c);
        store_codes(destination + 3, d);
    }
    NAB_HOST_DEVICE static float load_half(const std::uint16_t* source) { return half_to_float(*source); }
    NAB_HOST_DEVICE static void store_half(std::uint16_t* destination, float value) { *destination = float_to_half(value); }
    NAB_HOST_DEVICE static float load_bfloat16(const std::uint16_t* source) { return bfloat16_to_float(*source); }
    NAB_HOST_DEVICE static void store_bfloat16(std::uint16_t* destination, float value) {
        *destination = float_to_bfloat16(value);
    }
};

}  // namespace nab
