#include "cpu/gradient_statistics.h"

#include <cstring>

namespace nab::cpu {

namespace {

// The count of values whose exponent field (`exponent_mask`, in their bit pattern `Bits`) is
// all ones.
template <class Bits>
std::uint64_t count_all_ones_exponents(const void* values, std::size_t count, Bits exponent_mask) {
    std::uint64_t found = 0;
    for (std::size_t i = 0; i < count; ++i) {
        Bits bits;
        std::memcpy(&bits, static_cast<const char*>(values) + i * sizeof bits, sizeof bits);
        found += (bits & exponent_mask) == exponent_mask ? 1u : 0u;
    }
    return found;
}

}  // namespace

double SquareLanes::total() const {
    double sum = 0.0;
    for (double lane : sums) sum += lane;
    return sum;
}

// Compiled for the widest vectors the CPU has and chosen once at load time (GCC function
// multi-versioning): the lanes are independent, so every version gives the same bits. Only
// called, never taken by address: a pointer to it would be resolved while the library is still
// being relocated, and under ThreadSanitizer the instrumented resolver then jumps through an
// unrelocated entry (the test program crashed at start).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#  if __GNUC__ >= 11
#    define NAB_WIDEST_VECTORS __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#  else
// GCC 10 (Debian 11's, which builds the released library) has no x86-64-vN level names: the
// instruction sets that pick the same vector widths.
#    define NAB_WIDEST_VECTORS __attribute__((target_clones("avx512f", "avx2", "default")))
#  endif
#else
#  define NAB_WIDEST_VECTORS
#endif

NAB_WIDEST_VECTORS void add_float_squares(SquareLanes& lanes, const float* values, std::size_t count) {
    add_squares(lanes, [values](std::size_t i) { return values[i]; }, count);
}

#undef NAB_WIDEST_VECTORS

std::uint64_t nonfinite_count(const void* values, ElementType type, std::size_t count) {
    switch (type) {
        case ElementType::Float32: return count_all_ones_exponents<std::uint32_t>(values, count, 0x7f800000u);
        case ElementType::BFloat16: return count_all_ones_exponents<std::uint16_t>(values, count, 0x7f80u);
        case ElementType::Float16: return count_all_ones_exponents<std::uint16_t>(values, count, 0x7c00u);
    }
    return 0;
}

}  // namespace nab::cpu
