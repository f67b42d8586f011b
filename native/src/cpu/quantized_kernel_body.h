// The loop around update_element for one SIMD width over blockwise 8-bit state: the same
// element update as kernel_body.h, with a load (decode) before it and a store (encode) after it,
// written once for every SIMD level over the lane contract of core/scalar_lanes.h.
//
// One pass over memory per group of up to kBlocksPerGroup blocks of kQuantizationBlockSize
// elements:
//  1. per block: decode m, s (and s_max) with the block's old scales, run update_element, store
//     the parameters, keep the new float32 m, s (and s_max) in an L1-resident scratch and their
//     largest magnitudes in registers, then in one number per block;
//  2. every block's new scales (block_scale), then each block's codes of m, s (and s_max) from
//     the scratch, one quantity at a time (encode_codes).
// Groups, not single blocks, because a block's scale waits on a reduction and a division: in a
// group those of different blocks overlap with each other and with the encoding, and the loops'
// set-up (their broadcast constants) is paid once per group.
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

constexpr std::size_t kBlocksPerGroup = 4;
constexpr std::size_t kGroupSize = kBlocksPerGroup * kQuantizationBlockSize;
static_assert(kPrefetchDistance <= kGroupSize, "a group's lines ahead lie in the next group, not beyond");

// One state quantity (m, s or s_max) of one group: its codes and scales in memory, its new
// float32 values in scratch (kGroupSize + Lanes::width floats: a padded tail stays inside), and
// each block's largest magnitude bits.
template <class Lanes, CodeFormat Format>
struct GroupState {
    std::uint8_t* codes;  // of the group's first element
    float* scales;        // of the group's first block
    float* scratch;
    std::uint32_t largest[kBlocksPerGroup];

    typename Lanes::Vector load(std::size_t offset, typename Lanes::Vector old_scale) const {
        return decode<Format, Lanes>(Lanes::load_codes(codes + offset), old_scale);
    }
    void keep(std::size_t offset, typename Lanes::Vector value, typename Lanes::Bits& block_largest) const {
        Lanes::store(scratch + offset, value);
        block_largest = Lanes::max(block_largest, magnitude_bits<Format, Lanes>(value));
    }
    // Stores block `block`'s new scale and returns the inverse its codes are made with.
    BlockScale set_scale(std::size_t block) {
        const BlockScale s = block_scale<Lanes>(largest[block]);
        scales[block] = s.scale;
        return s;
    }
};

// One vector's update with 8-bit state, in the two halves pipeline_whole_vectors
// (vector_pipeline.h) runs apart: the head decodes the moments, updates them, keeps the new ones
// in the scratch and their largest magnitudes in `*_largest`, and takes the square root; the tail
// divides and stores the parameters. Pipelined as the float32 kernel is (one loop against this
// split and unrolling, AMD Zen 3, one thread, A/B: 1.05x in L2 and at 1M parameters).
template <class Lanes, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule, bool Prefetch>
struct QuantizedVectorSteps {
    using Vector = typename Lanes::Vector;
    using Bits = typename Lanes::Bits;
    float* parameters;
    const float* gradients;
    std::size_t offset;  // of the block in the group: where its codes and scratch start
    const GroupState<Lanes, kFirstMomentFormat>& m;
    const GroupState<Lanes, kSecondMomentFormat>& s;
    const GroupState<Lanes, kSecondMomentFormat>& s_max;
    Vector m_scale, s_scale, s_max_scale;
    Bits &m_largest, &s_largest, &s_max_largest;
    const ElementCoefficients<Vector>& c;

    NAB_VECTOR_BODY VectorInFlight<Vector> head(std::size_t i) const {
        if (Prefetch) prefetch_ahead(i + kPrefetchDistance);
        Vector p = Lanes::load(parameters + i);
        Vector vm = m.load(offset + i, m_scale), vs = s.load(offset + i, s_scale);
        Vector vs_max = KeepsMax ? s_max.load(offset + i, s_max_scale) : Lanes::broadcast(0.0f);
        Vector radicand;
        update_moments<L2, Square, KeepsMax>(p, Lanes::load(gradients + i), vm, vs, vs_max, radicand, c);
        m.keep(offset + i, vm, m_largest);
        s.keep(offset + i, vs, s_largest);
        if (KeepsMax) s_max.keep(offset + i, vs_max, s_max_largest);
        return {p, vm, denominator_root<FromMax, Rule>(radicand, vs_max, c)};
    }

    NAB_VECTOR_BODY void tail(std::size_t i, VectorInFlight<Vector> v) const {
        step_parameter<Rule>(v.parameter, v.first_moment, v.root, c);
        Lanes::store(parameters + i, v.parameter);
    }

    // One request per line: of the float32 parameters and gradients every 16 elements, of the
    // codes every 64 (s_max's not asked for: AMSGrad with 8-bit state is rare, and unmeasured).
    NAB_VECTOR_BODY void prefetch_ahead(std::size_t at) const {
        constexpr std::size_t float_line = 64 / sizeof(float), code_line = 64;
        if (Lanes::width >= float_line || at % float_line == 0) {
            prefetch_line(parameters + at);
            prefetch_line(gradients + at);
        }
        if (Lanes::width >= code_line || at % code_line == 0) {
            prefetch_line(m.codes + offset + at);
            prefetch_line(s.codes + offset + at);
        }
    }
};

// Step 1 for block `block` of the group (`count` <= kQuantizationBlockSize elements from the
// group's element `offset`).
template <class Lanes, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule, bool Prefetch>
void update_block(const QuantizedTensorArrays& a, std::size_t group_first, std::size_t block, std::size_t count,
                  GroupState<Lanes, kFirstMomentFormat>& m, GroupState<Lanes, kSecondMomentFormat>& s,
                  GroupState<Lanes, kSecondMomentFormat>& s_max, const ElementCoefficients<typename Lanes::Vector>& c) {
    using Vector = typename Lanes::Vector;
    using Bits = typename Lanes::Bits;
    constexpr std::size_t width = Lanes::width;
    const std::size_t offset = block * kQuantizationBlockSize;
    const Vector m_scale = Lanes::broadcast(m.scales[block]), s_scale = Lanes::broadcast(s.scales[block]);
    const Vector s_max_scale = Lanes::broadcast(KeepsMax ? s_max.scales[block] : 0.0f);
    float* const parameters = a.parameters + group_first + offset;
    const float* const gradients = a.gradients + group_first + offset;
    Bits m_largest = Lanes::splat(0u), s_largest = Lanes::splat(0u), s_max_largest = Lanes::splat(0u);

    const QuantizedVectorSteps<Lanes, L2, Square, KeepsMax, FromMax, Rule, Prefetch> steps{
        parameters, gradients, offset,    m,         s,         s_max, m_scale, s_scale, s_max_scale,
        m_largest,  s_largest, s_max_largest, c};
    const std::size_t i = pipeline_whole_vectors<width>(steps, 0, count);
    if (i < count) {
        // Padded tail: lanes past the end decode code 0 and update parameter 1, gradient 1; their
        // results are dropped, and their scratch set to 0 before it counts for the scale.
        const std::size_t rest = count - i, at = offset + i;
        float p[width], g[width];
        std::uint8_t codes[3][width] = {};
        for (std::size_t k = 0; k < width; ++k) {
            p[k] = k < rest ? parameters[i + k] : 1.0f;
            g[k] = k < rest ? gradients[i + k] : 1.0f;
        }
        std::memcpy(codes[0], m.codes + at, rest);
        std::memcpy(codes[1], s.codes + at, rest);
        if (KeepsMax) std::memcpy(codes[2], s_max.codes + at, rest);
        Vector vp = Lanes::load(p);
        Vector vm = decode<kFirstMomentFormat, Lanes>(Lanes::load_codes(codes[0]), m_scale);
        Vector vs = decode<kSecondMomentFormat, Lanes>(Lanes::load_codes(codes[1]), s_scale);
        Vector vs_max = KeepsMax ? decode<kSecondMomentFormat, Lanes>(Lanes::load_codes(codes[2]), s_max_scale)
                                 : Lanes::broadcast(0.0f);
        update_element<L2, Square, KeepsMax, FromMax, Rule>(vp, Lanes::load(g), vm, vs, vs_max, c);
        Lanes::store(p, vp);
        Lanes::store(m.scratch + at, vm);
        Lanes::store(s.scratch + at, vs);
        Lanes::store(s_max.scratch + at, vs_max);
        for (std::size_t k = rest; k < width; ++k) m.scratch[at + k] = s.scratch[at + k] = s_max.scratch[at + k] = 0.0f;
        for (std::size_t k = 0; k < rest; ++k) parameters[i + k] = p[k];
        m.keep(at, Lanes::load(m.scratch + at), m_largest);
        s.keep(at, Lanes::load(s.scratch + at), s_largest);
        if (KeepsMax) s_max.keep(at, Lanes::load(s_max.scratch + at), s_max_largest);
    }
    m.largest[block] = Lanes::largest(m_largest);
    s.largest[block] = Lanes::largest(s_largest);
    if (KeepsMax) s_max.largest[block] = Lanes::largest(s_max_largest);
}

// Step 2 for one quantity of one block: the codes of its `count` new values with the block's
// scale, or codes 0 where the block holds a NaN or an infinity (block_quantization.h). Four
// vectors at a time, their codes in one store_codes_four; then single vectors; a tail shorter
// than the width through a padded copy (its values past the end are 0). Its arrays come as
// arguments, so they are locals: a store of codes (bytes) may alias anything, and would
// otherwise make the compiler reload every pointer after it. One quantity at a time, not m and
// s in one loop: the same speed (1.00-1.02x, AMD Zen 3, one thread, A/B).
template <class Lanes, CodeFormat Format>
void encode_codes(const float* values, std::uint8_t* codes, std::size_t count, const BlockScale& scale) {
    if (!scale.finite) {
        std::memset(codes, 0, count);
        return;
    }
    using Vector = typename Lanes::Vector;
    constexpr std::size_t width = Lanes::width;
    const Vector inverse = Lanes::broadcast(scale.inverse);
    auto code_vector = [&](std::size_t i) { return encode<Format, Lanes>(Lanes::load(values + i), inverse); };
    std::size_t i = 0;
    for (; i + 4 * width <= count; i += 4 * width) {
        Lanes::store_codes_four(codes + i, code_vector(i), code_vector(i + width), code_vector(i + 2 * width),
                                code_vector(i + 3 * width));
    }
    for (; i + width <= count; i += width) Lanes::store_codes(codes + i, code_vector(i));
    if (i < count) {
        std::uint8_t padded[width];
        Lanes::store_codes(padded, code_vector(i));
        std::memcpy(codes + i, padded, count - i);
    }
}

// Step 2 for block `block` (`count` elements): the codes of every quantity.
template <class Lanes, bool KeepsMax>
void encode_block(std::size_t block, std::size_t count, const GroupState<Lanes, kFirstMomentFormat>& m,
                  const GroupState<Lanes, kSecondMomentFormat>& s, const GroupState<Lanes, kSecondMomentFormat>& s_max,
                  const BlockScale (&scales)[3]) {
    const std::size_t offset = block * kQuantizationBlockSize;
    encode_codes<Lanes, kFirstMomentFormat>(m.scratch + offset, m.codes + offset, count, scales[0]);
    encode_codes<Lanes, kSecondMomentFormat>(s.scratch + offset, s.codes + offset, count, scales[1]);
    if (KeepsMax) encode_codes<Lanes, kSecondMomentFormat>(s_max.scratch + offset, s_max.codes + offset, count, scales[2]);
}

// Both steps for the `count` (<= kGroupSize) elements from element `first` of the tensor, a
// multiple of kQuantizationBlockSize; with Prefetch, step 1 asks for the lines ahead.
template <class Lanes, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule, bool Prefetch>
void run_group(const QuantizedTensorArrays& a, std::size_t first, std::size_t count,
               const ElementCoefficients<typename Lanes::Vector>& c) {
    alignas(64) float scratch[3][kGroupSize + Lanes::width];
    const std::size_t first_block = first / kQuantizationBlockSize;
    GroupState<Lanes, kFirstMomentFormat> m{a.first_moment_codes + first, a.first_moment_scales + first_block, scratch[0], {}};
    GroupState<Lanes, kSecondMomentFormat> s{a.second_moment_codes + first, a.second_moment_scales + first_block,
                                             scratch[1], {}};
    GroupState<Lanes, kSecondMomentFormat> s_max{KeepsMax ? a.max_second_moment_codes + first : nullptr,
                                                 KeepsMax ? a.max_second_moment_scales + first_block : nullptr,
                                                 scratch[2], {}};
    const std::size_t blocks = (count + kQuantizationBlockSize - 1) / kQuantizationBlockSize;
    auto block_count = [&](std::size_t block) {
        const std::size_t offset = block * kQuantizationBlockSize;
        return count - offset < kQuantizationBlockSize ? count - offset : kQuantizationBlockSize;
    };
    for (std::size_t block = 0; block < blocks; ++block) {
        update_block<Lanes, L2, Square, KeepsMax, FromMax, Rule, Prefetch>(a, first, block, block_count(block), m, s,
                                                                           s_max, c);
    }
    BlockScale scales[kBlocksPerGroup][3];
    for (std::size_t block = 0; block < blocks; ++block) {
        scales[block][0] = m.set_scale(block);
        scales[block][1] = s.set_scale(block);
        scales[block][2] = KeepsMax ? s_max.set_scale(block) : BlockScale{0.0f, 0.0f, true};
    }
    for (std::size_t block = 0; block < blocks; ++block) {
        encode_block<Lanes, KeepsMax>(block, block_count(block), m, s, s_max, scales[block]);
    }
}

template <class Lanes, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
void update_quantized_range(const QuantizedTensorArrays& a, std::size_t begin, std::size_t end,
                            const ElementCoefficients<float>& scalars, bool prefetch) {
    const ElementCoefficients<typename Lanes::Vector> c = broadcast_coefficients<Lanes>(scalars);
    for (std::size_t first = begin; first < end; first += kGroupSize) {
        const std::size_t count = end - first < kGroupSize ? end - first : kGroupSize;
        // A group asks for lines ahead where they lie in the range: in the next group
        // (kPrefetchDistance <= kGroupSize). Asking, in a step of 64 MiB or more (AMD Zen 5 VM,
        // 16M and 64M parameters, A/B of two builds in both orders): one thread 1.04-1.15x, two
        // 1.11-1.20x, the AVX2 kernel on that host 1.09x. Prefetch is a template parameter, a
        // second instance of the group's loops (library +10%): with a flag tested per vector,
        // steps below the threshold, which do not ask, were 0.98x in L2 and at 1M parameters;
        // with two instances 1.00x.
        if (Lanes::prefetches && prefetch && end - first >= kGroupSize + kPrefetchDistance) {
            run_group<Lanes, L2, Square, KeepsMax, FromMax, Rule, Lanes::prefetches>(a, first, count, c);
        } else {
            run_group<Lanes, L2, Square, KeepsMax, FromMax, Rule, false>(a, first, count, c);
        }
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
