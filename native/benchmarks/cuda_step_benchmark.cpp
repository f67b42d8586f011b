// The CUDA step against the device's own copy bandwidth, in one run: for each size, the
// fused step (labml AdaBelief defaults, one tensor, 28 bytes moved per parameter) and a
// device-to-device cudaMemcpyAsync of 14 bytes per parameter (which also moves 28: read +
// write), both timed with CUDA events over many iterations. Prints one line per size and the
// ratio step/copy; exits 1 if no device is visible.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "native_adabelief.h"

namespace {

void check(nab_status status, const char* what) {
    if (status != NAB_STATUS_OK) throw std::runtime_error(std::string(what) + ": " + nab_get_last_error());
}

void check_cuda(cudaError_t result, const char* what) {
    if (result != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(result));
}

template <class Work>
double milliseconds_per_iteration(cudaStream_t stream, int iterations, Work work) {
    cudaEvent_t start = nullptr, stop = nullptr;
    check_cuda(cudaEventCreate(&start), "event");
    check_cuda(cudaEventCreate(&stop), "event");
    for (int i = 0; i < 3; ++i) work();  // warm-up
    check_cuda(cudaEventRecord(start, stream), "record");
    for (int i = 0; i < iterations; ++i) work();
    check_cuda(cudaEventRecord(stop, stream), "record");
    check_cuda(cudaEventSynchronize(stop), "synchronize");
    float elapsed = 0.0f;
    check_cuda(cudaEventElapsedTime(&elapsed, start, stop), "elapsed");
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return static_cast<double>(elapsed) / iterations;
}

void measure(std::uint64_t count, int iterations) {
    cudaStream_t stream = nullptr;
    check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config), "config");
    config.device_type = NAB_DEVICE_CUDA;
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer), "create");
    check(nab_optimizer_set_cuda_stream(optimizer, stream), "stream");
    nab_group_options options;
    check(nab_group_options_init(&options, NAB_COMPATIBILITY_LABML), "options");
    std::uint32_t group = 0, tensor = 0;
    check(nab_optimizer_add_group(optimizer, &options, &group), "group");
    float *parameters = nullptr, *gradients = nullptr, *copy_source = nullptr, *copy_destination = nullptr;
    check(nab_cuda_buffer_allocate(0, count, &parameters), "parameters");
    check(nab_cuda_buffer_allocate(0, count, &gradients), "gradients");
    const std::uint64_t copy_floats = count * 14 / 4;  // 14 bytes per parameter
    check(nab_cuda_buffer_allocate(0, copy_floats, &copy_source), "copy source");
    check(nab_cuda_buffer_allocate(0, copy_floats, &copy_destination), "copy destination");
    nab_tensor_desc desc{sizeof desc, group, count, parameters, gradients};
    check(nab_optimizer_add_tensor(optimizer, &desc, &tensor), "tensor");

    const double step_ms = milliseconds_per_iteration(stream, iterations, [&] { check(nab_optimizer_step(optimizer), "step"); });
    const double copy_ms = milliseconds_per_iteration(stream, iterations, [&] {
        check_cuda(cudaMemcpyAsync(copy_destination, copy_source, copy_floats * 4, cudaMemcpyDeviceToDevice, stream),
                   "copy");
    });
    const double bytes = 28.0 * static_cast<double>(count);
    std::printf("params=%llu step_us=%.1f step_GBps=%.1f copy_us=%.1f copy_GBps=%.1f step/copy=%.3f\n",
                static_cast<unsigned long long>(count), step_ms * 1e3, bytes / step_ms / 1e6, copy_ms * 1e3,
                bytes / copy_ms / 1e6, copy_ms / step_ms);
    check(nab_optimizer_destroy(optimizer), "destroy");
    for (float* buffer : {parameters, gradients, copy_source, copy_destination}) nab_cuda_buffer_free(buffer);
    cudaStreamDestroy(stream);
}

}  // namespace

int main(int argc, char** argv) {
    int32_t devices = 0;
    check(nab_cuda_get_device_count(&devices), "device count");
    if (devices == 0) {
        std::fprintf(stderr, "cuda_step_benchmark: no CUDA device visible; nothing measured\n");
        return 1;
    }
    cudaDeviceProp properties{};
    check_cuda(cudaGetDeviceProperties(&properties, 0), "properties");
    std::printf("device: %s (%d multiprocessors)\n", properties.name, properties.multiProcessorCount);
    const int iterations = argc > 1 ? std::atoi(argv[1]) : 50;
    try {
        for (std::uint64_t count : {std::uint64_t{1} << 20, std::uint64_t{10'000'000}, std::uint64_t{1} << 26,
                                    std::uint64_t{200'000'000}}) {
            measure(count, iterations);
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "cuda_step_benchmark: %s\n", error.what());
        return 1;
    }
    return 0;
}
