// The portable 16-bit conversions: core/half_precision.h one element at a time, through the
// scalar lane type like every other level.
#include "core/scalar_lanes.h"
#include "cpu/conversion_body.h"

namespace nab::cpu {

ConversionKernels scalar_conversions() { return conversion_kernels<ScalarLanes>(); }

}  // namespace nab::cpu
