// Runs the library and the float64 reference side by side on the same random problem and
// compares them with the spec's tolerances (spec/adabelief.md, "Accuracy the tests must hold").
#ifndef NAB_TESTS_SUPPORT_REFERENCE_HARNESS_H
#define NAB_TESTS_SUPPORT_REFERENCE_HARNESS_H

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "native_adabelief.h"
#include "support/reference_adabelief.h"
#include "support/reference_eight_bit.h"
#include "support/test_support.h"

namespace nabtest {

// The spec's bound: max relative error of theta, m, s (and s_max) <= 1e-5.
inline constexpr double kRelativeTolerance = 1e-5;

// Relative errors are |lib - ref| / max(|ref|, floor_i), per element i, where
//
//   floor_i = max(spec floor, kMagnitudeFraction * magnitude_i)
//
//  - spec floor: theta 1e-3 (the spec's own: parameters near zero are compared absolutely);
//    m none; s and s_max 1e-30 (only to avoid 0/0 where s is exactly 0, e.g. beta1 = 0 makes
//    r = 0; s is a sum of non-negative terms and cannot cancel on its own).
//  - magnitude_i (ReferenceTensor::*_magnitude) is the size of the terms the value was summed
//    from: the same recursion run on absolute values (for m: EMA of |g|; for s: EMA of
//    (|g| + |m|)^2; for theta: |theta_0| decayed plus the sum of |update|; L2 adds
//    lambda * |theta| to |g|). Float32 can only hold a sum to a few ulps of its terms: when they
//    cancel (m ~ 0 at a sign change of the gradient's average; theta passing through 0 after large
//    steps; g + lambda*theta ~ 0 under L2, which also leaves s tiny) the result's own relative
//    error is unbounded although every operation was correctly rounded. Measured against the
//    terms instead, float32 stays within about 1e-7 of them over these runs (a few ulps, grown by
//    at most 1/(1 - beta1) through the EMA).
//    Measured over all the combinations here, float32 stays within ~3e-6 of the magnitude
//    (~1e-6 for m and s; theta reaches ~2.6e-6 through 60 decays by a float32-rounded factor).
//    The floor 0.3 * magnitude therefore allows 3e-6 of the terms for a cancelled value, and
//    leaves the spec's 1e-5 relative bound untouched wherever |ref| >= 0.3 * magnitude: most
//    elements of every tensor, and every element a wrong formula or a float32-computed scalar
//    (e.g. 1 - beta2 rounded to float: 1.3e-5 relative on all of s) would move.
//    (The first idea for m, 1e-3 * max|m| over the tensor, is too tight where elements of the
//    tensor's largest scale cancel -- float32 gives ~1e-7 of that scale, 1e-4 relative to that
//    floor, seen in the first runs -- and far too loose for elements whose gradients are 10^4
//    times smaller than the largest.)
inline constexpr double kThetaFloor = 1e-3;
inline constexpr double kSecondMomentTinyFloor = 1e-30;
inline constexpr double kMagnitudeFraction = 0.3;

struct WorstError {
    double relative = 0.0;
    double versus_magnitude = 0.0;  // max |lib - ref| / magnitude (diagnostics)
    std::size_t index = 0;
    double library = 0.0;
    double reference = 0.0;
    double floor = 0.0;
};

enum class Quantity { Theta, FirstMoment, SecondMoment, MaxSecondMoment };
const char* quantity_name(Quantity quantity);

WorstError worst_relative_error(Quantity quantity, const float* library,
                                const std::vector<double>& reference,
                                const std::vector<double>& magnitude);

class ReferenceProblem {
public:
    // An optimizer with the given threads / SIMD level, seeded with `seed` (printed on failure).
    explicit ReferenceProblem(uint64_t seed, int32_t thread_count = 2,
                              int32_t simd_level = NAB_SIMD_AUTO);

    uint32_t add_group(const nab_group_options& options);
    // A tensor of `count` elements in `group`. Each step its gradient is absent (null) with
    // probability `null_probability`. Its buffers are offset by a random 0..15 floats from a
    // 64-byte boundary.
    uint32_t add_tensor(uint32_t group, std::size_t count, double null_probability = 0.0);

    // Replaces a group's options in the library and the reference.
    void set_group_options(uint32_t group, const nab_group_options& options);
    void set_learning_rate(uint32_t group, double learning_rate);
    const nab_group_options& group_options(uint32_t group) const { return groups_[group]; }
    std::size_t group_count() const { return groups_.size(); }

    // One step: new gradients (or null) for every tensor, then the library's step and the
    // reference's.
    void step();
    int64_t steps_taken() const { return steps_; }

    // Compares every tensor (theta, m, s, s_max, t, presence of s_max) with the reference. A
    // tensor with 8-bit state (see below) is compared on theta and on its codes and scales.
    testing::AssertionResult check(const std::string& stage);

    // 8-bit state: before each step the reference takes the library's codes and scales (decoded
    // exactly) as its m, s and s_max, so each step checks the step itself: the float64 update
    // from that state must give the library's parameters (to float32 rounding) and its new codes
    // and scales (see reference_eight_bit.h). A tensor skipped by a step must
    // keep its codes and scales bit for bit; so must s_max while amsgrad is off.
    std::size_t codes_compared() const { return codes_compared_; }
    std::size_t code_ties() const { return code_ties_; }
    bool eight_bit(uint32_t tensor) const { return tensors_[tensor]->eight_bit; }
    // Reads every tensor's encoding again (after set_group_options changed a group's).
    void refresh_encodings();

    Random& random() { return random_; }
    nab_optimizer* optimizer() const { return optimizer_.get(); }
    uint64_t seed() const { return seed_; }
    std::size_t tensor_count() const { return tensors_.size(); }
    const ReferenceTensor& reference(uint32_t tensor) const { return tensors_[tensor]->reference; }
    // Overwrites a tensor's reference state (after the test wrote the same into the library).
    ReferenceTensor& mutable_reference(uint32_t tensor) { return tensors_[tensor]->reference; }
    float* parameters(uint32_t tensor) { return tensors_[tensor]->parameters.data(); }

private:
    struct Tensor {
        Tensor(Random& random, uint32_t group_id, std::size_t count, double null_p);
        uint32_t group = 0;
        uint32_t id = 0;
        double null_probability = 0.0;
        bool gradient_registered = true;
        bool eight_bit = false;            // its m, s and s_max are stored in 8 bits
        bool unchanged[3] = {};            // the last step must have left m, s, s_max as they were
        CodedArray before[3];              // m, s, s_max codes before the last step
        OffsetBuffer parameters;
        OffsetBuffer gradients;
        GradientSource source;
        ReferenceTensor reference;
    };

    uint64_t seed_;
    Random random_;
    OptimizerPtr optimizer_;
    std::vector<nab_group_options> groups_;
    std::vector<std::unique_ptr<Tensor>> tensors_;
    int64_t steps_ = 0;
    std::size_t codes_compared_ = 0, code_ties_ = 0;

    // The reference's m, s and s_max become the library's decoded 8-bit state.
    void take_eight_bit_state(Tensor& tensor);
};

}  // namespace nabtest

#endif  // NAB_TESTS_SUPPORT_REFERENCE_HARNESS_H
