// Small helpers shared by the test files: seeds, random inputs, an owning optimizer handle,
// status assertions, option descriptions and a snapshot of everything an optimizer exposes.
#ifndef NAB_TESTS_SUPPORT_TEST_SUPPORT_H
#define NAB_TESTS_SUPPORT_TEST_SUPPORT_H

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/half_precision.h"
#include "native_adabelief.h"

namespace nabtest {

// ---- status assertions -------------------------------------------------------------------

// ASSERT/EXPECT a call returns OK; on failure print the status name and the library's message.
#define NAB_ASSERT_OK(expr)                                                                  \
    do {                                                                                     \
        const nab_status nab_status_ = (expr);                                               \
        ASSERT_EQ(nab_status_, NAB_STATUS_OK)                                                \
            << #expr << " -> " << nab_status_name(nab_status_) << ": "                \
            << nab_get_last_error();                                                         \
    } while (0)
#define NAB_EXPECT_OK(expr)                                                                  \
    do {                                                                                     \
        const nab_status nab_status_ = (expr);                                               \
        EXPECT_EQ(nab_status_, NAB_STATUS_OK)                                                \
            << #expr << " -> " << nab_status_name(nab_status_) << ": "                \
            << nab_get_last_error();                                                         \
    } while (0)

// float32 bit patterns: the library's own bit casts (plain memcpy, nothing under test).
using nab::float_bits;
using nab::float_from_bits;

// ---- seeds and random inputs -------------------------------------------------------------

// A fresh seed per call (std::random_device), unless the environment variable NAB_TEST_SEED
// holds one: then that one, so that a failure printed with its seed can be replayed:
//   NAB_TEST_SEED=1234 ./native_adabelief_tests --gtest_filter=...
uint64_t fresh_seed();

// "seed=N (replay with NAB_TEST_SEED=N)", for SCOPED_TRACE and failure messages.
std::string seed_text(uint64_t seed);

// A Random named `name` from a fresh seed, which every failure in the scope prints.
#define NAB_SEEDED_RANDOM(name)              \
    const uint64_t seed_ = fresh_seed();     \
    SCOPED_TRACE(seed_text(seed_));          \
    Random name(seed_)

class Random {
public:
    explicit Random(uint64_t seed) : engine_(seed) {}
    double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(engine_); }
    double normal() { return normal_(engine_); }
    // An integer in [lo, hi].
    int64_t integer(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(engine_); }
    bool chance(double p) { return uniform(0.0, 1.0) < p; }
    std::mt19937_64& engine() { return engine_; }

private:
    std::mt19937_64 engine_;
    std::normal_distribution<double> normal_{0.0, 1.0};
};

// Parameters: standard normal float32 values.
std::vector<float> random_parameters(Random& random, std::size_t count);

// Gradients that span several orders of magnitude, like a real network's: element i has a fixed
// scale 10^uniform(-3, 1) and each step draws scale_i * normal.
// For large tensors (> kTableThreshold elements) drawing a fresh normal per element per step
// would dominate the suite's run time, so their normals come from a per-tensor table of
// kTableSize fresh normals, read each step from a random start with a random odd stride (a
// different arrangement every step; the per-element scales keep the elements distinct).
class GradientSource {
public:
    GradientSource(Random& random, std::size_t count);
    void fill(Random& random, float* gradients) const;
    std::size_t size() const { return scale_.size(); }

    static constexpr std::size_t kTableThreshold = 65536;
    static constexpr std::size_t kTableSize = std::size_t{1} << 18;

private:
    std::vector<double> scale_;
    std::vector<double> table_;  // only for large tensors
};

// ---- owning handle -----------------------------------------------------------------------

struct OptimizerDeleter {
    void operator()(nab_optimizer* optimizer) const;
};
using OptimizerPtr = std::unique_ptr<nab_optimizer, OptimizerDeleter>;

// Creates an optimizer (CPU) with the given thread count and SIMD level; fails the test (and
// returns null) if the library refuses.
OptimizerPtr make_optimizer(int32_t thread_count = 0, int32_t simd_level = NAB_SIMD_AUTO);

// Every SIMD level the header names, and those this CPU should run, SCALAR first. The levels'
// numbers are names, not a ranking: x86-64 runs SCALAR and the AVX levels up to its best
// (AVX-512 implies AVX2), arm64 SCALAR and NEON. Derived from nab_cpu_get_best_simd_level and the
// architecture the tests were compiled for, not from what nab_optimizer_create accepts.
std::vector<int32_t> named_simd_levels();
std::vector<int32_t> supported_simd_levels();
const char* simd_level_text(int32_t level);

// A float buffer whose data() is offset by `offset_floats` from a 64-byte aligned start, to test
// unaligned pointers. Guard floats before and after are filled with a pattern that
// guards_intact() checks.
class OffsetBuffer {
public:
    OffsetBuffer(std::size_t count, std::size_t offset_floats);
    float* data() { return storage_.data() + start_; }
    const float* data() const { return storage_.data() + start_; }
    std::size_t size() const { return count_; }
    float& operator[](std::size_t i) { return data()[i]; }
    std::vector<float> copy() const { return std::vector<float>(data(), data() + count_); }
    void assign(const std::vector<float>& values);
    bool guards_intact() const;

private:
    static constexpr std::size_t kGuard = 16;
    std::vector<float> storage_;
    std::size_t start_ = 0;
    std::size_t count_ = 0;
};

// ---- options -----------------------------------------------------------------------------

nab_group_options default_options(int32_t compatibility = NAB_COMPATIBILITY_LABML);
std::string describe(const nab_group_options& options);
bool same_options(const nab_group_options& a, const nab_group_options& b);

// ---- reading the library -----------------------------------------------------------------

nab_tensor_info tensor_info(nab_optimizer* optimizer, uint32_t tensor_id);
std::vector<float> read_state(nab_optimizer* optimizer, uint32_t tensor_id, int32_t kind);

// Everything observable about an optimizer and the caller buffers registered with it: used to
// prove that a refused call changed nothing.
struct Snapshot {
    int32_t thread_count = 0;
    int32_t simd_level = 0;
    std::vector<nab_group_options> groups;
    struct Tensor {
        nab_tensor_info info{};
        std::vector<float> m, s, s_max, parameters, gradients;
    };
    std::vector<Tensor> tensors;
    uint64_t allocated_bytes = 0;
};
// `parameters[i]`/`gradients[i]` are the caller buffers of tensor i (gradients may be null).
Snapshot take_snapshot(nab_optimizer* optimizer, const std::vector<const float*>& parameters,
                       const std::vector<const float*>& gradients);
// Empty when equal, else a description of the first difference.
std::string snapshot_difference(const Snapshot& before, const Snapshot& after);

// Case-insensitive substring test.
bool contains_text(const std::string& haystack, const std::string& needle);

}  // namespace nabtest

#endif  // NAB_TESTS_SUPPORT_TEST_SUPPORT_H
