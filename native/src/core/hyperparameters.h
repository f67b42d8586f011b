// A group's hyper-parameters and the step options in C++ form, their defaults, and the rules
// every value must satisfy. This is the one home of those rules: the C ABI checks a caller's
// struct by converting it and calling validate() (api/abi_structs.cpp), the C# wrapper by
// calling the ABI's validators, and the optimizer never holds a value that failed them.
#pragma once

#include "core/gradient_scaling.h"
#include "core/state_encoding.h"

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
    // How the group's tensors store m, s and s_max (each tensor resolves it by its size).
    StateEncoding state_encoding = StateEncoding::Float32;
};

// Throws nab::Error (InvalidArgument) naming the first field that breaks a rule (by its field
// name, e.g. "beta1") and its value. Besides each value's range, the coefficients the kernel
// applies in float32 must be finite there: the learning rate, the decoupled decay factor
// 1 - learning_rate * weight_decay, the absolute one 1 - weight_decay, and L2's weight_decay.
void validate(const GroupOptions& options);
void validate(const StepOptions& options);

// The rules that involve the learning rate, for changing only it: `options` holds the new rate;
// every refusal names `argument`.
void validate_learning_rate(const GroupOptions& options, const char* argument);

}  // namespace nab
