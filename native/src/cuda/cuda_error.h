// CUDA runtime errors as nab::Error(DeviceError) carrying CUDA's own text.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "core/errors.h"

namespace nab::cuda {

inline void check_cuda(cudaError_t result, const char* what) {
    if (result != cudaSuccess) {
        fail(ErrorCode::DeviceError, std::string(what) + " failed: " + cudaGetErrorName(result) + ": " +
                                          cudaGetErrorString(result));
    }
}

// Makes `device_ordinal` current for the calling thread, with a message that names it.
inline void use_device(int device_ordinal) {
    check_cuda(cudaSetDevice(device_ordinal), ("cudaSetDevice(" + std::to_string(device_ordinal) + ")").c_str());
}

}  // namespace nab::cuda
