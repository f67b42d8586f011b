// The loop of a SIMD level's 16-bit conversions over its lane type's 16-bit loads and stores
// (the same ones the fused kernel of kernel_body.h uses, so a conversion and a step narrow
// identically). A tail shorter than the width goes through the same vector code on a padded
// copy (as in kernel_body.h), so no scalar conversion is compiled with this level's target
// flags and every element is converted by the same instructions. The gradient pass's sums of
// 16-bit squares: bfloat16's the loop of gradient_statistics.h compiled for the level, float16's
// the level's widening into an L1 block and the float32 loop, unless the level's file puts its
// own in the table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/cpu_kernels.h"

namespace nab::cpu {

template <class Source, class Destination, std::size_t Width, void (*ConvertBlock)(const Source*, Destination*)>
void convert_all(const Source* source, Destination* destination, std::size_t count) {
    std::size_t i = 0;
    for (; i + Width <= count; i += Width) ConvertBlock(source + i, destination + i);
    if (i == count) return;
    Source padded_source[Width] = {};
    Destination padded_destination[Width];
    for (std::size_t k = 0; i + k < count; ++k) padded_source[k] = source[i + k];
    ConvertBlock(padded_source, padded_destination);
    for (std::size_t k = 0; i + k < count; ++k) destination[i + k] = padded_destination[k];
}

template <class Lanes>
struct LaneConversions {
    static void widen_half(const std::uint16_t* source, float* destination) {
        Lanes::store(destination, Lanes::load_half(source));
    }
    static void narrow_half(const float* source, std::uint16_t* destination) {
        Lanes::store_half(destination, Lanes::load(source));
    }
    static void widen_bfloat16(const std::uint16_t* source, float* destination) {
        Lanes::store(destination, Lanes::load_bfloat16(source));
    }
    static void narrow_bfloat16(const float* source, std::uint16_t* destination) {
        Lanes::store_bfloat16(destination, Lanes::load(source));
    }
};

// The sum of bfloat16 squares (gradient_statistics.h's lanes), read directly: a bfloat16 is the
// upper half of its float32.
template <class Lanes>
void add_bfloat16_squares(SquareLanes& lanes, const std::uint16_t* values, std::size_t count) {
    add_squares(
        lanes,
        [values](std::size_t i) {
            const std::uint32_t bits = static_cast<std::uint32_t>(values[i]) << 16;
            float value;
            std::memcpy(&value, &bits, sizeof value);
            return value;
        },
        count);
}

// The sum of float16 squares (gradient_statistics.h's lanes) through float32 blocks in L1: a
// block holds a whole number of runs of lanes, so every element keeps its lane of the run.
template <class Lanes>
void add_half_squares_by_block(SquareLanes& lanes, const std::uint16_t* values, std::size_t count) {
    constexpr std::size_t kBlock = 1024;  // 4 KiB of float32
    static_assert(kBlock % SquareLanes::kLanes == 0, "a block ends where a run of lanes ends");
    alignas(64) float block[kBlock];
    for (std::size_t begin = 0; begin < count; begin += kBlock) {
        const std::size_t block_count = count - begin < kBlock ? count - begin : kBlock;
        convert_all<std::uint16_t, float, Lanes::width, &LaneConversions<Lanes>::widen_half>(values + begin, block,
                                                                                            block_count);
        add_float_squares(lanes, block, block_count);
    }
}

template <class Lanes>
ConversionKernels conversion_kernels() {
    constexpr std::size_t w = Lanes::width;
    using Convert = LaneConversions<Lanes>;
    return {&convert_all<std::uint16_t, float, w, &Convert::widen_half>,
            &convert_all<float, std::uint16_t, w, &Convert::narrow_half>,
            &convert_all<std::uint16_t, float, w, &Convert::widen_bfloat16>,
            &convert_all<float, std::uint16_t, w, &Convert::narrow_bfloat16>,
            &add_half_squares_by_block<Lanes>,
            &add_bfloat16_squares<Lanes>};
}

}  // namespace nab::cpu
