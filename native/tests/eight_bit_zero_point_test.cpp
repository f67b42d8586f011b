// AdaBelief's zero-point problem with 8-bit state, shown on the step itself.
//
// s is the EMA of (g - m)^2: tiny where the gradient is consistent, huge where it is noisy, and
// both live in one block. A format with a zero code (bitsandbytes' dynamic map: zero, then
// nothing below ~1e-7 of the block's largest) stores the tiny ones as 0, and the next step divides
// by sqrt(0 + eps) + eps = 1e-8 (eps = 1e-16): the parameter jumps by step_size * m / 1e-8. The
// library's format for s has no zero: its smallest code is 2^-32 of the block's largest, so a
// tiny s is rounded up and its step is smaller than in float32, never larger.
//
// Each 256-element block here has one "loud" element (gradient +-1000, random sign: s ~ 1e5)
// and 255 "quiet" ones with constant gradients from 1e-3 down to 3e-5, some exactly 0 (their
// residual g - m vanishes: s falls 13 to 20 orders of magnitude below the loud one's, yet stays
// far above epsilon in float32, so float32 itself does not divide by epsilon). The same
// gradients go to a float32 optimizer and an 8-bit one, 200 steps, labml AdaBelief with
// epsilon 1e-16 and no rectification (the adaptive step from step 1):
//  - every quiet element's 8-bit step is at most 1.25x its float32 step (the rounding of m) and
//    never the epsilon-sized denominator's explosion, which the float64 model of a zero-code
//    format computed beside it shows to be real here (>= 100x the float32 step);
//  - the loud elements hold their blocks' largest m and s, which are stored exactly: their
//    parameters follow the float32 run bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "native_adabelief.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

constexpr std::size_t kBlock = NAB_BLOCKWISE_8BIT_BLOCK_SIZE;
constexpr std::size_t kElements = 16 * kBlock;

struct Twin {
    OptimizerPtr optimizer;
    std::vector<float> parameters, gradients;
};

Twin make_run(int32_t encoding) {
    Twin run{make_optimizer(1), std::vector<float>(kElements, 0.0f), std::vector<float>(kElements, 0.0f)};
    nab_group_options o = default_options(NAB_COMPATIBILITY_LABML);
    o.rectify = 0;
    o.epsilon = 1e-16;
    o.state_encoding = encoding;
    uint32_t id = 0;
    EXPECT_EQ(nab_optimizer_add_group(run.optimizer.get(), &o, &id), NAB_STATUS_OK) << nab_get_last_error();
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.element_count = kElements;
    desc.parameters = run.parameters.data();
    desc.gradients = run.gradients.data();
    EXPECT_EQ(nab_optimizer_add_tensor(run.optimizer.get(), &desc, &id), NAB_STATUS_OK) << nab_get_last_error();
    EXPECT_EQ(tensor_info(run.optimizer.get(), 0).state_encoding, encoding);
    return run;
}

TEST(EightBitZeroPointTest, ATinySNextToAHugeOneNeverCollapsesTheDenominator) {
    NAB_SEEDED_RANDOM(random);
    Twin reference = make_run(NAB_STATE_ENCODING_FLOAT32);
    Twin eight_bit = make_run(NAB_STATE_ENCODING_BLOCKWISE_8BIT);
    ASSERT_FALSE(HasFailure());
    std::vector<float> quiet(kElements, 0.0f);
    for (std::size_t i = 0; i < kElements; ++i) {
        if (i % kBlock == 0 || i % 17 == 0) continue;  // loud, or exactly 0
        const double magnitude = std::pow(10.0, -3.0 - 1.5 * random.uniform(0.0, 1.0));
        quiet[i] = static_cast<float>(random.chance(0.5) ? magnitude : -magnitude);
    }
    const double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-16;
    double worst_ratio = 0.0, smallest_naive_ratio = INFINITY;
    std::size_t naive_explosions = 0, compared = 0;
    for (int step = 1; step <= 200; ++step) {
        for (std::size_t i = 0; i < kElements; ++i) {
            const float g = i % kBlock == 0 ? (random.chance(0.5) ? 1000.0f : -1000.0f) : quiet[i];
            reference.gradients[i] = eight_bit.gradients[i] = g;
        }
        const std::vector<float> before_reference = reference.parameters, before_eight_bit = eight_bit.parameters;
        NAB_ASSERT_OK(nab_optimizer_step(reference.optimizer.get()));
        NAB_ASSERT_OK(nab_optimizer_step(eight_bit.optimizer.get()));
        const std::vector<float> m = read_state(reference.optimizer.get(), 0, NAB_STATE_FIRST_MOMENT);
        // labml's optimized update: step size lr * sqrt(bc2) / bc1, denominator sqrt(s + eps) + eps.
        const double step_size = lr * std::sqrt(1.0 - std::pow(beta2, step)) / (1.0 - std::pow(beta1, step));
        for (std::size_t i = 0; i < kElements; ++i) {
            if (i % kBlock == 0) {
                ASSERT_EQ(eight_bit.parameters[i], reference.parameters[i]) << "loud element " << i << ", step " << step;
                continue;
            }
            const double moved_reference = std::fabs(double{reference.parameters[i]} - before_reference[i]);
            const double moved_eight_bit = std::fabs(double{eight_bit.parameters[i]} - before_eight_bit[i]);
            if (quiet[i] == 0.0f) {
                ASSERT_EQ(moved_eight_bit, 0.0) << "element " << i << " has no gradient, step " << step;
                continue;
            }
            ASSERT_TRUE(std::isfinite(eight_bit.parameters[i])) << "element " << i << ", step " << step;
            ASSERT_LE(moved_eight_bit, 1.25 * moved_reference) << "element " << i << ", step " << step;
            if (moved_reference > 0.0) worst_ratio = std::max(worst_ratio, moved_eight_bit / moved_reference);
            // The float64 model of a zero-code format: this element's s stored as 0 last step.
            if (step > 1) {
                const double naive = step_size * std::fabs(double{m[i]}) / (std::sqrt(0.0 + eps) + eps);
                const double ratio = naive / moved_reference;
                smallest_naive_ratio = std::min(smallest_naive_ratio, ratio);
                if (ratio >= 100.0) ++naive_explosions;
                ++compared;
            }
        }
    }
    // The pitfall is real in this scenario: with s stored as 0 most quiet steps would be at
    // least 100 times the float32 step.
    EXPECT_GT(static_cast<double>(naive_explosions), 0.9 * static_cast<double>(compared))
        << "smallest naive / float32 step ratio " << smallest_naive_ratio;
    RecordProperty("worst_eight_bit_to_float32_step_ratio", std::to_string(worst_ratio));
    RecordProperty("smallest_zero_code_to_float32_step_ratio", std::to_string(smallest_naive_ratio));
}

}  // namespace
}  // namespace nabtest
