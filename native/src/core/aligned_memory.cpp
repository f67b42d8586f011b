#include "core/aligned_memory.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "core/errors.h"

namespace nab {

namespace {

std::atomic<std::uint64_t> g_allocated_bytes{0};

// Each block carries its size in a kAlignment-sized prefix so that free can account for it
// without a side table.
struct BlockPrefix {
    std::size_t bytes;
};
static_assert(sizeof(BlockPrefix) <= kAlignment, "prefix must fit in the alignment padding");

}  // namespace

void* aligned_allocate(std::size_t bytes) {
    if (bytes > std::numeric_limits<std::size_t>::max() - 2 * kAlignment) {
        fail(ErrorCode::OutOfMemory, "allocation of " + std::to_string(bytes) + " bytes is too large");
    }
    const std::size_t total = ((bytes + kAlignment - 1) / kAlignment + 1) * kAlignment;
    void* block = nullptr;
#if defined(_WIN32)
    block = _aligned_malloc(total, kAlignment);
#else
    if (posix_memalign(&block, kAlignment, total) != 0) block = nullptr;
#endif
    if (block == nullptr) {
        fail(ErrorCode::OutOfMemory, "could not allocate " + std::to_string(bytes) + " bytes");
    }
    std::memset(block, 0, total);
    static_cast<BlockPrefix*>(block)->bytes = total;
    g_allocated_bytes.fetch_add(total, std::memory_order_relaxed);
    return static_cast<unsigned char*>(block) + kAlignment;
}

void aligned_free(void* pointer) noexcept {
    if (pointer == nullptr) return;
    void* block = static_cast<unsigned char*>(pointer) - kAlignment;
    g_allocated_bytes.fetch_sub(static_cast<BlockPrefix*>(block)->bytes, std::memory_order_relaxed);
#if defined(_WIN32)
    _aligned_free(block);
#else
    std::free(block);
#endif
}

std::uint64_t allocated_bytes() noexcept { return g_allocated_bytes.load(std::memory_order_relaxed); }

}  // namespace nab
