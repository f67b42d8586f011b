#include "api/abi_structs.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include "core/errors.h"

namespace nab::api {

namespace {

// ---- struct_size: the header's promise -----------------------------------------------------

// Where one field of an ABI struct lies.
struct FieldExtent {
    std::size_t offset;
    std::size_t size;
};

#define NAB_FIELD(Struct, field) FieldExtent{offsetof(Struct, field), sizeof(static_cast<Struct*>(nullptr)->field)}

constexpr FieldExtent kGroupOptionsFields[] = {
    NAB_FIELD(nab_group_options, struct_size),      NAB_FIELD(nab_group_options, compatibility),
    NAB_FIELD(nab_group_options, learning_rate),    NAB_FIELD(nab_group_options, beta1),
    NAB_FIELD(nab_group_options, beta2),            NAB_FIELD(nab_group_options, epsilon),
    NAB_FIELD(nab_group_options, weight_decay),     NAB_FIELD(nab_group_options, weight_decay_mode),
    NAB_FIELD(nab_group_options, second_moment),    NAB_FIELD(nab_group_options, amsgrad),
    NAB_FIELD(nab_group_options, rectify),          NAB_FIELD(nab_group_options, degenerate_to_sgd),
    NAB_FIELD(nab_group_options, optimized_update), NAB_FIELD(nab_group_options, state_encoding)};
constexpr FieldExtent kOptimizerConfigFields[] = {
    NAB_FIELD(nab_optimizer_config, struct_size),  NAB_FIELD(nab_optimizer_config, device_type),
    NAB_FIELD(nab_optimizer_config, device_ordinal), NAB_FIELD(nab_optimizer_config, thread_count),
    NAB_FIELD(nab_optimizer_config, simd_level)};
constexpr FieldExtent kTensorDescFields[] = {
    NAB_FIELD(nab_tensor_desc, struct_size),     NAB_FIELD(nab_tensor_desc, group_id),
    NAB_FIELD(nab_tensor_desc, element_count),   NAB_FIELD(nab_tensor_desc, parameters),
    NAB_FIELD(nab_tensor_desc, gradients),       NAB_FIELD(nab_tensor_desc, parameter_dtype),
    NAB_FIELD(nab_tensor_desc, gradient_dtype),  NAB_FIELD(nab_tensor_desc, master_parameters),
    NAB_FIELD(nab_tensor_desc, reserved)};
constexpr FieldExtent kTensorInfoFields[] = {
    NAB_FIELD(nab_tensor_info, struct_size),           NAB_FIELD(nab_tensor_info, group_id),
    NAB_FIELD(nab_tensor_info, element_count),         NAB_FIELD(nab_tensor_info, step),
    NAB_FIELD(nab_tensor_info, has_max_second_moment), NAB_FIELD(nab_tensor_info, has_gradients),
    NAB_FIELD(nab_tensor_info, parameter_dtype),       NAB_FIELD(nab_tensor_info, gradient_dtype),
    NAB_FIELD(nab_tensor_info, has_master_parameters), NAB_FIELD(nab_tensor_info, reserved),
    NAB_FIELD(nab_tensor_info, state_encoding)};
constexpr FieldExtent kTensorStateFields[] = {
    NAB_FIELD(nab_tensor_state, struct_size),       NAB_FIELD(nab_tensor_state, source_encoding),
    NAB_FIELD(nab_tensor_state, step),              NAB_FIELD(nab_tensor_state, element_count),
    NAB_FIELD(nab_tensor_state, first_moment),      NAB_FIELD(nab_tensor_state, second_moment),
    NAB_FIELD(nab_tensor_state, max_second_moment), NAB_FIELD(nab_tensor_state, master_parameters)};
constexpr FieldExtent kStepOptionsFields[] = {
    NAB_FIELD(nab_step_options, struct_size),           NAB_FIELD(nab_step_options, skip_nonfinite),
    NAB_FIELD(nab_step_options, inverse_gradient_scale), NAB_FIELD(nab_step_options, max_gradient_norm),
    NAB_FIELD(nab_step_options, compute_gradient_norm), NAB_FIELD(nab_step_options, reserved)};
constexpr FieldExtent kStepReportFields[] = {
    NAB_FIELD(nab_step_report, struct_size),     NAB_FIELD(nab_step_report, gradients_checked),
    NAB_FIELD(nab_step_report, skipped),         NAB_FIELD(nab_step_report, step_count_exhausted),
    NAB_FIELD(nab_step_report, nonfinite_count), NAB_FIELD(nab_step_report, gradient_norm),
    NAB_FIELD(nab_step_report, gradient_scale),  NAB_FIELD(nab_step_report, step_calls),
    NAB_FIELD(nab_step_report, stale_graph),     NAB_FIELD(nab_step_report, reserved)};

#undef NAB_FIELD

// True when the table lists the struct's fields in order, without overlap, and up to its end
// (so a field added to the header but not here fails to compile).
template <class Struct, std::size_t N>
constexpr bool describes(const FieldExtent (&fields)[N]) {
    std::size_t end = 0;
    for (const FieldExtent& f : fields) {
        if (f.offset < end) return false;
        end = f.offset + f.size;
    }
    return (end + alignof(Struct) - 1) / alignof(Struct) * alignof(Struct) == sizeof(Struct);
}
static_assert(describes<nab_group_options>(kGroupOptionsFields), "kGroupOptionsFields is not nab_group_options");
static_assert(describes<nab_optimizer_config>(kOptimizerConfigFields), "kOptimizerConfigFields is not nab_optimizer_config");
static_assert(describes<nab_tensor_desc>(kTensorDescFields), "kTensorDescFields is not nab_tensor_desc");
static_assert(describes<nab_tensor_info>(kTensorInfoFields), "kTensorInfoFields is not nab_tensor_info");
static_assert(describes<nab_tensor_state>(kTensorStateFields), "kTensorStateFields is not nab_tensor_state");
static_assert(describes<nab_step_options>(kStepOptionsFields), "kStepOptionsFields is not nab_step_options");
static_assert(describes<nab_step_report>(kStepReportFields), "kStepReportFields is not nab_step_report");

[[noreturn]] void refuse_struct_size(std::uint32_t size, const std::string& rule) {
    fail_argument("struct_size", "= " + std::to_string(size) + " is invalid: " + rule);
}

// The struct_size of a caller's struct, checked against the fields this library knows.
template <class Struct, std::size_t N>
std::uint32_t checked_size(std::uint32_t size, const FieldExtent (&fields)[N]) {
    if (size < sizeof(std::uint32_t) || size > NAB_MAX_STRUCT_SIZE) {
        refuse_struct_size(size, "must be between 4 and NAB_MAX_STRUCT_SIZE (" + std::to_string(NAB_MAX_STRUCT_SIZE) +
                                     "); set it to sizeof the struct (" + std::to_string(sizeof(Struct)) +
                                     " in this library's header)");
    }
    for (const FieldExtent& f : fields) {
        if (f.offset < size && size < f.offset + f.size) {
            refuse_struct_size(size, "it ends inside the field at bytes " + std::to_string(f.offset) + ".." +
                                         std::to_string(f.offset + f.size) + " (sizeof in this library's header: " +
                                         std::to_string(sizeof(Struct)) + ")");
        }
    }
    return size;
}

// The caller's struct over a copy of `defaults`: fields beyond its struct_size keep their
// defaults; bytes beyond this library's struct must be zero.
template <class Struct, std::size_t N>
Struct read_sized(const Struct* caller, const Struct& defaults, const FieldExtent (&fields)[N]) {
    const std::uint32_t size = checked_size<Struct>(caller->struct_size, fields);
    const auto* bytes = reinterpret_cast<const unsigned char*>(caller);
    for (std::size_t i = sizeof(Struct); i < size; ++i) {
        if (bytes[i] != 0) {
            refuse_struct_size(size, "byte " + std::to_string(i) + " is not 0, and this library's struct ends at byte " +
                                         std::to_string(sizeof(Struct)) +
                                         ": it sets a field of a newer header that this library does not have");
        }
    }
    Struct result = defaults;
    std::memcpy(&result, caller, std::min<std::size_t>(size, sizeof(Struct)));
    result.struct_size = sizeof(Struct);
    return result;
}

// Writes as much of `value` as the caller's struct_size holds, zeroing bytes beyond this
// library's struct; the caller's struct_size stays as it was.
template <class Struct, std::size_t N>
void write_sized(Struct* out, Struct value, const FieldExtent (&fields)[N]) {
    const std::uint32_t size = checked_size<Struct>(out->struct_size, fields);
    value.struct_size = size;
    auto* bytes = reinterpret_cast<unsigned char*>(out);
    std::memcpy(out, &value, std::min<std::size_t>(size, sizeof(Struct)));
    if (size > sizeof(Struct)) std::memset(bytes + sizeof(Struct), 0, size - sizeof(Struct));
}

// ---- single values ---------------------------------------------------------------------------

[[noreturn]] void refuse(const char* field, const std::string& value, const char* rule) {
    fail_argument(field, "= " + value + " is invalid: " + rule);
}

bool read_flag(std::int32_t value, const char* field) {
    if (value != 0 && value != 1) refuse(field, std::to_string(value), "a boolean must be 0 or 1");
    return value == 1;
}

void require_zero(std::int32_t value, const char* field) {
    if (value != 0) refuse(field, std::to_string(value), "must be 0");
}

}  // namespace

nab_simd_level read_simd_level(std::int32_t level, const char* argument) {
    if (level < NAB_SIMD_AUTO || level > NAB_SIMD_AVX512_BF16) {
        refuse(argument, std::to_string(level),
               "must be NAB_SIMD_AUTO (0), NAB_SIMD_SCALAR (1), NAB_SIMD_AVX2 (2), NAB_SIMD_AVX512 (3), "
               "NAB_SIMD_NEON (4) or NAB_SIMD_AVX512_BF16 (5)");
    }
    return static_cast<nab_simd_level>(level);
}

void check_thread_count(std::int32_t thread_count, const char* argument) {
    if (thread_count < 0 || thread_count > NAB_MAX_THREAD_COUNT) {
        refuse(argument, std::to_string(thread_count),
               ("must be between 0 (one thread per logical core) and NAB_MAX_THREAD_COUNT (" +
                std::to_string(NAB_MAX_THREAD_COUNT) + ")")
                   .c_str());
    }
}

ElementType read_element_type(std::int32_t dtype, const char* argument) {
    if (dtype < NAB_DTYPE_FLOAT32 || dtype > NAB_DTYPE_BFLOAT16) {
        refuse(argument, std::to_string(dtype),
               "must be NAB_DTYPE_FLOAT32 (0), NAB_DTYPE_FLOAT16 (1) or NAB_DTYPE_BFLOAT16 (2)");
    }
    return static_cast<ElementType>(dtype);
}
static_assert(static_cast<int>(ElementType::Float32) == NAB_DTYPE_FLOAT32 &&
                  static_cast<int>(ElementType::Float16) == NAB_DTYPE_FLOAT16 &&
                  static_cast<int>(ElementType::BFloat16) == NAB_DTYPE_BFLOAT16,
              "ElementType and nab_dtype share their values");

StateEncoding read_state_encoding(std::int32_t encoding, const char* argument) {
    if (encoding != NAB_STATE_ENCODING_FLOAT32 && encoding != NAB_STATE_ENCODING_BLOCKWISE_8BIT) {
        refuse(argument, std::to_string(encoding),
               "must be NAB_STATE_ENCODING_FLOAT32 (0) or NAB_STATE_ENCODING_BLOCKWISE_8BIT (1)");
    }
    return static_cast<StateEncoding>(encoding);
}
static_assert(static_cast<int>(StateEncoding::Float32) == NAB_STATE_ENCODING_FLOAT32 &&
                  static_cast<int>(StateEncoding::Blockwise8Bit) == NAB_STATE_ENCODING_BLOCKWISE_8BIT,
              "StateEncoding and nab_state_encoding share their values");
static_assert(kQuantizationBlockSize == NAB_BLOCKWISE_8BIT_BLOCK_SIZE &&
                  kMinQuantizedElements == NAB_BLOCKWISE_8BIT_MIN_ELEMENTS,
              "the header states the 8-bit encoding's block size and threshold");

StateKind read_state_kind(std::int32_t kind, const char* argument) {
    switch (kind) {
        case NAB_STATE_FIRST_MOMENT: return StateKind::FirstMoment;
        case NAB_STATE_SECOND_MOMENT: return StateKind::SecondMoment;
        case NAB_STATE_MAX_SECOND_MOMENT: return StateKind::MaxSecondMoment;
        case NAB_STATE_MASTER_PARAMETERS: return StateKind::MasterParameters;
        default:
            refuse(argument, std::to_string(kind),
                   "must be NAB_STATE_FIRST_MOMENT (0), NAB_STATE_SECOND_MOMENT (1), NAB_STATE_MAX_SECOND_MOMENT (2) or "
                   "NAB_STATE_MASTER_PARAMETERS (3)");
    }
}

// ---- defaults --------------------------------------------------------------------------------

nab_group_options default_group_options(Compatibility compatibility) {
    GroupOptions defaults;
    defaults.compatibility = compatibility;
    nab_group_options result;
    std::memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    write_group_options(defaults, &result);
    return result;
}

nab_step_options default_step_options() {
    nab_step_options result;
    std::memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    write_step_options(StepOptions{}, &result);
    return result;
}

nab_optimizer_config default_optimizer_config() {
    nab_optimizer_config result;
    std::memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    result.device_type = NAB_DEVICE_CPU;
    result.simd_level = NAB_SIMD_AUTO;
    return result;
}

// ---- structs ---------------------------------------------------------------------------------

GroupOptions read_group_options(const nab_group_options* options) {
    const nab_group_options o = read_sized(options, default_group_options(Compatibility::Labml), kGroupOptionsFields);
    GroupOptions result;
    switch (o.compatibility) {
        case NAB_COMPATIBILITY_LABML: result.compatibility = Compatibility::Labml; break;
        case NAB_COMPATIBILITY_ADABELIEF_PYTORCH: result.compatibility = Compatibility::AdaBeliefPytorch; break;
        default:
            refuse("compatibility", std::to_string(o.compatibility),
                   "must be NAB_COMPATIBILITY_LABML (0) or NAB_COMPATIBILITY_ADABELIEF_PYTORCH (1)");
    }
    result.learning_rate = o.learning_rate;
    result.beta1 = o.beta1;
    result.beta2 = o.beta2;
    result.epsilon = o.epsilon;
    result.weight_decay = o.weight_decay;
    switch (o.weight_decay_mode) {
        case NAB_WEIGHT_DECAY_DECOUPLED: result.weight_decay_mode = WeightDecayMode::Decoupled; break;
        case NAB_WEIGHT_DECAY_ABSOLUTE: result.weight_decay_mode = WeightDecayMode::Absolute; break;
        case NAB_WEIGHT_DECAY_L2: result.weight_decay_mode = WeightDecayMode::L2; break;
        default:
            refuse("weight_decay_mode", std::to_string(o.weight_decay_mode),
                   "must be NAB_WEIGHT_DECAY_DECOUPLED (0), NAB_WEIGHT_DECAY_ABSOLUTE (1) or NAB_WEIGHT_DECAY_L2 (2)");
    }
    switch (o.second_moment) {
        case NAB_SECOND_MOMENT_BELIEF: result.second_moment = SecondMoment::Belief; break;
        case NAB_SECOND_MOMENT_SQUARE: result.second_moment = SecondMoment::Square; break;
        default:
            refuse("second_moment", std::to_string(o.second_moment),
                   "must be NAB_SECOND_MOMENT_BELIEF (0) or NAB_SECOND_MOMENT_SQUARE (1)");
    }
    result.amsgrad = read_flag(o.amsgrad, "amsgrad");
    result.rectify = read_flag(o.rectify, "rectify");
    result.degenerate_to_sgd = read_flag(o.degenerate_to_sgd, "degenerate_to_sgd");
    result.optimized_update = read_flag(o.optimized_update, "optimized_update");
    result.state_encoding = read_state_encoding(o.state_encoding, "state_encoding");
    validate(result);
    return result;
}

void write_group_options(const GroupOptions& options, nab_group_options* out) {
    nab_group_options o;
    std::memset(&o, 0, sizeof o);
    o.compatibility = options.compatibility == Compatibility::Labml ? NAB_COMPATIBILITY_LABML
                                                                    : NAB_COMPATIBILITY_ADABELIEF_PYTORCH;
    o.learning_rate = options.learning_rate;
    o.beta1 = options.beta1;
    o.beta2 = options.beta2;
    o.epsilon = options.epsilon;
    o.weight_decay = options.weight_decay;
    switch (options.weight_decay_mode) {
        case WeightDecayMode::Decoupled: o.weight_decay_mode = NAB_WEIGHT_DECAY_DECOUPLED; break;
        case WeightDecayMode::Absolute: o.weight_decay_mode = NAB_WEIGHT_DECAY_ABSOLUTE; break;
        case WeightDecayMode::L2: o.weight_decay_mode = NAB_WEIGHT_DECAY_L2; break;
    }
    o.second_moment = options.second_moment == SecondMoment::Belief ? NAB_SECOND_MOMENT_BELIEF : NAB_SECOND_MOMENT_SQUARE;
    o.amsgrad = options.amsgrad ? 1 : 0;
    o.rectify = options.rectify ? 1 : 0;
    o.degenerate_to_sgd = options.degenerate_to_sgd ? 1 : 0;
    o.optimized_update = options.optimized_update ? 1 : 0;
    o.state_encoding = static_cast<std::int32_t>(options.state_encoding);
    write_sized(out, o, kGroupOptionsFields);
}

StepOptions read_step_options(const nab_step_options* options) {
    const nab_step_options o = read_sized(options, default_step_options(), kStepOptionsFields);
    StepOptions result;
    result.skip_nonfinite = read_flag(o.skip_nonfinite, "skip_nonfinite");
    result.inverse_gradient_scale = o.inverse_gradient_scale;
    result.max_gradient_norm = o.max_gradient_norm;
    result.compute_gradient_norm = read_flag(o.compute_gradient_norm, "compute_gradient_norm");
    require_zero(o.reserved, "reserved");
    validate(result);
    return result;
}

void write_step_options(const StepOptions& options, nab_step_options* out) {
    nab_step_options o;
    std::memset(&o, 0, sizeof o);
    o.skip_nonfinite = options.skip_nonfinite ? 1 : 0;
    o.inverse_gradient_scale = options.inverse_gradient_scale;
    o.max_gradient_norm = options.max_gradient_norm;
    o.compute_gradient_norm = options.compute_gradient_norm ? 1 : 0;
    write_sized(out, o, kStepOptionsFields);
}

void write_step_report(const StepReport& report, nab_step_report* out) {
    nab_step_report r;
    std::memset(&r, 0, sizeof r);
    r.gradients_checked = report.gradients_checked ? 1 : 0;
    r.skipped = report.skipped ? 1 : 0;
    r.step_count_exhausted = report.step_count_exhausted ? 1 : 0;
    r.nonfinite_count = report.nonfinite_count;
    r.gradient_norm = report.gradient_norm;
    r.gradient_scale = report.gradient_scale;
    r.step_calls = report.step_calls;
    r.stale_graph = report.stale_graph ? 1 : 0;
    write_sized(out, r, kStepReportFields);
}

OptimizerConfig read_optimizer_config(const nab_optimizer_config* config) {
    const nab_optimizer_config c = read_sized(config, default_optimizer_config(), kOptimizerConfigFields);
    OptimizerConfig result;
    if (c.device_type != NAB_DEVICE_CPU && c.device_type != NAB_DEVICE_CUDA) {
        refuse("device_type", std::to_string(c.device_type), "must be NAB_DEVICE_CPU (0) or NAB_DEVICE_CUDA (1)");
    }
    result.device_type = static_cast<nab_device_type>(c.device_type);
    if (c.device_ordinal < 0 || (result.device_type == NAB_DEVICE_CPU && c.device_ordinal != 0)) {
        refuse("device_ordinal", std::to_string(c.device_ordinal),
               result.device_type == NAB_DEVICE_CPU ? "must be 0 for NAB_DEVICE_CPU" : "must be >= 0");
    }
    result.device_ordinal = c.device_ordinal;
    check_thread_count(c.thread_count, "thread_count");
    result.thread_count = c.thread_count;
    result.simd_level = read_simd_level(c.simd_level, "simd_level");
    return result;
}

TensorSpec read_tensor_desc(const nab_tensor_desc* tensor) {
    nab_tensor_desc defaults;
    std::memset(&defaults, 0, sizeof defaults);
    const nab_tensor_desc d = read_sized(tensor, defaults, kTensorDescFields);
    TensorSpec spec;
    spec.group_id = d.group_id;
    spec.element_count = d.element_count > SIZE_MAX ? SIZE_MAX : static_cast<std::size_t>(d.element_count);
    spec.parameters = d.parameters;
    spec.gradients = d.gradients;
    spec.parameter_type = read_element_type(d.parameter_dtype, "parameter_dtype");
    spec.gradient_type = read_element_type(d.gradient_dtype, "gradient_dtype");
    spec.master_parameters = read_flag(d.master_parameters, "master_parameters");
    require_zero(d.reserved, "reserved");
    return spec;
}

TensorState read_tensor_state(const nab_tensor_state* state) {
    nab_tensor_state defaults;
    std::memset(&defaults, 0, sizeof defaults);
    const nab_tensor_state s = read_sized(state, defaults, kTensorStateFields);
    TensorState result;
    result.source_encoding = read_state_encoding(s.source_encoding, "source_encoding");
    result.step = s.step;
    result.element_count = s.element_count > SIZE_MAX ? SIZE_MAX : static_cast<std::size_t>(s.element_count);
    result.first_moment = s.first_moment;
    result.second_moment = s.second_moment;
    result.max_second_moment = s.max_second_moment;
    result.master_parameters = s.master_parameters;
    return result;
}

void write_tensor_info(const TensorFacts& facts, nab_tensor_info* out) {
    nab_tensor_info i;
    std::memset(&i, 0, sizeof i);
    i.group_id = facts.group_id;
    i.element_count = facts.element_count;
    i.step = facts.step;
    i.has_max_second_moment = facts.has_max_second_moment ? 1 : 0;
    i.has_gradients = facts.has_gradients ? 1 : 0;
    i.parameter_dtype = static_cast<std::int32_t>(facts.parameter_type);
    i.gradient_dtype = static_cast<std::int32_t>(facts.gradient_type);
    i.has_master_parameters = facts.has_master_parameters ? 1 : 0;
    i.state_encoding = static_cast<std::int32_t>(facts.state_encoding);
    write_sized(out, i, kTensorInfoFields);
}

}  // namespace nab::api
