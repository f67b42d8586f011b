// The per-element update: the single source of truth for the arithmetic of every backend.
//
// `Real` is float for the scalar CPU path and for CUDA threads, or a SIMD vector type
// (cpu/simd_vector_*.h) whose operators act lane-wise. Every operation used here is one
// IEEE-754 correctly rounded float32 operation (+, -, *, /, sqrt, max) and nothing is fused,
// so every backend and SIMD width computes bit-identical results from the same inputs.
//
// The mode decisions that change which memory is touched or which formula applies are
// template parameters (uniform per tensor and step); everything else is a per-tensor scalar
// computed once per step in double by step_coefficients.h and rounded to float there.
#pragma once

#include <math.h>

#if defined(__CUDACC__)
#  define NAB_HOST_DEVICE __host__ __device__ __forceinline__
#else
#  define NAB_HOST_DEVICE inline
#endif

namespace nab {

// What the parameter update of one step is, decided per tensor from t and the options.
enum class UpdateRule {
    Adaptive,                // theta -= step_size * m / (sqrt(v) + epsilon)
    AdaptiveScaledRoot,      // theta -= step_size * m / (sqrt(v) / divisor + epsilon)
    Sgd,                     // theta -= step_size * m   (rectification intractable, degenerate_to_sgd)
    None                     // theta unchanged          (rectification intractable, no degenerate step)
};

// The template switches of the element update (one compiled kernel per combination).
struct KernelVariant {
    bool l2_gradient = false;         // g += lambda * theta before the moments
    bool square_gradient = false;     // s tracks g^2 (Adam family) instead of (g - m)^2
    bool keeps_max = false;           // s_max <- max(s_max, s) (amsgrad)
    bool denominator_from_max = false;  // v reads s_max instead of s
    UpdateRule rule = UpdateRule::Adaptive;
};

// Per-tensor scalars of one step, already rounded to float.
template <class Real>
struct ElementCoefficients {
    Real gradient_scale;      // g *= this first: inverse loss scale x clipping (1 when neither)
    Real decay_factor;        // theta *= this first (1 when no multiplicative decay)
    Real l2_coefficient;      // lambda of L2 decay (used only with l2_gradient)
    Real beta1;
    Real one_minus_beta1;
    Real beta2;
    Real one_minus_beta2;
    Real stored_epsilon;      // added into s and kept (adabelief-pytorch); 0 otherwise
    Real inner_epsilon;       // added to v before sqrt, not kept (labml AdaBelief); 0 otherwise
    Real divisor;             // sqrt(bias_correction2), divides sqrt(v) (AdaptiveScaledRoot only)
    Real outer_epsilon;       // added to the denominator
    Real step_size;           // positive; includes lr, bias corrections and r_t
};

NAB_HOST_DEVICE float max_of(float a, float b) { return a > b ? a : b; }
NAB_HOST_DEVICE float sqrt_of(float x) { return sqrtf(x); }

// The first half of the element update: the gradient's scaling and L2 term, the parameter's
// multiplicative decay, and the moments (m, s and s_max) in their final values, and `radicand`,
// what the square root of a denominator that reads s takes. The CPU kernel stores the moments
// before the second half runs (cpu/kernel_body.h says why).
//
// The radicand is s + inner_epsilon, with s = s' + stored_epsilon (s' the new moment before its
// epsilon). At most one of the two epsilons is non-zero (labml adds its epsilon under the root,
// the others into s: step_coefficients.h), so s' + (stored_epsilon + inner_epsilon) is the same
// float, and it does not wait for the store's addition: one operation fewer between the
// gradient and the square root. On AMD Zen 3, where that chain's length decides how many
// vectors the out-of-order window overlaps, the float32 step gained 0.5-3% in L2 and 4-6% at
// 1M parameters.
template <bool L2Gradient, bool SquareGradient, bool KeepsMax, class Real>
NAB_HOST_DEVICE void update_moments(Real& parameter, Real gradient, Real& first_moment, Real& second_moment,
                                    Real& max_second_moment, Real& radicand, const ElementCoefficients<Real>& c) {
    // x * 1 == x exactly (NaN and -0 included), so an unscaled step loses nothing. Kernels that
    // leave out both multiplications when the scale and the decay factor are 1 were tried: the
    // 16-bit forms 1.04-1.07x faster in L2 and at 1M parameters, float32 0.97-0.99x (AMD Zen 5,
    // one thread, A/B), for a library 48% larger (twice the adaptive rules' kernels): not kept.
    gradient = gradient * c.gradient_scale;
    if constexpr (L2Gradient) gradient = gradient + c.l2_coefficient * parameter;
    parameter = parameter * c.decay_factor;
    first_moment = c.beta1 * first_moment + c.one_minus_beta1 * gradient;
    Real residual = gradient;
    if constexpr (!SquareGradient) residual = gradient - first_moment;  // the belief: g - m, new m
    const Real raw_second_moment = c.beta2 * second_moment + c.one_minus_beta2 * (residual * residual);
    if constexpr (SquareGradient) {
        // Both epsilons are 0 for the Adam family (labml's only: step_coefficients.h), and
        // raw + 0 == raw (raw is never -0): two additions fewer, the same bits.
        second_moment = raw_second_moment;
        radicand = raw_second_moment;
    } else {
        second_moment = raw_second_moment + c.stored_epsilon;
        radicand = raw_second_moment + (c.stored_epsilon + c.inner_epsilon);
    }
    // max_of(a, b) returns b when either is NaN, so a NaN in s propagates into s_max.
    if constexpr (KeepsMax) max_second_moment = max_of(max_second_moment, second_moment);
}

// The square root of the denominator (Adaptive rules; the radicand unchanged otherwise, unused).
template <bool DenominatorFromMax, UpdateRule Rule, class Real>
NAB_HOST_DEVICE Real denominator_root(Real radicand, Real max_second_moment, const ElementCoefficients<Real>& c) {
    // One return: CUDA 11.2's front end takes an if constexpr whose branches both return for a
    // missing return.
    Real root = radicand;
    if constexpr (Rule == UpdateRule::Adaptive || Rule == UpdateRule::AdaptiveScaledRoot) {
        root = sqrt_of(DenominatorFromMax ? max_second_moment + c.inner_epsilon : radicand);
    }
    return root;
}

// The parameter's step from the new first moment and the denominator's root.
template <UpdateRule Rule, class Real>
NAB_HOST_DEVICE void step_parameter(Real& parameter, Real first_moment, Real root, const ElementCoefficients<Real>& c) {
    if constexpr (Rule == UpdateRule::Adaptive || Rule == UpdateRule::AdaptiveScaledRoot) {
        // A division is the costliest operation here; the optimized forms have no divisor, so
        // they get a kernel without it (dividing by 1 would not change a bit, only the speed).
        if constexpr (Rule == UpdateRule::AdaptiveScaledRoot) root = root / c.divisor;
        Real denominator = root + c.outer_epsilon;
        parameter = parameter - c.step_size * (first_moment / denominator);
    } else if constexpr (Rule == UpdateRule::Sgd) {
        parameter = parameter - c.step_size * first_moment;
    }
}

// The second half: the parameter's step from the new moments and radicand (after update_moments).
template <bool DenominatorFromMax, UpdateRule Rule, class Real>
NAB_HOST_DEVICE void update_parameter(Real& parameter, Real first_moment, Real radicand, Real max_second_moment,
                                      const ElementCoefficients<Real>& c) {
    step_parameter<Rule>(parameter, first_moment,
                         denominator_root<DenominatorFromMax, Rule>(radicand, max_second_moment, c), c);
}

// The whole element update: both halves.
template <bool L2Gradient, bool SquareGradient, bool KeepsMax, bool DenominatorFromMax, UpdateRule Rule,
          class Real>
NAB_HOST_DEVICE void update_element(Real& parameter, Real gradient, Real& first_moment, Real& second_moment,
                                    Real& max_second_moment, const ElementCoefficients<Real>& c) {
    Real radicand;
    update_moments<L2Gradient, SquareGradient, KeepsMax>(parameter, gradient, first_moment, second_moment,
                                                         max_second_moment, radicand, c);
    update_parameter<DenominatorFromMax, Rule>(parameter, first_moment, radicand, max_second_moment, c);
}

}  // namespace nab
