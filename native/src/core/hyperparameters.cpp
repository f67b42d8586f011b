#include "core/hyperparameters.h"

#include <cmath>
#include <string>

#include "core/errors.h"

namespace nab {

namespace {

[[noreturn]] void refuse(const char* field, const std::string& value, const char* rule) {
    fail_argument(field, "= " + value + " is invalid: " + rule);
}

void check_beta(double beta, const char* field) {
    if (!(beta >= 0.0 && beta < 1.0)) refuse(field, format_value(beta), "must satisfy 0 <= beta < 1");
}

void check_non_negative_finite(double value, const char* field) {
    if (!(value >= 0.0 && std::isfinite(value))) refuse(field, format_value(value), "must be finite and >= 0");
}

bool finite_as_float(double value) { return std::isfinite(static_cast<float>(value)); }

// The decay coefficient the kernel applies in float32, which must stay finite there (e.g. a
// learning rate of 1e39, or 1e20 with a weight decay of 1e20, would turn every parameter into
// an infinity in one step). `field` and `value` name what the caller changed.
void check_decay_in_float(const GroupOptions& options, const char* field, double value) {
    const double lr = options.learning_rate, lambda = options.weight_decay;
    const char* what = nullptr;
    double coefficient = 0.0;
    switch (options.weight_decay_mode) {
        case WeightDecayMode::Decoupled: what = "the decay factor 1 - learning_rate * weight_decay"; coefficient = 1.0 - lr * lambda; break;
        case WeightDecayMode::Absolute: what = "the decay factor 1 - weight_decay"; coefficient = 1.0 - lambda; break;
        case WeightDecayMode::L2: what = "the L2 coefficient weight_decay"; coefficient = lambda; break;
    }
    if (!finite_as_float(coefficient)) {
        refuse(field, format_value(value),
               (std::string(what) + " = " + format_value(coefficient) +
                " is not finite as a float32 (the step applies it in float32)")
                   .c_str());
    }
}

void check_learning_rate(double learning_rate, const char* field) {
    check_non_negative_finite(learning_rate, field);
    if (!finite_as_float(learning_rate)) {
        refuse(field, format_value(learning_rate),
               "must be finite as a float32 (at most about 3.4e38): the step applies it in float32");
    }
}

}  // namespace

void validate_learning_rate(const GroupOptions& options, const char* argument) {
    check_learning_rate(options.learning_rate, argument);
    check_decay_in_float(options, argument, options.learning_rate);
}

void validate(const GroupOptions& options) {
    check_learning_rate(options.learning_rate, "learning_rate");
    check_beta(options.beta1, "beta1");
    check_beta(options.beta2, "beta2");
    check_non_negative_finite(options.epsilon, "epsilon");
    check_non_negative_finite(options.weight_decay, "weight_decay");
    check_decay_in_float(options, "weight_decay", options.weight_decay);
    if (options.compatibility == Compatibility::AdaBeliefPytorch) {
        if (options.second_moment == SecondMoment::Square) {
            refuse("second_moment", "square (the Adam family)",
                   "the square second moment exists only in labml compatibility");
        }
        if (!options.optimized_update) {
            refuse("optimized_update", "0", "optimized_update does not exist in adabelief-pytorch compatibility; leave it 1");
        }
    }
}

void validate(const StepOptions& options) {
    const double scale = options.inverse_gradient_scale;
    // The step multiplies by it as a float32: it must stay finite and nonzero there too.
    const float applied = static_cast<float>(scale);
    if (!(scale > 0.0 && std::isfinite(scale) && applied > 0.0f && std::isfinite(applied))) {
        refuse("inverse_gradient_scale", format_value(scale), "must be > 0 and finite as a float32 (about 1.4e-45 to 3.4e38)");
    }
    check_non_negative_finite(options.max_gradient_norm, "max_gradient_norm");
}

}  // namespace nab
