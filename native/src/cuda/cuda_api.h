// The CUDA backend as the rest of the library sees it. Implemented by the .cu files when the
// library is built with nvcc, and by cuda_unavailable.cpp otherwise.
#pragma once

#include <cstddef>
#include <memory>

#include "core/backend.h"

namespace nab::cuda {

// A backend on device `device_ordinal`; throws nab::Error (Unsupported without CUDA in the
// build, DeviceError when there is no driver, InvalidArgument naming "device_ordinal" when
// there is no such device).
std::unique_ptr<Backend> create_backend(int device_ordinal);

// Makes a backend from create_backend queue its work on `stream` (a cudaStream_t).
void set_stream(Backend& backend, void* stream);

// Devices visible to this process; 0 without a driver or without CUDA in the build.
int device_count() noexcept;

// Zeroed device memory of byte_count bytes on a device, and its release.
void* allocate_buffer(int device_ordinal, std::size_t byte_count);
void free_buffer(void* data);
// Synchronous copies of byte_count bytes.
void copy_to_device(void* device_destination, const void* host_source, std::size_t byte_count);
void copy_to_host(void* host_destination, const void* device_source, std::size_t byte_count);

}  // namespace nab::cuda
