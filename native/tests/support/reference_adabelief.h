// An independent float64 reference of the AdaBelief update, written from
// /work/shared/spec/adabelief.md ("The AdaBelief update, exactly"), not from the library's
// kernels. It shares nothing with native/src except the public option structs of the C ABI,
// which it only reads.
//
// Everything here is double: the state (m, s, s_max), the parameters it tracks and every
// intermediate. The inputs it is fed (initial parameters, gradients) are the same float32
// values the library sees, widened exactly to double.
#ifndef NAB_TESTS_SUPPORT_REFERENCE_ADABELIEF_H
#define NAB_TESTS_SUPPORT_REFERENCE_ADABELIEF_H

#include <cstddef>
#include <cstdint>
#include <vector>

#include "native_adabelief.h"

namespace nabtest {

// One parameter tensor and its optimizer state, all in float64.
struct ReferenceTensor {
    std::vector<double> theta;  // parameters
    std::vector<double> m;      // first moment
    std::vector<double> s;      // second moment (belief or squared gradient)
    std::vector<double> s_max;  // running maximum of s; empty until amsgrad is first on
    int64_t step = 0;           // t: this tensor's own step count

    // Not part of the algorithm: for judging float32 rounding only. Each value above is a sum
    // of terms of both signs (theta: initial value, decays, updates; m: EMA of g; s: EMA of r^2
    // built from r = g - m). Its float32 rounding error is a few ulps of the SIZE OF THOSE
    // TERMS, not of the result, which can cancel to ~0. These arrays follow the same recursions
    // on absolute values (|g|, |m|, |update|, ...), so they bound |value| and set the scale of
    // its rounding error. See reference_harness.h for how the comparison uses them.
    std::vector<double> theta_magnitude, m_magnitude, s_magnitude, s_max_magnitude;

    ReferenceTensor() = default;
    // Fresh state (m = s = 0, t = 0) for the given float32 parameters.
    explicit ReferenceTensor(const std::vector<float>& parameters);
    ReferenceTensor(const float* parameters, std::size_t count);

    std::size_t size() const { return theta.size(); }
    bool has_s_max() const { return !s_max.empty(); }

    // What the library does when a group's options are replaced: a tensor of a group that now
    // has amsgrad on gets a zeroed s_max if it has none yet. An existing s_max is kept (also
    // when amsgrad is turned off: it is simply neither used nor updated then).
    void on_options_changed(const nab_group_options& options);

    // After the state was overwritten (checkpoint restore): magnitudes = |current values|.
    void reset_magnitudes();
};

// Scalars computed once per tensor per step (in double, as the spec asks of the library).
struct ReferenceScalars {
    int64_t t = 0;                  // the new step count (t + 1 of the state before the step)
    double bias_correction1 = 0.0;  // bc1 = 1 - beta1^t
    double bias_correction2 = 0.0;  // bc2 = 1 - beta2^t
    double rho_inf = 0.0;           // 2 / (1 - beta2) - 1
    double rho_t = 0.0;             // rho_inf - 2 t beta2^t / (1 - beta2^t)
    bool tractable = false;         // rho_t >= 5
    double r_t = 0.0;               // the rectification term when tractable
};

ReferenceScalars reference_scalars(const nab_group_options& options, int64_t new_step);

// One optimizer step of one tensor. `gradients` null means "no gradient this step": the tensor
// is skipped entirely (no decay, no moments, t unchanged). Otherwise it holds tensor.size()
// float32 values; they are read, never written (L2 decay works on a double copy).
void reference_step(const nab_group_options& options, ReferenceTensor& tensor,
                    const float* gradients);

}  // namespace nabtest

#endif  // NAB_TESTS_SUPPORT_REFERENCE_ADABELIEF_H
