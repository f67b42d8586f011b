// nab_optimizer_set_gradients: pointing every tensor at new gradients in one call is the same as
// one nab_optimizer_set_tensor_gradients per tensor (null skips the tensor), and the layout only
// changes when a pointer does.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "native_adabelief.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

struct Problem {
    OptimizerPtr optimizer;
    std::vector<std::unique_ptr<OffsetBuffer>> parameters;
};

Problem make_problem(const std::vector<std::size_t>& sizes, const std::vector<std::vector<float>>& initial) {
    Problem problem{make_optimizer(2), {}};
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t id = 0;
    EXPECT_EQ(nab_optimizer_add_group(problem.optimizer.get(), &options, &id), NAB_STATUS_OK);
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        problem.parameters.push_back(std::make_unique<OffsetBuffer>(sizes[t], t % 16));
        problem.parameters[t]->assign(initial[t]);
        nab_tensor_desc d{};
        d.struct_size = sizeof d;
        d.element_count = sizes[t];
        d.parameters = problem.parameters[t]->data();
        EXPECT_EQ(nab_optimizer_add_tensor(problem.optimizer.get(), &d, &id), NAB_STATUS_OK);
    }
    return problem;
}

TEST(SetGradientsTest, OneCallPerStepEqualsOneCallPerTensor) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    const std::vector<std::size_t> sizes = {3, 129, 70001, 17};
    std::vector<std::vector<float>> initial;
    for (std::size_t n : sizes) initial.push_back(random_parameters(random, n));
    Problem batched = make_problem(sizes, initial);
    Problem single = make_problem(sizes, initial);

    for (int step = 0; step < 6; ++step) {
        // Fresh gradient buffers every step, as an engine that reallocates them; tensor
        // (step % 4) has none this step.
        std::vector<std::unique_ptr<OffsetBuffer>> grads;
        std::vector<void*> pointers;
        for (std::size_t t = 0; t < sizes.size(); ++t) {
            grads.push_back(std::make_unique<OffsetBuffer>(sizes[t], (t + step) % 16));
            grads[t]->assign(random_parameters(random, sizes[t]));
            pointers.push_back(static_cast<int>(t) == step % 4 ? nullptr : grads[t]->data());
        }
        NAB_ASSERT_OK(nab_optimizer_set_gradients(batched.optimizer.get(), pointers.data(),
                                                  static_cast<uint32_t>(pointers.size())));
        for (std::size_t t = 0; t < sizes.size(); ++t) {
            NAB_ASSERT_OK(nab_optimizer_set_tensor_gradients(single.optimizer.get(), static_cast<uint32_t>(t), pointers[t]));
            EXPECT_EQ(tensor_info(batched.optimizer.get(), static_cast<uint32_t>(t)).has_gradients, pointers[t] ? 1 : 0);
        }
        NAB_ASSERT_OK(nab_optimizer_step(batched.optimizer.get()));
        NAB_ASSERT_OK(nab_optimizer_step(single.optimizer.get()));
    }
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        EXPECT_EQ(batched.parameters[t]->copy(), single.parameters[t]->copy()) << "tensor " << t;
        EXPECT_EQ(tensor_info(batched.optimizer.get(), static_cast<uint32_t>(t)).step,
                  tensor_info(single.optimizer.get(), static_cast<uint32_t>(t)).step);
        EXPECT_TRUE(batched.parameters[t]->guards_intact());
    }
}

TEST(SetGradientsTest, AnEmptyOptimizerTakesAnEmptyList) {
    OptimizerPtr optimizer = make_optimizer(1);
    NAB_ASSERT_OK(nab_optimizer_set_gradients(optimizer.get(), nullptr, 0));
}

}  // namespace
}  // namespace nabtest
