// The caller memory registered with one optimizer: which tensor's parameters or gradients own
// each byte range. It holds the rule that registered memory belongs to one buffer of one tensor
// only (an element registered twice would be stepped twice, or raced between worker threads),
// in O(log N) per query and change for N registered buffers, since an optimizer may hold
// millions of tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace nab {

// Which of a tensor's two caller buffers.
enum class BufferRole { Parameters, Gradients };

// One registered buffer: the tensor it belongs to and which of its buffers it is.
struct BufferOwner {
    std::uint32_t tensor_id;
    BufferRole role;
    bool operator==(const BufferOwner& other) const noexcept {
        return tensor_id == other.tensor_id && role == other.role;
    }
};

class RegisteredMemory {
public:
    // The owner of a registered range sharing a byte with [data, data + bytes), other than
    // `replaced` (the buffer about to be replaced, which the new one may overlap); nullopt when
    // there is none. `data` is not null and `bytes` is at least 1.
    std::optional<BufferOwner> find_overlap(const void* data, std::size_t bytes,
                                            std::optional<BufferOwner> replaced = std::nullopt) const;

    // Records a new tensor's parameters and gradients (null: none yet); neither may overlap a
    // registered range or the other (find_overlap first). Throws std::bad_alloc, changing
    // nothing.
    void add_tensor(std::uint32_t tensor_id, const void* parameters, std::size_t parameter_bytes,
                    const void* gradients, std::size_t gradient_bytes);

    // Replaces `owner`'s range starting at `old_data` (null: none) by [new_data, new_data +
    // bytes) (null: none), which must overlap nothing but the old range (find_overlap first).
    // Throws std::bad_alloc, changing nothing.
    void replace(BufferOwner owner, const void* old_data, const void* new_data, std::size_t bytes);

private:
    struct Range {
        std::uintptr_t end;  // one past the last byte
        BufferOwner owner;
    };
    using Ranges = std::map<std::uintptr_t, Range>;
    // Allocates the entry for a range in `staging` (null data: none), so that moving it into
    // ranges_ afterwards cannot fail.
    static void stage(Ranges& staging, const void* data, std::size_t bytes, BufferOwner owner);
    // Disjoint ranges by their first byte.
    Ranges ranges_;
};

// "tensor 3's parameters": how messages name a registered buffer.
const char* buffer_role_name(BufferRole role) noexcept;

}  // namespace nab
