// What a step does to the gradients before the update (the step options): the inverse loss
// scale, the non-finite check that skips the step, clipping by the global L2 norm. The
// decision is plain arithmetic on the fused gradient pass's two totals, shared by the host
// (CPU backend) and the device (the CUDA planning kernel, so the skip flag and the clipping
// factor never travel to the host).
#pragma once

#include <math.h>

#include <cstdint>

#include "core/update_math.h"

namespace nab {

struct StepOptions {
    bool skip_nonfinite = false;
    double inverse_gradient_scale = 1.0;
    double max_gradient_norm = 0.0;  // 0: no clipping
    bool compute_gradient_norm = false;

    // Whether a step must make the gradient pass first.
    NAB_HOST_DEVICE bool needs_gradient_statistics() const {
        return skip_nonfinite || max_gradient_norm > 0.0 || compute_gradient_norm;
    }
};

// The totals of the gradient pass over every registered gradient (or over one chunk of it).
struct GradientStatistics {
    double sum_of_squares = 0.0;  // of the gradients as stored (before the inverse scale)
    std::uint64_t nonfinite_count = 0;
};

// Adds b's totals into a. The pass adds its chunks' totals this way in chunk order, and so does
// a step given the chunk totals of a model split across optimizers
// (Optimizer::step_with_gradient_statistics): the same order gives the same bits.
inline void accumulate(GradientStatistics& a, const GradientStatistics& b) {
    a.sum_of_squares += b.sum_of_squares;
    a.nonfinite_count += b.nonfinite_count;
}

// What one step did with the gradients.
struct StepReport {
    bool gradients_checked = false;
    bool skipped = false;
    // The step was skipped because a stepped tensor's count was kLastStepCount (CUDA, where
    // the check runs on the device; the CPU refuses such a step with an error instead).
    bool step_count_exhausted = false;
    // The step was skipped because it was a CUDA graph replay captured before the optimizer's
    // layout changed (its tables are gone): it changed nothing.
    bool stale_graph = false;
    std::uint64_t nonfinite_count = 0;
    double gradient_norm = NAN;
    double gradient_scale = 1.0;  // inverse scale x clipping coefficient
    std::uint64_t step_calls = 0;
};

// Decides one step from the options and, when options.needs_gradient_statistics(), the pass's
// totals (otherwise `statistics` is ignored).
NAB_HOST_DEVICE StepReport decide_gradient_scaling(const StepOptions& options, const GradientStatistics& statistics,
                                                   std::uint64_t step_calls) {
    StepReport report;
    report.step_calls = step_calls;
    report.gradient_scale = options.inverse_gradient_scale;
    if (!options.needs_gradient_statistics()) return report;
    report.gradients_checked = true;
    report.nonfinite_count = statistics.nonfinite_count;
    // A NaN or Inf gradient makes the sum NaN or Inf; finite float32 squares cannot overflow
    // a double sum (3.4e38^2 * 2^64 < 1.8e308), so the norm is finite exactly when they are.
    report.gradient_norm = options.inverse_gradient_scale * ::sqrt(statistics.sum_of_squares);
    if (statistics.nonfinite_count != 0 && options.skip_nonfinite) {
        report.skipped = true;
        return report;
    }
    if (options.max_gradient_norm > 0.0) {
        // PyTorch's clip_grad_norm_: max_norm / (norm + 1e-6), clamped to at most 1 (a NaN
        // norm gives NaN, which the step then spreads, as PyTorch does).
        double coefficient = options.max_gradient_norm / (report.gradient_norm + 1e-6);
        if (coefficient > 1.0) coefficient = 1.0;
        report.gradient_scale = options.inverse_gradient_scale * coefficient;
    }
    return report;
}

}  // namespace nab
