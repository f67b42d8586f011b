// The rule for a tensor's step count t, shared by the host (the CPU backend refuses the step)
// and the device (the CUDA guard kernel skips it): t counts the steps a tensor has taken and
// drives its bias corrections; it never wraps.
#pragma once

#include <cstdint>

#include "core/update_math.h"

namespace nab {

// The largest count there is: a tensor at it cannot take another step (t + 1 would overflow).
constexpr std::int64_t kLastStepCount = INT64_MAX;

NAB_HOST_DEVICE bool can_take_step(std::int64_t step_count) { return step_count < kLastStepCount; }

// Counts below this cannot reach kLastStepCount by stepping in any real run (2^62 more steps):
// a backend that cannot check every step cheaply (CUDA) checks only while some count that the
// caller set is at or above it.
constexpr std::int64_t kStepCountGuardThreshold = std::int64_t{1} << 62;

}  // namespace nab
