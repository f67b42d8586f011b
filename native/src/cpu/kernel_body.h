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
#include "cpu/prefetch_policy.h"
#include "cpu/vector_pipeline.h"

namespace nab::cpu {

template <class Lanes>
ElementCoefficients<typename Lanes::Vector> broadcast_coefficients(const ElementCoefficients<float>& c) {
    return {Lanes::broadcast(c.gradient_scale),  Lanes::broadcast(c.decay_factor),   Lanes::broadcast(c.l2_coefficient), Lanes::broadcast(c.beta1),
            Lanes::broadcast(c.one_minus_beta1), Lanes::broadcast(c.beta2),         Lanes::broadcast(c.one_minus_beta2),
            Lanes::broadcast(c.stored_epsilon), Lanes::broadcast(c.inner_epsilon),  Lanes::broadcast(c.divisor),
            Lanes::broadcast(c.outer_epsilon),  Lanes::broadcast(c.step_size)};
}

// What a storage's kernel reads and writes (cpu_kernels.h).
constexpr bool is_narrow(KernelStorage storage) { return storage != KernelStorage::Float32; }
constexpr bool has_float_parameters(KernelStorage storage) {
    return storage == KernelStorage::Float32 || storage == KernelStorage::HalfMaster ||
           storage == KernelStorage::Bfloat16Master;
}
constexpr bool is_half(KernelStorage storage) {
    return storage == KernelStorage::Half || storage == KernelStorage::HalfMaster;
}

template <class Lanes, KernelStorage Storage>
NAB_VECTOR_BODY typename Lanes::Vector load_narrow(const std::uint16_t* source) {
    if constexpr (is_half(Storage)) return Lanes::load_half(source);
    return Lanes::load_bfloat16(source);
}

template <class Lanes, KernelStorage Storage>
NAB_VECTOR_BODY void store_narrow(std::uint16_t* destination, typename Lanes::Vector value) {
    if constexpr (is_half(Storage)) {
        Lanes::store_half(destination, value);
    } else {
        Lanes::store_bfloat16(destination, value);
    }
}

// A vector of elements between the two halves of its update (FloatVectorSteps below,
// QuantizedVectorSteps in quantized_kernel_body.h): the decayed parameters, the
// new first moment and the denominator's square root.
template <class Vector>
struct VectorInFlight {
    Vector parameter, first_moment, root;
};

// One vector's update in the two halves pipeline_whole_vectors (vector_pipeline.h) runs apart.
// The arrays are a copy held here, in the caller's frame: the compiler need not reload the
// pointers after every store.
template <class Lanes, KernelStorage Storage, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule,
          bool Prefetch>
struct FloatVectorSteps {
    using Vector = typename Lanes::Vector;
    const TensorArrays a;
    const ElementCoefficients<Vector>& c;
    const std::size_t prefetch_until;  // with Prefetch: where the lines ahead would lie past the range's end

    // The first half, starting at i: load (widening 16-bit data in registers), the moments, their
    // stores and the square root. The moments are stored as soon as they are final, before the
    // division the parameter waits for, as a plain loop written in that order does: 1-3% faster
    // on one thread with the arrays in L3 (1M float32 parameters, AMD EPYC VM, two library builds
    // A/B), the same from DRAM. Where the parameters and gradients are and in which format is the
    // template's Storage, so the loop tests nothing per vector: with one loop for every 16-bit
    // layout, testing formats and pointers per vector, GCC laid the loop out as a maze of
    // branches, and bfloat16 without a master copy was 1.14-1.33x slower (with one 1.05x; AMD Zen
    // 3, one thread, in L2 and at 1M parameters, A/B).
    NAB_VECTOR_BODY VectorInFlight<Vector> head(std::size_t i) const {
        if (Prefetch && i < prefetch_until) prefetch_ahead(i + kPrefetchDistance);
        Vector p = has_float_parameters(Storage) ? Lanes::load(a.parameters + i)
                                                 : load_narrow<Lanes, Storage>(a.narrow_parameters + i);
        const Vector g =
            is_narrow(Storage) ? load_narrow<Lanes, Storage>(a.narrow_gradients + i) : Lanes::load(a.gradients + i);
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

    // The lines at element `at` of the float32 arrays head reads, one request per line (a vector
    // narrower than a line, AVX2's, asks every second time: each request is an instruction, and
    // AVX2's bfloat16 step without a master copy is bound by its instructions). The 16-bit
    // parameters and gradients are not asked for: bfloat16 without a master copy was 0.95x with
    // them asked for every second vector, 0.96-0.98x every vector, against the float32 arrays
    // alone (AMD Zen 5, AVX-512, 16M parameters, one thread, A/B). `at` is a multiple of the width.
    NAB_VECTOR_BODY void prefetch_ahead(std::size_t at) const {
        constexpr std::size_t float_line = 64 / sizeof(float);
        if (Lanes::width < float_line && at % float_line != 0) return;
        if (has_float_parameters(Storage)) prefetch_line(a.parameters + at);
        if (!is_narrow(Storage)) prefetch_line(a.gradients + at);
        prefetch_line(a.first_moment + at);
        prefetch_line(a.second_moment + at);
        if (KeepsMax) prefetch_line(a.max_second_moment + at);
    }

    // The second half: the division, the parameter's step and its store (narrowed to 16 bits from
    // the same registers where the parameters are 16-bit).
    NAB_VECTOR_BODY void tail(std::size_t i, VectorInFlight<Vector> v) const {
        step_parameter<Rule>(v.parameter, v.first_moment, v.root, c);
        if (has_float_parameters(Storage)) Lanes::store(a.parameters + i, v.parameter);
        if (is_narrow(Storage)) store_narrow<Lanes, Storage>(a.narrow_parameters + i, v.parameter);
    }
};

// 1.0 in a storage's 16-bit format: the padding of a tail's 16-bit lanes.
constexpr std::uint16_t narrow_one(KernelStorage storage) { return is_half(storage) ? 0x3c00 : 0x3f80; }

// The whole vectors of [begin, end) through the pipeline; returns where they end. A level that
// prefetches has a second instance of the loop, with the requests, for the steps that ask: one loop
// testing per vector whether to ask cost float32 3% in L2 (0.97x; AMD Zen 5, one thread, A/B),
// the second instance makes the library 13% larger (3.85 to 4.33 MB) and nothing slower (1.00x).
// Tried and not kept: one loop over the range less its last kPrefetchDistance elements with the
// distance in a register, then over the rest with 0 (a request for the line being loaded):
// 0.98x in L2, the library 28% larger.
template <class Lanes, KernelStorage Storage, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
NAB_VECTOR_BODY std::size_t whole_vectors(const TensorArrays& arrays, std::size_t begin, std::size_t end,
                                          const ElementCoefficients<typename Lanes::Vector>& c, bool prefetch) {
    constexpr std::size_t width = Lanes::width;
    if constexpr (Lanes::prefetches) {
        if (prefetch && end - begin > kPrefetchDistance) {
            using Prefetching = FloatVectorSteps<Lanes, Storage, L2, Square, KeepsMax, FromMax, Rule, true>;
            return pipeline_whole_vectors<width>(Prefetching{arrays, c, end - kPrefetchDistance}, begin, end);
        }
    }
    using Steps = FloatVectorSteps<Lanes, Storage, L2, Square, KeepsMax, FromMax, Rule, false>;
    return pipeline_whole_vectors<width>(Steps{arrays, c, 0}, begin, end);
}

template <class Lanes, KernelStorage Storage, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
void update_range(const TensorArrays& arrays, std::size_t begin, std::size_t end, const ElementCoefficients<float>& scalars,
                  bool prefetch) {
    constexpr std::size_t width = Lanes::width;
    using Steps = FloatVectorSteps<Lanes, Storage, L2, Square, KeepsMax, FromMax, Rule, false>;
    const ElementCoefficients<typename Lanes::Vector> c = broadcast_coefficients<Lanes>(scalars);
    const TensorArrays& a = arrays;
    const std::size_t i = whole_vectors<Lanes, Storage, L2, Square, KeepsMax, FromMax, Rule>(arrays, begin, end, c, prefetch);
    if (i == end) return;
    // Padded tail: lanes past the end hold 1.0 (harmless arithmetic) and are never written back.
    const std::size_t rest = end - i;
    constexpr bool float_parameters = has_float_parameters(Storage), narrow = is_narrow(Storage);
    float p[width], g[width], m[width], s[width], s_max[width];
    std::uint16_t narrow_p[width], narrow_g[width];
    for (std::size_t k = 0; k < width; ++k) {
        const bool inside = k < rest;
        p[k] = inside && float_parameters ? a.parameters[i + k] : 1.0f;
        g[k] = inside && !narrow ? a.gradients[i + k] : 1.0f;
        m[k] = inside ? a.first_moment[i + k] : 1.0f;
        s[k] = inside ? a.second_moment[i + k] : 1.0f;
        s_max[k] = inside && KeepsMax ? a.max_second_moment[i + k] : 1.0f;
        narrow_p[k] = inside && narrow ? a.narrow_parameters[i + k] : narrow_one(Storage);
        narrow_g[k] = inside && narrow ? a.narrow_gradients[i + k] : narrow_one(Storage);
    }
    const TensorArrays padded{p, g, m, s, s_max, narrow_p, narrow_g};
    pipeline_whole_vectors<width>(Steps{padded, c, 0}, 0, width);
    for (std::size_t k = 0; k < rest; ++k) {
        if (float_parameters) a.parameters[i + k] = p[k];
        if (narrow) a.narrow_parameters[i + k] = narrow_p[k];
        a.first_moment[i + k] = m[k];
        a.second_moment[i + k] = s[k];
        if (KeepsMax) a.max_second_moment[i + k] = s_max[k];
    }
}

template <class Lanes, KernelStorage Storage>
struct FloatKernel {
    template <bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
    struct Instance {
        // Null, and nothing compiled, for a rule the 16-bit storages have no kernel for
        // (has_narrow_kernels): the backend never asks for one.
        static constexpr RangeKernel compiled() {
            if constexpr (is_narrow(Storage) && !has_narrow_kernels(Rule)) {
                return nullptr;
            } else {
                return &update_range<Lanes, Storage, L2, Square, KeepsMax, FromMax, Rule>;
            }
        }
        static constexpr RangeKernel function = compiled();
    };
};

template <class Lanes, KernelStorage Storage>
RangeKernel select_stored(const KernelVariant& v) {
    return select_variant<FloatKernel<Lanes, Storage>::template Instance>(v);
}

template <class Lanes>
RangeKernel select_kernel(const KernelVariant& v, KernelStorage storage) {
    switch (storage) {
        case KernelStorage::Half: return select_stored<Lanes, KernelStorage::Half>(v);
        case KernelStorage::HalfMaster: return select_stored<Lanes, KernelStorage::HalfMaster>(v);
        case KernelStorage::Bfloat16: return select_stored<Lanes, KernelStorage::Bfloat16>(v);
        case KernelStorage::Bfloat16Master: return select_stored<Lanes, KernelStorage::Bfloat16Master>(v);
        case KernelStorage::Float32: break;
    }
    return select_stored<Lanes, KernelStorage::Float32>(v);
}

}  // namespace nab::cpu
