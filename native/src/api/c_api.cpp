// The C ABI: argument checks that need the raw C types, the one-thread-at-a-time guard of
// each optimizer, and the translation of C++ exceptions into a status plus the thread-local
// last-error message. No exception leaves this file.
#include <atomic>
#include <cstdio>
#include <memory>
#include <cstring>
#include <limits>
#include <new>
#include <string>

#include "core/aligned_memory.h"
#include "core/errors.h"
#include "core/hyperparameters.h"
#include "core/optimizer.h"
#include "cpu/cpu_backend.h"
#include "cpu/cpu_features.h"
#include "cuda/cuda_api.h"
#include "native_adabelief.h"

#ifndef NAB_VERSION_STRING
#  define NAB_VERSION_STRING "0.0.0"
#endif

// Enums cross the ABI as 32-bit integers (the generated C# declares them `: int`).
static_assert(sizeof(nab_status) == 4, "nab_status must be 32 bits wide");

struct nab_optimizer {
    explicit nab_optimizer(std::unique_ptr<nab::Backend> backend) : optimizer(std::move(backend)) {}
    nab::Optimizer optimizer;
    // Set while a call is inside this optimizer; a second thread gets NAB_STATUS_BUSY.
    std::atomic<bool> in_use{false};
};

namespace {

using nab::fail;

void record_error(const char* function, const char* message) noexcept {
    char text[1024];
    std::snprintf(text, sizeof text, "%s: %s", function, message);
    nab::set_last_error(text);
}

// Runs body, mapping every exception to a status and the thread's last-error message.
template <class Body>
nab_status guarded(const char* function, Body&& body) noexcept {
    try {
        body();
        return NAB_STATUS_OK;
    } catch (const nab::Error& error) {
        record_error(function, error.what());
        return error.status();
    } catch (const std::bad_alloc&) {
        record_error(function, "out of memory");
        return NAB_STATUS_OUT_OF_MEMORY;
    } catch (const std::exception& error) {
        record_error(function, error.what());
        return NAB_STATUS_INTERNAL_ERROR;
    } catch (...) {
        record_error(function, "unknown internal error");
        return NAB_STATUS_INTERNAL_ERROR;
    }
}

void require(const void* pointer, const char* argument_name) {
    if (pointer == nullptr) fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " is null");
}

// Holds an optimizer exclusively for one call.
class ExclusiveUse {
public:
    explicit ExclusiveUse(nab_optimizer* optimizer) : optimizer_(optimizer) {
        require(optimizer, "optimizer");
        if (optimizer->in_use.exchange(true, std::memory_order_acquire)) {
            optimizer_ = nullptr;
            fail(NAB_STATUS_BUSY, "the optimizer is being used by another thread; one optimizer takes one call at a time");
        }
    }
    ~ExclusiveUse() {
        if (optimizer_ != nullptr) optimizer_->in_use.store(false, std::memory_order_release);
    }
    ExclusiveUse(const ExclusiveUse&) = delete;
    ExclusiveUse& operator=(const ExclusiveUse&) = delete;
    nab::Optimizer& operator*() const { return optimizer_->optimizer; }
    nab::Optimizer* operator->() const { return &optimizer_->optimizer; }

private:
    nab_optimizer* optimizer_;
};

template <class Body>
nab_status with_optimizer(const char* function, nab_optimizer* optimizer, Body&& body) noexcept {
    return guarded(function, [&] {
        ExclusiveUse use(optimizer);
        body(*use);
    });
}

void check_struct_size(std::uint32_t actual, std::size_t expected, const char* argument_name) {
    if (actual != expected) {
        fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + "->struct_size = " + std::to_string(actual) +
                                              " is invalid: must be " + std::to_string(expected));
    }
}

// More workers than this would only cost memory and scheduling: no machine the library targets
// has more hardware threads, and an absurd count must not try to start millions of threads.
constexpr std::int32_t kMaxThreadCount = 4096;

void check_thread_count(std::int32_t thread_count, const char* argument_name) {
    if (thread_count < 0 || thread_count > kMaxThreadCount) {
        fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " = " + std::to_string(thread_count) +
                                              " is invalid: must be between 0 (one thread per logical core) and " +
                                              std::to_string(kMaxThreadCount));
    }
}

nab_simd_level check_simd_level(std::int32_t level, const char* argument_name) {
    if (level < NAB_SIMD_AUTO || level > NAB_SIMD_AVX512) {
        fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " = " + std::to_string(level) +
                                              " is invalid: must be NAB_SIMD_AUTO (0), NAB_SIMD_SCALAR (1), "
                                              "NAB_SIMD_AVX2 (2) or NAB_SIMD_AVX512 (3)");
    }
    const auto simd_level = static_cast<nab_simd_level>(level);
    if (simd_level != NAB_SIMD_AUTO && !nab::cpu::simd_level_supported(simd_level)) {
        fail(NAB_STATUS_UNSUPPORTED, std::string(argument_name) + " = " + nab::cpu::simd_level_name(simd_level) +
                                         " is not supported by this CPU");
    }
    return simd_level;
}

nab_state_kind check_state_kind(std::int32_t kind) {
    if (kind < NAB_STATE_FIRST_MOMENT || kind > NAB_STATE_MASTER_PARAMETERS) {
        fail(NAB_STATUS_INVALID_ARGUMENT, "state_kind = " + std::to_string(kind) +
                                              " is invalid: must be NAB_STATE_FIRST_MOMENT (0), "
                                              "NAB_STATE_SECOND_MOMENT (1), NAB_STATE_MAX_SECOND_MOMENT (2) or "
                                              "NAB_STATE_MASTER_PARAMETERS (3)");
    }
    return static_cast<nab_state_kind>(kind);
}

nab_dtype check_dtype(std::int32_t dtype, const char* argument_name) {
    if (dtype < NAB_DTYPE_FLOAT32 || dtype > NAB_DTYPE_BFLOAT16) {
        fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " = " + std::to_string(dtype) +
                                              " is invalid: must be NAB_DTYPE_FLOAT32 (0), NAB_DTYPE_FLOAT16 (1) or "
                                              "NAB_DTYPE_BFLOAT16 (2)");
    }
    return static_cast<nab_dtype>(dtype);
}

bool check_flag(std::int32_t value, const char* argument_name) {
    if (value != 0 && value != 1) {
        fail(NAB_STATUS_INVALID_ARGUMENT,
             std::string(argument_name) + " = " + std::to_string(value) + " is invalid: a boolean must be 0 or 1");
    }
    return value == 1;
}

std::size_t check_element_count(std::uint64_t element_count, const char* argument_name) {
    // Three state arrays of this many floats must be addressable.
    constexpr std::uint64_t limit = std::numeric_limits<std::size_t>::max() / (4 * sizeof(float));
    if (element_count == 0 || element_count > limit) {
        fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " = " + std::to_string(element_count) +
                                              " is invalid: must be between 1 and " + std::to_string(limit));
    }
    return static_cast<std::size_t>(element_count);
}

std::size_t check_byte_count(std::uint64_t byte_count, const char* argument_name) {
    if (byte_count == 0 || byte_count > std::numeric_limits<std::size_t>::max()) {
        fail(NAB_STATUS_INVALID_ARGUMENT, std::string(argument_name) + " = " + std::to_string(byte_count) +
                                              " is invalid: must be at least 1");
    }
    return static_cast<std::size_t>(byte_count);
}

}  // namespace

extern "C" {

uint32_t nab_get_abi_version(void) { return NAB_ABI_VERSION; }

const char* nab_get_version_string(void) { return NAB_VERSION_STRING; }

const char* nab_get_last_error(void) { return nab::last_error(); }

nab_status nab_group_options_init(nab_group_options* options, int32_t compatibility) {
    return guarded(__func__, [&] {
        require(options, "options");
        if (compatibility != NAB_COMPATIBILITY_LABML && compatibility != NAB_COMPATIBILITY_ADABELIEF_PYTORCH) {
            fail(NAB_STATUS_INVALID_ARGUMENT, "compatibility = " + std::to_string(compatibility) +
                                                  " is invalid: must be NAB_COMPATIBILITY_LABML (0) or "
                                                  "NAB_COMPATIBILITY_ADABELIEF_PYTORCH (1)");
        }
        nab::GroupOptions defaults;
        defaults.compatibility = compatibility == NAB_COMPATIBILITY_LABML ? nab::Compatibility::Labml
                                                                          : nab::Compatibility::AdaBeliefPytorch;
        std::memset(options, 0, sizeof *options);
        options->struct_size = sizeof *options;
        nab::write_group_options(defaults, options, "options");
    });
}

nab_status nab_group_options_validate(const nab_group_options* options) {
    return guarded(__func__, [&] { nab::read_group_options(options, "options"); });
}

nab_status nab_optimizer_config_init(nab_optimizer_config* config) {
    return guarded(__func__, [&] {
        require(config, "config");
        std::memset(config, 0, sizeof *config);
        config->struct_size = sizeof *config;
        config->device_type = NAB_DEVICE_CPU;
        config->simd_level = NAB_SIMD_AUTO;
    });
}

nab_status nab_cpu_get_best_simd_level(int32_t* out_level) {
    return guarded(__func__, [&] {
        require(out_level, "out_level");
        *out_level = nab::cpu::best_simd_level();
    });
}

nab_status nab_optimizer_create(const nab_optimizer_config* config, nab_optimizer** out_optimizer) {
    return guarded(__func__, [&] {
        require(out_optimizer, "out_optimizer");
        *out_optimizer = nullptr;
        require(config, "config");
        check_struct_size(config->struct_size, sizeof(nab_optimizer_config), "config");
        check_thread_count(config->thread_count, "config->thread_count");
        const nab_simd_level simd_level = check_simd_level(config->simd_level, "config->simd_level");
        std::unique_ptr<nab::Backend> backend;
        switch (config->device_type) {
            case NAB_DEVICE_CPU:
                if (config->device_ordinal != 0) {
                    fail(NAB_STATUS_INVALID_ARGUMENT, "config->device_ordinal = " +
                                                          std::to_string(config->device_ordinal) +
                                                          " is invalid: must be 0 for NAB_DEVICE_CPU");
                }
                backend = std::make_unique<nab::cpu::CpuBackend>(config->thread_count, simd_level);
                break;
            case NAB_DEVICE_CUDA:
                backend = nab::cuda::create_backend(config->device_ordinal);
                break;
            default:
                fail(NAB_STATUS_INVALID_ARGUMENT, "config->device_type = " + std::to_string(config->device_type) +
                                                      " is invalid: must be NAB_DEVICE_CPU (0) or NAB_DEVICE_CUDA (1)");
        }
        *out_optimizer = new nab_optimizer(std::move(backend));
    });
}

nab_status nab_optimizer_destroy(nab_optimizer* optimizer) {
    return guarded(__func__, [&] {
        if (optimizer == nullptr) return;
        if (optimizer->in_use.exchange(true, std::memory_order_acquire)) {
            fail(NAB_STATUS_BUSY, "the optimizer is being used by another thread; destroy it after that call returns");
        }
        delete optimizer;
    });
}

nab_status nab_optimizer_set_thread_count(nab_optimizer* optimizer, int32_t thread_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        check_thread_count(thread_count, "thread_count");
        o.backend().set_thread_count(thread_count);
    });
}

nab_status nab_optimizer_get_thread_count(nab_optimizer* optimizer, int32_t* out_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_count, "out_count");
        *out_count = o.backend().thread_count();
    });
}

nab_status nab_optimizer_set_simd_level(nab_optimizer* optimizer, int32_t simd_level) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        o.backend().set_simd_level(check_simd_level(simd_level, "simd_level"));
    });
}

nab_status nab_optimizer_get_simd_level(nab_optimizer* optimizer, int32_t* out_level) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_level, "out_level");
        *out_level = o.backend().simd_level();
    });
}

nab_status nab_optimizer_add_group(nab_optimizer* optimizer, const nab_group_options* options,
                                   uint32_t* out_group_id) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_group_id, "out_group_id");
        const nab::GroupOptions parsed = nab::read_group_options(options, "options");
        *out_group_id = o.add_group(parsed);
    });
}

nab_status nab_optimizer_get_group_count(nab_optimizer* optimizer, uint32_t* out_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_count, "out_count");
        *out_count = o.group_count();
    });
}

nab_status nab_optimizer_set_group_options(nab_optimizer* optimizer, uint32_t group_id,
                                           const nab_group_options* options) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        const nab::GroupOptions parsed = nab::read_group_options(options, "options");
        o.set_group_options(group_id, parsed);
    });
}

nab_status nab_optimizer_get_group_options(nab_optimizer* optimizer, uint32_t group_id,
                                           nab_group_options* out_options) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_options, "out_options");
        const nab::GroupOptions& options = o.group_options(group_id);
        nab::write_group_options(options, out_options, "out_options");
    });
}

nab_status nab_optimizer_set_learning_rate(nab_optimizer* optimizer, uint32_t group_id, double learning_rate) {
    return with_optimizer(__func__, optimizer,
                          [&](nab::Optimizer& o) { o.set_learning_rate(group_id, learning_rate); });
}

nab_status nab_optimizer_add_tensor(nab_optimizer* optimizer, const nab_tensor_desc* tensor,
                                    uint32_t* out_tensor_id) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(tensor, "tensor");
        require(out_tensor_id, "out_tensor_id");
        check_struct_size(tensor->struct_size, sizeof(nab_tensor_desc), "tensor");
        const std::size_t count = check_element_count(tensor->element_count, "tensor->element_count");
        require(tensor->parameters, "tensor->parameters");
        nab::Optimizer::TensorBuffers buffers{tensor->parameters, tensor->gradients,
                                              check_dtype(tensor->parameter_dtype, "tensor->parameter_dtype"),
                                              check_dtype(tensor->gradient_dtype, "tensor->gradient_dtype"),
                                              check_flag(tensor->master_parameters, "tensor->master_parameters")};
        if (tensor->reserved != 0) {
            fail(NAB_STATUS_INVALID_ARGUMENT,
                 "tensor->reserved = " + std::to_string(tensor->reserved) + " is invalid: must be 0");
        }
        *out_tensor_id = o.add_tensor(tensor->group_id, count, buffers);
    });
}

nab_status nab_optimizer_get_tensor_count(nab_optimizer* optimizer, uint32_t* out_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_count, "out_count");
        *out_count = o.tensor_count();
    });
}

nab_status nab_optimizer_get_tensor_info(nab_optimizer* optimizer, uint32_t tensor_id, nab_tensor_info* out_info) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_info, "out_info");
        check_struct_size(out_info->struct_size, sizeof(nab_tensor_info), "out_info");
        o.describe_tensor(tensor_id, out_info);
    });
}

nab_status nab_optimizer_set_tensor_parameters(nab_optimizer* optimizer, uint32_t tensor_id, void* parameters) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(parameters, "parameters");
        o.set_tensor_parameters(tensor_id, parameters);
    });
}

nab_status nab_optimizer_set_tensor_gradients(nab_optimizer* optimizer, uint32_t tensor_id, void* gradients) {
    return with_optimizer(__func__, optimizer,
                          [&](nab::Optimizer& o) { o.set_tensor_gradients(tensor_id, gradients); });
}

nab_status nab_optimizer_set_tensor_step(nab_optimizer* optimizer, uint32_t tensor_id, int64_t step) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.set_tensor_step(tensor_id, step); });
}

nab_status nab_optimizer_read_state(nab_optimizer* optimizer, uint32_t tensor_id, int32_t state_kind,
                                    float* destination, uint64_t element_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        const nab_state_kind kind = check_state_kind(state_kind);
        require(destination, "destination");
        o.read_state(tensor_id, kind, destination, static_cast<std::size_t>(element_count));
    });
}

nab_status nab_optimizer_write_state(nab_optimizer* optimizer, uint32_t tensor_id, int32_t state_kind,
                                     const float* source, uint64_t element_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        const nab_state_kind kind = check_state_kind(state_kind);
        require(source, "source");
        o.write_state(tensor_id, kind, source, static_cast<std::size_t>(element_count));
    });
}

nab_status nab_optimizer_step(nab_optimizer* optimizer) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.step(); });
}

nab_status nab_step_options_init(nab_step_options* options) {
    return guarded(__func__, [&] {
        require(options, "options");
        std::memset(options, 0, sizeof *options);
        options->struct_size = sizeof *options;
        nab::write_step_options(nab::StepOptions{}, options, "options");
    });
}

nab_status nab_optimizer_set_step_options(nab_optimizer* optimizer, const nab_step_options* options) {
    return with_optimizer(__func__, optimizer,
                          [&](nab::Optimizer& o) { o.set_step_options(nab::read_step_options(options, "options")); });
}

nab_status nab_optimizer_get_step_options(nab_optimizer* optimizer, nab_step_options* out_options) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        nab::write_step_options(o.step_options(), out_options, "out_options");
    });
}

nab_status nab_optimizer_get_last_step_report(nab_optimizer* optimizer, nab_step_report* out_report) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_report, "out_report");
        check_struct_size(out_report->struct_size, sizeof(nab_step_report), "out_report");
        nab::write_step_report(o.last_step_report(), out_report, "out_report");
    });
}

nab_status nab_optimizer_zero_gradients(nab_optimizer* optimizer) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.zero_gradients(); });
}

nab_status nab_optimizer_count_nonfinite_gradients(nab_optimizer* optimizer, uint64_t* out_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_count, "out_count");
        *out_count = o.count_nonfinite_gradients();
    });
}

nab_status nab_optimizer_synchronize(nab_optimizer* optimizer) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.synchronize(); });
}

nab_status nab_cuda_get_device_count(int32_t* out_count) {
    return guarded(__func__, [&] {
        require(out_count, "out_count");
        *out_count = nab::cuda::device_count();
    });
}

nab_status nab_optimizer_set_cuda_stream(nab_optimizer* optimizer, void* stream) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.backend().set_cuda_stream(stream); });
}

nab_status nab_cuda_buffer_allocate(int32_t device_ordinal, uint64_t element_count, float** out_data) {
    return guarded(__func__, [&] {
        require(out_data, "out_data");
        *out_data = nullptr;
        const std::size_t count = check_element_count(element_count, "element_count");
        *out_data = static_cast<float*>(nab::cuda::allocate_buffer(device_ordinal, count * sizeof(float)));
    });
}

nab_status nab_cuda_buffer_allocate_typed(int32_t device_ordinal, int32_t dtype, uint64_t element_count,
                                          void** out_data) {
    return guarded(__func__, [&] {
        require(out_data, "out_data");
        *out_data = nullptr;
        const nab_dtype type = check_dtype(dtype, "dtype");
        const std::size_t count = check_element_count(element_count, "element_count");
        *out_data = nab::cuda::allocate_buffer(device_ordinal, count * nab::dtype_size(type));
    });
}

nab_status nab_cuda_buffer_free(void* data) {
    return guarded(__func__, [&] {
        if (data != nullptr) nab::cuda::free_buffer(data);
    });
}

nab_status nab_cuda_copy_to_device(float* device_destination, const float* host_source, uint64_t element_count) {
    return guarded(__func__, [&] {
        require(device_destination, "device_destination");
        require(host_source, "host_source");
        nab::cuda::copy_to_device(device_destination, host_source,
                                  check_element_count(element_count, "element_count") * sizeof(float));
    });
}

nab_status nab_cuda_copy_to_host(float* host_destination, const float* device_source, uint64_t element_count) {
    return guarded(__func__, [&] {
        require(host_destination, "host_destination");
        require(device_source, "device_source");
        nab::cuda::copy_to_host(host_destination, device_source,
                                check_element_count(element_count, "element_count") * sizeof(float));
    });
}

nab_status nab_cuda_copy_bytes_to_device(void* device_destination, const void* host_source, uint64_t byte_count) {
    return guarded(__func__, [&] {
        require(device_destination, "device_destination");
        require(host_source, "host_source");
        nab::cuda::copy_to_device(device_destination, host_source, check_byte_count(byte_count, "byte_count"));
    });
}

nab_status nab_cuda_copy_bytes_to_host(void* host_destination, const void* device_source, uint64_t byte_count) {
    return guarded(__func__, [&] {
        require(host_destination, "host_destination");
        require(device_source, "device_source");
        nab::cuda::copy_to_host(host_destination, device_source, check_byte_count(byte_count, "byte_count"));
    });
}

nab_status nab_buffer_allocate(uint64_t element_count, float** out_data) {
    return guarded(__func__, [&] {
        require(out_data, "out_data");
        *out_data = nullptr;
        const std::size_t count = check_element_count(element_count, "element_count");
        *out_data = static_cast<float*>(nab::aligned_allocate(count * sizeof(float)));
    });
}

nab_status nab_buffer_allocate_typed(int32_t dtype, uint64_t element_count, void** out_data) {
    return guarded(__func__, [&] {
        require(out_data, "out_data");
        *out_data = nullptr;
        const nab_dtype type = check_dtype(dtype, "dtype");
        const std::size_t count = check_element_count(element_count, "element_count");
        *out_data = nab::aligned_allocate(count * nab::dtype_size(type));
    });
}

nab_status nab_buffer_free(void* data) {
    return guarded(__func__, [&] { nab::aligned_free(data); });
}

nab_status nab_get_allocated_bytes(uint64_t* out_bytes) {
    return guarded(__func__, [&] {
        require(out_bytes, "out_bytes");
        *out_bytes = nab::allocated_bytes();
    });
}

}  // extern "C"
