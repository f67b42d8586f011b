// Device buffers and copies for callers without an engine of their own.
#include <string>

#include "cuda/cuda_api.h"
#include "cuda/cuda_error.h"

namespace nab::cuda {

int device_count() noexcept {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // no driver or no device: report none
        return 0;
    }
    return count;
}

void* allocate_buffer(int device_ordinal, std::size_t byte_count) {
    const int count = device_count();
    if (device_ordinal < 0 || device_ordinal >= count) {
        fail_argument("device_ordinal", "= " + std::to_string(device_ordinal) + " is invalid: this machine has " +
                                            std::to_string(count) + " CUDA device(s)");
    }
    use_device(device_ordinal);
    void* data = device_malloc(byte_count, "a buffer");
    // Zeroed before this returns, whatever stream the caller uses next (the header promises a
    // zeroed buffer; cudaMemset alone is ordered only with the legacy default stream).
    cudaError_t zeroed = cudaMemset(data, 0, byte_count);
    if (zeroed == cudaSuccess) zeroed = cudaDeviceSynchronize();
    if (zeroed != cudaSuccess) {
        cudaFree(data);
        check_cuda(zeroed, "cudaMemset of a new buffer");
    }
    return data;
}

void free_buffer(void* data) { check_cuda(cudaFree(data), "cudaFree"); }

// The copies are synchronous with the whole device, as the header says: they start after the
// work queued on every stream (an optimizer's own, non-blocking stream too) and are complete when
// they return (a pageable upload's last part included).
void copy_to_device(void* device_destination, const void* host_source, std::size_t byte_count) {
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize before a copy to the device");
    check_cuda(cudaMemcpy(device_destination, host_source, byte_count, cudaMemcpyHostToDevice),
               "cudaMemcpy to the device");
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize after a copy to the device");
}

void copy_to_host(void* host_destination, const void* device_source, std::size_t byte_count) {
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize before a copy to the host");
    check_cuda(cudaMemcpy(host_destination, device_source, byte_count, cudaMemcpyDeviceToHost),
               "cudaMemcpy to the host");
}

}  // namespace nab::cuda
