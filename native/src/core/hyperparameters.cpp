#include "core/hyperparameters.h"

#include <cmath>
#include <string>

#include "core/errors.h"

namespace nab {

namespace {

std::string field_name(const char* argument_name, const char* field) {
    return std::string(argument_name) + "." + field;
}

[[noreturn]] void refuse(const std::string& name, const std::string& value, const char* rule) {
    fail(NAB_STATUS_INVALID_ARGUMENT, name + " = " + value + " is invalid: " + rule);
}

void check_beta(double beta, const std::string& name) {
    if (!(beta >= 0.0 && beta < 1.0)) refuse(name, format_value(beta), "must satisfy 0 <= beta < 1");
}

void check_non_negative_finite(double value, const std::string& name) {
    if (!(value >= 0.0 && std::isfinite(value))) refuse(name, format_value(value), "must be finite and >= 0");
}

bool read_flag(int32_t value, const std::string& name) {
    if (value != 0 && value != 1) refuse(name, std::to_string(value), "a boolean must be 0 or 1");
    return value == 1;
}

void check_struct_size_of(std::uint32_t actual, std::size_t expected, const char* struct_name, const char* argument_name) {
    if (actual != expected) {
        refuse(field_name(argument_name, "struct_size"), std::to_string(actual),
               ("must be sizeof(" + std::string(struct_name) + ") = " + std::to_string(expected)).c_str());
    }
}

}  // namespace

void check_learning_rate(double learning_rate, const char* argument_name) {
    check_non_negative_finite(learning_rate, argument_name);
}

GroupOptions read_group_options(const nab_group_options* options, const char* argument_name) {
    if (options == nullptr) fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " is null");
    if (options->struct_size != sizeof(nab_group_options)) {
        refuse(field_name(argument_name, "struct_size"), std::to_string(options->struct_size),
               ("must be sizeof(nab_group_options) = " + std::to_string(sizeof(nab_group_options))).c_str());
    }
    GroupOptions result;
    switch (options->compatibility) {
        case NAB_COMPATIBILITY_LABML: result.compatibility = Compatibility::Labml; break;
        case NAB_COMPATIBILITY_ADABELIEF_PYTORCH: result.compatibility = Compatibility::AdaBeliefPytorch; break;
        default:
            refuse(field_name(argument_name, "compatibility"), std::to_string(options->compatibility),
                   "must be NAB_COMPATIBILITY_LABML (0) or NAB_COMPATIBILITY_ADABELIEF_PYTORCH (1)");
    }
    check_learning_rate(options->learning_rate, field_name(argument_name, "learning_rate").c_str());
    check_beta(options->beta1, field_name(argument_name, "beta1"));
    check_beta(options->beta2, field_name(argument_name, "beta2"));
    check_non_negative_finite(options->epsilon, field_name(argument_name, "epsilon"));
    check_non_negative_finite(options->weight_decay, field_name(argument_name, "weight_decay"));
    result.learning_rate = options->learning_rate;
    result.beta1 = options->beta1;
    result.beta2 = options->beta2;
    result.epsilon = options->epsilon;
    result.weight_decay = options->weight_decay;
    switch (options->weight_decay_mode) {
        case NAB_WEIGHT_DECAY_DECOUPLED: result.weight_decay_mode = WeightDecayMode::Decoupled; break;
        case NAB_WEIGHT_DECAY_ABSOLUTE: result.weight_decay_mode = WeightDecayMode::Absolute; break;
        case NAB_WEIGHT_DECAY_L2: result.weight_decay_mode = WeightDecayMode::L2; break;
        default:
            refuse(field_name(argument_name, "weight_decay_mode"), std::to_string(options->weight_decay_mode),
                   "must be NAB_WEIGHT_DECAY_DECOUPLED (0), NAB_WEIGHT_DECAY_ABSOLUTE (1) or NAB_WEIGHT_DECAY_L2 (2)");
    }
    switch (options->second_moment) {
        case NAB_SECOND_MOMENT_BELIEF: result.second_moment = SecondMoment::Belief; break;
        case NAB_SECOND_MOMENT_SQUARE: result.second_moment = SecondMoment::Square; break;
        default:
            refuse(field_name(argument_name, "second_moment"), std::to_string(options->second_moment),
                   "must be NAB_SECOND_MOMENT_BELIEF (0) or NAB_SECOND_MOMENT_SQUARE (1)");
    }
    result.amsgrad = read_flag(options->amsgrad, field_name(argument_name, "amsgrad"));
    result.rectify = read_flag(options->rectify, field_name(argument_name, "rectify"));
    result.degenerate_to_sgd = read_flag(options->degenerate_to_sgd, field_name(argument_name, "degenerate_to_sgd"));
    result.optimized_update = read_flag(options->optimized_update, field_name(argument_name, "optimized_update"));
    if (result.compatibility == Compatibility::AdaBeliefPytorch) {
        if (result.second_moment == SecondMoment::Square) {
            refuse(field_name(argument_name, "second_moment"), "NAB_SECOND_MOMENT_SQUARE",
                   "the square second moment exists only in labml compatibility");
        }
        if (!result.optimized_update) {
            refuse(field_name(argument_name, "optimized_update"), "0",
                   "optimized_update does not exist in adabelief-pytorch compatibility; leave it 1");
        }
    }
    return result;
}

void write_group_options(const GroupOptions& options, nab_group_options* out, const char* argument_name) {
    if (out == nullptr) fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " is null");
    if (out->struct_size != sizeof(nab_group_options)) {
        refuse(field_name(argument_name, "struct_size"), std::to_string(out->struct_size),
               ("must be sizeof(nab_group_options) = " + std::to_string(sizeof(nab_group_options))).c_str());
    }
    out->compatibility = options.compatibility == Compatibility::Labml ? NAB_COMPATIBILITY_LABML
                                                                       : NAB_COMPATIBILITY_ADABELIEF_PYTORCH;
    out->learning_rate = options.learning_rate;
    out->beta1 = options.beta1;
    out->beta2 = options.beta2;
    out->epsilon = options.epsilon;
    out->weight_decay = options.weight_decay;
    switch (options.weight_decay_mode) {
        case WeightDecayMode::Decoupled: out->weight_decay_mode = NAB_WEIGHT_DECAY_DECOUPLED; break;
        case WeightDecayMode::Absolute: out->weight_decay_mode = NAB_WEIGHT_DECAY_ABSOLUTE; break;
        case WeightDecayMode::L2: out->weight_decay_mode = NAB_WEIGHT_DECAY_L2; break;
    }
    out->second_moment = options.second_moment == SecondMoment::Belief ? NAB_SECOND_MOMENT_BELIEF
                                                                       : NAB_SECOND_MOMENT_SQUARE;
    out->amsgrad = options.amsgrad ? 1 : 0;
    out->rectify = options.rectify ? 1 : 0;
    out->degenerate_to_sgd = options.degenerate_to_sgd ? 1 : 0;
    out->optimized_update = options.optimized_update ? 1 : 0;
}

StepOptions read_step_options(const nab_step_options* options, const char* argument_name) {
    if (options == nullptr) fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " is null");
    check_struct_size_of(options->struct_size, sizeof(nab_step_options), "nab_step_options", argument_name);
    StepOptions result;
    result.skip_nonfinite = read_flag(options->skip_nonfinite, field_name(argument_name, "skip_nonfinite"));
    result.compute_gradient_norm =
        read_flag(options->compute_gradient_norm, field_name(argument_name, "compute_gradient_norm"));
    const double scale = options->inverse_gradient_scale;
    // The step multiplies by it as a float32: it must stay finite and nonzero there too.
    const float applied = static_cast<float>(scale);
    if (!(scale > 0.0 && std::isfinite(scale) && applied > 0.0f && std::isfinite(applied))) {
        refuse(field_name(argument_name, "inverse_gradient_scale"), format_value(scale),
               "must be > 0 and finite as a float32 (about 1.4e-45 to 3.4e38)");
    }
    result.inverse_gradient_scale = scale;
    check_non_negative_finite(options->max_gradient_norm, field_name(argument_name, "max_gradient_norm"));
    result.max_gradient_norm = options->max_gradient_norm;
    if (options->reserved != 0) {
        refuse(field_name(argument_name, "reserved"), std::to_string(options->reserved), "must be 0");
    }
    return result;
}

void write_step_options(const StepOptions& options, nab_step_options* out, const char* argument_name) {
    if (out == nullptr) fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " is null");
    check_struct_size_of(out->struct_size, sizeof(nab_step_options), "nab_step_options", argument_name);
    out->skip_nonfinite = options.skip_nonfinite ? 1 : 0;
    out->inverse_gradient_scale = options.inverse_gradient_scale;
    out->max_gradient_norm = options.max_gradient_norm;
    out->compute_gradient_norm = options.compute_gradient_norm ? 1 : 0;
    out->reserved = 0;
}

void write_step_report(const StepReport& report, nab_step_report* out, const char* argument_name) {
    if (out == nullptr) fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " is null");
    check_struct_size_of(out->struct_size, sizeof(nab_step_report), "nab_step_report", argument_name);
    out->gradients_checked = report.gradients_checked ? 1 : 0;
    out->skipped = report.skipped ? 1 : 0;
    out->reserved = 0;
    out->nonfinite_count = report.nonfinite_count;
    out->gradient_norm = report.gradient_norm;
    out->gradient_scale = report.gradient_scale;
    out->step_calls = report.step_calls;
}

}  // namespace nab
