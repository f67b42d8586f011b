// CUDA runtime errors as nab::Error(DEVICE_ERROR) carrying CUDA's own text.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "core/errors.h"

namespace nab::cuda {

inline void check_cuda(cudaError_t result, const char* what) {
    if (result != cudaSuccess) {
        fail(NAB_STATUS_DEVICE_ERROR, std::string(what) + " failed: " + cudaGetErrorName(result) + ": " +
                                          cudaGetErrorString(result));
    }
}

// Makes `device_ordinal` current for the calling thread, with a message that names it.
inline void use_device(int device_ordinal) {
    check_cuda(cudaSetDevice(device_ordinal), ("cudaSetDevice(" + std::to_string(device_ordinal) + ")").c_str());
}

}  // namespace nab::cuda
