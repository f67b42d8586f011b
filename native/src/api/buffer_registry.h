// The buffers this library handed out (nab_buffer_allocate, nab_cuda_buffer_allocate), so that
// freeing one twice, freeing a pointer it never allocated, or freeing a host buffer as a device
// one is refused with INVALID_ARGUMENT instead of corrupting the allocator. Allocation and
// release are never on a step's path; one mutex guards the set.
#pragma once

#include <mutex>
#include <unordered_map>

namespace nab::api {

enum class BufferKind { Host, Cuda };

class BufferRegistry {
public:
    // Allocates through `allocate` and records the result.
    template <class Allocate>
    void* add(BufferKind kind, Allocate&& allocate) {
        std::lock_guard<std::mutex> lock(mutex_);
        live_.reserve(live_.size() + 1);  // so recording cannot fail after the allocation
        void* data = allocate();
        live_.emplace(data, kind);
        return data;
    }

    // Forgets `data` and releases it through `release`; null does nothing. Throws nab::Error
    // (InvalidArgument naming "data") for a pointer that is not a live buffer of `kind`.
    template <class Release>
    void remove(BufferKind kind, void* data, Release&& release) {
        if (data == nullptr) return;
        std::lock_guard<std::mutex> lock(mutex_);
        check_live(kind, data);
        release(data);
        live_.erase(data);
    }

private:
    void check_live(BufferKind kind, void* data) const;
    std::mutex mutex_;
    std::unordered_map<void*, BufferKind> live_;
};

BufferRegistry& buffers();

}  // namespace nab::api
