// 8-bit state (NAB_STATE_ENCODING_BLOCKWISE_8BIT) against the float64 reference of the quantized
// algorithm: reference_step (the float64 update, written from docs/algorithm.md) from the
// library's decoded state, then the reference's formats (support/reference_eight_bit.*) for the
// new codes and scales. Fresh random inputs every run (replay with NAB_TEST_SEED=<seed>).
//
//  - Every valid option combination of both compatibility modes, two groups of different
//    hyper-parameters, 8-bit tensors of 16 to 49 blocks whose last block ends at SIMD tails
//    (six of 4096 + 0 .. 16 per combination, every one of them in each run, and 4096 + 255,
//    4096 + 257, 12345 elements) at unaligned addresses, float32
//    tensors of the same groups (below the 8-bit threshold), a learning rate changed every step,
//    null gradients on some steps, weight decay on; parameters and scales to float32 rounding,
//    codes exactly (ties within float32 rounding of a boundary counted, and required to be
//    rare) after every step.
//  - Large: more than 10^6 elements (chunked over threads).
//  - Groups of both encodings in one optimizer; the encoding changed between steps both ways.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "native_adabelief.h"
#include "support/option_combinations.h"
#include "support/reference_harness.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

constexpr int kSteps = 30;

nab_group_options eight_bit(nab_group_options o) {
    o.state_encoding = NAB_STATE_ENCODING_BLOCKWISE_8BIT;
    return o;
}

// The tails of the last block a combination's tensors end at: 0 .. 16 elements past a whole
// number of blocks, every remainder modulo 16 (and so modulo 8 and 4, each SIMD width's) and a
// whole vector more.
constexpr std::size_t kTails = 17;
// Each combination steps six of them, the next six for the next combination: every tail is
// stepped by 42 of the 120 combinations in each run, and each combination's 8-bit tensors are a
// third of what all seventeen were: with all seventeen these tests, their time mostly the check
// against the float64 reference after every step, took 60% of the native suite's time, natively,
// under AddressSanitizer and under qemu alike.
constexpr std::size_t kTailsPerCombination = 6;

// The index of a combination in all_combinations().
std::size_t combination_index(const Combination& combination) {
    const std::vector<Combination> all = all_combinations();
    const std::string name = combination_name(combination);
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (combination_name(all[i]) == name) return i;
    }
    ADD_FAILURE() << name << " is not in all_combinations()";
    return 0;
}

// 8-bit sizes: the combination's tails of the last block, and several block counts.
std::vector<std::size_t> eight_bit_sizes(const Combination& combination) {
    const std::size_t first_tail = combination_index(combination) * kTailsPerCombination;
    std::vector<std::size_t> sizes;
    for (std::size_t k = 0; k < kTailsPerCombination; ++k) {
        sizes.push_back(NAB_BLOCKWISE_8BIT_MIN_ELEMENTS + (first_tail + k) % kTails);
    }
    for (std::size_t n : {4096 + 255, 4096 + 257, 12345}) sizes.push_back(n);
    return sizes;
}

// Ties are values within float32 rounding of a boundary: rare, or the comparison says nothing.
testing::AssertionResult ties_are_rare(const ReferenceProblem& problem) {
    const double allowed = 1e-3 * static_cast<double>(problem.codes_compared()) + 2.0;
    if (static_cast<double>(problem.code_ties()) <= allowed) return testing::AssertionSuccess();
    return testing::AssertionFailure() << problem.code_ties() << " code ties in " << problem.codes_compared()
                                       << " codes";
}

class EightBitCombinationTest : public testing::TestWithParam<Combination> {};

TEST_P(EightBitCombinationTest, MatchesReferenceEveryStep) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    ReferenceProblem problem(seed);
    for (int g = 0; g < 2; ++g) {
        nab_group_options o = eight_bit(GetParam().options());
        randomize_hyperparameters(problem.random(), o);
        problem.add_group(o);
    }
    const std::vector<std::size_t> sizes = eight_bit_sizes(GetParam());
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        // Every third tensor misses its gradient on about a quarter of the steps.
        problem.add_tensor(static_cast<uint32_t>(i % 2), sizes[i], i % 3 == 0 ? 0.25 : 0.0);
    }
    for (std::size_t n : {1, 17, 4095}) problem.add_tensor(static_cast<uint32_t>(n % 2), n, 0.2);
    ASSERT_FALSE(HasFailure());
    for (uint32_t t = 0; t < problem.tensor_count(); ++t) {
        ASSERT_EQ(problem.eight_bit(t), problem.reference(t).size() >= NAB_BLOCKWISE_8BIT_MIN_ELEMENTS) << "tensor " << t;
    }
    const std::vector<double> base = base_rates(problem);
    ASSERT_TRUE(problem.check("before the first step"));
    for (int step = 1; step <= kSteps; ++step) {
        schedule(problem, base);
        problem.step();
        ASSERT_TRUE(problem.check("step " + std::to_string(step)));
    }
    EXPECT_TRUE(ties_are_rare(problem));
}

INSTANTIATE_TEST_SUITE_P(AllOptions, EightBitCombinationTest, testing::ValuesIn(all_combinations()),
                         combination_test_name);

class EightBitLargeTensorTest : public testing::TestWithParam<Combination> {};

TEST_P(EightBitLargeTensorTest, MatchesReference) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    ReferenceProblem problem(seed);
    nab_group_options o = eight_bit(GetParam().options());
    randomize_hyperparameters(problem.random(), o);
    problem.add_group(o);
    problem.add_tensor(0, 1000003);
    problem.add_tensor(0, 5000, 0.3);
    const std::vector<double> base = base_rates(problem);
    for (int step = 1; step <= 12; ++step) {
        schedule(problem, base);
        problem.step();
        if (step == 1 || step == 6 || step == 12) {
            ASSERT_TRUE(problem.check("step " + std::to_string(step)));
        }
    }
    EXPECT_TRUE(ties_are_rare(problem));
}

INSTANTIATE_TEST_SUITE_P(
    Few, EightBitLargeTensorTest,
    testing::ValuesIn(large_tensor_combinations()),
    combination_test_name);

// Groups of both encodings and different modes stepped together.
TEST(EightBitReferenceTest, GroupsOfBothEncodingsInOneOptimizer) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    ReferenceProblem problem(seed, 3);
    const std::vector<Combination> combinations = all_combinations();
    for (int g = 0; g < 6; ++g) {
        const auto pick = static_cast<std::size_t>(
            problem.random().integer(0, static_cast<int64_t>(combinations.size()) - 1));
        nab_group_options o = combinations[pick].options();
        if (g % 2 == 0) o = eight_bit(o);
        randomize_hyperparameters(problem.random(), o);
        problem.add_group(o);
    }
    for (int t = 0; t < 18; ++t) {
        const auto group = static_cast<uint32_t>(problem.random().integer(0, 5));
        const auto size = static_cast<std::size_t>(problem.random().integer(1, 3) == 1 ? problem.random().integer(1, 300)
                                                                                       : problem.random().integer(4096, 9000));
        problem.add_tensor(group, size, t % 4 == 0 ? 0.3 : 0.0);
    }
    const std::vector<double> base = base_rates(problem);
    for (int step = 1; step <= kSteps; ++step) {
        schedule(problem, base);
        problem.step();
        ASSERT_TRUE(problem.check("step " + std::to_string(step)));
    }
    EXPECT_TRUE(ties_are_rare(problem));
}

// set_group_options changes the encoding both ways (the state converted: float32 values encoded
// with fresh scales, codes decoded), and turns amsgrad on in an 8-bit group (a zero s_max in 8
// bits); the reference follows the converted state.
TEST(EightBitReferenceTest, EncodingChangedBetweenSteps) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    ReferenceProblem problem(seed);
    nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
    a.weight_decay = 0.05;
    nab_group_options b = eight_bit(default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH));
    problem.add_group(a);
    problem.add_group(b);
    for (std::size_t n : {4100, 100, 5000}) {
        problem.add_tensor(0, n, n == 5000 ? 0.2 : 0.0);
        problem.add_tensor(1, n);
    }
    auto run = [&](int steps) {
        for (int i = 0; i < steps; ++i) {
            problem.step();
            ASSERT_TRUE(problem.check("step " + std::to_string(problem.steps_taken())));
        }
    };
    // After a conversion the float32 tensors' reference state is the library's (converted) one.
    auto follow_conversion = [&](uint32_t group) {
        for (uint32_t t = 0; t < problem.tensor_count(); ++t) {
            if (tensor_info(problem.optimizer(), t).group_id != group || problem.eight_bit(t)) continue;
            ReferenceTensor& ref = problem.mutable_reference(t);
            const std::vector<float> m = read_state(problem.optimizer(), t, NAB_STATE_FIRST_MOMENT);
            const std::vector<float> s = read_state(problem.optimizer(), t, NAB_STATE_SECOND_MOMENT);
            ref.m.assign(m.begin(), m.end());
            ref.s.assign(s.begin(), s.end());
            if (ref.has_s_max()) {
                const std::vector<float> x = read_state(problem.optimizer(), t, NAB_STATE_MAX_SECOND_MOMENT);
                ref.s_max.assign(x.begin(), x.end());
            }
            ref.reset_magnitudes();
        }
    };
    run(8);
    if (HasFatalFailure()) return;

    // Group 0 to 8 bits, group 1 to float32, amsgrad on in both.
    a = eight_bit(a);
    a.amsgrad = 1;
    b.state_encoding = NAB_STATE_ENCODING_FLOAT32;
    b.amsgrad = 1;
    problem.set_group_options(0, a);
    problem.set_group_options(1, b);
    problem.refresh_encodings();
    follow_conversion(1);
    ASSERT_TRUE(problem.check("after the conversion"));
    run(8);
    if (HasFatalFailure()) return;

    // And back.
    a.state_encoding = NAB_STATE_ENCODING_FLOAT32;
    b = eight_bit(b);
    problem.set_group_options(0, a);
    problem.set_group_options(1, b);
    problem.refresh_encodings();
    follow_conversion(0);
    ASSERT_TRUE(problem.check("after the conversion back"));
    run(8);
    EXPECT_TRUE(ties_are_rare(problem));
}

}  // namespace
}  // namespace nabtest
