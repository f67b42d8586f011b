// The C ABI's entry points: null checks of the raw arguments, the struct readers
// (api/abi_structs.h), the optimizer handles (api/optimizer_handles.h: one call at a time per
// optimizer, stale handles refused), the registry of buffers, and the translation of
// nab::Error into a status plus the thread-local last error, whose argument name this layer
// qualifies with what the caller called it ("options.beta1", "tensor->gradients"). No exception
// leaves this file.
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "api/abi_structs.h"
#include "api/buffer_registry.h"
#include "api/last_error.h"
#include "api/optimizer_handles.h"
#include "core/aligned_memory.h"
#include "core/errors.h"
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

namespace {

using nab::api::OptimizerEntry;
using nab::api::OptimizerLease;

using nab::ErrorCode;
using nab::fail;
using nab::fail_argument;

nab_status status_of(ErrorCode code) {
    switch (code) {
        case ErrorCode::InvalidArgument: return NAB_STATUS_INVALID_ARGUMENT;
        case ErrorCode::NotFound: return NAB_STATUS_NOT_FOUND;
        case ErrorCode::OutOfMemory: return NAB_STATUS_OUT_OF_MEMORY;
        case ErrorCode::Unsupported: return NAB_STATUS_UNSUPPORTED;
        case ErrorCode::Busy: return NAB_STATUS_BUSY;
        case ErrorCode::DeviceError: return NAB_STATUS_DEVICE_ERROR;
        case ErrorCode::Internal: break;
    }
    return NAB_STATUS_INTERNAL_ERROR;
}

void record_error(const char* function, const char* message, const char* argument) noexcept {
    char text[1024];
    std::snprintf(text, sizeof text, "%s: %s", function, message);
    nab::api::set_last_error(text, argument);
}

// Runs body, mapping every exception to a status and the thread's last error.
template <class Body>
nab_status guarded(const char* function, Body&& body) noexcept {
    try {
        body();
        return NAB_STATUS_OK;
    } catch (const nab::Error& error) {
        record_error(function, error.what(), error.argument().c_str());
        return status_of(error.code());
    } catch (const std::bad_alloc&) {
        record_error(function, "out of memory", "");
        return NAB_STATUS_OUT_OF_MEMORY;
    } catch (const std::exception& error) {
        record_error(function, error.what(), "");
        return NAB_STATUS_INTERNAL_ERROR;
    } catch (...) {
        record_error(function, "unknown internal error", "");
        return NAB_STATUS_INTERNAL_ERROR;
    }
}

// Runs body with the errors that name an argument field qualified by `prefix` ("options.",
// "tensor->"): the caller's name for the struct the field belongs to.
template <class Body>
decltype(auto) naming(const char* prefix, Body&& body) {
    try {
        return body();
    } catch (nab::Error& error) {
        error.qualify(prefix);
        throw;
    }
}

void require(const void* pointer, const char* argument) {
    if (pointer == nullptr) fail_argument(argument, "is null");
}

template <class Body>
nab_status with_optimizer(const char* function, nab_optimizer* optimizer, Body&& body) noexcept {
    return guarded(function, [&] {
        OptimizerLease use = nab::api::lease(optimizer);
        body(use->optimizer);
    });
}

// The CPU backend of a CPU optimizer; `setting` names what the caller tried to use.
nab::cpu::CpuBackend& cpu_backend(OptimizerEntry& optimizer, const char* setting) {
    if (optimizer.device_type != NAB_DEVICE_CPU) {
        fail(ErrorCode::InvalidArgument,
             std::string("this optimizer runs on CUDA; ") + setting + " applies only to NAB_DEVICE_CPU");
    }
    return static_cast<nab::cpu::CpuBackend&>(optimizer.optimizer.backend());
}

template <class Body>
nab_status with_cpu_backend(const char* function, nab_optimizer* optimizer, const char* setting, Body&& body) noexcept {
    return guarded(function, [&] {
        OptimizerLease use = nab::api::lease(optimizer);
        body(cpu_backend(*use, setting));
    });
}

nab_simd_level supported_simd_level(std::int32_t level, const char* argument) {
    const nab_simd_level simd_level = nab::api::read_simd_level(level, argument);
    if (simd_level != NAB_SIMD_AUTO && !nab::cpu::simd_level_supported(simd_level)) {
        const char* why = nab::cpu::simd_level_compiled(simd_level)
                              ? " is not supported by this CPU"
                              : " is not compiled into this build of the library (NAB_SIMD_LEVELS)";
        fail_argument(argument, std::string("= ") + nab::cpu::simd_level_name(simd_level) + why, ErrorCode::Unsupported);
    }
    return simd_level;
}

std::size_t element_count_of(std::uint64_t element_count) {
    // Three state arrays of this many floats must be addressable.
    constexpr std::uint64_t limit = SIZE_MAX / (4 * sizeof(float));
    if (element_count == 0 || element_count > limit) {
        fail_argument("element_count", "= " + std::to_string(element_count) + " is invalid: must be between 1 and " +
                                           std::to_string(limit));
    }
    return static_cast<std::size_t>(element_count);
}

std::size_t byte_count_of(std::uint64_t byte_count) {
    if (byte_count == 0 || byte_count > SIZE_MAX) {
        fail_argument("byte_count", "= " + std::to_string(byte_count) + " is invalid: must be at least 1");
    }
    return static_cast<std::size_t>(byte_count);
}

}  // namespace

extern "C" {

uint32_t nab_get_abi_version(void) { return NAB_ABI_VERSION; }

const char* nab_get_version_string(void) { return NAB_VERSION_STRING; }

const char* nab_get_last_error(void) { return nab::api::last_error(); }

const char* nab_get_last_error_argument(void) { return nab::api::last_error_argument(); }

const char* nab_status_name(int32_t status) {
    switch (status) {
        case NAB_STATUS_OK: return "NAB_STATUS_OK";
        case NAB_STATUS_INVALID_ARGUMENT: return "NAB_STATUS_INVALID_ARGUMENT";
        case NAB_STATUS_NOT_FOUND: return "NAB_STATUS_NOT_FOUND";
        case NAB_STATUS_OUT_OF_MEMORY: return "NAB_STATUS_OUT_OF_MEMORY";
        case NAB_STATUS_UNSUPPORTED: return "NAB_STATUS_UNSUPPORTED";
        case NAB_STATUS_BUSY: return "NAB_STATUS_BUSY";
        case NAB_STATUS_DEVICE_ERROR: return "NAB_STATUS_DEVICE_ERROR";
        case NAB_STATUS_INTERNAL_ERROR: return "NAB_STATUS_INTERNAL_ERROR";
        default: return "NAB_STATUS_UNKNOWN";
    }
}

nab_status nab_group_options_init(nab_group_options* options, int32_t compatibility) {
    return guarded(__func__, [&] {
        require(options, "options");
        if (compatibility != NAB_COMPATIBILITY_LABML && compatibility != NAB_COMPATIBILITY_ADABELIEF_PYTORCH) {
            fail_argument("compatibility", "= " + std::to_string(compatibility) +
                                               " is invalid: must be NAB_COMPATIBILITY_LABML (0) or "
                                               "NAB_COMPATIBILITY_ADABELIEF_PYTORCH (1)");
        }
        *options = nab::api::default_group_options(compatibility == NAB_COMPATIBILITY_LABML
                                                       ? nab::Compatibility::Labml
                                                       : nab::Compatibility::AdaBeliefPytorch);
    });
}

nab_status nab_group_options_validate(const nab_group_options* options) {
    return guarded(__func__, [&] {
        require(options, "options");
        naming("options.", [&] { nab::api::read_group_options(options); });
    });
}

nab_status nab_optimizer_config_init(nab_optimizer_config* config) {
    return guarded(__func__, [&] {
        require(config, "config");
        *config = nab::api::default_optimizer_config();
    });
}

nab_status nab_optimizer_config_validate(const nab_optimizer_config* config) {
    return guarded(__func__, [&] {
        require(config, "config");
        naming("config->", [&] { nab::api::read_optimizer_config(config); });
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
        naming("config->", [&] {
            const nab::api::OptimizerConfig c = nab::api::read_optimizer_config(config);
            const nab_simd_level simd_level = supported_simd_level(c.simd_level, "simd_level");
            std::unique_ptr<nab::Backend> backend =
                c.device_type == NAB_DEVICE_CPU
                    ? std::unique_ptr<nab::Backend>(std::make_unique<nab::cpu::CpuBackend>(c.thread_count, simd_level))
                    : nab::cuda::create_backend(c.device_ordinal);
            *out_optimizer = nab::api::register_optimizer(std::make_unique<OptimizerEntry>(std::move(backend), c.device_type));
        });
    });
}

nab_status nab_optimizer_destroy(nab_optimizer* optimizer) {
    return guarded(__func__, [&] { nab::api::destroy_optimizer(optimizer); });
}

nab_status nab_optimizer_set_thread_count(nab_optimizer* optimizer, int32_t thread_count) {
    return with_cpu_backend(__func__, optimizer, "thread_count", [&](nab::cpu::CpuBackend& cpu) {
        nab::api::check_thread_count(thread_count, "thread_count");
        cpu.set_thread_count(thread_count);
    });
}

nab_status nab_optimizer_get_thread_count(nab_optimizer* optimizer, int32_t* out_count) {
    return guarded(__func__, [&] {
        OptimizerLease use = nab::api::lease(optimizer);
        require(out_count, "out_count");
        *out_count = use->device_type == NAB_DEVICE_CPU ? cpu_backend(*use, "thread_count").thread_count() : 1;
    });
}

nab_status nab_optimizer_set_simd_level(nab_optimizer* optimizer, int32_t simd_level) {
    return with_cpu_backend(__func__, optimizer, "simd_level", [&](nab::cpu::CpuBackend& cpu) {
        cpu.set_simd_level(supported_simd_level(simd_level, "simd_level"));
    });
}

nab_status nab_optimizer_get_simd_level(nab_optimizer* optimizer, int32_t* out_level) {
    return guarded(__func__, [&] {
        OptimizerLease use = nab::api::lease(optimizer);
        require(out_level, "out_level");
        *out_level = use->device_type == NAB_DEVICE_CPU ? cpu_backend(*use, "simd_level").simd_level() : NAB_SIMD_AUTO;
    });
}

nab_status nab_optimizer_add_group(nab_optimizer* optimizer, const nab_group_options* options,
                                   uint32_t* out_group_id) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_group_id, "out_group_id");
        require(options, "options");
        *out_group_id = naming("options.", [&] { return o.add_group(nab::api::read_group_options(options)); });
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
        require(options, "options");
        const nab::GroupOptions parsed = naming("options.", [&] { return nab::api::read_group_options(options); });
        o.set_group_options(group_id, parsed);
    });
}

nab_status nab_optimizer_get_group_options(nab_optimizer* optimizer, uint32_t group_id,
                                           nab_group_options* out_options) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_options, "out_options");
        const nab::GroupOptions& options = o.group_options(group_id);
        naming("out_options->", [&] { nab::api::write_group_options(options, out_options); });
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
        *out_tensor_id = naming("tensor->", [&] { return o.add_tensor(nab::api::read_tensor_desc(tensor)); });
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
        const nab::TensorFacts facts = o.tensor_facts(tensor_id);
        naming("out_info->", [&] { nab::api::write_tensor_info(facts, out_info); });
    });
}

nab_status nab_optimizer_get_step_counts(nab_optimizer* optimizer, int64_t* out_steps, uint32_t count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        if (count > 0) require(out_steps, "out_steps");
        o.read_step_counts(out_steps, count);
    });
}

nab_status nab_optimizer_set_tensor_parameters(nab_optimizer* optimizer, uint32_t tensor_id, void* parameters) {
    return with_optimizer(__func__, optimizer,
                          [&](nab::Optimizer& o) { o.set_tensor_parameters(tensor_id, parameters); });
}

nab_status nab_optimizer_set_tensor_gradients(nab_optimizer* optimizer, uint32_t tensor_id, void* gradients) {
    return with_optimizer(__func__, optimizer,
                          [&](nab::Optimizer& o) { o.set_tensor_gradients(tensor_id, gradients); });
}

nab_status nab_optimizer_set_gradients(nab_optimizer* optimizer, void* const* gradients, uint32_t count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.set_gradients(gradients, count); });
}

nab_status nab_optimizer_set_tensor_step(nab_optimizer* optimizer, uint32_t tensor_id, int64_t step) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.set_tensor_step(tensor_id, step); });
}

nab_status nab_optimizer_initialize_master_parameters(nab_optimizer* optimizer, uint32_t tensor_id) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.initialize_master_parameters(tensor_id); });
}

nab_status nab_optimizer_read_state(nab_optimizer* optimizer, uint32_t tensor_id, int32_t state_kind,
                                    float* destination, uint64_t element_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        const nab::StateKind kind = nab::api::read_state_kind(state_kind, "state_kind");
        o.read_state(tensor_id, kind, destination, static_cast<std::size_t>(element_count));
    });
}

nab_status nab_optimizer_write_state(nab_optimizer* optimizer, uint32_t tensor_id, int32_t state_kind,
                                     const float* source, uint64_t element_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        const nab::StateKind kind = nab::api::read_state_kind(state_kind, "state_kind");
        o.write_state(tensor_id, kind, source, static_cast<std::size_t>(element_count));
    });
}

nab_status nab_optimizer_begin_restore(nab_optimizer* optimizer) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.begin_restore(); });
}

nab_status nab_optimizer_restore_group(nab_optimizer* optimizer, uint32_t group_id, const nab_group_options* options) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(options, "options");
        const nab::GroupOptions parsed = naming("options.", [&] { return nab::api::read_group_options(options); });
        o.restore_group(group_id, parsed);
    });
}

nab_status nab_optimizer_restore_tensor(nab_optimizer* optimizer, uint32_t tensor_id, const nab_tensor_state* state) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(state, "state");
        const nab::TensorState parsed = naming("state->", [&] { return nab::api::read_tensor_state(state); });
        o.restore_tensor(tensor_id, parsed);
    });
}

nab_status nab_optimizer_commit_restore(nab_optimizer* optimizer) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.commit_restore(); });
}

nab_status nab_optimizer_abort_restore(nab_optimizer* optimizer) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.abort_restore(); });
}

nab_status nab_optimizer_read_state_codes(nab_optimizer* optimizer, uint32_t tensor_id, int32_t state_kind,
                                          uint8_t* out_codes, uint64_t element_count, float* out_scales,
                                          uint64_t scale_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        const nab::StateKind kind = nab::api::read_state_kind(state_kind, "state_kind");
        o.read_state_codes(tensor_id, kind, out_codes, static_cast<std::size_t>(element_count), out_scales,
                           static_cast<std::size_t>(scale_count));
    });
}

nab_status nab_optimizer_write_state_codes(nab_optimizer* optimizer, uint32_t tensor_id, int32_t state_kind,
                                           const uint8_t* codes, uint64_t element_count, const float* scales,
                                           uint64_t scale_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        const nab::StateKind kind = nab::api::read_state_kind(state_kind, "state_kind");
        o.write_state_codes(tensor_id, kind, codes, static_cast<std::size_t>(element_count), scales,
                            static_cast<std::size_t>(scale_count));
    });
}

nab_status nab_state_decode(int32_t state_encoding, int32_t state_kind, const uint8_t* codes, uint64_t element_count,
                            const float* scales, uint64_t scale_count, float* destination) {
    return guarded(__func__, [&] {
        if (nab::api::read_state_encoding(state_encoding, "state_encoding") != nab::StateEncoding::Blockwise8Bit) {
            fail_argument("state_encoding", "= " + std::to_string(state_encoding) +
                                                " is invalid: only NAB_STATE_ENCODING_BLOCKWISE_8BIT has codes to decode");
        }
        const nab::StateKind kind = nab::api::read_state_kind(state_kind, "state_kind");
        if (kind == nab::StateKind::MasterParameters) {
            fail_argument("state_kind", "= " + std::to_string(state_kind) +
                                            " (the master copy) has no codes: it is float32 in every encoding");
        }
        if (element_count > SIZE_MAX) fail_argument("element_count", "= " + std::to_string(element_count) + " is too large");
        const auto count = static_cast<std::size_t>(element_count);
        if (scale_count != nab::quantization_block_count(count)) {
            fail_argument("scale_count", "= " + std::to_string(scale_count) + " does not match the " +
                                             std::to_string(nab::quantization_block_count(count)) + " blocks of " +
                                             std::to_string(element_count) + " elements");
        }
        if (count == 0) return;
        require(codes, "codes");
        require(scales, "scales");
        require(destination, "destination");
        if (nab::code_format(kind) == nab::CodeFormat::Signed) {
            nab::dequantize_array<nab::CodeFormat::Signed>(codes, scales, count, destination);
        } else {
            nab::dequantize_array<nab::CodeFormat::Unsigned>(codes, scales, count, destination);
        }
    });
}

const char* nab_state_format_name(int32_t state_encoding, int32_t state_kind) {
    if (state_encoding != NAB_STATE_ENCODING_BLOCKWISE_8BIT) return nullptr;
    switch (state_kind) {
        case NAB_STATE_FIRST_MOMENT: return nab::code_format_name(nab::code_format(nab::StateKind::FirstMoment));
        case NAB_STATE_SECOND_MOMENT: return nab::code_format_name(nab::code_format(nab::StateKind::SecondMoment));
        case NAB_STATE_MAX_SECOND_MOMENT: return nab::code_format_name(nab::code_format(nab::StateKind::MaxSecondMoment));
        default: return nullptr;
    }
}

nab_status nab_optimizer_step(nab_optimizer* optimizer) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.step(); });
}

nab_status nab_step_options_init(nab_step_options* options) {
    return guarded(__func__, [&] {
        require(options, "options");
        *options = nab::api::default_step_options();
    });
}

nab_status nab_step_options_validate(const nab_step_options* options) {
    return guarded(__func__, [&] {
        require(options, "options");
        naming("options.", [&] { nab::api::read_step_options(options); });
    });
}

nab_status nab_optimizer_set_step_options(nab_optimizer* optimizer, const nab_step_options* options) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(options, "options");
        o.set_step_options(naming("options.", [&] { return nab::api::read_step_options(options); }));
    });
}

nab_status nab_optimizer_get_step_options(nab_optimizer* optimizer, nab_step_options* out_options) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_options, "out_options");
        naming("out_options->", [&] { nab::api::write_step_options(o.step_options(), out_options); });
    });
}

nab_status nab_optimizer_get_last_step_report(nab_optimizer* optimizer, nab_step_report* out_report) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_report, "out_report");
        const nab::StepReport report = o.last_step_report();
        naming("out_report->", [&] { nab::api::write_step_report(report, out_report); });
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

nab_status nab_optimizer_count_nonfinite_parameters(nab_optimizer* optimizer, uint64_t* out_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_count, "out_count");
        *out_count = o.count_nonfinite_parameters();
    });
}

nab_status nab_optimizer_synchronize(nab_optimizer* optimizer) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) { o.synchronize(); });
}

nab_status nab_optimizer_get_gradient_chunk_count(nab_optimizer* optimizer, uint64_t* out_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        require(out_count, "out_count");
        *out_count = o.gradient_chunk_count();
    });
}

nab_status nab_optimizer_compute_gradient_chunk_statistics(nab_optimizer* optimizer, double* out_sums_of_squares,
                                                          uint64_t* out_nonfinite_counts, uint64_t chunk_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        if (chunk_count > 0) {
            require(out_sums_of_squares, "out_sums_of_squares");
            require(out_nonfinite_counts, "out_nonfinite_counts");
        }
        o.gradient_chunk_statistics(out_sums_of_squares, out_nonfinite_counts, static_cast<std::size_t>(chunk_count));
    });
}

nab_status nab_optimizer_step_with_gradient_statistics(nab_optimizer* optimizer, const double* sums_of_squares,
                                                      const uint64_t* nonfinite_counts, uint64_t chunk_count) {
    return with_optimizer(__func__, optimizer, [&](nab::Optimizer& o) {
        if (chunk_count > 0) {
            require(sums_of_squares, "sums_of_squares");
            require(nonfinite_counts, "nonfinite_counts");
        }
        o.step_with_gradient_statistics(sums_of_squares, nonfinite_counts, static_cast<std::size_t>(chunk_count));
    });
}

nab_status nab_cuda_get_device_count(int32_t* out_count) {
    return guarded(__func__, [&] {
        require(out_count, "out_count");
        *out_count = nab::cuda::device_count();
    });
}

nab_status nab_optimizer_set_cuda_stream(nab_optimizer* optimizer, void* stream) {
    return guarded(__func__, [&] {
        OptimizerLease use = nab::api::lease(optimizer);
        if (use->device_type != NAB_DEVICE_CUDA) {
            fail(ErrorCode::InvalidArgument,
                 "this optimizer runs on the CPU; a CUDA stream applies only to NAB_DEVICE_CUDA");
        }
        nab::cuda::set_stream(use->optimizer.backend(), stream);
    });
}

nab_status nab_cuda_buffer_allocate(int32_t device_ordinal, int32_t dtype, uint64_t element_count, void** out_data) {
    return guarded(__func__, [&] {
        require(out_data, "out_data");
        *out_data = nullptr;
        const nab::ElementType type = nab::api::read_element_type(dtype, "dtype");
        const std::size_t count = element_count_of(element_count);
        *out_data = nab::api::buffers().add(nab::api::BufferKind::Cuda, [&] {
            return nab::cuda::allocate_buffer(device_ordinal, count * nab::element_size(type));
        });
    });
}

nab_status nab_cuda_buffer_free(void* data) {
    return guarded(__func__, [&] {
        nab::api::buffers().remove(nab::api::BufferKind::Cuda, data, [](void* d) { nab::cuda::free_buffer(d); });
    });
}

nab_status nab_cuda_copy_to_device(void* device_destination, const void* host_source, uint64_t byte_count) {
    return guarded(__func__, [&] {
        require(device_destination, "device_destination");
        require(host_source, "host_source");
        nab::cuda::copy_to_device(device_destination, host_source, byte_count_of(byte_count));
    });
}

nab_status nab_cuda_copy_to_host(void* host_destination, const void* device_source, uint64_t byte_count) {
    return guarded(__func__, [&] {
        require(host_destination, "host_destination");
        require(device_source, "device_source");
        nab::cuda::copy_to_host(host_destination, device_source, byte_count_of(byte_count));
    });
}

nab_status nab_buffer_allocate(int32_t dtype, uint64_t element_count, void** out_data) {
    return guarded(__func__, [&] {
        require(out_data, "out_data");
        *out_data = nullptr;
        const nab::ElementType type = nab::api::read_element_type(dtype, "dtype");
        const std::size_t count = element_count_of(element_count);
        *out_data = nab::api::buffers().add(nab::api::BufferKind::Host,
                                            [&] { return nab::aligned_allocate(count * nab::element_size(type)); });
    });
}

nab_status nab_buffer_free(void* data) {
    return guarded(__func__, [&] {
        nab::api::buffers().remove(nab::api::BufferKind::Host, data, [](void* d) { nab::aligned_free(d); });
    });
}

nab_status nab_get_allocated_bytes(uint64_t* out_bytes) {
    return guarded(__func__, [&] {
        require(out_bytes, "out_bytes");
        *out_bytes = nab::allocated_bytes();
    });
}

}  // extern "C"
