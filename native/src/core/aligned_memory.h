// 64-byte aligned, zero-initialised native memory with a process-wide byte count, so a leak
// test can check that everything the library allocated came back. On Linux, blocks of a huge
// page or more are mapped on their own and advised to use transparent huge pages.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nab {

constexpr std::size_t kAlignment = 64;

// Allocates `bytes` zeroed bytes aligned to kAlignment. Throws nab::Error(OUT_OF_MEMORY).
void* aligned_allocate(std::size_t bytes);
// Frees memory from aligned_allocate; null is fine.
void aligned_free(void* pointer) noexcept;
// Bytes currently held through aligned_allocate.
std::uint64_t allocated_bytes() noexcept;

}  // namespace nab
