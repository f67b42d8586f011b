// The library against the float64 reference (support/reference_adabelief.*), which is written
// from spec/adabelief.md. Fresh random inputs every run; the seed is printed with any failure
// and can be replayed with NAB_TEST_SEED=<seed>.
//
//  - Combinations: every valid option combination of both compatibility modes (labml: weight
//    decay mode x second moment x amsgrad x rectify x degenerate_to_sgd x optimized_update;
//    adabelief-pytorch: weight decay mode x amsgrad x rectify x degenerate_to_sgd), each with
//    two groups of different hyper-parameters, 37 tensors (sizes 1, 3, 17, 64, every SIMD tail
//    1..33, 63, 65, 127, 129) at unaligned addresses, a learning rate changed every step, null
//    gradients on some steps for some tensors, weight decay on, 60 steps, checked every step.
//  - Large: a tensor of more than 10^6 elements, a few combinations.
//  - Mixed groups: many groups of different modes and flags in one optimizer.
//  - Edges: beta1 = 0, beta2 = 0, epsilon = 0, learning rate 0, options replaced mid-run.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "native_adabelief.h"
#include "support/option_combinations.h"
#include "support/reference_harness.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

// 1, 3, 17, 64 and every SIMD tail: 1..33 (covers 8- and 16-wide remainders), 63, 65, 127, 129.
std::vector<std::size_t> small_sizes() {
    std::vector<std::size_t> sizes;
    for (std::size_t n = 1; n <= 33; ++n) sizes.push_back(n);
    for (std::size_t n : {64, 63, 65, 127, 129}) sizes.push_back(n);
    return sizes;
}

constexpr int kSteps = 60;

class CombinationTest : public testing::TestWithParam<Combination> {};

TEST_P(CombinationTest, MatchesReferenceEveryStep) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    ReferenceProblem problem(seed);
    // Two groups with the same flags and different hyper-parameters.
    for (int g = 0; g < 2; ++g) {
        nab_group_options o = GetParam().options();
        randomize_hyperparameters(problem.random(), o);
        problem.add_group(o);
    }
    const std::vector<std::size_t> sizes = small_sizes();
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        // Every third tensor misses its gradient on about a quarter of the steps.
        problem.add_tensor(static_cast<uint32_t>(i % 2), sizes[i], i % 3 == 0 ? 0.25 : 0.0);
    }
    ASSERT_FALSE(HasFailure());
    const std::vector<double> base = base_rates(problem);
    ASSERT_TRUE(problem.check("before the first step"));
    for (int step = 1; step <= kSteps; ++step) {
        schedule(problem, base);
        problem.step();
        ASSERT_TRUE(problem.check("step " + std::to_string(step)));
    }
}

INSTANTIATE_TEST_SUITE_P(AllOptions, CombinationTest, testing::ValuesIn(all_combinations()),
                         combination_test_name);

// More than 10^6 elements in one tensor (chunked across threads, long SIMD body), next to small
// tensors. A few combinations only, to keep the suite fast.
class LargeTensorTest : public testing::TestWithParam<Combination> {};

TEST_P(LargeTensorTest, MatchesReference) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    ReferenceProblem problem(seed);
    nab_group_options o = GetParam().options();
    randomize_hyperparameters(problem.random(), o);
    problem.add_group(o);
    problem.add_tensor(0, 1000003);
    problem.add_tensor(0, 17, 0.3);
    problem.add_tensor(0, 129);
    const std::vector<double> base = base_rates(problem);
    for (int step = 1; step <= 50; ++step) {
        schedule(problem, base);
        problem.step();
        if (step == 1 || step == 6 || step == 20 || step == 50) {
            ASSERT_TRUE(problem.check("step " + std::to_string(step)));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Few, LargeTensorTest,
    testing::Values(
        Combination{NAB_COMPATIBILITY_LABML, NAB_WEIGHT_DECAY_DECOUPLED, NAB_SECOND_MOMENT_BELIEF, 0, 1, 1, 1},
        Combination{NAB_COMPATIBILITY_LABML, NAB_WEIGHT_DECAY_L2, NAB_SECOND_MOMENT_SQUARE, 1, 0, 0, 0},
        Combination{NAB_COMPATIBILITY_ADABELIEF_PYTORCH, NAB_WEIGHT_DECAY_ABSOLUTE, NAB_SECOND_MOMENT_BELIEF, 1, 1, 1, 1}),
    combination_test_name);

// Many groups, each with its own random mode, flags and hyper-parameters, stepped together.
TEST(ReferenceTest, ManyGroupsOfDifferentModesInOneOptimizer) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    ReferenceProblem problem(seed, 3);
    const std::vector<Combination> combinations = all_combinations();
    for (int g = 0; g < 8; ++g) {
        const auto pick = static_cast<std::size_t>(
            problem.random().integer(0, static_cast<int64_t>(combinations.size()) - 1));
        nab_group_options o = combinations[pick].options();
        randomize_hyperparameters(problem.random(), o);
        problem.add_group(o);
    }
    for (int t = 0; t < 40; ++t) {
        const auto group = static_cast<uint32_t>(problem.random().integer(0, 7));
        const auto size = static_cast<std::size_t>(problem.random().integer(1, 300));
        problem.add_tensor(group, size, t % 4 == 0 ? 0.3 : 0.0);
    }
    const std::vector<double> base = base_rates(problem);
    for (int step = 1; step <= kSteps; ++step) {
        schedule(problem, base);
        problem.step();
        ASSERT_TRUE(problem.check("step " + std::to_string(step)));
    }
}

// Runs `steps` steps on a few tensors with options `o` (hyper-parameters as given), checking
// every step.
void run_edge_case(const nab_group_options& o, int steps = kSteps) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed) + " " + describe(o));
    ReferenceProblem problem(seed);
    problem.add_group(o);
    for (std::size_t n : {1, 7, 31, 64, 129}) {
        problem.add_tensor(0, n, n == 7 ? 0.3 : 0.0);
    }
    for (int step = 1; step <= steps; ++step) {
        problem.step();
        ASSERT_TRUE(problem.check("step " + std::to_string(step)));
    }
}

nab_group_options edge_options(int32_t compat, int32_t moment, int32_t amsgrad, int32_t rectify,
                               int32_t sgd) {
    nab_group_options o = default_options(compat);
    o.second_moment = moment;
    o.amsgrad = amsgrad;
    o.rectify = rectify;
    o.degenerate_to_sgd = sgd;
    o.weight_decay = 0.1;
    return o;
}

// beta1 = 0: m = g exactly, so with the belief moment r = 0 and s stays 0 (labml) or holds only
// the accumulated epsilon (adabelief-pytorch); the update then divides by an epsilon-sized
// denominator, so a not-tiny epsilon keeps the parameters in a sane range.
TEST(ReferenceEdgeTest, Beta1Zero) {
    for (int32_t compat : {NAB_COMPATIBILITY_LABML, NAB_COMPATIBILITY_ADABELIEF_PYTORCH}) {
        for (int32_t moment : {NAB_SECOND_MOMENT_BELIEF, NAB_SECOND_MOMENT_SQUARE}) {
            if (compat != NAB_COMPATIBILITY_LABML && moment == NAB_SECOND_MOMENT_SQUARE) continue;
            for (int32_t amsgrad : {0, 1}) {
                for (int32_t rectify : {0, 1}) {
                    nab_group_options o = edge_options(compat, moment, amsgrad, rectify, 1);
                    o.beta1 = 0.0;
                    o.epsilon = 1e-8;
                    run_edge_case(o);
                    if (HasFatalFailure()) return;
                }
            }
        }
    }
}

// beta2 = 0: bc2 = 1, rho_inf = 1 so the rectification term is never tractable (rectify on
// always takes the degenerate branch). s is just the last r^2 (or g^2). With the belief moment
// r = b1 (g - m_prev) can cancel, so s may be tiny and only known to float32 relative to the
// size of g and m (the magnitude floor covers that); an update dividing by sqrt(s) would then be
// ill-conditioned, so the belief moment runs with rectify on (no division by s) only, and the
// Adam path (rectify off) runs with the squared-gradient moment, which has no cancellation.
TEST(ReferenceEdgeTest, Beta2Zero) {
    for (int32_t amsgrad : {0, 1}) {
        for (int32_t sgd : {0, 1}) {
            for (int32_t compat : {NAB_COMPATIBILITY_LABML, NAB_COMPATIBILITY_ADABELIEF_PYTORCH}) {
                nab_group_options o = edge_options(compat, NAB_SECOND_MOMENT_BELIEF, amsgrad, 1, sgd);
                o.beta2 = 0.0;
                run_edge_case(o);
                if (HasFatalFailure()) return;
            }
            nab_group_options o = edge_options(NAB_COMPATIBILITY_LABML, NAB_SECOND_MOMENT_SQUARE, amsgrad, 0, sgd);
            o.beta2 = 0.0;
            for (int32_t optimized : {0, 1}) {
                o.optimized_update = optimized;
                run_edge_case(o);
                if (HasFatalFailure()) return;
            }
        }
    }
}

TEST(ReferenceEdgeTest, BothBetasZero) {
    nab_group_options o = edge_options(NAB_COMPATIBILITY_LABML, NAB_SECOND_MOMENT_SQUARE, 0, 0, 1);
    o.beta1 = 0.0;
    o.beta2 = 0.0;
    o.epsilon = 1e-8;
    run_edge_case(o);
    if (HasFatalFailure()) return;
    o.rectify = 1;  // never tractable: plain SGD steps lr * g
    o.second_moment = NAB_SECOND_MOMENT_BELIEF;
    run_edge_case(o);
}

// epsilon = 0 with non-zero gradients: the denominators are sqrt(s) alone (s > 0 after the
// first step because the gradients are never exactly zero).
TEST(ReferenceEdgeTest, EpsilonZero) {
    for (int32_t compat : {NAB_COMPATIBILITY_LABML, NAB_COMPATIBILITY_ADABELIEF_PYTORCH}) {
        for (int32_t moment : {NAB_SECOND_MOMENT_BELIEF, NAB_SECOND_MOMENT_SQUARE}) {
            if (compat != NAB_COMPATIBILITY_LABML && moment == NAB_SECOND_MOMENT_SQUARE) continue;
            for (int32_t amsgrad : {0, 1}) {
                for (int32_t rectify : {0, 1}) {
                    for (int32_t optimized : {0, 1}) {
                        if (compat != NAB_COMPATIBILITY_LABML && optimized == 0) continue;
                        nab_group_options o = edge_options(compat, moment, amsgrad, rectify, 1);
                        o.optimized_update = optimized;
                        o.epsilon = 0.0;
                        run_edge_case(o, 30);
                        if (HasFatalFailure()) return;
                    }
                }
            }
        }
    }
}

// lr = 0 is valid: the moments and t advance; decoupled decay is then a no-op, absolute decay
// still shrinks the parameters.
TEST(ReferenceEdgeTest, LearningRateZero) {
    for (int32_t wd : {NAB_WEIGHT_DECAY_DECOUPLED, NAB_WEIGHT_DECAY_ABSOLUTE, NAB_WEIGHT_DECAY_L2}) {
        nab_group_options o = edge_options(NAB_COMPATIBILITY_LABML, NAB_SECOND_MOMENT_BELIEF, 1, 1, 1);
        o.learning_rate = 0.0;
        o.weight_decay_mode = wd;
        o.weight_decay = 0.01;
        run_edge_case(o, 10);
        if (HasFatalFailure()) return;
    }
}

// set_group_options between steps: every flag (compatibility included) may change; turning
// amsgrad on gives tensors that lack it a zeroed s_max; turning it off keeps s_max (unused).
TEST(ReferenceEdgeTest, OptionsReplacedBetweenSteps) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    ReferenceProblem problem(seed);
    nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
    a.weight_decay = 0.05;
    nab_group_options b = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
    b.weight_decay = 0.05;
    b.weight_decay_mode = NAB_WEIGHT_DECAY_L2;
    problem.add_group(a);
    problem.add_group(b);
    for (std::size_t n : {5, 33, 100}) {
        problem.add_tensor(0, n, n == 33 ? 0.2 : 0.0);
        problem.add_tensor(1, n);
    }
    auto run = [&](int steps) {
        for (int i = 0; i < steps; ++i) {
            problem.step();
            ASSERT_TRUE(problem.check("step " + std::to_string(problem.steps_taken())));
        }
    };
    run(10);
    if (HasFatalFailure()) return;

    // amsgrad on: group 0's tensors get s_max = 0 before the next step.
    a.amsgrad = 1;
    problem.set_group_options(0, a);
    for (uint32_t t = 0; t < problem.tensor_count(); ++t) {
        const nab_tensor_info info = tensor_info(problem.optimizer(), t);
        if (info.group_id == 0) {
            ASSERT_EQ(info.has_max_second_moment, 1) << "tensor " << t;
            for (float v : read_state(problem.optimizer(), t, NAB_STATE_MAX_SECOND_MOMENT)) {
                ASSERT_EQ(v, 0.0f) << "tensor " << t << ": fresh s_max is not zero";
            }
        } else {
            ASSERT_EQ(info.has_max_second_moment, 0) << "tensor " << t;
        }
    }
    ASSERT_TRUE(problem.check("after turning amsgrad on"));
    run(10);
    if (HasFatalFailure()) return;

    // Other flags and hyper-parameters.
    a.rectify = 0;
    a.optimized_update = 0;
    a.weight_decay_mode = NAB_WEIGHT_DECAY_ABSOLUTE;
    a.weight_decay = 0.01;
    a.beta1 = 0.8;
    a.second_moment = NAB_SECOND_MOMENT_SQUARE;
    b.amsgrad = 1;
    b.rectify = 0;
    b.epsilon = 1e-8;
    problem.set_group_options(0, a);
    problem.set_group_options(1, b);
    run(10);
    if (HasFatalFailure()) return;

    // Compatibility switched both ways.
    a.compatibility = NAB_COMPATIBILITY_ADABELIEF_PYTORCH;
    a.second_moment = NAB_SECOND_MOMENT_BELIEF;
    a.optimized_update = 1;
    a.rectify = 1;
    b.compatibility = NAB_COMPATIBILITY_LABML;
    b.optimized_update = 0;
    problem.set_group_options(0, a);
    problem.set_group_options(1, b);
    run(10);
    if (HasFatalFailure()) return;

    // amsgrad off: s_max stays allocated (and frozen), the update uses s again.
    a.amsgrad = 0;
    b.amsgrad = 0;
    problem.set_group_options(0, a);
    problem.set_group_options(1, b);
    std::vector<std::vector<float>> frozen;
    for (uint32_t t = 0; t < problem.tensor_count(); ++t) {
        ASSERT_EQ(tensor_info(problem.optimizer(), t).has_max_second_moment, 1);
        frozen.push_back(read_state(problem.optimizer(), t, NAB_STATE_MAX_SECOND_MOMENT));
    }
    run(10);
    if (HasFatalFailure()) return;
    for (uint32_t t = 0; t < problem.tensor_count(); ++t) {
        EXPECT_EQ(read_state(problem.optimizer(), t, NAB_STATE_MAX_SECOND_MOMENT), frozen[t])
            << "s_max of tensor " << t << " changed while amsgrad was off";
    }
}

}  // namespace
}  // namespace nabtest
