// The loop around update_element for one SIMD width over blockwise 8-bit state: the same
// element update as kernel_body.h, with a load (decode) before it and a store (encode) after it,
// written once for every SIMD level over the lane contract of core/scalar_lanes.h.
//
// One pass over memory per block of kQuantizationBlockSize elements:
//  1. decode m, s (and s_max) with the block's old scales, run update_element, store the
//     parameters, keep the new float32 m, s (and s_max) in an L1-resident scratch block and
//     their largest magnitudes in registers;
//  2. from those, the block's new scales (block_scale), then encode the scratch block into codes.
// The parameter update reads the new float32 moments, before they are rounded to 8 bits (as
// bitsandbytes' blockwise kernels do): quantization affects the next step, not this one.
//
// A tail shorter than the width (only in a tensor's last block) goes through the same vector
// code on padded copies, as in kernel_body.h; its padding never reaches memory or the scales.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/block_quantization.h"
#include "core/state_encoding.h"
#include "core/update_math.h"
#include "cpu/cpu_kernels.h"
#include "cpu/kernel_body.h"
#include "cpu/kernel_variants.h"

namespace nab::cpu {

// One state quantity of one block: its codes and scale in memory, its new float32 values in
// scratch, and the largest magnitude seen so far.
template <class Lanes, CodeFormat Format>
struct BlockState {
    std::uint8_t* codes;  // of the block's first element
    float* scale;         // the block's scale
    float* scratch;       // kQuantizationBlockSize + Lanes::width floats
    typename Lanes::Bits largest;

    typename Lanes::Vector load(std::size_t offset, typename Lanes::Vector old_scale) const {
        return decode<Format, Lanes>(Lanes::load_codes(codes + offset), old_scale);
    }
    void keep(std::size_t offset, typename Lanes::Vector value) {
        Lanes::store(scratch + offset, value);
        largest = Lanes::max(largest, magnitude_bits<Format, Lanes>(value));
    }
    // Step 2 for `count` elements: the new scale, then the codes.
    void encode_block(std::size_t count) {
        const BlockScale s = block_scale<Lanes>(Lanes::largest(largest));
        *scale = s.scale;
        if (!s.finite) {
            std::memset(codes, 0, count);
            return;
        }
        const typename Lanes::Vector inverse = Lanes::broadcast(s.inverse);
        constexpr std::size_t width = Lanes::width;
        std::size_t i = 0;
        for (; i + width <= count; i += width) {
            Lanes::store_codes(codes + i, encode<Format, Lanes>(Lanes::load(scratch + i), inverse));
        }
        if (i == count) return;
        // Padded tail: scratch[count ..] holds zeros (see run_block); only `count - i` codes are stored.
        std::uint8_t padded[width];
        Lanes::store_codes(padded, encode<Format, Lanes>(Lanes::load(scratch + i), inverse));
        std::memcpy(codes + i, padded, count - i);
    }
};

// Both steps for one block of `count` (<= kQuantizationBlockSize) elements starting at element
// `first` of the tensor.
template <class Lanes, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
void run_block(const QuantizedTensorArrays& a, std::size_t first, std::size_t count,
               const ElementCoefficients<typename Lanes::Vector>& c) {
    using Vector = typename Lanes::Vector;
    constexpr std::size_t width = Lanes::width;
    alignas(64) float scratch[3][kQuantizationBlockSize + width];
    const std::size_t block = first / kQuantizationBlockSize;
    const typename Lanes::Bits none = Lanes::splat(0u);
    BlockState<Lanes, kFirstMomentFormat> m{a.first_moment_codes + first, a.first_moment_scales + block, scratch[0], none};
    BlockState<Lanes, kSecondMomentFormat> s{a.second_moment_codes + first, a.second_moment_scales + block, scratch[1],
                                             none};
    BlockState<Lanes, kSecondMomentFormat> s_max{KeepsMax ? a.max_second_moment_codes + first : nullptr,
                                                 KeepsMax ? a.max_second_moment_scales + block : nullptr, scratch[2],
                                                 none};
    const Vector m_scale = Lanes::broadcast(*m.scale), s_scale = Lanes::broadcast(*s.scale);
    const Vector s_max_scale = Lanes::broadcast(KeepsMax ? *s_max.scale : 0.0f);
    float* const parameters = a.parameters + first;
    const float* const gradients = a.gradients + first;

    std::size_t i = 0;
    for (; i + width <= count; i += width) {
        Vector p = Lanes::load(parameters + i);
        Vector vm = m.load(i, m_scale), vs = s.load(i, s_scale);
        Vector vs_max = KeepsMax ? s_max.load(i, s_max_scale) : Lanes::broadcast(0.0f);
        update_element<L2, Square, KeepsMax, FromMax, Rule>(p, Lanes::load(gradients + i), vm, vs, vs_max, c);
        Lanes::store(parameters + i, p);
        m.keep(i, vm);
        s.keep(i, vs);
        if (KeepsMax) s_max.keep(i, vs_max);
    }
    if (i < count) {
        // Padded tail: lanes past the end decode code 0 and update parameter 1, gradient 1; their
        // results are dropped, and their scratch set to 0 before it counts for the scale.
        const std::size_t rest = count - i;
        float p[width], g[width];
        std::uint8_t codes[3][width] = {};
        for (std::size_t k = 0; k < width; ++k) {
            p[k] = k < rest ? parameters[i + k] : 1.0f;
            g[k] = k < rest ? gradients[i + k] : 1.0f;
        }
        std::memcpy(codes[0], m.codes + i, rest);
        std::memcpy(codes[1], s.codes + i, rest);
        if (KeepsMax) std::memcpy(codes[2], s_max.codes + i, rest);
        Vector vp = Lanes::load(p);
        Vector vm = decode<kFirstMomentFormat, Lanes>(Lanes::load_codes(codes[0]), m_scale);
        Vector vs = decode<kSecondMomentFormat, Lanes>(Lanes::load_codes(codes[1]), s_scale);
        Vector vs_max = KeepsMax ? decode<kSecondMomentFormat, Lanes>(Lanes::load_codes(codes[2]), s_max_scale)
                                 : Lanes::broadcast(0.0f);
        update_element<L2, Square, KeepsMax, FromMax, Rule>(vp, Lanes::load(g), vm, vs, vs_max, c);
        Lanes::store(p, vp);
        Lanes::store(m.scratch + i, vm);
        Lanes::store(s.scratch + i, vs);
        Lanes::store(s_max.scratch + i, vs_max);
        for (std::size_t k = rest; k < width; ++k) m.scratch[i + k] = s.scratch[i + k] = s_max.scratch[i + k] = 0.0f;
        for (std::size_t k = 0; k < rest; ++k) parameters[i + k] = p[k];
        m.keep(i, Lanes::load(m.scratch + i));
        s.keep(i, Lanes::load(s.scratch + i));
        if (KeepsMax) s_max.keep(i, Lanes::load(s_max.scratch + i));
    }
    m.encode_block(count);
    s.encode_block(count);
    if (KeepsMax) s_max.encode_block(count);
}

template <class Lanes, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
void update_quantized_range(const QuantizedTensorArrays& a, std::size_t begin, std::size_t end,
                            const ElementCoefficients<float>& scalars) {
    const ElementCoefficients<typename Lanes::Vector> c = broadcast_coefficients<Lanes>(scalars);
    for (std::size_t first = begin; first < end; first += kQuantizationBlockSize) {
        const std::size_t count = end - first < kQuantizationBlockSize ? end - first : kQuantizationBlockSize;
        run_block<Lanes, L2, Square, KeepsMax, FromMax, Rule>(a, first, count, c);
    }
}

template <class Lanes>
struct QuantizedKernel {
    template <bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
    struct Instance {
        static constexpr QuantizedRangeKernel function =
            &update_quantized_range<Lanes, L2, Square, KeepsMax, FromMax, Rule>;
    };
};

template <class Lanes>
QuantizedRangeKernel select_quantized_kernel(const KernelVariant& v) {
    return select_variant<QuantizedKernel<Lanes>::template Instance>(v);
}

}  // namespace nab::cpu
