// The portable kernel: one float at a time, compiled for baseline x86-64 (or any CPU).
#include "cpu/kernel_body.h"

namespace nab::cpu {

namespace {
struct ScalarLanes {
    using Vector = float;
    static constexpr std::size_t width = 1;
    static float load(const float* source) { return *source; }
    static void store(float* destination, float value) { *destination = value; }
    static float broadcast(float value) { return value; }
};
}  // namespace

RangeKernel select_scalar_kernel(const KernelVariant& variant) { return select_kernel<ScalarLanes>(variant); }

}  // namespace nab::cpu
