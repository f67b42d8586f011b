// Misuse from C that the library detects instead of corrupting memory: calls on a destroyed or
// made-up optimizer handle, a second destroy, destroy racing another thread's calls, and
// buffers freed twice, freed as the wrong kind, or never allocated here.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "native_adabelief.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

nab_optimizer* create_optimizer() {
    nab_optimizer_config config{};
    EXPECT_EQ(nab_optimizer_config_init(&config), NAB_STATUS_OK);
    config.thread_count = 1;
    nab_optimizer* optimizer = nullptr;
    EXPECT_EQ(nab_optimizer_create(&config, &optimizer), NAB_STATUS_OK) << nab_get_last_error();
    return optimizer;
}

void expect_not_live(nab_status status, const char* call) {
    EXPECT_EQ(status, NAB_STATUS_INVALID_ARGUMENT) << call;
    EXPECT_STREQ(nab_get_last_error_argument(), "optimizer") << call;
    EXPECT_NE(std::string(nab_get_last_error()).find("not a live optimizer"), std::string::npos)
        << call << ": " << nab_get_last_error();
}

TEST(HandleValidationTest, EveryCallOnADestroyedOptimizerIsRefused) {
    nab_optimizer* optimizer = create_optimizer();
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t group = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer, &options, &group));
    NAB_ASSERT_OK(nab_optimizer_destroy(optimizer));

    uint32_t count = 7;
    expect_not_live(nab_optimizer_get_group_count(optimizer, &count), "get_group_count");
    EXPECT_EQ(count, 7u);
    expect_not_live(nab_optimizer_step(optimizer), "step");
    expect_not_live(nab_optimizer_add_group(optimizer, &options, &group), "add_group");
    expect_not_live(nab_optimizer_set_learning_rate(optimizer, 0, 0.1), "set_learning_rate");
    int32_t threads = 0;
    expect_not_live(nab_optimizer_get_thread_count(optimizer, &threads), "get_thread_count");
    expect_not_live(nab_optimizer_destroy(optimizer), "a second destroy");

    // A new optimizer may reuse the slot: the old handle still names the old one.
    nab_optimizer* next = create_optimizer();
    expect_not_live(nab_optimizer_step(optimizer), "step on the reused slot's old handle");
    NAB_EXPECT_OK(nab_optimizer_get_group_count(next, &count));
    EXPECT_EQ(count, 0u);
    NAB_EXPECT_OK(nab_optimizer_destroy(next));
}

TEST(HandleValidationTest, MadeUpHandlesAreRefused) {
    for (std::uintptr_t value : {std::uintptr_t{1}, std::uintptr_t{0x1000}, ~std::uintptr_t{0},
                                 (std::uintptr_t{7} << 32) | 5u}) {
        auto* handle = reinterpret_cast<nab_optimizer*>(value);
        expect_not_live(nab_optimizer_step(handle), "step on a made-up handle");
        expect_not_live(nab_optimizer_destroy(handle), "destroy of a made-up handle");
    }
}

// One thread calls as fast as it can while another destroys: every call either runs on the
// live optimizer, is refused as BUSY (by destroy) or as not live (after it); nothing crashes and
// ASan sees no use after free.
TEST(HandleValidationTest, DestroyRacingCallsIsSafe) {
    for (int round = 0; round < 50; ++round) {
        nab_optimizer* optimizer = create_optimizer();
        std::atomic<bool> started{false};
        std::atomic<int> unexpected{0};
        std::thread caller([&] {
            for (int i = 0; i < 2000; ++i) {
                uint32_t count = 0;
                const nab_status status = nab_optimizer_get_group_count(optimizer, &count);
                started.store(true);
                if (status != NAB_STATUS_OK && status != NAB_STATUS_BUSY && status != NAB_STATUS_INVALID_ARGUMENT) {
                    unexpected.fetch_add(1);
                }
            }
        });
        while (!started.load()) std::this_thread::yield();
        nab_status destroyed = NAB_STATUS_BUSY;
        while (destroyed == NAB_STATUS_BUSY) destroyed = nab_optimizer_destroy(optimizer);
        EXPECT_EQ(destroyed, NAB_STATUS_OK) << nab_get_last_error();
        caller.join();
        EXPECT_EQ(unexpected.load(), 0);
    }
}

TEST(HandleValidationTest, BuffersFreedTwiceOrOfTheWrongKindAreRefused) {
    void* data = nullptr;
    NAB_ASSERT_OK(nab_buffer_allocate(NAB_DTYPE_FLOAT32, 16, &data));
    EXPECT_EQ(nab_cuda_buffer_free(data), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(nab_get_last_error()).find("host buffer"), std::string::npos) << nab_get_last_error();
    NAB_EXPECT_OK(nab_buffer_free(data));
    EXPECT_EQ(nab_buffer_free(data), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "data");
    EXPECT_NE(std::string(nab_get_last_error()).find("freed already"), std::string::npos) << nab_get_last_error();
    std::vector<float> not_ours(4);
    EXPECT_EQ(nab_buffer_free(not_ours.data()), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(nab_cuda_buffer_free(not_ours.data()), NAB_STATUS_INVALID_ARGUMENT);
    NAB_EXPECT_OK(nab_buffer_free(nullptr));
    NAB_EXPECT_OK(nab_cuda_buffer_free(nullptr));
}

}  // namespace
}  // namespace nabtest
