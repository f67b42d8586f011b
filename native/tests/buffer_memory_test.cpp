// The memory behind native buffers and optimizer state (core/aligned_memory.cpp): large blocks
// are mapped on their own and, on Linux, advised to use transparent huge pages; every size is
// zeroed, 64-byte aligned, writable to its last byte and counted until freed.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#if defined(__linux__)
#  include <sys/mman.h>
#endif

#include "native_adabelief.h"

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

uint64_t allocated_bytes() {
    uint64_t bytes = 0;
    EXPECT_EQ(nab_get_allocated_bytes(&bytes), NAB_STATUS_OK);
    return bytes;
}

// Element counts on both sides of the size from which a block is mapped on its own (one huge
// page, the block's 64-byte prefix included: the first count stays below it, the second meets
// it exactly), and a large one.
TEST(BufferMemoryTest, EverySizeIsZeroedAlignedWritableAndCounted) {
    const uint64_t start = allocated_bytes();
    const uint64_t floats_per_huge_page = kHugePage / sizeof(float);
    for (uint64_t count : {floats_per_huge_page - 17 - 16, floats_per_huge_page - 16, floats_per_huge_page - 15,
                           floats_per_huge_page + 1, 16 * floats_per_huge_page + 3}) {
        SCOPED_TRACE(count);
        float* data = nullptr;
        ASSERT_EQ(nab_buffer_allocate(NAB_DTYPE_FLOAT32, count, reinterpret_cast<void**>(&data)), NAB_STATUS_OK)
            << nab_get_last_error();
        ASSERT_NE(data, nullptr);
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data) % 64, 0u);
        EXPECT_GE(allocated_bytes(), start + count * sizeof(float));
        for (uint64_t i = 0; i < count; ++i) ASSERT_EQ(data[i], 0.0f) << i;
        for (uint64_t i = 0; i < count; ++i) data[i] = static_cast<float>(i);
        EXPECT_EQ(data[count - 1], static_cast<float>(count - 1));
        ASSERT_EQ(nab_buffer_free(data), NAB_STATUS_OK);
        EXPECT_EQ(allocated_bytes(), start);
    }
}

#if defined(__linux__)
// The VmFlags of the mapping that holds `address`, from /proc/self/smaps; nothing if the file
// or the line is not there.
std::optional<std::string> mapping_flags(const void* address) {
    std::ifstream smaps("/proc/self/smaps");
    const auto target = reinterpret_cast<std::uintptr_t>(address);
    bool inside = false;
    for (std::string line; std::getline(smaps, line);) {
        unsigned long long begin = 0, end = 0;
        char dash = 0;
        std::istringstream fields(line);
        if (fields >> std::hex >> begin >> dash >> end && dash == '-') {
            inside = begin <= target && target < end;
        } else if (inside && line.rfind("VmFlags:", 0) == 0) {
            return line + " ";
        }
    }
    return std::nullopt;
}

bool advised_huge(const void* address) {
    const std::optional<std::string> flags = mapping_flags(address);
    return flags && flags->find(" hg ") != std::string::npos;
}

TEST(BufferMemoryTest, LargeBlocksAreAdvisedToUseHugePages) {
    // Whether this system shows the advice at all: a mapping advised here directly.
    void* probe = mmap(nullptr, 2 * kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(probe, MAP_FAILED);
    const bool shown = madvise(probe, 2 * kHugePage, MADV_HUGEPAGE) == 0 && advised_huge(probe);
    munmap(probe, 2 * kHugePage);
    if (!shown) {
        GTEST_SKIP() << "this system does not show madvise(MADV_HUGEPAGE) in /proc/self/smaps (a kernel without "
                        "transparent huge pages, or an emulator): the advice on large buffers cannot be checked here";
    }
    float* large = nullptr;
    ASSERT_EQ(nab_buffer_allocate(NAB_DTYPE_FLOAT32, 4 * kHugePage / sizeof(float), reinterpret_cast<void**>(&large)),
              NAB_STATUS_OK);
    float* small = nullptr;
    ASSERT_EQ(nab_buffer_allocate(NAB_DTYPE_FLOAT32, 1024, reinterpret_cast<void**>(&small)), NAB_STATUS_OK);
    EXPECT_TRUE(advised_huge(large)) << mapping_flags(large).value_or("(no VmFlags)");
    EXPECT_TRUE(advised_huge(large + 4 * kHugePage / sizeof(float) - 1));
    // The block is aligned to a huge page (its 64-byte prefix first), so every whole huge page
    // of it can be one.
    EXPECT_EQ((reinterpret_cast<std::uintptr_t>(large) - 64) % kHugePage, 0u);
    // Small buffers come from the C library's heap, which this library does not advise.
    EXPECT_FALSE(advised_huge(small)) << mapping_flags(small).value_or("(no VmFlags)");
    ASSERT_EQ(nab_buffer_free(large), NAB_STATUS_OK);
    ASSERT_EQ(nab_buffer_free(small), NAB_STATUS_OK);
}
#endif

}  // namespace
