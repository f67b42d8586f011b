// A group's hyper-parameters in C++ form, their defaults, and the spec's validity checks.
#pragma once

#include "core/gradient_scaling.h"
#include "native_adabelief.h"

namespace nab {

enum class Compatibility { Labml, AdaBeliefPytorch };
enum class WeightDecayMode { Decoupled, Absolute, L2 };
enum class SecondMoment { Belief, Square };

struct GroupOptions {
    Compatibility compatibility = Compatibility::Labml;
    double learning_rate = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double epsilon = 1e-16;
    double weight_decay = 0.0;
    WeightDecayMode weight_decay_mode = WeightDecayMode::Decoupled;
    SecondMoment second_moment = SecondMoment::Belief;
    bool amsgrad = false;
    bool rectify = true;
    bool degenerate_to_sgd = true;
    bool optimized_update = true;
};

// Reads and checks a caller's struct (struct_size included). Throws nab::Error
// (INVALID_ARGUMENT) naming `argument_name.field` and the value; `argument_name` is the
// parameter's name in the calling ABI function.
GroupOptions read_group_options(const nab_group_options* options, const char* argument_name);

// Writes options into a caller's struct whose struct_size the caller set.
void write_group_options(const GroupOptions& options, nab_group_options* out, const char* argument_name);

// The spec's check of a learning rate: finite and >= 0.
void check_learning_rate(double learning_rate, const char* argument_name);

// The step options (nab_step_options) read and checked, and written back; and a step report.
StepOptions read_step_options(const nab_step_options* options, const char* argument_name);
void write_step_options(const StepOptions& options, nab_step_options* out, const char* argument_name);
void write_step_report(const StepReport& report, nab_step_report* out, const char* argument_name);

}  // namespace nab
