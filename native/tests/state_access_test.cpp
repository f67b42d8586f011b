// Reading and writing state, step counts and buffers: round trips, s_max allocation on write,
// and that a step from written state equals the float64 reference started from that state
// (what restoring a checkpoint relies on).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "native_adabelief.h"
#include "support/reference_harness.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

std::vector<float> positive_values(Random& random, std::size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = static_cast<float>(std::pow(10.0, random.uniform(-8.0, 1.0)));
    return v;
}

TEST(StateAccessTest, WriteThenReadRoundTripsEveryKind) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    OptimizerPtr optimizer = make_optimizer(2);
    ASSERT_TRUE(optimizer);
    nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &a, &id));
    const std::size_t n = 1031;
    std::vector<float> p = random_parameters(random, n), g = random_parameters(random, n);
    nab_tensor_desc d{};
    d.struct_size = sizeof d;
    d.element_count = n;
    d.parameters = p.data();
    d.gradients = g.data();
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &id));

    // Fresh state is zero and there is no s_max (amsgrad off).
    const nab_tensor_info fresh = tensor_info(optimizer.get(), 0);
    EXPECT_EQ(fresh.step, 0);
    EXPECT_EQ(fresh.element_count, n);
    EXPECT_EQ(fresh.group_id, 0u);
    EXPECT_EQ(fresh.has_max_second_moment, 0);
    EXPECT_EQ(fresh.has_gradients, 1);
    EXPECT_EQ(read_state(optimizer.get(), 0, NAB_STATE_FIRST_MOMENT), std::vector<float>(n, 0.0f));
    EXPECT_EQ(read_state(optimizer.get(), 0, NAB_STATE_SECOND_MOMENT), std::vector<float>(n, 0.0f));

    std::vector<float> m = random_parameters(random, n);
    m[0] = -0.0f;  // bits, not just values, survive
    m[1] = std::numeric_limits<float>::denorm_min();
    const std::vector<float> s = positive_values(random, n);
    const std::vector<float> s_max = positive_values(random, n);
    std::vector<float> source = m;
    NAB_ASSERT_OK(nab_optimizer_write_state(optimizer.get(), 0, NAB_STATE_FIRST_MOMENT, source.data(), n));
    source.assign(n, 42.0f);  // the library copied; changing the source later changes nothing
    NAB_ASSERT_OK(nab_optimizer_write_state(optimizer.get(), 0, NAB_STATE_SECOND_MOMENT, s.data(), n));
    // Writing s_max to a tensor that has none allocates it.
    NAB_ASSERT_OK(nab_optimizer_write_state(optimizer.get(), 0, NAB_STATE_MAX_SECOND_MOMENT, s_max.data(), n));
    EXPECT_EQ(tensor_info(optimizer.get(), 0).has_max_second_moment, 1);

    const std::vector<float> m_read = read_state(optimizer.get(), 0, NAB_STATE_FIRST_MOMENT);
    EXPECT_EQ(std::memcmp(m_read.data(), m.data(), n * sizeof(float)), 0);
    EXPECT_EQ(read_state(optimizer.get(), 0, NAB_STATE_SECOND_MOMENT), s);
    EXPECT_EQ(read_state(optimizer.get(), 0, NAB_STATE_MAX_SECOND_MOMENT), s_max);
    // The parameters and the step were not touched by state writes.
    EXPECT_EQ(tensor_info(optimizer.get(), 0).step, 0);
}

TEST(StateAccessTest, SetTensorStepIsReportedAndUsed) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &a, &id));
    std::vector<float> p(5, 1.0f), g(5, 0.5f);
    nab_tensor_desc d{};
    d.struct_size = sizeof d;
    d.element_count = 5;
    d.parameters = p.data();
    d.gradients = g.data();
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &id));
    for (int64_t step : {int64_t{17}, int64_t{0}, int64_t{1000000}, int64_t{3}}) {
        NAB_ASSERT_OK(nab_optimizer_set_tensor_step(optimizer.get(), 0, step));
        EXPECT_EQ(tensor_info(optimizer.get(), 0).step, step);
    }
    NAB_ASSERT_OK(nab_optimizer_step(optimizer.get()));
    EXPECT_EQ(tensor_info(optimizer.get(), 0).step, 4);
}

// Checkpoint restore: write theta, m, s, s_max and t into a running optimizer, then step; the
// result must equal the reference started from exactly that state.
TEST(StateAccessTest, SteppingFromWrittenStateMatchesTheReference) {
    struct Case {
        int32_t compatibility, second_moment, amsgrad, rectify, optimized;
        int64_t restored_step;  // 3: rectification still intractable; 40: tractable
    };
    const Case cases[] = {
        {NAB_COMPATIBILITY_LABML, NAB_SECOND_MOMENT_BELIEF, 1, 1, 1, 40},
        {NAB_COMPATIBILITY_LABML, NAB_SECOND_MOMENT_BELIEF, 0, 1, 0, 3},
        {NAB_COMPATIBILITY_LABML, NAB_SECOND_MOMENT_SQUARE, 1, 0, 0, 40},
        {NAB_COMPATIBILITY_ADABELIEF_PYTORCH, NAB_SECOND_MOMENT_BELIEF, 1, 1, 1, 40},
        {NAB_COMPATIBILITY_ADABELIEF_PYTORCH, NAB_SECOND_MOMENT_BELIEF, 1, 0, 1, 3},
    };
    for (const Case& c : cases) {
        const uint64_t seed = fresh_seed();
        SCOPED_TRACE(seed_text(seed));
        ReferenceProblem problem(seed);
        nab_group_options o = default_options(c.compatibility);
        o.second_moment = c.second_moment;
        o.amsgrad = c.amsgrad;
        o.rectify = c.rectify;
        o.optimized_update = c.optimized;
        o.weight_decay = 0.02;
        problem.add_group(o);
        for (std::size_t n : {1, 19, 64, 515}) problem.add_tensor(0, n);
        for (int i = 0; i < 4; ++i) problem.step();
        ASSERT_TRUE(problem.check("before restoring"));

        // The restored state: unrelated to the run so far.
        Random& random = problem.random();
        for (uint32_t t = 0; t < problem.tensor_count(); ++t) {
            ReferenceTensor& ref = problem.mutable_reference(t);
            const std::size_t n = ref.size();
            const std::vector<float> theta = random_parameters(random, n);
            std::vector<float> m = random_parameters(random, n);
            for (float& x : m) x *= 0.1f;
            const std::vector<float> s = positive_values(random, n);
            std::vector<float> s_max = positive_values(random, n);
            for (std::size_t i = 0; i < n; ++i) s_max[i] = std::max(s_max[i], s[i]);
            std::memcpy(problem.parameters(t), theta.data(), n * sizeof(float));
            NAB_ASSERT_OK(nab_optimizer_write_state(problem.optimizer(), t, NAB_STATE_FIRST_MOMENT, m.data(), n));
            NAB_ASSERT_OK(nab_optimizer_write_state(problem.optimizer(), t, NAB_STATE_SECOND_MOMENT, s.data(), n));
            if (c.amsgrad == 1) {
                NAB_ASSERT_OK(nab_optimizer_write_state(problem.optimizer(), t, NAB_STATE_MAX_SECOND_MOMENT, s_max.data(), n));
            }
            NAB_ASSERT_OK(nab_optimizer_set_tensor_step(problem.optimizer(), t, c.restored_step));
            ref.theta.assign(theta.begin(), theta.end());
            ref.m.assign(m.begin(), m.end());
            ref.s.assign(s.begin(), s.end());
            if (c.amsgrad == 1) ref.s_max.assign(s_max.begin(), s_max.end());
            ref.step = c.restored_step;
            ref.reset_magnitudes();
        }
        ASSERT_TRUE(problem.check("right after restoring"));
        for (int i = 0; i < 10; ++i) {
            problem.step();
            ASSERT_TRUE(problem.check("step " + std::to_string(i + 1) + " after restoring"));
        }
    }
}

// set_tensor_parameters: later steps update the new buffer exactly as they would have updated
// the old one; the old one is left alone.
TEST(StateAccessTest, PointingATensorAtANewParameterBuffer) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    const std::size_t n = 301;
    const std::vector<float> initial = random_parameters(random, n);
    const std::vector<float> gradient = random_parameters(random, n);
    const nab_group_options o = default_options(NAB_COMPATIBILITY_LABML);

    auto make = [&](std::vector<float>& p, std::vector<float>& g) {
        OptimizerPtr optimizer = make_optimizer(2);
        uint32_t id = 0;
        EXPECT_EQ(nab_optimizer_add_group(optimizer.get(), &o, &id), NAB_STATUS_OK);
        nab_tensor_desc d{};
        d.struct_size = sizeof d;
        d.element_count = n;
        d.parameters = p.data();
        d.gradients = g.data();
        EXPECT_EQ(nab_optimizer_add_tensor(optimizer.get(), &d, &id), NAB_STATUS_OK);
        return optimizer;
    };
    std::vector<float> p_straight = initial, g_straight = gradient;
    OptimizerPtr straight = make(p_straight, g_straight);
    std::vector<float> p_old = initial, g_moved = gradient;
    OptimizerPtr moved = make(p_old, g_moved);
    ASSERT_TRUE(straight && moved);
    for (int i = 0; i < 3; ++i) {
        NAB_ASSERT_OK(nab_optimizer_step(straight.get()));
        NAB_ASSERT_OK(nab_optimizer_step(moved.get()));
    }
    std::vector<float> p_new = p_old;
    const std::vector<float> p_old_frozen = p_old;
    NAB_ASSERT_OK(nab_optimizer_set_tensor_parameters(moved.get(), 0, p_new.data()));
    for (int i = 0; i < 3; ++i) {
        NAB_ASSERT_OK(nab_optimizer_step(straight.get()));
        NAB_ASSERT_OK(nab_optimizer_step(moved.get()));
    }
    EXPECT_EQ(p_new, p_straight);
    EXPECT_EQ(p_old, p_old_frozen) << "the old buffer was written after it was replaced";
    EXPECT_EQ(tensor_info(moved.get(), 0).step, 6);
}

}  // namespace
}  // namespace nabtest
