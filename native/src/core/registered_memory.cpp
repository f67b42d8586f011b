#include "core/registered_memory.h"

#include <iterator>

namespace nab {

namespace {

std::uintptr_t address(const void* data) noexcept { return reinterpret_cast<std::uintptr_t>(data); }

}  // namespace

std::optional<BufferOwner> RegisteredMemory::find_overlap(const void* data, std::size_t bytes,
                                                          std::optional<BufferOwner> replaced) const {
    const std::uintptr_t first = address(data), end = first + bytes;
    const auto is_replaced = [&](const Range& range) { return replaced && range.owner == *replaced; };
    // The ranges are disjoint, so two decide: the first one starting at or after `first` (or
    // the next, when that one is being replaced), and the last one starting before `first`
    // (every range before that one ends at or before its start, so before `first`).
    const auto at_or_after = ranges_.lower_bound(first);
    auto after = at_or_after;
    if (after != ranges_.end() && is_replaced(after->second)) ++after;
    if (after != ranges_.end() && after->first < end) return after->second.owner;
    if (at_or_after != ranges_.begin()) {
        const auto before = std::prev(at_or_after);
        if (!is_replaced(before->second) && before->second.end > first) return before->second.owner;
    }
    return std::nullopt;
}

void RegisteredMemory::stage(Ranges& staging, const void* data, std::size_t bytes, BufferOwner owner) {
    if (data != nullptr) staging.emplace(address(data), Range{address(data) + bytes, owner});
}

void RegisteredMemory::add_tensor(std::uint32_t tensor_id, const void* parameters, std::size_t parameter_bytes,
                                  const void* gradients, std::size_t gradient_bytes) {
    Ranges staging;
    stage(staging, parameters, parameter_bytes, BufferOwner{tensor_id, BufferRole::Parameters});
    stage(staging, gradients, gradient_bytes, BufferOwner{tensor_id, BufferRole::Gradients});
    ranges_.merge(staging);  // moves the nodes: allocates nothing
}

void RegisteredMemory::replace(BufferOwner owner, const void* old_data, const void* new_data, std::size_t bytes) {
    if (old_data == new_data) return;
    Ranges staging;
    stage(staging, new_data, bytes, owner);
    if (old_data != nullptr) ranges_.erase(address(old_data));
    ranges_.merge(staging);
}

const char* buffer_role_name(BufferRole role) noexcept {
    return role == BufferRole::Parameters ? "parameters" : "gradients";
}

}  // namespace nab
