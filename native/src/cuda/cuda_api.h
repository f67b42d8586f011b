// The CUDA backend as the rest of the library sees it. Implemented by the .cu files when the
// library is built with nvcc, and by cuda_unavailable.cpp otherwise.
#pragma once

#include <cstddef>
#include <memory>

#include "core/backend.h"

namespace nab::cuda {

// A backend on device `device_ordinal`; throws nab::Error (UNSUPPORTED without CUDA in the
// build, DEVICE_ERROR when there is no such device or no driver).
std::unique_ptr<Backend> create_backend(int device_ordinal);

// Devices visible to this process; 0 without a driver or without CUDA in the build.
int device_count() noexcept;

// Zeroed device memory of byte_count bytes on a device, and its release.
void* allocate_buffer(int device_ordinal, std::size_t byte_count);
void free_buffer(void* data);
// Synchronous copies of byte_count bytes.
void copy_to_device(void* device_destination, const void* host_source, std::size_t byte_count);
void copy_to_host(void* host_destination, const void* device_source, std::size_t byte_count);

}  // namespace nab::cuda
