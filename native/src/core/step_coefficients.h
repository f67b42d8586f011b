// The host side of one tensor's step: everything that does not depend on the element,
// computed in double once per tensor per step (bias corrections, rectification r_t, step
// size), then rounded to the float scalars the element update reads.
#pragma once

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
double rectification_term(double beta2, std::int64_t step);

// The plan of the step that takes a tensor from step t-1 to `step` (t >= 1).
TensorStepPlan plan_tensor_step(const GroupOptions& options, std::int64_t step);

}  // namespace nab
