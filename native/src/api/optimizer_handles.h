// The handles a caller holds for optimizers. A handle is not the optimizer's address but a slot
// number and the slot's generation: a destroyed, doubly destroyed or made-up handle is
// recognised and refused with INVALID_ARGUMENT instead of touching freed memory, and destroy
// racing another thread's call on the same optimizer is safe (one of them gets BUSY). The cost
// on every call is the one compare-and-swap that already kept one optimizer to one call at a
// time.
#pragma once

#include <cstdint>
#include <memory>

#include "core/optimizer.h"
#include "native_adabelief.h"

namespace nab::api {

// What a handle stands for: the optimizer and which backend it was created with (the ABI
// reaches each backend's own settings only where they apply).
struct OptimizerEntry {
    OptimizerEntry(std::unique_ptr<Backend> backend, nab_device_type device)
        : optimizer(std::move(backend)), device_type(device) {}
    Optimizer optimizer;
    const nab_device_type device_type;
};

// The optimizer of a live handle, held exclusively until the lease ends.
class OptimizerLease {
public:
    OptimizerLease(const OptimizerLease&) = delete;
    OptimizerLease& operator=(const OptimizerLease&) = delete;
    ~OptimizerLease();
    OptimizerEntry& operator*() const noexcept { return *entry_; }
    OptimizerEntry* operator->() const noexcept { return entry_; }

private:
    friend OptimizerLease lease(nab_optimizer* handle);
    OptimizerLease(OptimizerEntry* entry, void* slot, std::uint64_t idle) : entry_(entry), slot_(slot), idle_(idle) {}
    OptimizerEntry* entry_;
    void* slot_;
    std::uint64_t idle_;
};

// A new handle owning `entry`; throws nab::Error (OutOfMemory) when no slot can be made.
nab_optimizer* register_optimizer(std::unique_ptr<OptimizerEntry> entry);

// Holds the optimizer of `handle` for one call; throws nab::Error: InvalidArgument naming
// "optimizer" for a null, destroyed or unknown handle, Busy while another call holds it.
OptimizerLease lease(nab_optimizer* handle);

// Destroys the optimizer of `handle` (null: nothing); throws like lease().
void destroy_optimizer(nab_optimizer* handle);

}  // namespace nab::api
