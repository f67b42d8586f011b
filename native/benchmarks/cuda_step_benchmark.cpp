// The CUDA step against the device's own copy bandwidth, in one run: for each size and form of
// the step (labml AdaBelief defaults, one tensor), the fused step and a device-to-device
// cudaMemcpyAsync of half the step's bytes per parameter (a copy reads and writes, so it
// moves the same traffic), both timed with CUDA events over many iterations. Prints one line
// per size and form with step/copy, the step's bandwidth over the copy's; exits 1 if no
// device is visible.
//
// The forms, and the bytes each moves per parameter:
//   float32              28: read p, g, m, s; write p, m, s
//   bfloat16+master      28: read g (2), master, m, s; write master, p (2), m, s
//   float32+grad-pass    32: float32 with skip_nonfinite and clipping on, whose gradient pass
//                            reads the gradients a second time
#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

struct Form {
    const char* name;
    nab_dtype dtype;     // of the parameters and the gradients
    bool master;         // a float32 master copy of 16-bit parameters
    bool gradient_pass;  // step options that make the step read the gradients first
    double bytes_per_parameter;
};

constexpr Form kForms[] = {{"float32", NAB_DTYPE_FLOAT32, false, false, 28.0},
                           {"bfloat16+master", NAB_DTYPE_BFLOAT16, true, false, 28.0},
                           {"float32+grad-pass", NAB_DTYPE_FLOAT32, false, true, 32.0}};

// Fills count elements of `dtype` at `device` with varied values around `scale` (a constant
// would let every thread take the same path through the 16-bit rounding), by repeated uploads
// of one host pattern.
void fill(void* device, nab_dtype dtype, std::uint64_t count, float scale) {
    constexpr std::uint64_t kPattern = 1 << 20;
    const std::size_t element_size = dtype == NAB_DTYPE_FLOAT32 ? 4 : 2;
    std::vector<std::uint8_t> pattern(kPattern * element_size);
    for (std::uint64_t i = 0; i < kPattern; ++i) {
        const float value = scale * static_cast<float>(static_cast<int>(i % 1999) - 999) / 999.0f;
        std::uint32_t bits;
        std::memcpy(&bits, &value, sizeof bits);
        if (dtype == NAB_DTYPE_FLOAT32) {
            std::memcpy(pattern.data() + 4 * i, &bits, 4);
        } else {
            const auto upper = static_cast<std::uint16_t>(bits >> 16);  // a bfloat16 near the value
            std::memcpy(pattern.data() + 2 * i, &upper, 2);
        }
    }
    for (std::uint64_t begin = 0; begin < count; begin += kPattern) {
        const std::uint64_t n = count - begin < kPattern ? count - begin : kPattern;
        check(nab_cuda_copy_to_device(static_cast<std::uint8_t*>(device) + begin * element_size, pattern.data(),
                                            n * element_size),
              "fill");
    }
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

void measure(std::uint64_t count, const Form& form, int iterations) {
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
    void *parameters = nullptr, *gradients = nullptr, *copy_source = nullptr, *copy_destination = nullptr;
    check(nab_cuda_buffer_allocate(0, form.dtype, count, &parameters), "parameters");
    check(nab_cuda_buffer_allocate(0, form.dtype, count, &gradients), "gradients");
    fill(parameters, form.dtype, count, 0.5f);
    fill(gradients, form.dtype, count, 1e-3f);
    const auto copy_bytes = static_cast<std::uint64_t>(form.bytes_per_parameter / 2 * static_cast<double>(count));
    // 2-byte elements: the byte count is even, so the copy moves exactly copy_bytes.
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_BFLOAT16, copy_bytes / 2, &copy_source), "copy source");
    check(nab_cuda_buffer_allocate(0, NAB_DTYPE_BFLOAT16, copy_bytes / 2, &copy_destination), "copy destination");
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.group_id = group;
    desc.element_count = count;
    desc.parameters = parameters;
    desc.gradients = gradients;
    desc.parameter_dtype = desc.gradient_dtype = form.dtype;
    desc.master_parameters = form.master ? 1 : 0;
    check(nab_optimizer_add_tensor(optimizer, &desc, &tensor), "tensor");
    if (form.gradient_pass) {
        nab_step_options step_options;
        check(nab_step_options_init(&step_options), "step options");
        step_options.skip_nonfinite = 1;
        step_options.max_gradient_norm = 1.0;
        check(nab_optimizer_set_step_options(optimizer, &step_options), "step options");
    }

    const double step_ms =
        milliseconds_per_iteration(stream, iterations, [&] { check(nab_optimizer_step(optimizer), "step"); });
    const double copy_ms = milliseconds_per_iteration(stream, iterations, [&] {
        check_cuda(cudaMemcpyAsync(copy_destination, copy_source, copy_bytes, cudaMemcpyDeviceToDevice, stream),
                   "copy");
    });
    const double bytes = form.bytes_per_parameter * static_cast<double>(count);
    std::printf("form=%s params=%llu step_us=%.1f step_GBps=%.1f copy_us=%.1f copy_GBps=%.1f step/copy=%.3f\n",
                form.name, static_cast<unsigned long long>(count), step_ms * 1e3, bytes / step_ms / 1e6, copy_ms * 1e3,
                bytes / copy_ms / 1e6, copy_ms / step_ms);
    check(nab_optimizer_destroy(optimizer), "destroy");
    for (void* buffer : {parameters, gradients, copy_source, copy_destination}) nab_cuda_buffer_free(buffer);
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
            for (const Form& form : kForms) measure(count, form, iterations);
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "cuda_step_benchmark: %s\n", error.what());
        return 1;
    }
    return 0;
}
