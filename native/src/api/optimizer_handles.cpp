#include "api/optimizer_handles.h"

#include <array>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "core/errors.h"

namespace nab::api {

namespace {

// A slot's state: its generation in the upper bits, bit 0 set while a call holds it. A handle
// names (slot, generation); the slot's generation moves on when its optimizer is destroyed.
struct Slot {
    std::atomic<std::uint64_t> state{0};
    std::atomic<OptimizerEntry*> entry{nullptr};
};

constexpr std::uint64_t kBusy = 1;
constexpr std::size_t kSlotsPerChunk = 1024;
constexpr std::size_t kMaxChunks = 4096;  // 4 Mi optimizers alive at once

// Chunks are allocated once and never move or go away, so a lookup needs no lock: a stale
// handle always reads a slot that exists, and its generation tells it is stale.
class SlotTable {
public:
    Slot* find(std::uint64_t index) const noexcept {
        const std::size_t chunk = index / kSlotsPerChunk;
        if (chunk >= kMaxChunks) return nullptr;
        Slot* slots = chunks_[chunk].load(std::memory_order_acquire);
        return slots == nullptr ? nullptr : &slots[index % kSlotsPerChunk];
    }

    // A free slot's index (reusing destroyed ones first).
    std::uint64_t take() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!free_.empty()) {
            const std::uint64_t index = free_.back();
            free_.pop_back();
            return index;
        }
        const std::uint64_t index = next_;
        const std::size_t chunk = index / kSlotsPerChunk;
        if (chunk >= kMaxChunks) {
            fail(ErrorCode::OutOfMemory, "more than " + std::to_string(kMaxChunks * kSlotsPerChunk) +
                                             " optimizers alive at once; destroy some first");
        }
        if (chunks_[chunk].load(std::memory_order_relaxed) == nullptr) {
            chunks_[chunk].store(new Slot[kSlotsPerChunk], std::memory_order_release);
        }
        ++next_;
        return index;
    }

    void give_back(std::uint64_t index) {
        std::lock_guard<std::mutex> lock(mutex_);
        free_.push_back(index);
    }

private:
    std::array<std::atomic<Slot*>, kMaxChunks> chunks_{};
    std::mutex mutex_;
    std::vector<std::uint64_t> free_;
    std::uint64_t next_ = 0;
};

SlotTable& table() {
    // Never destroyed: handles may be used (and refused) until the process ends.
    static SlotTable* instance = new SlotTable;
    return *instance;
}

// handle = (generation << 32) | (index + 1): never 0, so null stays "no optimizer".
nab_optimizer* encode(std::uint64_t index, std::uint64_t generation) {
    return reinterpret_cast<nab_optimizer*>(static_cast<std::uintptr_t>((generation << 32) | (index + 1)));
}

[[noreturn]] void refuse_handle(const nab_optimizer* handle) {
    if (handle == nullptr) fail_argument("optimizer", "is null");
    fail_argument("optimizer", "is not a live optimizer (it was destroyed, or never came from nab_optimizer_create)");
}

// The slot of a handle and the state it has while idle; refuses unknown handles.
Slot& slot_of(nab_optimizer* handle, std::uint64_t& idle) {
    const auto value = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(handle));
    const std::uint64_t low = value & 0xffffffffu;
    if (low == 0) refuse_handle(handle);
    Slot* slot = table().find(low - 1);
    if (slot == nullptr) refuse_handle(handle);
    idle = (value >> 32) << 1;
    return *slot;
}

}  // namespace

OptimizerLease::~OptimizerLease() { static_cast<Slot*>(slot_)->state.store(idle_, std::memory_order_release); }

nab_optimizer* register_optimizer(std::unique_ptr<OptimizerEntry> entry) {
    const std::uint64_t index = table().take();
    Slot& slot = *table().find(index);
    // Generations start at 1 (and skip 0 when they wrap after 2^32 reuses), so (index, 0) is
    // never a live handle.
    std::uint64_t generation = (slot.state.load(std::memory_order_relaxed) >> 1) + 1;
    generation &= 0xffffffffu;
    if (generation == 0) generation = 1;
    slot.entry.store(entry.release(), std::memory_order_relaxed);
    slot.state.store(generation << 1, std::memory_order_release);
    return encode(index, generation);
}

OptimizerLease lease(nab_optimizer* handle) {
    std::uint64_t idle = 0;
    Slot& slot = slot_of(handle, idle);
    std::uint64_t expected = idle;
    if (!slot.state.compare_exchange_strong(expected, idle | kBusy, std::memory_order_acquire)) {
        if ((expected & ~kBusy) != idle) refuse_handle(handle);
        fail(ErrorCode::Busy, "the optimizer is being used by another thread; one optimizer takes one call at a time");
    }
    return OptimizerLease(slot.entry.load(std::memory_order_relaxed), &slot, idle);
}

void destroy_optimizer(nab_optimizer* handle) {
    if (handle == nullptr) return;
    std::uint64_t idle = 0;
    Slot& slot = slot_of(handle, idle);
    std::uint64_t expected = idle;
    // Moving the generation on while idle both retires the handle and shuts out every later
    // call; a call that holds the slot now makes this fail with BUSY instead.
    if (!slot.state.compare_exchange_strong(expected, (idle + 2) | kBusy, std::memory_order_acquire)) {
        if ((expected & ~kBusy) != idle) refuse_handle(handle);
        fail(ErrorCode::Busy, "the optimizer is being used by another thread; destroy it after that call returns");
    }
    delete slot.entry.exchange(nullptr, std::memory_order_relaxed);
    slot.state.store(idle + 2, std::memory_order_release);
    table().give_back(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(handle) & 0xffffffffu) - 1);
}

}  // namespace nab::api
