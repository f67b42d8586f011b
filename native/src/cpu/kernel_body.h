// The loop around update_element for one SIMD width over float32 state, and its compiled
// instances (kernel_variants.h). Included by exactly one translation unit per SIMD level;
// `Lanes` (core/scalar_lanes.h for the contract, cpu/simd_vector_*.h) supplies the vector type,
// its width and its loads/stores.
//
// A tail shorter than the width goes through the same vector code on a padded copy, so no
// scalar instance of update_element is compiled with another level's target flags (that
// would let the linker pick, say, an AVX2-compiled copy for the portable path).
#pragma once

#include <cstddef>

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

template <class Lanes, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
void update_range(const TensorArrays& a, std::size_t begin, std::size_t end, const ElementCoefficients<float>& scalars) {
    using Vector = typename Lanes::Vector;
    constexpr std::size_t width = Lanes::width;
    const ElementCoefficients<Vector> c = broadcast_coefficients<Lanes>(scalars);
    std::size_t i = begin;
    for (; i + width <= end; i += width) {
        Vector p = Lanes::load(a.parameters + i);
        Vector m = Lanes::load(a.first_moment + i);
        Vector s = Lanes::load(a.second_moment + i);
        Vector s_max = KeepsMax ? Lanes::load(a.max_second_moment + i) : Lanes::broadcast(0.0f);
        update_element<L2, Square, KeepsMax, FromMax, Rule>(p, Lanes::load(a.gradients + i), m, s, s_max, c);
        Lanes::store(a.parameters + i, p);
        Lanes::store(a.first_moment + i, m);
        Lanes::store(a.second_moment + i, s);
        if (KeepsMax) Lanes::store(a.max_second_moment + i, s_max);
    }
    if (i == end) return;
    // Padded tail: lanes past the end hold 1.0 (harmless arithmetic) and are never written back.
    const std::size_t rest = end - i;
    float p[width], g[width], m[width], s[width], s_max[width];
    for (std::size_t k = 0; k < width; ++k) {
        const bool inside = k < rest;
        p[k] = inside ? a.parameters[i + k] : 1.0f;
        g[k] = inside ? a.gradients[i + k] : 1.0f;
        m[k] = inside ? a.first_moment[i + k] : 1.0f;
        s[k] = inside ? a.second_moment[i + k] : 1.0f;
        s_max[k] = inside && KeepsMax ? a.max_second_moment[i + k] : 1.0f;
    }
    Vector vp = Lanes::load(p), vm = Lanes::load(m), vs = Lanes::load(s), vs_max = Lanes::load(s_max);
    update_element<L2, Square, KeepsMax, FromMax, Rule>(vp, Lanes::load(g), vm, vs, vs_max, c);
    Lanes::store(p, vp);
    Lanes::store(m, vm);
    Lanes::store(s, vs);
    Lanes::store(s_max, vs_max);
    for (std::size_t k = 0; k < rest; ++k) {
        a.parameters[i + k] = p[k];
        a.first_moment[i + k] = m[k];
        a.second_moment[i + k] = s[k];
        if (KeepsMax) a.max_second_moment[i + k] = s_max[k];
    }
}

template <class Lanes>
struct FloatKernel {
    template <bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
    struct Instance {
        static constexpr RangeKernel function = &update_range<Lanes, L2, Square, KeepsMax, FromMax, Rule>;
    };
};

template <class Lanes>
RangeKernel select_kernel(const KernelVariant& v) {
    return select_variant<FloatKernel<Lanes>::template Instance>(v);
}

}  // namespace nab::cpu
