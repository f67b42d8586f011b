// The scalar side of one tensor's step: everything that does not depend on the element,
// computed in double once per tensor per step (bias corrections, rectification r_t, step
// size), then rounded to the float scalars the element update reads. Host and device code
// share it: the CPU backend plans on the host, the CUDA kernel plans per block from the
// step counts it keeps on the device (so a replayed CUDA graph advances correctly).
#pragma once

#include <math.h>

#include <cstdint>

#include "core/hyperparameters.h"
#include "core/update_math.h"

namespace nab {

struct TensorStepPlan {
    KernelVariant variant;
    ElementCoefficients<float> coefficients;
};

// RAdam's rectification term r_t for step t (>= 1), or a negative value when it is
// intractable (rho_t < 5).
NAB_HOST_DEVICE double rectification_term(double beta2, std::int64_t step) {
    const double t = static_cast<double>(step);
    const double beta2_t = ::pow(beta2, t);
    const double rho_infinity = 2.0 / (1.0 - beta2) - 1.0;
    const double rho = rho_infinity - 2.0 * t * beta2_t / (1.0 - beta2_t);
    // Both originals switch at 5, not at the 4 where the square root first becomes real.
    if (!(rho >= 5.0)) return -1.0;
    return ::sqrt((rho - 4.0) / (rho_infinity - 4.0) * (rho - 2.0) / rho * rho_infinity / (rho_infinity - 2.0));
}

// The plan of the step that takes a tensor from step t-1 to `step` (t >= 1).
NAB_HOST_DEVICE TensorStepPlan plan_tensor_step(const GroupOptions& options, std::int64_t step) {
    const double lr = options.learning_rate;
    const double t = static_cast<double>(step);
    const double bias_correction1 = 1.0 - ::pow(options.beta1, t);
    const double bias_correction2 = 1.0 - ::pow(options.beta2, t);
    const double sqrt_bias_correction2 = ::sqrt(bias_correction2);
    const bool labml = options.compatibility == Compatibility::Labml;

    KernelVariant variant;
    variant.square_gradient = options.second_moment == SecondMoment::Square;
    variant.keeps_max = options.amsgrad;
    variant.l2_gradient = options.weight_decay_mode == WeightDecayMode::L2 && options.weight_decay != 0.0;

    double decay_factor = 1.0;
    if (options.weight_decay_mode == WeightDecayMode::Decoupled) decay_factor = 1.0 - lr * options.weight_decay;
    if (options.weight_decay_mode == WeightDecayMode::Absolute) decay_factor = 1.0 - options.weight_decay;

    // labml adds epsilon to v = s (+ before the square root) for AdaBelief only; its Adam
    // family passes v unchanged. adabelief-pytorch stores epsilon into s instead. The Adam
    // family (labml's only) so gets neither, which update_moments relies on.
    const double stored_epsilon = labml ? 0.0 : options.epsilon;
    const double inner_epsilon = labml && !variant.square_gradient ? options.epsilon : 0.0;

    const double r = options.rectify ? rectification_term(options.beta2, step) : 1.0;
    const bool tractable = r >= 0.0;

    double divisor = 1.0;
    double step_size = 0.0;
    if (!tractable) {
        variant.rule = options.degenerate_to_sgd ? UpdateRule::Sgd : UpdateRule::None;
        step_size = options.degenerate_to_sgd ? lr / bias_correction1 : 0.0;
    } else if (labml) {
        variant.rule = UpdateRule::Adaptive;
        variant.denominator_from_max = options.amsgrad;
        if (options.optimized_update) {
            step_size = lr * sqrt_bias_correction2 * r / bias_correction1;
        } else {
            variant.rule = UpdateRule::AdaptiveScaledRoot;
            step_size = lr * r / bias_correction1;
            divisor = sqrt_bias_correction2;
        }
    } else if (!options.rectify) {
        variant.rule = UpdateRule::AdaptiveScaledRoot;
        variant.denominator_from_max = options.amsgrad;
        step_size = lr / bias_correction1;
        divisor = sqrt_bias_correction2;
    } else {
        // adabelief-pytorch's rectified step reads s, not s_max, even with amsgrad on.
        variant.rule = UpdateRule::Adaptive;
        variant.denominator_from_max = false;
        step_size = lr * sqrt_bias_correction2 * r / bias_correction1;
    }

    TensorStepPlan plan;
    plan.variant = variant;
    ElementCoefficients<float>& c = plan.coefficients;
    c.gradient_scale = 1.0f;  // set per step from the step options (core/gradient_scaling.h)
    c.decay_factor = static_cast<float>(decay_factor);
    c.l2_coefficient = static_cast<float>(options.weight_decay);
    c.beta1 = static_cast<float>(options.beta1);
    c.one_minus_beta1 = static_cast<float>(1.0 - options.beta1);
    c.beta2 = static_cast<float>(options.beta2);
    c.one_minus_beta2 = static_cast<float>(1.0 - options.beta2);
    c.stored_epsilon = static_cast<float>(stored_epsilon);
    c.inner_epsilon = static_cast<float>(inner_epsilon);
    c.divisor = static_cast<float>(divisor);
    c.outer_epsilon = static_cast<float>(options.epsilon);
    c.step_size = static_cast<float>(step_size);
    return plan;
}

}  // namespace nab
