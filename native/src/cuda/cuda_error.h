// CUDA runtime errors as nab::Error(DeviceError) carrying CUDA's own text.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

#include "core/errors.h"

namespace nab::cuda {

inline void check_cuda(cudaError_t result, const char* what) {
    if (result != cudaSuccess) {
        fail(ErrorCode::DeviceError, std::string(what) + " failed: " + cudaGetErrorName(result) + ": " +
                                          cudaGetErrorString(result));
    }
}

// cudaMalloc of `bytes`, `what` naming it: a failure for lack of memory is nab::Error
// (OutOfMemory) with the error cleared (so no later call reports it), any other DeviceError.
inline void* device_malloc(std::size_t bytes, const char* what) {
    void* data = nullptr;
    const cudaError_t allocated = cudaMalloc(&data, bytes);
    if (allocated == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        fail(ErrorCode::OutOfMemory,
             std::string("cudaMalloc of ") + std::to_string(bytes) + " bytes for " + what + " failed: out of device memory");
    }
    check_cuda(allocated, (std::string("cudaMalloc for ") + what).c_str());
    return data;
}

// Makes `device_ordinal` current for the calling thread, with a message that names it.
inline void use_device(int device_ordinal) {
    check_cuda(cudaSetDevice(device_ordinal), ("cudaSetDevice(" + std::to_string(device_ordinal) + ")").c_str());
}

}  // namespace nab::cuda
