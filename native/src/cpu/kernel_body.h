// The loop around update_element for one SIMD width over float32 state (parameters and
// gradients float32 or 16-bit), and its compiled instances (kernel_variants.h). Included by exactly one translation unit per SIMD level;
// `Lanes` (core/scalar_lanes.h for the contract, cpu/simd_vector_*.h) supplies the vector type,
// its width and its loads/stores.
//
// A tail shorter than the width goes through the same vector code on a padded copy, so no
// scalar instance of update_element is compiled with another level's target flags (that
// would let the linker pick, say, an AVX2-compiled copy for the portable path).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/update_math.h"
#include "cpu/cpu_kernels.h"
#include "cpu/kernel_variants.h"

namespace nab::cpu {

template <class Lanes>
ElementCoefficients<typename Lanes::Vector> broadcast_coefficients(const ElementCoefficients<float>& c) {
    return {Lanes::broadcast(c.gradient_scale),  Lanes::broadcast(c.decay_factor),   Lanes::broadcast(c.l2_coefficient), Lanes::broadcast(c.beta1),
            Lanes::broadcast(c.one_minus_beta1), Lanes::broadcast(c.beta2),         Lanes::broadcast(c.one_minus_beta2),
            Lanes::broadcast(c.stored_epsilon), Lanes::broadcast(c.inner_epsilon),  Lanes::broadcast(c.divisor),
            Lanes::broadcast(c.outer_epsilon),  Lanes::broadcast(c.step_size)};
}

// The per-vector body runs inside the loop, never as a call: GCC otherwise keeps it out of
// line (it has two callers, the loop and the tail) and every vector then pays a call and
// reloads the twelve broadcast coefficients from memory.
#if defined(__GNUC__)
#  define NAB_VECTOR_BODY inline __attribute__((always_inline))
#else
#  define NAB_VECTOR_BODY inline
#endif

template <class Lanes>
NAB_VECTOR_BODY typename Lanes::Vector load_narrow(const std::uint16_t* source, NarrowFormat format) {
    return format == NarrowFormat::Half ? Lanes::load_half(source) : Lanes::load_bfloat16(source);
}

template <class Lanes>
NAB_VECTOR_BODY void store_narrow(std::uint16_t* destination, NarrowFormat format, typename Lanes::Vector value) {
    if (format == NarrowFormat::Half) {
        Lanes::store_half(destination, value);
    } else {
        Lanes::store_bfloat16(destination, value);
    }
}

// A vector of elements between the two halves of its update (below): the decayed parameters, the
// new first moment and the denominator's square root.
template <class Vector>
struct VectorInFlight {
    Vector parameter, first_moment, root;
};

// The first half of one vector's update, starting at i: load (widening 16-bit data in
// registers), the moments, their stores and the square root. The moments are stored as soon as
// they are final, before the division the parameter waits for, as a plain loop written in that
// order does: 1-3% faster on one thread with the arrays in L3 (1M float32 parameters, AMD EPYC
// VM, two library builds A/B), the same from DRAM. With Narrow false the tensor is all float32
// and none of the 16-bit tests are compiled in. With Narrow true they run per vector: they are
// loop-invariant and always predicted, cost nothing beside the square root and the division,
// and a template per format would multiply the compiled instances by fifteen.
template <class Lanes, bool Narrow, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
NAB_VECTOR_BODY VectorInFlight<typename Lanes::Vector> update_vector_head(
    const TensorArrays& a, std::size_t i, const ElementCoefficients<typename Lanes::Vector>& c) {
    using Vector = typename Lanes::Vector;
    const bool float_parameters = !Narrow || a.parameters != nullptr;
    const bool float_gradients = !Narrow || a.gradients != nullptr;
    Vector p = float_parameters ? Lanes::load(a.parameters + i) : load_narrow<Lanes>(a.narrow_parameters + i, a.parameter_format);
    const Vector g =
        float_gradients ? Lanes::load(a.gradients + i) : load_narrow<Lanes>(a.narrow_gradients + i, a.gradient_format);
    Vector m = Lanes::load(a.first_moment + i);
    Vector s = Lanes::load(a.second_moment + i);
    Vector s_max = KeepsMax ? Lanes::load(a.max_second_moment + i) : Lanes::broadcast(0.0f);
    Vector radicand;
    update_moments<L2, Square, KeepsMax>(p, g, m, s, s_max, radicand, c);
    Lanes::store(a.first_moment + i, m);
    Lanes::store(a.second_moment + i, s);
    if (KeepsMax) Lanes::store(a.max_second_moment + i, s_max);
    return {p, m, denominator_root<FromMax, Rule>(radicand, s_max, c)};
}

// The second half: the division, the parameter's step and its store (narrowed to 16 bits from
// the same registers where the parameters are 16-bit).
template <class Lanes, bool Narrow, UpdateRule Rule>
NAB_VECTOR_BODY void update_vector_tail(const TensorArrays& a, std::size_t i,
                                        const ElementCoefficients<typename Lanes::Vector>& c,
                                        VectorInFlight<typename Lanes::Vector> v) {
    const bool float_parameters = !Narrow || a.parameters != nullptr;
    step_parameter<Rule>(v.parameter, v.first_moment, v.root, c);
    if (float_parameters) Lanes::store(a.parameters + i, v.parameter);
    if (Narrow && a.narrow_parameters != nullptr) store_narrow<Lanes>(a.narrow_parameters + i, a.parameter_format, v.parameter);
}

// The whole vectors of [begin, end), software-pipelined: the next vector's loads, moments and
// square root come before this vector's division and step in program order. The out-of-order
// window then holds fewer operations that wait on the shared divider, and overlaps more vectors:
// on AMD Zen 3 (AVX2, one thread, A/B against the unpipelined loop, medians of 61-601 alternating
// rounds) float32 1.04-1.05x in L2 and at 1M parameters, float16 + master 1.09-1.10x, bfloat16
// without master 1.10x, bfloat16 + master 1.05-1.06x; 0.98-1.05x from DRAM (16M). Same
// operations, same bits. Returns where the whole vectors end.
template <class Lanes, bool Narrow, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
NAB_VECTOR_BODY std::size_t update_whole_vectors(const TensorArrays& a, std::size_t begin, std::size_t end,
                                                 const ElementCoefficients<typename Lanes::Vector>& c) {
    constexpr std::size_t width = Lanes::width;
    std::size_t i = begin;
    if (end - i < width) return i;
    VectorInFlight<typename Lanes::Vector> current =
        update_vector_head<Lanes, Narrow, L2, Square, KeepsMax, FromMax, Rule>(a, i, c);
    for (; end - i >= 2 * width; i += width) {
        const VectorInFlight<typename Lanes::Vector> next =
            update_vector_head<Lanes, Narrow, L2, Square, KeepsMax, FromMax, Rule>(a, i + width, c);
        update_vector_tail<Lanes, Narrow, Rule>(a, i, c, current);
        current = next;
    }
    update_vector_tail<Lanes, Narrow, Rule>(a, i, c, current);
    return i + width;
}

// 1.0 in a 16-bit format: the padding of a tail's 16-bit lanes.
constexpr std::uint16_t narrow_one(NarrowFormat format) { return format == NarrowFormat::Half ? 0x3c00 : 0x3f80; }

// Elements per block where bfloat16 parameters are narrowed after the block (below): 4 KiB of
// float32 parameters, which stay in L1 with the block's other arrays between the two passes.
constexpr std::size_t kNarrowingBlock = 1024;

// The whole vectors of [begin, end) for bfloat16 parameters on a level whose lanes narrow them
// by block (Lanes::narrows_bfloat16_by_block): each block is updated in float32 (into the master
// copy, or into an L1 scratch block widened from the parameters first), then narrowed in a
// second pass. Narrowing in registers puts a chain of dependent integer operations after every
// division, and on AMD Zen 3 (AVX2) the vectors waiting on it fill the out-of-order window the
// divider needs: in a loop of the step's arithmetic over L1, 4.0 instead of 5.8 ns per vector,
// and the library's bfloat16 steps 1.1-1.2x faster in cache and at 1M parameters, with the same
// bits (the same store_bfloat16). Returns where the whole vectors end.
template <class Lanes, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
std::size_t update_narrowing_by_block(const TensorArrays& a, std::size_t begin, std::size_t end,
                                      const ElementCoefficients<typename Lanes::Vector>& c) {
    constexpr std::size_t width = Lanes::width;
    alignas(64) float scratch[kNarrowingBlock];
    std::size_t i = begin;
    while (end - i >= width) {
        const std::size_t count = end - i >= kNarrowingBlock ? kNarrowingBlock : (end - i) / width * width;
        TensorArrays block = a;
        block.parameters = a.parameters != nullptr ? a.parameters + i : scratch;
        block.gradients = a.gradients != nullptr ? a.gradients + i : nullptr;
        block.first_moment = a.first_moment + i;
        block.second_moment = a.second_moment + i;
        block.max_second_moment = KeepsMax ? a.max_second_moment + i : nullptr;
        block.narrow_parameters = nullptr;
        block.narrow_gradients = a.narrow_gradients != nullptr ? a.narrow_gradients + i : nullptr;
        if (a.parameters == nullptr) {
            for (std::size_t k = 0; k < count; k += width) {
                Lanes::store(scratch + k, Lanes::load_bfloat16(a.narrow_parameters + i + k));
            }
        }
        update_whole_vectors<Lanes, true, L2, Square, KeepsMax, FromMax, Rule>(block, 0, count, c);
        for (std::size_t k = 0; k < count; k += width) {
            Lanes::store_bfloat16(a.narrow_parameters + i + k, Lanes::load(block.parameters + k));
        }
        i += count;
    }
    return i;
}

template <class Lanes, bool Narrow, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
void update_range(const TensorArrays& arrays, std::size_t begin, std::size_t end, const ElementCoefficients<float>& scalars) {
    constexpr std::size_t width = Lanes::width;
    const ElementCoefficients<typename Lanes::Vector> c = broadcast_coefficients<Lanes>(scalars);
    // A local copy: the compiler need not reload the pointers after every store.
    const TensorArrays a = arrays;
    std::size_t i = begin;
    if constexpr (Narrow && Lanes::narrows_bfloat16_by_block) {
        if (a.narrow_parameters != nullptr && a.parameter_format == NarrowFormat::Bfloat16) {
            i = update_narrowing_by_block<Lanes, L2, Square, KeepsMax, FromMax, Rule>(a, begin, end, c);
        }
    }
    i = update_whole_vectors<Lanes, Narrow, L2, Square, KeepsMax, FromMax, Rule>(a, i, end, c);
    if (i == end) return;
    // Padded tail: lanes past the end hold 1.0 (harmless arithmetic) and are never written back.
    const std::size_t rest = end - i;
    float p[width], g[width], m[width], s[width], s_max[width];
    std::uint16_t narrow_p[width], narrow_g[width];
    for (std::size_t k = 0; k < width; ++k) {
        const bool inside = k < rest;
        p[k] = inside && a.parameters != nullptr ? a.parameters[i + k] : 1.0f;
        g[k] = inside && a.gradients != nullptr ? a.gradients[i + k] : 1.0f;
        m[k] = inside ? a.first_moment[i + k] : 1.0f;
        s[k] = inside ? a.second_moment[i + k] : 1.0f;
        s_max[k] = inside && KeepsMax ? a.max_second_moment[i + k] : 1.0f;
        narrow_p[k] = inside && a.narrow_parameters != nullptr ? a.narrow_parameters[i + k] : narrow_one(a.parameter_format);
        narrow_g[k] = inside && a.narrow_gradients != nullptr ? a.narrow_gradients[i + k] : narrow_one(a.gradient_format);
    }
    const TensorArrays padded{a.parameters != nullptr ? p : nullptr,
                              a.gradients != nullptr ? g : nullptr,
                              m,
                              s,
                              s_max,
                              a.narrow_parameters != nullptr ? narrow_p : nullptr,
                              a.narrow_gradients != nullptr ? narrow_g : nullptr,
                              a.parameter_format,
                              a.gradient_format};
    update_whole_vectors<Lanes, Narrow, L2, Square, KeepsMax, FromMax, Rule>(padded, 0, width, c);
    for (std::size_t k = 0; k < rest; ++k) {
        if (a.parameters != nullptr) a.parameters[i + k] = p[k];
        if (a.narrow_parameters != nullptr) a.narrow_parameters[i + k] = narrow_p[k];
        a.first_moment[i + k] = m[k];
        a.second_moment[i + k] = s[k];
        if (KeepsMax) a.max_second_moment[i + k] = s_max[k];
    }
}

// The kernel of one variant, for any parameter and gradient types: the all-float32 loop
// carries no 16-bit test.
template <class Lanes, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
void update_any_range(const TensorArrays& a, std::size_t begin, std::size_t end, const ElementCoefficients<float>& c) {
    if (a.narrow_parameters == nullptr && a.narrow_gradients == nullptr) {
        update_range<Lanes, false, L2, Square, KeepsMax, FromMax, Rule>(a, begin, end, c);
    } else {
        update_range<Lanes, true, L2, Square, KeepsMax, FromMax, Rule>(a, begin, end, c);
    }
}

template <class Lanes>
struct FloatKernel {
    template <bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
    struct Instance {
        static constexpr RangeKernel function = &update_any_range<Lanes, L2, Square, KeepsMax, FromMax, Rule>;
    };
};

template <class Lanes>
RangeKernel select_kernel(const KernelVariant& v) {
    return select_variant<FloatKernel<Lanes>::template Instance>(v);
}

}  // namespace nab::cpu
