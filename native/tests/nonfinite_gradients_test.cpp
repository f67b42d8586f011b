// nab_optimizer_count_nonfinite_gradients, the NaN/Inf policy's opt-in check: it counts exactly
// the NaN, +Inf and -Inf elements of every registered gradient (and nothing else: not the
// largest finite floats, not denormals, not unregistered or replaced buffers), for every thread
// count, with the chunks split across threads; it changes nothing; and it is the way to see a
// non-finite gradient before a step spreads it into the state (which the step itself does not
// prevent: the policy is detect-and-skip by the caller).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "native_adabelief.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

uint64_t count_nonfinite(nab_optimizer* optimizer) {
    uint64_t count = 0xdeadbeefu;
    const nab_status status = nab_optimizer_count_nonfinite_gradients(optimizer, &count);
    EXPECT_EQ(status, NAB_STATUS_OK) << nab_get_last_error();
    return count;
}

// Every kind of non-finite float, including NaNs with payloads and the sign bit set.
const std::vector<float>& nonfinite_values() {
    static const std::vector<float> values = {kNaN,  -kNaN, kInf, -kInf, float_from_bits(0x7f800001u),
                                              float_from_bits(0xffc00001u), float_from_bits(0x7fffffffu)};
    return values;
}

// Finite values that a careless test (x != x, |x| > big, exponent checks) could miscount.
const std::vector<float>& tricky_finite_values() {
    static const std::vector<float> values = {0.0f,
                                              -0.0f,
                                              std::numeric_limits<float>::max(),
                                              -std::numeric_limits<float>::max(),
                                              std::numeric_limits<float>::denorm_min(),
                                              -std::numeric_limits<float>::denorm_min(),
                                              std::numeric_limits<float>::min(),
                                              1.0f,
                                              -3.4e38f};
    return values;
}

TEST(NonfiniteGradientsTest, CountsExactlyTheNonfiniteElementsForEveryThreadCount) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
    nab_group_options b = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
    b.amsgrad = 1;
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &a, &id));
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &b, &id));

    // SIMD tails, odd offsets, and two tensors large enough to be split across threads and chunks.
    const std::vector<std::size_t> sizes = {1, 7, 33, 1000003, 129, 70001, 5};
    std::vector<std::unique_ptr<OffsetBuffer>> params, grads;
    uint64_t expected = 0;
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        params.push_back(std::make_unique<OffsetBuffer>(sizes[t], (t * 5) % 16));
        grads.push_back(std::make_unique<OffsetBuffer>(sizes[t], (t * 3 + 1) % 16));
        params[t]->assign(random_parameters(random, sizes[t]));
        std::vector<float> g = random_parameters(random, sizes[t]);
        for (std::size_t i = 0; i < g.size(); ++i) {
            const double draw = random.uniform(0.0, 1.0);
            if (draw < 0.01) {
                g[i] = nonfinite_values()[random.integer(0, static_cast<int64_t>(nonfinite_values().size()) - 1)];
                ++expected;
            } else if (draw < 0.02) {
                g[i] = tricky_finite_values()[random.integer(0, static_cast<int64_t>(tricky_finite_values().size()) - 1)];
            }
        }
        // The first and last element of every tensor: the edges of chunks and SIMD tails.
        if (std::isfinite(g.front())) ++expected;
        g.front() = kNaN;
        if (g.size() > 1) {
            if (std::isfinite(g.back())) ++expected;
            g.back() = -kInf;
        }
        grads[t]->assign(g);
        nab_tensor_desc d{};
        d.struct_size = sizeof d;
        d.group_id = static_cast<uint32_t>(t % 2);
        d.element_count = sizes[t];
        d.parameters = params[t]->data();
        d.gradients = grads[t]->data();
        NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &id));
    }

    std::vector<const float*> param_ptrs, grad_ptrs;
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        param_ptrs.push_back(params[t]->data());
        grad_ptrs.push_back(grads[t]->data());
    }
    const Snapshot before = take_snapshot(optimizer.get(), param_ptrs, grad_ptrs);
    for (int32_t threads : {1, 2, 3, 4, 0}) {
        SCOPED_TRACE(threads);
        NAB_ASSERT_OK(nab_optimizer_set_thread_count(optimizer.get(), threads));
        EXPECT_EQ(count_nonfinite(optimizer.get()), expected);
    }
    NAB_ASSERT_OK(nab_optimizer_set_thread_count(optimizer.get(), 1));
    EXPECT_EQ(snapshot_difference(before, take_snapshot(optimizer.get(), param_ptrs, grad_ptrs)), "")
        << "counting changed something";
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        EXPECT_TRUE(grads[t]->guards_intact()) << t;
    }

    // A tensor without a gradient is not counted; a replaced buffer counts as the new one.
    const uint64_t in_tensor_3 = [&] {
        uint64_t n = 0;
        for (std::size_t i = 0; i < sizes[3]; ++i) n += std::isfinite((*grads[3])[i]) ? 0 : 1;
        return n;
    }();
    NAB_ASSERT_OK(nab_optimizer_set_tensor_gradients(optimizer.get(), 3, nullptr));
    EXPECT_EQ(count_nonfinite(optimizer.get()), expected - in_tensor_3);
    std::vector<float> clean(sizes[3], 0.5f);
    clean[12345] = kInf;
    NAB_ASSERT_OK(nab_optimizer_set_tensor_gradients(optimizer.get(), 3, clean.data()));
    EXPECT_EQ(count_nonfinite(optimizer.get()), expected - in_tensor_3 + 1);

    // After zeroing, nothing is left to count.
    NAB_ASSERT_OK(nab_optimizer_zero_gradients(optimizer.get()));
    EXPECT_EQ(count_nonfinite(optimizer.get()), 0u);
}

TEST(NonfiniteGradientsTest, AnOptimizerWithoutGradientsCountsZero) {
    OptimizerPtr optimizer = make_optimizer(2);
    ASSERT_TRUE(optimizer);
    EXPECT_EQ(count_nonfinite(optimizer.get()), 0u);
    nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &a, &id));
    std::vector<float> p(10, kNaN);
    nab_tensor_desc d{};
    d.struct_size = sizeof d;
    d.element_count = p.size();
    d.parameters = p.data();  // non-finite parameters are not gradients
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &id));
    EXPECT_EQ(count_nonfinite(optimizer.get()), 0u);
}

TEST(NonfiniteGradientsTest, RefusesNullArgumentsAndChangesNothing) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    uint64_t count = 77;
    EXPECT_EQ(nab_optimizer_count_nonfinite_gradients(nullptr, &count), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_TRUE(contains_text(nab_get_last_error(), "optimizer")) << nab_get_last_error();
    EXPECT_EQ(count, 77u);
    EXPECT_EQ(nab_optimizer_count_nonfinite_gradients(optimizer.get(), nullptr), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_TRUE(contains_text(nab_get_last_error(), "out_count")) << nab_get_last_error();
}

// The policy the header documents: a step does not check its gradients, so one NaN element
// poisons exactly that element's state and parameter (and nothing else); the count, called
// before the step, is how a caller sees it coming and skips the step.
TEST(NonfiniteGradientsTest, CheckBeforeStepIsHowACallerKeepsTheStateFinite) {
    OptimizerPtr optimizer = make_optimizer(2);
    ASSERT_TRUE(optimizer);
    nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &a, &id));
    std::vector<float> p(100, 1.0f), g(100, 0.1f);
    nab_tensor_desc d{};
    d.struct_size = sizeof d;
    d.element_count = p.size();
    d.parameters = p.data();
    d.gradients = g.data();
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &id));
    NAB_ASSERT_OK(nab_optimizer_step(optimizer.get()));
    EXPECT_EQ(count_nonfinite(optimizer.get()), 0u);

    g[42] = kNaN;
    // The caller's loop: count, and skip the step (zeroing the gradients) when it is not 0.
    ASSERT_EQ(count_nonfinite(optimizer.get()), 1u);
    const Snapshot before = take_snapshot(optimizer.get(), {p.data()}, {});
    NAB_ASSERT_OK(nab_optimizer_zero_gradients(optimizer.get()));
    EXPECT_EQ(count_nonfinite(optimizer.get()), 0u);
    EXPECT_EQ(snapshot_difference(before, take_snapshot(optimizer.get(), {p.data()}, {})), "")
        << "skipping a step must leave the state as it was";

    // Without the check, the step takes the NaN into element 42's state and parameter only.
    std::fill(g.begin(), g.end(), 0.1f);
    g[42] = kNaN;
    NAB_ASSERT_OK(nab_optimizer_step(optimizer.get()));
    const std::vector<float> m = read_state(optimizer.get(), 0, NAB_STATE_FIRST_MOMENT);
    const std::vector<float> s = read_state(optimizer.get(), 0, NAB_STATE_SECOND_MOMENT);
    for (std::size_t i = 0; i < p.size(); ++i) {
        const bool poisoned = i == 42;
        EXPECT_EQ(std::isnan(m[i]), poisoned) << i;
        EXPECT_EQ(std::isnan(s[i]), poisoned) << i;
        EXPECT_EQ(std::isnan(p[i]), poisoned) << i;
    }
}

}  // namespace
}  // namespace nabtest
