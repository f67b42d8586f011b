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

}  // namespace

void validate_learning_rate(double learning_rate, const char* argument) {
    check_non_negative_finite(learning_rate, argument);
}

void validate(const GroupOptions& options) {
    validate_learning_rate(options.learning_rate, "learning_rate");
    check_beta(options.beta1, "beta1");
    check_beta(options.beta2, "beta2");
    check_non_negative_finite(options.epsilon, "epsilon");
    check_non_negative_finite(options.weight_decay, "weight_decay");
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
