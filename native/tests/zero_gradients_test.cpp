// nab_optimizer_zero_gradients: every registered gradient buffer becomes zero, and nothing else
// changes (parameters, state, step counts, options, unregistered buffers, memory next to the
// buffers).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "native_adabelief.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

TEST(ZeroGradientsTest, ZeroesEveryRegisteredGradientAndNothingElse) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    OptimizerPtr optimizer = make_optimizer(3);
    ASSERT_TRUE(optimizer);
    nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
    nab_group_options b = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
    b.amsgrad = 1;
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &a, &id));
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &b, &id));

    // Sizes with SIMD tails and one large enough to be split across threads; odd offsets.
    const std::vector<std::size_t> sizes = {1, 7, 17, 33, 129, 1000003, 65, 4};
    std::vector<std::unique_ptr<OffsetBuffer>> params, grads;
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        params.push_back(std::make_unique<OffsetBuffer>(sizes[t], (t * 5) % 16));
        grads.push_back(std::make_unique<OffsetBuffer>(sizes[t], (t * 3 + 1) % 16));
        params[t]->assign(random_parameters(random, sizes[t]));
        grads[t]->assign(random_parameters(random, sizes[t]));
        nab_tensor_desc d{};
        d.struct_size = sizeof d;
        d.group_id = static_cast<uint32_t>(t % 2);
        d.element_count = sizes[t];
        d.parameters = params[t]->data();
        d.gradients = grads[t]->data();
        NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &id));
    }
    for (int i = 0; i < 2; ++i) NAB_ASSERT_OK(nab_optimizer_step(optimizer.get()));

    // Tensor 6 has no gradient now: its (former) buffer must stay as it is. Tensor 7 points at a
    // new buffer: the old one must stay as it is, the new one is zeroed.
    NAB_ASSERT_OK(nab_optimizer_set_tensor_gradients(optimizer.get(), 6, nullptr));
    OffsetBuffer replacement(sizes[7], 9);
    replacement.assign(random_parameters(random, sizes[7]));
    NAB_ASSERT_OK(nab_optimizer_set_tensor_gradients(optimizer.get(), 7, replacement.data()));
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        EXPECT_EQ(tensor_info(optimizer.get(), static_cast<uint32_t>(t)).has_gradients, t == 6 ? 0 : 1);
    }
    const std::vector<float> unregistered6 = grads[6]->copy();
    const std::vector<float> unregistered7 = grads[7]->copy();

    std::vector<const float*> param_ptrs;
    for (auto& p : params) param_ptrs.push_back(p->data());
    const Snapshot before = take_snapshot(optimizer.get(), param_ptrs, {});

    NAB_ASSERT_OK(nab_optimizer_zero_gradients(optimizer.get()));

    for (std::size_t t = 0; t < 6; ++t) {
        const OffsetBuffer& g = *grads[t];
        for (std::size_t i = 0; i < g.size(); ++i) {
            ASSERT_EQ(g.data()[i], 0.0f) << "tensor " << t << " index " << i;
            ASSERT_FALSE(std::signbit(g.data()[i])) << "tensor " << t << " index " << i;
        }
    }
    for (std::size_t i = 0; i < replacement.size(); ++i) {
        ASSERT_EQ(replacement[i], 0.0f) << "replacement buffer index " << i;
    }
    EXPECT_EQ(grads[6]->copy(), unregistered6) << "an unregistered buffer was written";
    EXPECT_EQ(grads[7]->copy(), unregistered7) << "a replaced buffer was written";
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        EXPECT_TRUE(params[t]->guards_intact()) << t;
        EXPECT_TRUE(grads[t]->guards_intact()) << t;
    }
    EXPECT_TRUE(replacement.guards_intact());
    const Snapshot after = take_snapshot(optimizer.get(), param_ptrs, {});
    EXPECT_EQ(snapshot_difference(before, after), "");

    // A step with zero gradients still works (moments decay, t advances).
    NAB_EXPECT_OK(nab_optimizer_step(optimizer.get()));
    EXPECT_EQ(tensor_info(optimizer.get(), 0).step, 3);
    EXPECT_EQ(tensor_info(optimizer.get(), 6).step, 2);
}

TEST(ZeroGradientsTest, WorksWithoutTensorsOrGradients) {
    OptimizerPtr optimizer = make_optimizer(2);
    ASSERT_TRUE(optimizer);
    NAB_EXPECT_OK(nab_optimizer_zero_gradients(optimizer.get()));
    nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &a, &id));
    NAB_EXPECT_OK(nab_optimizer_zero_gradients(optimizer.get()));
    std::vector<float> p(10, 1.0f);
    nab_tensor_desc d{};
    d.struct_size = sizeof d;
    d.element_count = p.size();
    d.parameters = p.data();
    d.gradients = nullptr;
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &id));
    NAB_EXPECT_OK(nab_optimizer_zero_gradients(optimizer.get()));
    EXPECT_EQ(p, std::vector<float>(10, 1.0f));
    EXPECT_EQ(tensor_info(optimizer.get(), 0).has_gradients, 0);
}

}  // namespace
}  // namespace nabtest
