// A second thread's read-only calls while one thread steps: every call either runs or is refused
// with BUSY (one optimizer, one call at a time), never sees a half-made step, and the steps end
// exactly where a run without the second thread ends.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "native_adabelief.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

struct TrainingRun {
    OptimizerPtr optimizer;
    std::vector<std::vector<float>> parameters, gradients;
};

TrainingRun make_run(uint64_t seed) {
    Random random(seed);
    TrainingRun run{make_optimizer(2), {}, {}};
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    options.amsgrad = 1;
    uint32_t id = 0;
    EXPECT_EQ(nab_optimizer_add_group(run.optimizer.get(), &options, &id), NAB_STATUS_OK);
    for (std::size_t count : {std::size_t{100003}, std::size_t{77}}) {
        run.parameters.push_back(random_parameters(random, count));
        run.gradients.push_back(random_parameters(random, count));
    }
    for (std::size_t t = 0; t < run.parameters.size(); ++t) {
        nab_tensor_desc d{};
        d.struct_size = sizeof d;
        d.element_count = run.parameters[t].size();
        d.parameters = run.parameters[t].data();
        d.gradients = run.gradients[t].data();
        EXPECT_EQ(nab_optimizer_add_tensor(run.optimizer.get(), &d, &id), NAB_STATUS_OK);
    }
    return run;
}

TEST(ConcurrencyTest, ReadOnlyCallsDuringStepsRunOrAreBusyAndChangeNothing) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    constexpr int kSteps = 60;
    TrainingRun quiet = make_run(seed), busy = make_run(seed);
    for (int i = 0; i < kSteps; ++i) NAB_ASSERT_OK(nab_optimizer_step(quiet.optimizer.get()));

    std::atomic<bool> done{false}, started{false};
    std::atomic<int> unexpected{0}, ran{0}, refused{0};
    std::thread reader([&] {
        std::vector<float> m(77);
        int64_t steps[2] = {};
        while (!done.load()) {
            nab_tensor_info info{};
            info.struct_size = sizeof info;
            const nab_status statuses[] = {
                nab_optimizer_get_tensor_info(busy.optimizer.get(), 1, &info),
                nab_optimizer_get_step_counts(busy.optimizer.get(), steps, 2),
                nab_optimizer_read_state(busy.optimizer.get(), 1, NAB_STATE_FIRST_MOMENT, m.data(), m.size()),
            };
            for (nab_status status : statuses) {
                if (status == NAB_STATUS_OK) {
                    ran.fetch_add(1);
                } else if (status == NAB_STATUS_BUSY) {
                    refused.fetch_add(1);
                } else {
                    unexpected.fetch_add(1);
                }
            }
            // Both tensors step together: a count read between them would differ.
            if (statuses[1] == NAB_STATUS_OK && steps[0] != steps[1]) unexpected.fetch_add(1);
            started.store(true);
        }
    });
    while (!started.load()) std::this_thread::yield();
    for (int i = 0; i < kSteps;) {
        const nab_status status = nab_optimizer_step(busy.optimizer.get());
        if (status == NAB_STATUS_OK) {
            ++i;
        } else {
            ASSERT_EQ(status, NAB_STATUS_BUSY) << nab_get_last_error();
        }
    }
    while (ran.load() == 0) std::this_thread::yield();  // the optimizer is free now: the reader gets in
    done.store(true);
    reader.join();
    EXPECT_EQ(unexpected.load(), 0);
    for (std::size_t t = 0; t < quiet.parameters.size(); ++t) {
        EXPECT_EQ(quiet.parameters[t], busy.parameters[t]) << "tensor " << t;
        EXPECT_EQ(read_state(quiet.optimizer.get(), static_cast<uint32_t>(t), NAB_STATE_SECOND_MOMENT),
                  read_state(busy.optimizer.get(), static_cast<uint32_t>(t), NAB_STATE_SECOND_MOMENT));
    }
}

}  // namespace
}  // namespace nabtest
