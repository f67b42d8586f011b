// The float64 reference. Read it next to spec/adabelief.md: each block below is one section
// of that page, in the same order. The *_magnitude bookkeeping (absolute values through the same
// recursions) is not part of the algorithm; it only sizes the float32 rounding the comparison
// allows (see reference_adabelief.h and reference_harness.h).
#include "support/reference_adabelief.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace nabtest {

ReferenceTensor::ReferenceTensor(const std::vector<float>& parameters)
    : ReferenceTensor(parameters.data(), parameters.size()) {}

ReferenceTensor::ReferenceTensor(const float* parameters, std::size_t count)
    : theta(parameters, parameters + count), m(count, 0.0), s(count, 0.0) {
    reset_magnitudes();
}

void ReferenceTensor::on_options_changed(const nab_group_options& options) {
    if (options.amsgrad == 1 && s_max.empty()) {
        s_max.assign(theta.size(), 0.0);
        s_max_magnitude.assign(theta.size(), 0.0);
    }
}

void ReferenceTensor::reset_magnitudes() {
    auto absolute = [](const std::vector<double>& values) {
        std::vector<double> out(values.size());
        std::transform(values.begin(), values.end(), out.begin(),
                       [](double v) { return std::fabs(v); });
        return out;
    };
    theta_magnitude = absolute(theta);
    m_magnitude = absolute(m);
    s_magnitude = absolute(s);
    s_max_magnitude = absolute(s_max);
}

ReferenceScalars reference_scalars(const nab_group_options& o, int64_t new_step) {
    ReferenceScalars k;
    k.t = new_step;
    const double t = static_cast<double>(new_step);
    const double beta1_t = std::pow(o.beta1, t);
    const double beta2_t = std::pow(o.beta2, t);
    k.bias_correction1 = 1.0 - beta1_t;
    k.bias_correction2 = 1.0 - beta2_t;

    // Rectification term (both modes): rho_inf = 2/(1-beta2) - 1,
    // rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t); tractable when rho_t >= 5 (not 4).
    k.rho_inf = 2.0 / (1.0 - o.beta2) - 1.0;
    k.rho_t = k.rho_inf - 2.0 * t * beta2_t / (1.0 - beta2_t);
    k.tractable = k.rho_t >= 5.0;
    if (k.tractable) {
        k.r_t = std::sqrt((k.rho_t - 4.0) / (k.rho_inf - 4.0) * (k.rho_t - 2.0) / k.rho_t *
                          k.rho_inf / (k.rho_inf - 2.0));
    }
    return k;
}

namespace {

// Weight decay comes first, before the moments (both modes). Returns the gradient the moments
// see (changed only by L2).
double apply_weight_decay(const nab_group_options& o, ReferenceTensor& x, std::size_t i, double g,
                          double& g_magnitude) {
    switch (o.weight_decay_mode) {
        case NAB_WEIGHT_DECAY_DECOUPLED: {  // theta <- theta * (1 - lr * lambda)
            const double factor = 1.0 - o.learning_rate * o.weight_decay;
            x.theta[i] *= factor;
            x.theta_magnitude[i] *= std::fabs(factor);
            return g;
        }
        case NAB_WEIGHT_DECAY_ABSOLUTE: {  // theta <- theta * (1 - lambda)
            const double factor = 1.0 - o.weight_decay;
            x.theta[i] *= factor;
            x.theta_magnitude[i] *= std::fabs(factor);
            return g;
        }
        case NAB_WEIGHT_DECAY_L2:  // g <- g + lambda * theta, only when lambda != 0
            if (o.weight_decay == 0.0) return g;
            g_magnitude += o.weight_decay * x.theta_magnitude[i];
            return g + o.weight_decay * x.theta[i];
        default:
            throw std::invalid_argument("reference: unknown weight_decay_mode");
    }
}

// The parameter update of one element is theta <- theta - c * m; these return c (0: theta
// unchanged).

// labml mode (the seed).
double labml_coefficient(const nab_group_options& o, const ReferenceScalars& k,
                         ReferenceTensor& x, std::size_t i) {
    // v = (amsgrad ? s_max <- max(s_max, s) : s) + eps; eps is never stored.
    double v_stored = x.s[i];
    if (o.amsgrad == 1) {
        x.s_max[i] = std::max(x.s_max[i], x.s[i]);
        x.s_max_magnitude[i] = std::max(x.s_max_magnitude[i], x.s_magnitude[i]);
        v_stored = x.s_max[i];
    }
    double v = 0.0;
    if (o.second_moment == NAB_SECOND_MOMENT_BELIEF) {
        // labml's AdaBelief hands `s + eps` to the Adam/RAdam update.
        v = v_stored + o.epsilon;
    } else {
        // DEVIATION FROM THE SPEC'S ONE-LINE FORMULA, on purpose: labml's Adam, AMSGrad and
        // RAdam (second_moment = square) pass v straight to adam_update / r_adam_update; only
        // AdaBelief adds eps to it. So for the squared-gradient moment epsilon appears once,
        // in the denominator sqrt(v) + eps, and not inside v.
        v = v_stored;
    }

    const double lr = o.learning_rate;
    // The Adam-type update, with its step size multiplied by `rectification` (1 for Adam).
    auto adam_type = [&](double rectification) {
        if (o.optimized_update == 1) {
            // theta <- theta - lr * sqrt(bc2) / bc1 * m / (sqrt(v) + eps)
            const double step_size =
                lr * std::sqrt(k.bias_correction2) * rectification / k.bias_correction1;
            return step_size / (std::sqrt(v) + o.epsilon);
        }
        // theta <- theta - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
        const double step_size = lr * rectification / k.bias_correction1;
        return step_size / (std::sqrt(v) / std::sqrt(k.bias_correction2) + o.epsilon);
    };

    if (o.rectify == 0) return adam_type(1.0);
    if (k.tractable) return adam_type(k.r_t);
    if (o.degenerate_to_sgd == 1) return lr / k.bias_correction1;  // SGD with momentum
    return 0.0;  // theta unchanged (moments and t still advanced)
}

// adabelief-pytorch mode (official package 0.2.1).
double pytorch_coefficient(const nab_group_options& o, const ReferenceScalars& k,
                           ReferenceTensor& x, std::size_t i) {
    // s <- s + eps, stored: eps accumulates into the state every step.
    x.s[i] += o.epsilon;
    x.s_magnitude[i] += o.epsilon;
    // Denominator of the non-rectified update: sqrt(s_max or s) / sqrt(bc2) + eps.
    double d = 0.0;
    if (o.amsgrad == 1) {
        x.s_max[i] = std::max(x.s_max[i], x.s[i]);  // s already holds +eps
        x.s_max_magnitude[i] = std::max(x.s_max_magnitude[i], x.s_magnitude[i]);
        d = std::sqrt(x.s_max[i]) / std::sqrt(k.bias_correction2) + o.epsilon;
    } else {
        d = std::sqrt(x.s[i]) / std::sqrt(k.bias_correction2) + o.epsilon;
    }

    const double lr = o.learning_rate;
    if (o.rectify == 0) {
        return lr / k.bias_correction1 / d;  // theta <- theta - lr / bc1 * m / d
    }
    if (k.tractable) {
        // theta <- theta - lr sqrt(bc2) r_t / bc1 * m / (sqrt(s) + eps): reads s, NOT s_max,
        // even with amsgrad on (as the original does).
        return lr * std::sqrt(k.bias_correction2) * k.r_t / k.bias_correction1 /
               (std::sqrt(x.s[i]) + o.epsilon);
    }
    if (o.degenerate_to_sgd == 1) return lr / k.bias_correction1;
    return 0.0;
}

}  // namespace

void reference_step(const nab_group_options& o, ReferenceTensor& x, const float* gradients) {
    // A tensor without a gradient is skipped entirely: no decay, no moments, t unchanged.
    if (gradients == nullptr) {
        return;
    }
    if (o.amsgrad == 1 && !x.has_s_max()) {
        x.s_max.assign(x.size(), 0.0);  // a group created with amsgrad on starts at zero
        x.s_max_magnitude.assign(x.size(), 0.0);
    }
    const ReferenceScalars k = reference_scalars(o, x.step + 1);
    x.step = k.t;

    for (std::size_t i = 0; i < x.size(); ++i) {
        double g = static_cast<double>(gradients[i]);
        double g_magnitude = std::fabs(g);
        g = apply_weight_decay(o, x, i, g, g_magnitude);

        // Moments: m <- b1 m + (1-b1) g; r = g - m (with the new m);
        // belief: s <- b2 s + (1-b2) r^2; square (Adam family): s <- b2 s + (1-b2) g^2.
        x.m[i] = o.beta1 * x.m[i] + (1.0 - o.beta1) * g;
        x.m_magnitude[i] = o.beta1 * x.m_magnitude[i] + (1.0 - o.beta1) * g_magnitude;
        if (o.second_moment == NAB_SECOND_MOMENT_BELIEF) {
            const double r = g - x.m[i];
            const double r_magnitude = g_magnitude + x.m_magnitude[i];
            x.s[i] = o.beta2 * x.s[i] + (1.0 - o.beta2) * r * r;
            x.s_magnitude[i] = o.beta2 * x.s_magnitude[i] + (1.0 - o.beta2) * r_magnitude * r_magnitude;
        } else {
            x.s[i] = o.beta2 * x.s[i] + (1.0 - o.beta2) * g * g;
            x.s_magnitude[i] = o.beta2 * x.s_magnitude[i] + (1.0 - o.beta2) * g_magnitude * g_magnitude;
        }

        double c = 0.0;
        if (o.compatibility == NAB_COMPATIBILITY_LABML) {
            c = labml_coefficient(o, k, x, i);
        } else if (o.compatibility == NAB_COMPATIBILITY_ADABELIEF_PYTORCH) {
            c = pytorch_coefficient(o, k, x, i);
        } else {
            throw std::invalid_argument("reference: unknown compatibility");
        }
        x.theta[i] -= c * x.m[i];
        x.theta_magnitude[i] += std::fabs(c) * x.m_magnitude[i];
    }
}

}  // namespace nabtest
