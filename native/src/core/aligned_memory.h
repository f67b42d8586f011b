// 64-byte aligned, zero-initialised native arrays with a process-wide byte count, so a leak
// test can check that everything the library allocated came back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace nab {

constexpr std::size_t kAlignment = 64;

// Allocates `bytes` zeroed bytes aligned to kAlignment. Throws nab::Error(OUT_OF_MEMORY).
void* aligned_allocate(std::size_t bytes);
// Frees memory from aligned_allocate; null is fine.
void aligned_free(void* pointer) noexcept;
// Bytes currently held through aligned_allocate.
std::uint64_t allocated_bytes() noexcept;

// Owning array of floats in aligned memory (move-only).
class AlignedFloatArray {
public:
    AlignedFloatArray() = default;
    explicit AlignedFloatArray(std::size_t count)
        : data_(static_cast<float*>(aligned_allocate(count * sizeof(float)))), count_(count) {}
    AlignedFloatArray(AlignedFloatArray&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
    AlignedFloatArray& operator=(AlignedFloatArray&& other) noexcept {
        if (this != &other) {
            aligned_free(data_);
            data_ = std::exchange(other.data_, nullptr);
            count_ = std::exchange(other.count_, 0);
        }
        return *this;
    }
    AlignedFloatArray(const AlignedFloatArray&) = delete;
    AlignedFloatArray& operator=(const AlignedFloatArray&) = delete;
    ~AlignedFloatArray() { aligned_free(data_); }

    float* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return count_; }
    bool empty() const noexcept { return data_ == nullptr; }

private:
    float* data_ = nullptr;
    std::size_t count_ = 0;
};

}  // namespace nab
