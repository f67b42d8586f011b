// A libFuzzer target for the whole C ABI (native/include/native_adabelief.h).
//
// The input bytes are read as a program: a sequence of operations, each an opcode byte followed
// by its arguments, that create and destroy optimizers, add groups with arbitrary option structs
// (bad struct_size, NaN, infinities, out-of-range enums and booleans), add tensors over buffers
// this harness owns (fuzzed sizes and offsets, null and overlapping pointers, counts too large to
// allocate), set gradients, parameters, step counts and learning rates, step, zero, count
// non-finite gradients, read and write state with fuzzed kinds and counts (as floats, and as 8-bit
// codes and scales where a group asks for 8-bit state), change thread counts (0-4) and SIMD
// levels, and allocate and free native buffers. When the input runs out, every
// optimizer is destroyed and every native buffer freed.
//
// Beside each optimizer the harness keeps a model of what the ABI promises (its groups, tensors,
// step counts, s_max presence, each tensor's state encoding, thread count, SIMD level, and the
// library's allocated bytes), and
// after every call it checks:
//   - the status is the one the header specifies for these arguments (the first failing check
//     in the documented order), and every non-OK status comes with a non-empty last error;
//   - a refused call changed nothing observable: counts, tensor infos, group options, output
//     arguments, the state array a refused write named;
//   - every live optimizer reads back exactly as modelled, and nab_get_allocated_bytes equals
//     the model's sum of state arrays and native buffers (so nothing leaks or is double-counted);
//   - after all handles are gone, the allocated bytes are back where the input started.
// Any violation aborts with a message (a crash to libFuzzer); the sanitizers do the rest.
//
// Built two ways: with clang -fsanitize=fuzzer,address,undefined as the fuzzer (native/fuzz,
// NAB_FUZZ=ON, run by `./build.sh fuzz`), and with replay_main.cpp as a plain program that runs
// the committed corpus and every regression input in the normal test builds (CTest).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "native_adabelief.h"

// A request for more memory than exists must come back as NAB_STATUS_OUT_OF_MEMORY; under
// AddressSanitizer that needs the allocator to return null instead of reporting. (Exported, so
// that a shared ASan runtime, GCC's, finds it in the executable too.)
#if defined(__GNUC__) || defined(__clang__)
#  define NAB_FUZZ_EXPORT __attribute__((visibility("default")))
#else
#  define NAB_FUZZ_EXPORT
#endif
extern "C" NAB_FUZZ_EXPORT const char* __asan_default_options();
extern "C" NAB_FUZZ_EXPORT const char* __asan_default_options() { return "allocator_may_return_null=1"; }

namespace {

// ---- failing loudly ------------------------------------------------------------------------

[[noreturn]] void violated(int line, const char* condition, const std::string& detail) {
    std::fprintf(stderr, "\nabi_fuzzer: invariant violated (abi_fuzzer.cpp:%d): %s\n  %s\n  nab_get_last_error(): \"%s\"\n",
                 line, condition, detail.c_str(), nab_get_last_error());
    std::fflush(stderr);
    std::abort();
}

#define FUZZ_CHECK(condition, detail)                                     \
    do {                                                                  \
        if (!(condition)) violated(__LINE__, #condition, (detail));       \
    } while (0)

// What a call must return: one status, or "some error" where the ABI leaves the choice open.
constexpr int kAnyError = -1;

// NAB_FUZZ_TRACE=1 prints every call and its status (for reading what an input does).
const bool g_trace = std::getenv("NAB_FUZZ_TRACE") != nullptr;

void expect_status(nab_status got, int expected, const char* call) {
    if (g_trace) std::fprintf(stderr, "  %s -> %s\n", call, nab_status_name(got));
    const bool matches = expected == kAnyError ? got != NAB_STATUS_OK : static_cast<int>(got) == expected;
    FUZZ_CHECK(matches, std::string(call) + " returned " + nab_status_name(got) + ", expected " +
                            (expected == kAnyError ? "an error" : nab_status_name(expected)));
    if (got != NAB_STATUS_OK) {
        const char* message = nab_get_last_error();
        FUZZ_CHECK(message != nullptr && message[0] != '\0', std::string(call) + " failed without a last-error message");
    }
}

// ---- reading the input ---------------------------------------------------------------------

class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool exhausted() const { return position_ >= size_; }
    std::uint8_t byte() { return position_ < size_ ? data_[position_++] : 0; }
    std::uint32_t u32() {
        std::uint32_t value = 0;
        for (int i = 0; i < 4; ++i) value |= static_cast<std::uint32_t>(byte()) << (8 * i);
        return value;
    }
    std::uint64_t u64() { return static_cast<std::uint64_t>(u32()) | (static_cast<std::uint64_t>(u32()) << 32); }
    // A value in [0, n), n >= 1.
    std::uint64_t below(std::uint64_t n) {
        if (n <= 1) return 0;
        if (n <= 256) return byte() % n;
        if (n <= 65536) return (static_cast<std::uint64_t>(byte()) | static_cast<std::uint64_t>(byte()) << 8) % n;
        return u64() % n;
    }

    double interesting_double() {
        static const double table[] = {
            0.0, -0.0, 1e-3, 0.9, 0.999, 1.0, -1.0, 0.5, 1e-16, 1e-8, 1e308, -1e308,
            std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::quiet_NaN(),
            std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
            std::numeric_limits<double>::denorm_min(), 0.9999999999999999, 1.0000000000000002, 1e-300, 10.0, 0.1,
            2.0, 0.3, 1e-45, 3.4028234663852886e38};
        const std::uint8_t pick = byte();
        if (pick < sizeof table / sizeof table[0]) return table[pick];
        if (pick < 200) return table[pick % (sizeof table / sizeof table[0])];
        double value;
        const std::uint64_t bits = u64();
        std::memcpy(&value, &bits, sizeof value);
        return value;
    }

    float interesting_float() {
        static const float table[] = {0.0f, -0.0f, 1.0f, -1.0f, 1e-30f, 1e30f, 3.4028235e38f, -3.4028235e38f,
                                      std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                                      -std::numeric_limits<float>::infinity(), 1e-45f, 1e-3f, 0.5f, -2.5f, 1e-38f};
        const std::uint8_t pick = byte();
        if (pick < 192) return table[pick % (sizeof table / sizeof table[0])];
        float value;
        const std::uint32_t bits = u32();
        std::memcpy(&value, &bits, sizeof value);
        return value;
    }

    std::int64_t interesting_int64() {
        static const std::int64_t table[] = {0,
                                             1,
                                             2,
                                             5,
                                             100,
                                             std::numeric_limits<std::int64_t>::max(),
                                             std::numeric_limits<std::int64_t>::max() - 1,
                                             -1,
                                             std::numeric_limits<std::int64_t>::min(),
                                             std::int64_t{1} << 53,
                                             (std::int64_t{1} << 53) + 1,
                                             std::int64_t{1} << 62,
                                             1000000000};
        const std::uint8_t pick = byte();
        if (pick < 208) return table[pick % (sizeof table / sizeof table[0])];
        return static_cast<std::int64_t>(u64());
    }

    std::int32_t interesting_int32() {
        static const std::int32_t table[] = {0, 1, 2, 3, -1, 4, std::numeric_limits<std::int32_t>::max(),
                                             std::numeric_limits<std::int32_t>::min()};
        const std::uint8_t pick = byte();
        if (pick < 224) return table[pick % (sizeof table / sizeof table[0])];
        return static_cast<std::int32_t>(u32());
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t position_ = 0;
};

// ---- what the ABI promises, modelled ---------------------------------------------------------

constexpr std::size_t kMaxOptimizers = 3;
constexpr std::size_t kMaxGroups = 8;
constexpr std::size_t kMaxTensors = 16;
constexpr std::size_t kMaxBuffers = 10;
constexpr std::size_t kMaxBufferElements = std::size_t{1} << 17;  // 128 Ki floats
constexpr std::size_t kMaxPoolElements = std::size_t{1} << 19;
// Element counts above this are refused (three state arrays must stay addressable).
constexpr std::uint64_t kCountLimit = std::numeric_limits<std::size_t>::max() / (4 * sizeof(float));
// Element counts from here up cannot be allocated (2^57 bytes and more: beyond any x86-64 address
// space, so even an always-overcommitting kernel refuses): the library must answer OUT_OF_MEMORY
// before touching any buffer.
constexpr std::uint64_t kUnallocatableCount = std::uint64_t{1} << 55;
constexpr std::uint32_t kUnsetId = 0xdeadbeefu;

// Bytes nab_get_allocated_bytes counts for one array of `count` floats (64-byte aligned block
// plus a 64-byte header).
std::uint64_t block_bytes(std::uint64_t count) { return ((count * sizeof(float) + 63) / 64 + 1) * 64; }

// The header's 8-bit state: a tensor of at least NAB_BLOCKWISE_8BIT_MIN_ELEMENTS elements in a
// group asking for it keeps one code byte per element and one float scale per
// NAB_BLOCKWISE_8BIT_BLOCK_SIZE elements for each of m, s and s_max.
bool eight_bit_state(std::int32_t group_encoding, std::uint64_t count) {
    return group_encoding == NAB_STATE_ENCODING_BLOCKWISE_8BIT && count >= NAB_BLOCKWISE_8BIT_MIN_ELEMENTS;
}
std::uint64_t scale_count(std::uint64_t count) {
    return (count + NAB_BLOCKWISE_8BIT_BLOCK_SIZE - 1) / NAB_BLOCKWISE_8BIT_BLOCK_SIZE;
}
// Bytes of one state array (m, s or s_max) of a tensor: floats, or codes and scales.
std::uint64_t state_array_bytes(std::uint64_t count, bool eight_bit) {
    return eight_bit ? ((count + 63) / 64 + 1) * 64 + block_bytes(scale_count(count)) : block_bytes(count);
}
// The optimizer's step-count array: 8 bytes per tensor, its capacity doubling from 16.
std::uint64_t step_count_bytes(std::size_t tensor_count) {
    if (tensor_count == 0) return 0;
    std::uint64_t capacity = 16;
    while (capacity < tensor_count) capacity *= 2;
    return ((capacity * sizeof(std::int64_t) + 63) / 64 + 1) * 64;
}

bool same_double(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// True when a_count floats at a and b_count floats at b share a byte (null: no memory).
bool ranges_overlap(const float* a, std::uint64_t a_count, const float* b, std::uint64_t b_count) {
    if (a == nullptr || b == nullptr) return false;
    const auto first = reinterpret_cast<std::uintptr_t>(a), second = reinterpret_cast<std::uintptr_t>(b);
    return first < second + static_cast<std::uintptr_t>(b_count * sizeof(float)) &&
           second < first + static_cast<std::uintptr_t>(a_count * sizeof(float));
}

// The library's overlap rule for a tensor's parameters and gradients (both count floats).
bool overlaps(const float* a, const float* b, std::uint64_t count) { return ranges_overlap(a, count, b, count); }

// The coefficients the kernel applies in float32 (the rate, and the decay factor or coefficient
// of the group's weight-decay mode) must be finite there.
bool float32_coefficients_finite(const nab_group_options& o) {
    const auto finite_float = [](double value) { return std::isfinite(static_cast<float>(value)); };
    if (!finite_float(o.learning_rate)) return false;
    switch (o.weight_decay_mode) {
        case NAB_WEIGHT_DECAY_DECOUPLED: return finite_float(1.0 - o.learning_rate * o.weight_decay);
        case NAB_WEIGHT_DECAY_ABSOLUTE: return finite_float(1.0 - o.weight_decay);
        default: return finite_float(o.weight_decay);
    }
}

bool options_valid(const nab_group_options& o) {
    const auto beta_ok = [](double beta) { return beta >= 0.0 && beta < 1.0; };
    const auto non_negative_finite = [](double value) { return value >= 0.0 && std::isfinite(value); };
    const auto flag_ok = [](std::int32_t flag) { return flag == 0 || flag == 1; };
    if (o.compatibility != NAB_COMPATIBILITY_LABML && o.compatibility != NAB_COMPATIBILITY_ADABELIEF_PYTORCH) return false;
    if (!non_negative_finite(o.learning_rate) || !beta_ok(o.beta1) || !beta_ok(o.beta2)) return false;
    if (!non_negative_finite(o.epsilon) || !non_negative_finite(o.weight_decay)) return false;
    if (o.weight_decay_mode < NAB_WEIGHT_DECAY_DECOUPLED || o.weight_decay_mode > NAB_WEIGHT_DECAY_L2) return false;
    if (o.second_moment != NAB_SECOND_MOMENT_BELIEF && o.second_moment != NAB_SECOND_MOMENT_SQUARE) return false;
    if (!flag_ok(o.amsgrad) || !flag_ok(o.rectify) || !flag_ok(o.degenerate_to_sgd) || !flag_ok(o.optimized_update)) {
        return false;
    }
    if (o.state_encoding != NAB_STATE_ENCODING_FLOAT32 && o.state_encoding != NAB_STATE_ENCODING_BLOCKWISE_8BIT) return false;
    if (o.compatibility == NAB_COMPATIBILITY_ADABELIEF_PYTORCH &&
        (o.second_moment == NAB_SECOND_MOMENT_SQUARE || o.optimized_update != 1)) {
        return false;
    }
    return float32_coefficients_finite(o);
}

// ---- numbers: finite, moderate inputs and options must give finite parameters ----------------
// (The library promises no non-finite output from finite inputs and valid options, with one
// documented exception, epsilon = 0 with a gradient that stays 0. "Moderate" keeps the model
// honest about float32 range: a 3.4e38 gradient overflows g^2 in any implementation.)
constexpr float kModerateGradient = 1e6f;
constexpr float kModerateParameter = 1e12f;

bool tame_options(const nab_group_options& o) {
    return o.learning_rate <= 1.0 && o.beta1 <= 0.999 && o.beta2 <= 0.999 && o.weight_decay <= 1.0 &&
           static_cast<float>(o.epsilon) >= 1e-30f;
}

bool moderate(const float* values, std::uint64_t count, float limit) {
    for (std::uint64_t i = 0; i < count; ++i) {
        if (!(std::fabs(values[i]) <= limit)) return false;
    }
    return true;
}

bool same_options(const nab_group_options& a, const nab_group_options& b) {
    return a.compatibility == b.compatibility && same_double(a.learning_rate, b.learning_rate) &&
           same_double(a.beta1, b.beta1) && same_double(a.beta2, b.beta2) && same_double(a.epsilon, b.epsilon) &&
           same_double(a.weight_decay, b.weight_decay) && a.weight_decay_mode == b.weight_decay_mode &&
           a.second_moment == b.second_moment && a.amsgrad == b.amsgrad && a.rectify == b.rectify &&
           a.degenerate_to_sgd == b.degenerate_to_sgd && a.optimized_update == b.optimized_update &&
           a.state_encoding == b.state_encoding;
}

struct Buffer {
    float* data = nullptr;
    std::size_t count = 0;
    bool native = false;                // from nab_buffer_allocate, else owned here
    std::unique_ptr<float[]> host;      // the storage of a host buffer
};

struct ModelTensor {
    std::uint32_t group = 0;
    std::uint64_t count = 0;
    float* parameters = nullptr;
    float* gradients = nullptr;
    std::int64_t step = 0;
    bool has_max = false;
    // Every step that updated this tensor had moderate inputs and options (see tame_options),
    // and its state was never written from outside: its next such step must keep it finite.
    bool clean = true;
    bool eight_bit = false;  // m, s and s_max stored in 8 bits
};

nab_step_options default_step_options() {
    nab_step_options options;
    FUZZ_CHECK(nab_step_options_init(&options) == NAB_STATUS_OK, "nab_step_options_init");
    return options;
}

bool step_options_valid(const nab_step_options& o) {
    return (o.skip_nonfinite == 0 || o.skip_nonfinite == 1) &&
           (o.compute_gradient_norm == 0 || o.compute_gradient_norm == 1) && o.inverse_gradient_scale > 0.0 &&
           std::isfinite(o.inverse_gradient_scale) &&
           // The step multiplies by the scale in float32: it must stay nonzero and finite there.
           static_cast<float>(o.inverse_gradient_scale) > 0.0f && std::isfinite(static_cast<float>(o.inverse_gradient_scale)) &&
           o.max_gradient_norm >= 0.0 && std::isfinite(o.max_gradient_norm) && o.reserved == 0;
}

struct ModelOptimizer {
    nab_optimizer* handle = nullptr;
    std::vector<nab_group_options> groups;
    std::vector<ModelTensor> tensors;

    // The library's rule that memory is registered once, stated here by brute force: count floats
    // at data share no byte with a registered buffer other than the one they replace (tensor
    // `id`'s gradients or parameters; id = tensors.size() for a tensor being added).
    bool shares_registered_memory(const float* data, std::uint64_t count, std::size_t id, bool gradients) const {
        for (std::size_t t = 0; t < tensors.size(); ++t) {
            const ModelTensor& x = tensors[t];
            if (!(t == id && !gradients) && ranges_overlap(data, count, x.parameters, x.count)) return true;
            if (!(t == id && gradients) && ranges_overlap(data, count, x.gradients, x.count)) return true;
        }
        return false;
    }
    std::int32_t thread_count = 1;
    std::int32_t simd_level = NAB_SIMD_SCALAR;
    nab_step_options step_options = default_step_options();
    std::uint64_t step_calls = 0;  // steps the library ran (skipped ones included)

    std::uint64_t state_bytes() const {
        std::uint64_t total = 0;
        for (const ModelTensor& t : tensors) total += (t.has_max ? 3 : 2) * state_array_bytes(t.count, t.eight_bit);
        return total + step_count_bytes(tensors.size());
    }
};

// ---- the struct_size promise, modelled ------------------------------------------------------
// (the header: a smaller struct from an older header is read with defaults for the fields it
// lacks, and an output struct gets only what fits; a larger one from a newer header is accepted
// when the bytes beyond this header's struct are zero, and an output struct gets them zeroed;
// refused: below 4, above NAB_MAX_STRUCT_SIZE, ending inside a field, a non-zero unknown byte.)

// A caller's struct with room behind it for any struct_size the library may read.
template <class Struct>
struct CallerStruct {
    alignas(16) unsigned char bytes[NAB_MAX_STRUCT_SIZE + 16] = {};
    Struct& value() { return *reinterpret_cast<Struct*>(bytes); }
};

enum class SizeKind { Exact, Older, Newer, TooSmall, TooLarge, CutsField, NewerNonzero };

struct SizeChoice {
    std::uint32_t size;
    SizeKind kind;
    bool valid() const { return kind == SizeKind::Exact || kind == SizeKind::Older || kind == SizeKind::Newer; }
    // An output struct's unknown tail is the library's to zero: what it held does not matter.
    bool valid_for_output() const { return valid() || kind == SizeKind::NewerNonzero; }
};

// Where a struct of an older header may end (the start of each field after struct_size), and
// where its 8-byte fields start (ending 4 bytes into one cuts it): the harness's own reading of
// the header, independent of the library's tables.
struct StructShape {
    std::vector<std::uint32_t> field_starts;
    std::vector<std::uint32_t> wide_field_starts;
};

#define FIELD_AT(Struct, field) static_cast<std::uint32_t>(offsetof(Struct, field))
const StructShape kGroupOptionsShape{
    {FIELD_AT(nab_group_options, compatibility), FIELD_AT(nab_group_options, learning_rate), FIELD_AT(nab_group_options, beta1),
     FIELD_AT(nab_group_options, epsilon), FIELD_AT(nab_group_options, weight_decay_mode), FIELD_AT(nab_group_options, amsgrad),
     FIELD_AT(nab_group_options, optimized_update), FIELD_AT(nab_group_options, state_encoding)},
    {FIELD_AT(nab_group_options, learning_rate), FIELD_AT(nab_group_options, beta2), FIELD_AT(nab_group_options, weight_decay)}};
const StructShape kConfigShape{
    {FIELD_AT(nab_optimizer_config, device_type), FIELD_AT(nab_optimizer_config, thread_count),
     FIELD_AT(nab_optimizer_config, simd_level)},
    {}};
const StructShape kTensorDescShape{
    {FIELD_AT(nab_tensor_desc, group_id), FIELD_AT(nab_tensor_desc, parameters), FIELD_AT(nab_tensor_desc, parameter_dtype),
     FIELD_AT(nab_tensor_desc, master_parameters), FIELD_AT(nab_tensor_desc, reserved)},
    {FIELD_AT(nab_tensor_desc, element_count), FIELD_AT(nab_tensor_desc, gradients)}};
const StructShape kStepOptionsShape{
    {FIELD_AT(nab_step_options, skip_nonfinite), FIELD_AT(nab_step_options, max_gradient_norm),
     FIELD_AT(nab_step_options, reserved)},
    {FIELD_AT(nab_step_options, inverse_gradient_scale), FIELD_AT(nab_step_options, max_gradient_norm)}};
const StructShape kTensorInfoShape{
    {FIELD_AT(nab_tensor_info, group_id), FIELD_AT(nab_tensor_info, step), FIELD_AT(nab_tensor_info, has_gradients),
     FIELD_AT(nab_tensor_info, has_master_parameters), FIELD_AT(nab_tensor_info, state_encoding)},
    {FIELD_AT(nab_tensor_info, element_count), FIELD_AT(nab_tensor_info, step)}};
#undef FIELD_AT

// Picks a struct_size (mostly the exact one) and, for a newer struct with a spoiled tail,
// writes a non-zero byte beyond the struct.
template <class Struct>
SizeChoice choose_size(Input& in, const StructShape& shape, CallerStruct<Struct>& caller) {
    const std::uint8_t pick = in.byte();
    const auto pick_from = [&in](const std::vector<std::uint32_t>& values) {
        return values[static_cast<std::size_t>(in.below(values.size()))];
    };
    const std::uint32_t exact = sizeof(Struct);
    if (pick < 200) return {exact, SizeKind::Exact};
    if (pick < 210) return {pick_from(shape.field_starts), SizeKind::Older};
    const std::uint32_t extra = 8 * (1 + static_cast<std::uint32_t>(in.below((NAB_MAX_STRUCT_SIZE - exact) / 8)));
    if (pick < 220) return {exact + extra, SizeKind::Newer};
    if (pick < 230) return {static_cast<std::uint32_t>(in.below(4)), SizeKind::TooSmall};
    if (pick < 240) return {NAB_MAX_STRUCT_SIZE + 1 + static_cast<std::uint32_t>(in.below(1u << 20)), SizeKind::TooLarge};
    if (pick < 250 && !shape.wide_field_starts.empty()) return {pick_from(shape.wide_field_starts) + 4, SizeKind::CutsField};
    caller.bytes[exact + in.below(extra)] = static_cast<unsigned char>(1 + in.below(255));
    return {exact + extra, SizeKind::NewerNonzero};
}

// What the library reads from an input struct of `size` bytes: the caller's prefix over the
// defaults.
template <class Struct>
Struct as_read(const Struct& caller, std::uint32_t size, const Struct& defaults) {
    Struct result = defaults;
    std::memcpy(&result, &caller, std::min<std::size_t>(size, sizeof(Struct)));
    result.struct_size = sizeof(Struct);
    return result;
}

// Checks an output struct after a successful call: the library wrote `expected` up to the
// caller's size, zeroed what lies beyond its own struct, and touched nothing past the size.
template <class Struct>
void check_written(const CallerStruct<Struct>& out, const CallerStruct<Struct>& before, std::uint32_t size,
                   Struct expected, const char* call) {
    expected.struct_size = size;
    const std::size_t known = std::min<std::size_t>(size, sizeof(Struct));
    FUZZ_CHECK(std::memcmp(out.bytes, &expected, known) == 0, std::string(call) + ": the fields it has room for differ");
    for (std::size_t i = known; i < sizeof out.bytes; ++i) {
        const unsigned char wanted = i < size ? 0 : before.bytes[i];
        FUZZ_CHECK(out.bytes[i] == wanted, std::string(call) + ": byte " + std::to_string(i) + " of a struct of " +
                                               std::to_string(size) + " bytes was written wrongly");
    }
}

// ---- the harness -----------------------------------------------------------------------------

class Harness {
public:
    explicit Harness(Input& in) : in_(in) {
        FUZZ_CHECK(nab_get_allocated_bytes(&baseline_bytes_) == NAB_STATUS_OK, "nab_get_allocated_bytes");
        FUZZ_CHECK(nab_cpu_get_best_simd_level(&best_simd_) == NAB_STATUS_OK, "nab_cpu_get_best_simd_level");
        FUZZ_CHECK(nab_cuda_get_device_count(&cuda_devices_) == NAB_STATUS_OK, "nab_cuda_get_device_count");
        hardware_threads_ = static_cast<std::int32_t>(std::thread::hardware_concurrency());
        if (hardware_threads_ <= 0) hardware_threads_ = 1;
        // A few buffers to start with, so that short inputs reach the interesting calls: odd sizes
        // (SIMD tails) and one above the CPU backend's parallel threshold.
        for (std::size_t count : {std::size_t{17}, std::size_t{1024}, std::size_t{4099}, std::size_t{70001}}) {
            add_host_buffer(count);
        }
    }

    ~Harness() {
        for (ModelOptimizer& o : optimizers_) {
            if (o.handle != nullptr) nab_optimizer_destroy(o.handle);
        }
        for (Buffer& b : buffers_) {
            if (b.native) nab_buffer_free(b.data);
        }
    }

    void run() {
        for (int operations = 0; operations < 256 && !in_.exhausted(); ++operations) {
            operation(in_.byte());
            check_everything();
        }
        finish();
    }

private:
    // ---- bookkeeping ----

    void add_host_buffer(std::size_t count) {
        Buffer b;
        b.host = std::make_unique<float[]>(count);
        for (std::size_t i = 0; i < count; ++i) b.host[i] = 0.25f * static_cast<float>(i % 13) - 1.0f;
        b.data = b.host.get();
        b.count = count;
        buffers_.push_back(std::move(b));
    }

    std::size_t pool_elements() const {
        std::size_t total = 0;
        for (const Buffer& b : buffers_) total += b.count;
        return total;
    }

    std::uint64_t expected_bytes() const {
        std::uint64_t total = baseline_bytes_;
        for (const ModelOptimizer& o : optimizers_) {
            if (o.handle != nullptr) total += o.state_bytes();
        }
        for (const Buffer& b : buffers_) {
            if (b.native) total += block_bytes(b.count);
        }
        return total;
    }

    bool registered(const Buffer& b) const {
        const auto inside = [&b](const float* p) { return p != nullptr && p >= b.data && p < b.data + b.count; };
        for (const ModelOptimizer& o : optimizers_) {
            if (o.handle == nullptr) continue;
            for (const ModelTensor& t : o.tensors) {
                if (inside(t.parameters) || inside(t.gradients)) return true;
            }
        }
        return false;
    }

    // Usually the first live optimizer (so that calls build on each other), sometimes any slot
    // (an empty slot means a null handle, which every call must refuse).
    ModelOptimizer& pick_optimizer() {
        const std::uint8_t how = in_.byte();
        if (how < 208) {
            for (ModelOptimizer& o : optimizers_) {
                if (o.handle != nullptr) return o;
            }
        }
        return optimizers_[how % kMaxOptimizers];
    }

    // A tensor id: usually an existing one, sometimes one past the end or a huge one.
    std::uint32_t pick_id(std::size_t existing) {
        const std::uint8_t how = in_.byte();
        if (how < 224 && existing > 0) return static_cast<std::uint32_t>(in_.below(existing));
        if (how < 240) return static_cast<std::uint32_t>(existing + in_.below(3));
        return in_.u32();
    }

    // A pointer into one of the buffers with at least `need` floats from it to the buffer's end
    // (need 0: any position), or null when none has room or the input asks for null.
    float* pick_pointer(std::uint64_t need, std::size_t* room = nullptr) {
        const std::uint8_t how = in_.byte();
        if (how >= 240 || buffers_.empty()) return nullptr;
        for (std::size_t attempt = 0; attempt < buffers_.size(); ++attempt) {
            Buffer& b = buffers_[(how + attempt) % buffers_.size()];
            if (b.count < need || b.count == 0) continue;
            const std::size_t slack = b.count - static_cast<std::size_t>(need == 0 ? 1 : need);
            const std::size_t offset = (in_.byte() & 1) != 0 ? static_cast<std::size_t>(in_.below(slack + 1)) : 0;
            if (room != nullptr) *room = b.count - offset;
            return b.data + offset;
        }
        return nullptr;
    }

    // A tensor's pointers must stay inside the buffer they came from: how many floats follow p.
    std::size_t room_after(const float* p) const {
        for (const Buffer& b : buffers_) {
            if (p >= b.data && p < b.data + b.count) return static_cast<std::size_t>(b.data + b.count - p);
        }
        return 0;
    }

    // Group options as a caller hands them (its struct and struct_size), and what the library
    // must make of them: whether they are valid, and the options it reads.
    struct FuzzedOptions {
        CallerStruct<nab_group_options> caller;
        SizeChoice size{};
        nab_group_options read{};
        bool valid() const { return size.valid() && options_valid(read); }
    };

    FuzzedOptions fuzzed_options() {
        FuzzedOptions fuzzed;
        nab_group_options& o = fuzzed.caller.value();
        const std::int32_t compatibility = (in_.byte() & 1) != 0 ? NAB_COMPATIBILITY_ADABELIEF_PYTORCH : NAB_COMPATIBILITY_LABML;
        expect_status(nab_group_options_init(&o, compatibility), NAB_STATUS_OK, "nab_group_options_init");
        const std::uint8_t how_many = in_.byte();
        const int changes = how_many < 128 ? 0 : 1 + how_many % 4;
        for (int c = 0; c < changes; ++c) {
            switch (in_.byte() % 14) {
                case 0: break;  // the struct_size is chosen below
                case 1: o.compatibility = in_.interesting_int32(); break;
                case 2: o.learning_rate = in_.interesting_double(); break;
                case 3: o.beta1 = in_.interesting_double(); break;
                case 4: o.beta2 = in_.interesting_double(); break;
                case 5: o.epsilon = in_.interesting_double(); break;
                case 6: o.weight_decay = in_.interesting_double(); break;
                case 7: o.weight_decay_mode = in_.interesting_int32(); break;
                case 8: o.second_moment = in_.interesting_int32(); break;
                case 9: o.amsgrad = in_.interesting_int32(); break;
                case 10: o.rectify = in_.interesting_int32(); break;
                case 11: o.degenerate_to_sgd = in_.interesting_int32(); break;
                case 12: o.state_encoding = (in_.byte() & 1) != 0 ? NAB_STATE_ENCODING_BLOCKWISE_8BIT : in_.interesting_int32(); break;
                default: o.optimized_update = in_.interesting_int32(); break;
            }
        }
        fuzzed.size = choose_size(in_, kGroupOptionsShape, fuzzed.caller);
        o.struct_size = fuzzed.size.size;
        nab_group_options defaults;
        expect_status(nab_group_options_init(&defaults, NAB_COMPATIBILITY_LABML), NAB_STATUS_OK, "nab_group_options_init");
        fuzzed.read = as_read(o, fuzzed.size.size, defaults);
        return fuzzed;
    }

    // ---- invariants ----

    void check_optimizer(const ModelOptimizer& o) {
        std::uint32_t count = kUnsetId;
        expect_status(nab_optimizer_get_group_count(o.handle, &count), NAB_STATUS_OK, "nab_optimizer_get_group_count");
        FUZZ_CHECK(count == o.groups.size(), "group count " + std::to_string(count) + ", modelled " + std::to_string(o.groups.size()));
        expect_status(nab_optimizer_get_tensor_count(o.handle, &count), NAB_STATUS_OK, "nab_optimizer_get_tensor_count");
        FUZZ_CHECK(count == o.tensors.size(), "tensor count " + std::to_string(count) + ", modelled " + std::to_string(o.tensors.size()));
        for (std::uint32_t g = 0; g < o.groups.size(); ++g) {
            nab_group_options read{};
            read.struct_size = sizeof read;
            expect_status(nab_optimizer_get_group_options(o.handle, g, &read), NAB_STATUS_OK, "nab_optimizer_get_group_options");
            FUZZ_CHECK(same_options(read, o.groups[g]), "group " + std::to_string(g) + "'s options differ from the model");
        }
        for (std::uint32_t id = 0; id < o.tensors.size(); ++id) {
            const ModelTensor& t = o.tensors[id];
            nab_tensor_info info{};
            info.struct_size = sizeof info;
            expect_status(nab_optimizer_get_tensor_info(o.handle, id, &info), NAB_STATUS_OK, "nab_optimizer_get_tensor_info");
            const std::string which = "tensor " + std::to_string(id) + ": ";
            FUZZ_CHECK(info.group_id == t.group, which + "group " + std::to_string(info.group_id));
            FUZZ_CHECK(info.element_count == t.count, which + "element_count " + std::to_string(info.element_count));
            FUZZ_CHECK(info.step == t.step, which + "step " + std::to_string(info.step) + ", modelled " + std::to_string(t.step));
            FUZZ_CHECK(info.has_max_second_moment == (t.has_max ? 1 : 0), which + "has_max_second_moment");
            FUZZ_CHECK(info.has_gradients == (t.gradients != nullptr ? 1 : 0), which + "has_gradients");
            FUZZ_CHECK(info.state_encoding == (t.eight_bit ? NAB_STATE_ENCODING_BLOCKWISE_8BIT : NAB_STATE_ENCODING_FLOAT32),
                       which + "state_encoding " + std::to_string(info.state_encoding));
        }
        std::int32_t value = -99;
        expect_status(nab_optimizer_get_thread_count(o.handle, &value), NAB_STATUS_OK, "nab_optimizer_get_thread_count");
        FUZZ_CHECK(value == o.thread_count, "thread count " + std::to_string(value) + ", modelled " + std::to_string(o.thread_count));
        expect_status(nab_optimizer_get_simd_level(o.handle, &value), NAB_STATUS_OK, "nab_optimizer_get_simd_level");
        FUZZ_CHECK(value == o.simd_level, "SIMD level " + std::to_string(value) + ", modelled " + std::to_string(o.simd_level));
    }

    void check_everything() {
        for (const ModelOptimizer& o : optimizers_) {
            if (o.handle != nullptr) check_optimizer(o);
        }
        std::uint64_t bytes = 0;
        expect_status(nab_get_allocated_bytes(&bytes), NAB_STATUS_OK, "nab_get_allocated_bytes");
        FUZZ_CHECK(bytes == expected_bytes(), "allocated bytes " + std::to_string(bytes) + ", modelled " +
                                                  std::to_string(expected_bytes()));
    }

    void finish() {
        for (ModelOptimizer& o : optimizers_) {
            if (o.handle == nullptr) continue;
            expect_status(nab_optimizer_destroy(o.handle), NAB_STATUS_OK, "nab_optimizer_destroy");
            o = ModelOptimizer{};
        }
        for (Buffer& b : buffers_) {
            if (b.native) expect_status(nab_buffer_free(b.data), NAB_STATUS_OK, "nab_buffer_free");
        }
        buffers_.clear();
        std::uint64_t bytes = 0;
        expect_status(nab_get_allocated_bytes(&bytes), NAB_STATUS_OK, "nab_get_allocated_bytes");
        FUZZ_CHECK(bytes == baseline_bytes_, "allocated bytes " + std::to_string(bytes) +
                                                 " after destroying everything, " + std::to_string(baseline_bytes_) + " before");
    }

    // ---- operations ----

    void operation(std::uint8_t opcode) {
        switch (opcode % 26) {
            case 0: create(); break;
            case 1: destroy(); break;
            case 2: add_group(); break;
            case 3: set_group_options(); break;
            case 4: get_group_options(); break;
            case 5: set_learning_rate(); break;
            case 6: add_tensor(); break;
            case 7: get_tensor_info(); break;
            case 8: set_tensor_parameters(); break;
            case 9: set_tensor_gradients(); break;
            case 10: set_tensor_step(); break;
            case 11: read_state(); break;
            case 12: write_state(); break;
            case 13: step(1); break;
            case 14: zero_gradients(); break;
            case 15: count_nonfinite(); break;
            case 16: set_thread_count(); break;
            case 17: set_simd_level(); break;
            case 18: misc_optimizer_calls(); break;
            case 19: allocate_buffer(); break;
            case 20: free_buffer(); break;
            case 21: fill_buffer(); break;
            case 22: library_calls(); break;
            case 23: set_step_options(); break;
            case 24: state_codes(); break;
            default: step(1 + in_.byte() % 8); break;
        }
    }

    void create() {
        ModelOptimizer& o = pick_optimizer();
        if (o.handle != nullptr) return;
        CallerStruct<nab_optimizer_config> caller;
        nab_optimizer_config& config = caller.value();
        expect_status(nab_optimizer_config_init(&config), NAB_STATUS_OK, "nab_optimizer_config_init");
        // Mostly valid: one byte says which (if any) part to spoil.
        const std::uint8_t spoil = in_.byte();
        if (spoil == 254) config.device_type = in_.interesting_int32();
        if (spoil == 253) config.device_ordinal = in_.interesting_int32();
        const std::uint8_t threads = in_.byte();
        config.thread_count = threads < 240 ? static_cast<std::int32_t>(threads % 5) : -static_cast<std::int32_t>(threads % 3) - 1;
        const std::uint8_t simd = in_.byte();
        config.simd_level = simd < 240 ? static_cast<std::int32_t>(simd % 5) : in_.interesting_int32();
        if (cuda_devices_ > 0 && config.device_type == NAB_DEVICE_CUDA) config.device_type = NAB_DEVICE_CPU;
        const bool null_config = spoil == 252;
        const bool null_out = spoil == 251;
        const SizeChoice size = spoil == 255 ? choose_size(in_, kConfigShape, caller) : SizeChoice{sizeof config, SizeKind::Exact};
        config.struct_size = size.size;
        nab_optimizer_config defaults;
        expect_status(nab_optimizer_config_init(&defaults), NAB_STATUS_OK, "nab_optimizer_config_init");
        const nab_optimizer_config read = as_read(config, size.size, defaults);

        int expected = NAB_STATUS_OK;
        if (null_out || null_config || !size.valid() || read.device_type < NAB_DEVICE_CPU || read.device_type > NAB_DEVICE_CUDA) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (read.device_ordinal < 0 || (read.device_type == NAB_DEVICE_CPU && read.device_ordinal != 0) ||
                   read.thread_count < 0 || read.simd_level < NAB_SIMD_AUTO || read.simd_level > NAB_SIMD_AVX512_BF16) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (read.simd_level != NAB_SIMD_AUTO && !cpu_runs(read.simd_level)) {
            expected = NAB_STATUS_UNSUPPORTED;
        } else if (read.device_type == NAB_DEVICE_CUDA) {
            expected = kAnyError;  // UNSUPPORTED without CUDA in the build; no device here otherwise
        }

        nab_optimizer* created = reinterpret_cast<nab_optimizer*>(std::uintptr_t{0x10});
        const nab_status status = nab_optimizer_create(null_config ? nullptr : &config, null_out ? nullptr : &created);
        expect_status(status, expected, "nab_optimizer_create");
        if (status != NAB_STATUS_OK) {
            if (!null_out) FUZZ_CHECK(created == nullptr, "a failed nab_optimizer_create left *out_optimizer non-null");
            return;
        }
        FUZZ_CHECK(created != nullptr, "nab_optimizer_create returned OK and a null optimizer");
        o.handle = created;
        o.thread_count = read.thread_count == 0 ? hardware_threads_ : read.thread_count;
        o.simd_level = read.simd_level == NAB_SIMD_AUTO ? best_simd_ : read.simd_level;
    }

    void set_step_options() {
        ModelOptimizer& o = pick_optimizer();
        CallerStruct<nab_step_options> caller;
        nab_step_options& options = caller.value();
        options = default_step_options();
        options.skip_nonfinite = in_.byte() & 1;
        options.compute_gradient_norm = in_.byte() & 1;
        const std::uint8_t scale = in_.byte();
        options.inverse_gradient_scale = scale < 128 ? 1.0 : std::ldexp(1.0, scale % 32 - 16);
        const std::uint8_t norm = in_.byte();
        options.max_gradient_norm = norm < 160 ? 0.0 : norm / 16.0;
        // Mostly valid: one byte says which (if any) field to spoil.
        SizeChoice size{sizeof options, SizeKind::Exact};
        switch (in_.byte()) {
            case 255: size = choose_size(in_, kStepOptionsShape, caller); break;
            case 254: options.skip_nonfinite = in_.interesting_int32(); break;
            case 253: options.compute_gradient_norm = in_.interesting_int32(); break;
            case 252: options.inverse_gradient_scale = in_.interesting_double(); break;
            case 251: options.max_gradient_norm = in_.interesting_double(); break;
            case 250: options.reserved = in_.interesting_int32(); break;
            default: break;
        }
        options.struct_size = size.size;
        const nab_step_options read = as_read(options, size.size, default_step_options());
        const bool null_options = in_.byte() == 255;
        const int expected = o.handle == nullptr || null_options || !size.valid() || !step_options_valid(read)
                                 ? NAB_STATUS_INVALID_ARGUMENT
                                 : NAB_STATUS_OK;
        const nab_status status = nab_optimizer_set_step_options(o.handle, null_options ? nullptr : &options);
        expect_status(status, expected, "nab_optimizer_set_step_options");
        if (status == NAB_STATUS_OK) o.step_options = read;
        if (o.handle == nullptr) return;
        nab_step_options in_force{};
        in_force.struct_size = sizeof in_force;
        expect_status(nab_optimizer_get_step_options(o.handle, &in_force), NAB_STATUS_OK, "nab_optimizer_get_step_options");
        FUZZ_CHECK(std::memcmp(&in_force, &o.step_options, sizeof in_force) == 0,
                   "nab_optimizer_get_step_options differs from the options last accepted");
    }

    void destroy() {
        ModelOptimizer& o = pick_optimizer();
        nab_optimizer* const handle = o.handle;
        expect_status(nab_optimizer_destroy(handle), NAB_STATUS_OK, "nab_optimizer_destroy");
        o = ModelOptimizer{};
        if (handle == nullptr) return;
        // The handle is dead now: every call on it is refused, a second destroy too.
        std::uint32_t count = kUnsetId;
        expect_status(nab_optimizer_get_group_count(handle, &count), NAB_STATUS_INVALID_ARGUMENT,
                      "nab_optimizer_get_group_count(destroyed)");
        FUZZ_CHECK(count == kUnsetId, "a call on a destroyed optimizer wrote its output");
        expect_status(nab_optimizer_step(handle), NAB_STATUS_INVALID_ARGUMENT, "nab_optimizer_step(destroyed)");
        expect_status(nab_optimizer_destroy(handle), NAB_STATUS_INVALID_ARGUMENT, "nab_optimizer_destroy(destroyed)");
    }

    void add_group() {
        ModelOptimizer& o = pick_optimizer();
        if (o.groups.size() >= kMaxGroups) return;
        FuzzedOptions options = fuzzed_options();
        const std::uint8_t flags = in_.byte();
        const bool null_options = flags == 255, null_out = flags == 254;
        int expected = NAB_STATUS_OK;
        if (o.handle == nullptr || null_out || null_options || !options.valid()) expected = NAB_STATUS_INVALID_ARGUMENT;
        std::uint32_t id = kUnsetId;
        const nab_status status =
            nab_optimizer_add_group(o.handle, null_options ? nullptr : &options.caller.value(), null_out ? nullptr : &id);
        expect_status(status, expected, "nab_optimizer_add_group");
        if (status != NAB_STATUS_OK) {
            FUZZ_CHECK(id == kUnsetId, "a failed nab_optimizer_add_group wrote *out_group_id");
            return;
        }
        FUZZ_CHECK(id == o.groups.size(), "new group id " + std::to_string(id));
        o.groups.push_back(options.read);
    }

    void set_group_options() {
        ModelOptimizer& o = pick_optimizer();
        const std::uint32_t group = pick_id(o.groups.size());
        FuzzedOptions options = fuzzed_options();
        const bool null_options = in_.byte() >= 240;
        int expected = NAB_STATUS_OK;
        if (o.handle == nullptr || null_options || !options.valid()) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (group >= o.groups.size()) {
            expected = NAB_STATUS_NOT_FOUND;
        }
        const nab_status status =
            nab_optimizer_set_group_options(o.handle, group, null_options ? nullptr : &options.caller.value());
        expect_status(status, expected, "nab_optimizer_set_group_options");
        if (status != NAB_STATUS_OK) return;
        o.groups[group] = options.read;
        for (ModelTensor& t : o.tensors) {
            if (t.group != group) continue;
            if (options.read.amsgrad == 1) t.has_max = true;
            // A changed encoding converts the tensor's state (its values stay what they were,
            // rounded to 8 bits when it becomes 8-bit: the checks after every call read them).
            t.eight_bit = eight_bit_state(options.read.state_encoding, t.count);
        }
    }

    void get_group_options() {
        ModelOptimizer& o = pick_optimizer();
        const std::uint32_t group = pick_id(o.groups.size());
        CallerStruct<nab_group_options> out;
        std::memset(out.bytes, 0xa5, sizeof out.bytes);
        const SizeChoice size = choose_size(in_, kGroupOptionsShape, out);
        out.value().struct_size = size.size;
        const bool null_out = in_.byte() >= 240;
        const CallerStruct<nab_group_options> before = out;
        int expected = NAB_STATUS_OK;
        if (o.handle == nullptr || null_out) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (group >= o.groups.size()) {
            expected = NAB_STATUS_NOT_FOUND;
        } else if (!size.valid_for_output()) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        }
        const nab_status status = nab_optimizer_get_group_options(o.handle, group, null_out ? nullptr : &out.value());
        expect_status(status, expected, "nab_optimizer_get_group_options");
        if (status != NAB_STATUS_OK) {
            FUZZ_CHECK(std::memcmp(out.bytes, before.bytes, sizeof out.bytes) == 0,
                       "a failed nab_optimizer_get_group_options wrote its output");
            return;
        }
        check_written(out, before, size.size, o.groups[group], "nab_optimizer_get_group_options");
    }

    void set_learning_rate() {
        ModelOptimizer& o = pick_optimizer();
        const std::uint32_t group = pick_id(o.groups.size());
        const double rate = in_.interesting_double();
        int expected = NAB_STATUS_OK;
        if (o.handle == nullptr) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (group >= o.groups.size()) {
            expected = NAB_STATUS_NOT_FOUND;
        } else {
            nab_group_options changed = o.groups[group];
            changed.learning_rate = rate;
            if (!(rate >= 0.0 && std::isfinite(rate)) || !float32_coefficients_finite(changed)) {
                expected = NAB_STATUS_INVALID_ARGUMENT;
            }
        }
        const nab_status status = nab_optimizer_set_learning_rate(o.handle, group, rate);
        expect_status(status, expected, "nab_optimizer_set_learning_rate");
        if (status == NAB_STATUS_OK) o.groups[group].learning_rate = rate;
    }

    void add_tensor() {
        ModelOptimizer& o = pick_optimizer();
        if (o.tensors.size() >= kMaxTensors) return;
        CallerStruct<nab_tensor_desc> caller;
        nab_tensor_desc& desc = caller.value();
        desc.group_id = pick_id(o.groups.size());
        std::size_t parameter_room = 0, gradient_room = 0;
        desc.parameters = pick_pointer(0, &parameter_room);
        const std::uint8_t gradient_choice = in_.byte();
        if (gradient_choice < 208) {
            desc.gradients = pick_pointer(0, &gradient_room);
        } else if (gradient_choice < 232 && desc.parameters != nullptr) {
            // Inside the parameters' range: must be refused as overlapping (when the count covers it).
            const std::size_t shift = static_cast<std::size_t>(in_.below(parameter_room));
            desc.gradients = static_cast<float*>(desc.parameters) + shift;
            gradient_room = parameter_room - shift;
        }
        std::size_t room = desc.parameters != nullptr ? parameter_room : 1;
        if (desc.gradients != nullptr && gradient_room < room) room = gradient_room;
        const std::uint8_t count_choice = in_.byte();
        if (count_choice == 255) {
            desc.element_count = 0;
        } else if (count_choice == 254) {
            desc.element_count = kUnallocatableCount + in_.below(kCountLimit - kUnallocatableCount + 1);
        } else if (count_choice == 253) {
            desc.element_count = (in_.byte() & 1) != 0 ? kCountLimit + 1 : std::numeric_limits<std::uint64_t>::max();
        } else if (count_choice < 96) {
            desc.element_count = room;
        } else {
            desc.element_count = 1 + in_.below(room);
        }
        const std::uint8_t flags = in_.byte();
        const bool null_desc = flags == 255, null_out = flags == 254;
        // The model's buffers are float32; spoil the type fields only with values to be refused
        // (an unknown type, a master copy of float32 parameters, a non-boolean, reserved != 0).
        const std::uint8_t spoil = flags >= 250 && flags < 254 ? flags : 0;
        auto unknown_dtype = [this] {
            const std::int32_t value = in_.interesting_int32();
            return value >= NAB_DTYPE_FLOAT32 && value <= NAB_DTYPE_BFLOAT16 ? 3 : value;
        };
        if (spoil == 253) desc.parameter_dtype = unknown_dtype();
        if (spoil == 252) desc.gradient_dtype = unknown_dtype();
        if (spoil == 251) desc.master_parameters = (in_.byte() & 1) != 0 ? 1 : in_.interesting_int32() | 2;
        if (spoil == 250) desc.reserved = in_.interesting_int32() | 1;
        const SizeChoice size = choose_size(in_, kTensorDescShape, caller);
        desc.struct_size = size.size;
        // An older struct lacks its tail: those fields read as 0 (a new tensor's defaults).
        const nab_tensor_desc read = as_read(desc, size.size, nab_tensor_desc{});

        // The checks in the library's order: the struct and its fields, the count, the
        // parameters and master copy, then the group, then the buffers.
        int expected = NAB_STATUS_OK;
        if (o.handle == nullptr || null_desc || null_out || !size.valid() || read.parameter_dtype != NAB_DTYPE_FLOAT32 ||
            read.gradient_dtype != NAB_DTYPE_FLOAT32 || read.master_parameters != 0 || read.reserved != 0 ||
            read.element_count == 0 || read.element_count > kCountLimit || read.parameters == nullptr) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (read.group_id >= o.groups.size()) {
            expected = NAB_STATUS_NOT_FOUND;
        } else if (overlaps(static_cast<const float*>(read.parameters), static_cast<const float*>(read.gradients),
                            read.element_count) ||
                   o.shares_registered_memory(static_cast<const float*>(read.parameters), read.element_count,
                                              o.tensors.size(), false) ||
                   o.shares_registered_memory(static_cast<const float*>(read.gradients), read.element_count,
                                              o.tensors.size(), true)) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (read.element_count >= kUnallocatableCount) {
            expected = NAB_STATUS_OUT_OF_MEMORY;
        }
        // Never hand the library a count that runs past the buffers unless it must refuse first.
        if (expected == NAB_STATUS_OK) FUZZ_CHECK(read.element_count <= room, "harness: count beyond the buffer");

        std::uint32_t id = kUnsetId;
        const nab_status status = nab_optimizer_add_tensor(o.handle, null_desc ? nullptr : &desc, null_out ? nullptr : &id);
        expect_status(status, expected, "nab_optimizer_add_tensor");
        if (status != NAB_STATUS_OK) {
            FUZZ_CHECK(id == kUnsetId, "a failed nab_optimizer_add_tensor wrote *out_tensor_id");
            return;
        }
        FUZZ_CHECK(id == o.tensors.size(), "new tensor id " + std::to_string(id));
        ModelTensor t;
        t.group = read.group_id;
        t.count = read.element_count;
        t.parameters = static_cast<float*>(read.parameters);
        t.gradients = static_cast<float*>(read.gradients);
        t.has_max = o.groups[read.group_id].amsgrad == 1;
        t.eight_bit = eight_bit_state(o.groups[read.group_id].state_encoding, t.count);
        o.tensors.push_back(t);
    }

    void get_tensor_info() {
        ModelOptimizer& o = pick_optimizer();
        const std::uint32_t id = pick_id(o.tensors.size());
        CallerStruct<nab_tensor_info> info;
        std::memset(info.bytes, 0x5a, sizeof info.bytes);
        const SizeChoice size = choose_size(in_, kTensorInfoShape, info);
        info.value().struct_size = size.size;
        const bool null_out = in_.byte() >= 240;
        const CallerStruct<nab_tensor_info> before = info;
        int expected = NAB_STATUS_OK;
        if (o.handle == nullptr || null_out) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (id >= o.tensors.size()) {
            expected = NAB_STATUS_NOT_FOUND;
        } else if (!size.valid_for_output()) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        }
        const nab_status status = nab_optimizer_get_tensor_info(o.handle, id, null_out ? nullptr : &info.value());
        expect_status(status, expected, "nab_optimizer_get_tensor_info");
        if (status != NAB_STATUS_OK) {
            FUZZ_CHECK(std::memcmp(info.bytes, before.bytes, sizeof info.bytes) == 0,
                       "a failed nab_optimizer_get_tensor_info wrote its output");
            return;
        }
        const ModelTensor& t = o.tensors[id];
        nab_tensor_info expected_info;
        std::memset(&expected_info, 0, sizeof expected_info);
        expected_info.group_id = t.group;
        expected_info.element_count = t.count;
        expected_info.step = t.step;
        expected_info.has_max_second_moment = t.has_max ? 1 : 0;
        expected_info.has_gradients = t.gradients != nullptr ? 1 : 0;
        expected_info.state_encoding = t.eight_bit ? NAB_STATE_ENCODING_BLOCKWISE_8BIT : NAB_STATE_ENCODING_FLOAT32;
        check_written(info, before, size.size, expected_info, "nab_optimizer_get_tensor_info");
    }

    void set_tensor_parameters() {
        ModelOptimizer& o = pick_optimizer();
        const std::uint32_t id = pick_id(o.tensors.size());
        const bool known = id < o.tensors.size();
        const std::uint64_t count = known ? o.tensors[id].count : 1;
        float* parameters = nullptr;
        if (known && o.tensors[id].gradients != nullptr && in_.byte() < 64) {
            // Overlapping the tensor's gradients: refused.
            parameters = o.tensors[id].gradients + in_.below(std::min<std::uint64_t>(count, room_after(o.tensors[id].gradients)));
        } else {
            parameters = pick_pointer(count);
        }
        int expected = NAB_STATUS_OK;
        if (o.handle == nullptr || parameters == nullptr) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (!known) {
            expected = NAB_STATUS_NOT_FOUND;
        } else if (o.shares_registered_memory(parameters, count, id, false)) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        }
        if (expected == NAB_STATUS_OK) FUZZ_CHECK(room_after(parameters) >= count, "harness: parameters too short");
        const nab_status status = nab_optimizer_set_tensor_parameters(o.handle, id, parameters);
        expect_status(status, expected, "nab_optimizer_set_tensor_parameters");
        if (status == NAB_STATUS_OK) o.tensors[id].parameters = parameters;
    }

    void set_tensor_gradients() {
        ModelOptimizer& o = pick_optimizer();
        const std::uint32_t id = pick_id(o.tensors.size());
        const bool known = id < o.tensors.size();
        const std::uint64_t count = known ? o.tensors[id].count : 1;
        float* gradients = nullptr;
        if (known && in_.byte() < 64) {
            gradients = o.tensors[id].parameters + in_.below(std::min<std::uint64_t>(count, room_after(o.tensors[id].parameters)));
        } else {
            gradients = pick_pointer(count);
        }
        int expected = NAB_STATUS_OK;
        if (o.handle == nullptr) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (!known) {
            expected = NAB_STATUS_NOT_FOUND;
        } else if (o.shares_registered_memory(gradients, count, id, true)) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        }
        if (expected == NAB_STATUS_OK && gradients != nullptr) FUZZ_CHECK(room_after(gradients) >= count, "harness: gradients too short");
        const nab_status status = nab_optimizer_set_tensor_gradients(o.handle, id, gradients);
        expect_status(status, expected, "nab_optimizer_set_tensor_gradients");
        if (status == NAB_STATUS_OK) o.tensors[id].gradients = gradients;
    }

    void set_tensor_step() {
        ModelOptimizer& o = pick_optimizer();
        const std::uint32_t id = pick_id(o.tensors.size());
        const std::int64_t step = in_.interesting_int64();
        int expected = NAB_STATUS_OK;
        if (o.handle == nullptr) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (id >= o.tensors.size()) {
            expected = NAB_STATUS_NOT_FOUND;
        } else if (step < 0) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        }
        const nab_status status = nab_optimizer_set_tensor_step(o.handle, id, step);
        expect_status(status, expected, "nab_optimizer_set_tensor_step");
        if (status == NAB_STATUS_OK) o.tensors[id].step = step;
    }

    // The arguments shared by read_state and write_state, and the status they must produce.
    struct StateCall {
        std::uint32_t id;
        std::int32_t kind;
        std::uint64_t count;
        bool null_buffer;
        int expected;
        std::vector<float> buffer;  // sized to the tensor, the most the library may touch
    };

    StateCall state_call(const ModelOptimizer& o, bool reading) {
        StateCall c;
        c.id = pick_id(o.tensors.size());
        const std::uint8_t kind_choice = in_.byte();
        c.kind = kind_choice < 240 ? static_cast<std::int32_t>(kind_choice % 4) : in_.interesting_int32();
        const bool known = c.id < o.tensors.size();
        const std::uint64_t actual = known ? o.tensors[c.id].count : 16;
        switch (in_.byte()) {
            case 255: c.count = actual + 1; break;
            case 254: c.count = actual - 1; break;
            case 253: c.count = in_.u64(); break;
            default: c.count = actual; break;
        }
        c.null_buffer = in_.byte() >= 244;
        c.buffer.assign(static_cast<std::size_t>(actual), 0.0f);
        if (c.kind < NAB_STATE_FIRST_MOMENT || c.kind > NAB_STATE_MASTER_PARAMETERS || o.handle == nullptr || c.null_buffer) {
            c.expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (!known) {
            c.expected = NAB_STATUS_NOT_FOUND;
        } else if (c.count != actual) {
            c.expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (reading && c.kind == NAB_STATE_MAX_SECOND_MOMENT && !o.tensors[c.id].has_max) {
            c.expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (c.kind == NAB_STATE_MASTER_PARAMETERS) {
            c.expected = NAB_STATUS_INVALID_ARGUMENT;  // the model's tensors are float32: no master copies
        } else {
            c.expected = NAB_STATUS_OK;
        }
        if (o.handle == nullptr) c.expected = NAB_STATUS_INVALID_ARGUMENT;
        return c;
    }

    // The current contents of a state array the model says exists (empty if it does not).
    std::vector<float> current_state(const ModelOptimizer& o, std::uint32_t id, std::int32_t kind) {
        if (o.handle == nullptr || id >= o.tensors.size() || kind < 0 || kind > 2) return {};
        const ModelTensor& t = o.tensors[id];
        if (kind == NAB_STATE_MAX_SECOND_MOMENT && !t.has_max) return {};
        std::vector<float> values(static_cast<std::size_t>(t.count));
        expect_status(nab_optimizer_read_state(o.handle, id, kind, values.data(), t.count), NAB_STATUS_OK, "nab_optimizer_read_state");
        return values;
    }

    void read_state() {
        ModelOptimizer& o = pick_optimizer();
        StateCall c = state_call(o, true);
        for (std::size_t i = 0; i < c.buffer.size(); ++i) c.buffer[i] = static_cast<float>(i) + 0.5f;
        const std::vector<float> before = c.buffer;
        const nab_status status =
            nab_optimizer_read_state(o.handle, c.id, c.kind, c.null_buffer ? nullptr : c.buffer.data(), c.count);
        expect_status(status, c.expected, "nab_optimizer_read_state");
        if (status != NAB_STATUS_OK) {
            FUZZ_CHECK(c.buffer == before, "a failed nab_optimizer_read_state wrote the destination");
        }
    }

    void write_state() {
        ModelOptimizer& o = pick_optimizer();
        StateCall c = state_call(o, false);
        const float fill = in_.interesting_float();
        const bool ramp = (in_.byte() & 1) != 0;
        for (std::size_t i = 0; i < c.buffer.size(); ++i) c.buffer[i] = ramp ? fill * static_cast<float>(i % 7) : fill;
        const std::vector<float> before = current_state(o, c.id, c.kind);
        const nab_status status =
            nab_optimizer_write_state(o.handle, c.id, c.kind, c.null_buffer ? nullptr : c.buffer.data(), c.count);
        expect_status(status, c.expected, "nab_optimizer_write_state");
        if (status != NAB_STATUS_OK) {
            const std::vector<float> after = current_state(o, c.id, c.kind);
            FUZZ_CHECK(before.size() == after.size() &&
                           (before.empty() || std::memcmp(before.data(), after.data(), before.size() * sizeof(float)) == 0),
                       "a failed nab_optimizer_write_state changed the state");
            return;
        }
        if (c.kind == NAB_STATE_MAX_SECOND_MOMENT) o.tensors[c.id].has_max = true;
        o.tensors[c.id].clean = false;  // whatever the caller wrote
        const std::vector<float> after = current_state(o, c.id, c.kind);
        FUZZ_CHECK(after.size() == c.buffer.size(), "nab_optimizer_read_state after a write: wrong size");
        if (!o.tensors[c.id].eight_bit) {
            FUZZ_CHECK(std::memcmp(after.data(), c.buffer.data(), after.size() * sizeof(float)) == 0,
                       "nab_optimizer_read_state does not return what nab_optimizer_write_state wrote");
            return;
        }
        check_eight_bit_round_trip(c.buffer, after, c.kind);
    }

    // What writing float values to 8-bit state and reading them back gives, as the header states
    // it: per block of NAB_BLOCKWISE_8BIT_BLOCK_SIZE, a NaN or infinity makes the whole block NaN;
    // otherwise the block's largest magnitude comes back exactly (m with its sign, s and s_max as
    // their magnitudes), and every value within 1/15 of itself or, below the formats' ranges, of
    // the block's scale times 2^-18 (m) or 2^-31 (s and s_max, which never read back as 0 while the
    // block holds anything else).
    void check_eight_bit_round_trip(const std::vector<float>& written, const std::vector<float>& read, std::int32_t kind) {
        const bool is_signed = kind == NAB_STATE_FIRST_MOMENT;
        for (std::size_t begin = 0; begin < written.size(); begin += NAB_BLOCKWISE_8BIT_BLOCK_SIZE) {
            const std::size_t end = std::min<std::size_t>(written.size(), begin + NAB_BLOCKWISE_8BIT_BLOCK_SIZE);
            bool finite = true;
            double largest = 0.0;
            for (std::size_t i = begin; i < end; ++i) {
                finite = finite && std::isfinite(written[i]);
                largest = std::max(largest, std::fabs(static_cast<double>(written[i])));
            }
            const std::string where = "8-bit state element ";
            if (!finite) {
                for (std::size_t i = begin; i < end; ++i) FUZZ_CHECK(std::isnan(read[i]), where + std::to_string(i) + " of a block with a NaN or infinity");
                continue;
            }
            const double scale = std::max(largest, static_cast<double>(std::numeric_limits<float>::min()));
            const double floor = scale * (is_signed ? std::ldexp(1.0, -18) : std::ldexp(1.0, -31));
            for (std::size_t i = begin; i < end; ++i) {
                const double x = is_signed ? written[i] : std::fabs(static_cast<double>(written[i]));
                const double y = read[i];
                FUZZ_CHECK(std::fabs(y - x) <= std::fabs(x) / 15.0 + floor,
                           where + std::to_string(i) + " read back " + std::to_string(y) + " for " + std::to_string(x));
                if (!is_signed) FUZZ_CHECK(largest == 0.0 ? y == 0.0 : y > 0.0, where + std::to_string(i) + ": s read back as 0");
                if (std::fabs(x) == largest && largest >= std::numeric_limits<float>::min()) {
                    FUZZ_CHECK(y == x, where + std::to_string(i) + ": the block's largest value did not come back exactly");
                }
            }
        }
    }

    // nab_optimizer_read_state_codes, nab_optimizer_write_state_codes and nab_state_decode with
    // fuzzed arguments: the status the header specifies, nothing changed by a refusal, codes and
    // scales read back as written, and decoding them giving what nab_optimizer_read_state gives.
    void state_codes() {
        ModelOptimizer& o = pick_optimizer();
        const std::uint32_t id = pick_id(o.tensors.size());
        const std::uint8_t kind_choice = in_.byte();
        const std::int32_t kind = kind_choice < 240 ? static_cast<std::int32_t>(kind_choice % 4) : in_.interesting_int32();
        const bool known = id < o.tensors.size();
        const std::uint64_t actual = known ? o.tensors[id].count : 16;
        std::uint64_t count = actual, scales = scale_count(actual);
        const std::uint8_t spoil = in_.byte();
        if (spoil == 255) count = actual + 1;
        if (spoil == 254) scales = scales + 1;
        if (spoil == 253) scales = scales - 1;
        const bool null_codes = spoil == 252, null_scales = spoil == 251;
        std::vector<std::uint8_t> code_buffer(static_cast<std::size_t>(actual), 0x3c);
        std::vector<float> scale_buffer(static_cast<std::size_t>(scale_count(actual) + 1), 0.75f);
        const bool writing = (in_.byte() & 1) != 0;
        if (writing) {
            for (std::size_t i = 0; i < code_buffer.size(); ++i) code_buffer[i] = static_cast<std::uint8_t>(in_.byte() + i);
            for (float& x : scale_buffer) x = in_.interesting_float();
        }
        const bool scales_valid = std::all_of(scale_buffer.begin(), scale_buffer.begin() + static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(scales, scale_buffer.size())), [](float x) {
            return std::isnan(x) || (x == 0.0f && !std::signbit(x)) || (std::isfinite(x) && x >= std::numeric_limits<float>::min());
        });
        int expected = NAB_STATUS_OK;
        const bool kind_known = kind >= NAB_STATE_FIRST_MOMENT && kind <= NAB_STATE_MASTER_PARAMETERS;
        if (o.handle == nullptr || !kind_known || null_codes || null_scales) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (!known) {
            expected = NAB_STATUS_NOT_FOUND;
        } else if (count != actual || kind == NAB_STATE_MASTER_PARAMETERS || !o.tensors[id].eight_bit ||
                   scales != scale_count(actual) ||
                   (!writing && kind == NAB_STATE_MAX_SECOND_MOMENT && !o.tensors[id].has_max) || (writing && !scales_valid)) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        }
        const std::vector<float> before = current_state(o, id, kind);
        const std::vector<std::uint8_t> codes_before = code_buffer;
        const std::vector<float> scales_before = scale_buffer;
        const nab_status status =
            writing ? nab_optimizer_write_state_codes(o.handle, id, kind, null_codes ? nullptr : code_buffer.data(), count,
                                                      null_scales ? nullptr : scale_buffer.data(), scales)
                    : nab_optimizer_read_state_codes(o.handle, id, kind, null_codes ? nullptr : code_buffer.data(), count,
                                                     null_scales ? nullptr : scale_buffer.data(), scales);
        expect_status(status, expected, writing ? "nab_optimizer_write_state_codes" : "nab_optimizer_read_state_codes");
        if (status != NAB_STATUS_OK) {
            FUZZ_CHECK(code_buffer == codes_before && std::memcmp(scale_buffer.data(), scales_before.data(), scale_buffer.size() * sizeof(float)) == 0,
                       "a failed state-codes call wrote the caller's buffers");
            const std::vector<float> after = current_state(o, id, kind);
            FUZZ_CHECK(before.size() == after.size() &&
                           (before.empty() || std::memcmp(before.data(), after.data(), before.size() * sizeof(float)) == 0),
                       "a failed state-codes call changed the state");
            return;
        }
        if (writing && kind == NAB_STATE_MAX_SECOND_MOMENT) o.tensors[id].has_max = true;
        // Read back, decode, compare with the decoded state.
        std::vector<std::uint8_t> codes(static_cast<std::size_t>(actual));
        std::vector<float> read_scales(static_cast<std::size_t>(scale_count(actual)));
        expect_status(nab_optimizer_read_state_codes(o.handle, id, kind, codes.data(), actual, read_scales.data(), read_scales.size()),
                      NAB_STATUS_OK, "nab_optimizer_read_state_codes");
        if (writing) {
            FUZZ_CHECK(codes == code_buffer, "nab_optimizer_read_state_codes does not return the codes written");
            FUZZ_CHECK(std::memcmp(read_scales.data(), scale_buffer.data(), read_scales.size() * sizeof(float)) == 0,
                       "nab_optimizer_read_state_codes does not return the scales written");
        }
        std::vector<float> decoded(static_cast<std::size_t>(actual));
        expect_status(nab_state_decode(NAB_STATE_ENCODING_BLOCKWISE_8BIT, kind, codes.data(), actual, read_scales.data(),
                                       read_scales.size(), decoded.data()),
                      NAB_STATUS_OK, "nab_state_decode");
        const std::vector<float> state = current_state(o, id, kind);
        FUZZ_CHECK(std::memcmp(state.data(), decoded.data(), state.size() * sizeof(float)) == 0,
                   "nab_state_decode of the codes differs from nab_optimizer_read_state");
        expect_status(nab_state_decode(NAB_STATE_ENCODING_FLOAT32, kind, codes.data(), actual, read_scales.data(),
                                       read_scales.size(), decoded.data()),
                      NAB_STATUS_INVALID_ARGUMENT, "nab_state_decode(float32)");
        const char* name = nab_state_format_name(NAB_STATE_ENCODING_BLOCKWISE_8BIT, kind);
        FUZZ_CHECK(name != nullptr && name[0] != '\0', "nab_state_format_name of an 8-bit array");
    }

    void step(int repeat) {
        ModelOptimizer& o = pick_optimizer();
        for (int r = 0; r < repeat; ++r) {
            // A tensor to be stepped whose count is INT64_MAX cannot take t + 1: refused, nothing runs.
            bool at_limit = false;
            for (const ModelTensor& t : o.tensors) {
                at_limit = at_limit || (t.gradients != nullptr && t.step == std::numeric_limits<std::int64_t>::max());
            }
            // With skip_nonfinite on, one NaN or Inf in any registered gradient skips the whole step.
            std::uint64_t nonfinite = 0;
            for (const ModelTensor& t : o.tensors) {
                for (std::uint64_t i = 0; t.gradients != nullptr && i < t.count; ++i) {
                    nonfinite += std::isfinite(t.gradients[i]) ? 0u : 1u;
                }
            }
            const bool skipped = o.step_options.skip_nonfinite == 1 && nonfinite != 0;
            const std::vector<bool> must_stay_finite = tame_tensors(o);
            const nab_status status = nab_optimizer_step(o.handle);
            expect_status(status, o.handle == nullptr || at_limit ? NAB_STATUS_INVALID_ARGUMENT : NAB_STATUS_OK,
                          "nab_optimizer_step");
            if (status != NAB_STATUS_OK) return;
            ++o.step_calls;
            for (std::size_t id = 0; id < o.tensors.size(); ++id) {
                ModelTensor& t = o.tensors[id];
                if (t.gradients == nullptr || skipped) continue;
                ++t.step;
                if (must_stay_finite[id]) {
                    FUZZ_CHECK(moderate(t.parameters, t.count, std::numeric_limits<float>::max()),
                               "tensor " + std::to_string(id) + ": a step made a non-finite parameter from finite, "
                               "moderate gradients, parameters and state, with valid, moderate options");
                }
                t.clean = must_stay_finite[id];
            }
            nab_step_report report{};
            report.struct_size = sizeof report;
            expect_status(nab_optimizer_get_last_step_report(o.handle, &report), NAB_STATUS_OK,
                          "nab_optimizer_get_last_step_report");
            FUZZ_CHECK(report.step_calls == o.step_calls, "the step report's step_calls");
            FUZZ_CHECK(report.skipped == (skipped ? 1 : 0), "the step report's skipped flag");
            const bool checked = o.step_options.skip_nonfinite == 1 || o.step_options.max_gradient_norm > 0.0 ||
                                 o.step_options.compute_gradient_norm == 1;
            FUZZ_CHECK(report.gradients_checked == (checked ? 1 : 0), "the step report's gradients_checked");
            FUZZ_CHECK(report.nonfinite_count == (checked ? nonfinite : 0), "the step report's nonfinite_count");
        }
    }

    // Which tensors a step must keep finite: clean state, moderate options and buffers, no
    // buffer shared between tensors (a parameter updated in the step that is another tensor's
    // gradient would not be an input the model saw), and no NaN in any tensor's gradients when
    // the step clips without skipping: the global norm is then NaN, and so is the coefficient
    // every tensor's gradients are multiplied by (PyTorch's clip_grad_norm_ rule,
    // docs/mixed-precision.md). An infinity makes the coefficient 0, which keeps them finite.
    std::vector<bool> tame_tensors(const ModelOptimizer& o) const {
        std::vector<bool> tame(o.tensors.size(), false);
        if (o.handle == nullptr || o.step_options.inverse_gradient_scale > 65536.0) return tame;
        if (o.step_options.max_gradient_norm > 0.0 && o.step_options.skip_nonfinite == 0) {
            for (const ModelTensor& t : o.tensors) {
                for (std::uint64_t i = 0; t.gradients != nullptr && i < t.count; ++i) {
                    if (std::isnan(t.gradients[i])) return tame;
                }
            }
        }
        for (std::size_t a = 0; a < o.tensors.size(); ++a) {
            for (std::size_t b = 0; b < o.tensors.size(); ++b) {
                const ModelTensor &x = o.tensors[a], &y = o.tensors[b];
                if ((a != b && (overlaps(x.parameters, y.parameters, std::max(x.count, y.count)) ||
                                overlaps(x.gradients, y.gradients, std::max(x.count, y.count)))) ||
                    overlaps(x.parameters, y.gradients, std::max(x.count, y.count))) {
                    return tame;  // shared memory: no promise about what a step reads
                }
            }
        }
        for (std::size_t id = 0; id < o.tensors.size(); ++id) {
            const ModelTensor& t = o.tensors[id];
            tame[id] = t.clean && t.gradients != nullptr && tame_options(o.groups[t.group]) &&
                       moderate(t.gradients, t.count, kModerateGradient) && moderate(t.parameters, t.count, kModerateParameter);
        }
        return tame;
    }

    void zero_gradients() {
        ModelOptimizer& o = pick_optimizer();
        const nab_status status = nab_optimizer_zero_gradients(o.handle);
        expect_status(status, o.handle == nullptr ? NAB_STATUS_INVALID_ARGUMENT : NAB_STATUS_OK, "nab_optimizer_zero_gradients");
        if (status != NAB_STATUS_OK) return;
        for (const ModelTensor& t : o.tensors) {
            if (t.gradients == nullptr) continue;
            for (std::uint64_t i = 0; i < t.count; ++i) {
                std::uint32_t bits;
                std::memcpy(&bits, t.gradients + i, sizeof bits);
                FUZZ_CHECK(bits == 0, "nab_optimizer_zero_gradients left a gradient element that is not +0");
            }
        }
    }

    void count_nonfinite() {
        ModelOptimizer& o = pick_optimizer();
        const bool null_out = in_.byte() >= 240;
        std::uint64_t count = 0xfeedfacecafebeefu;
        const nab_status status = nab_optimizer_count_nonfinite_gradients(o.handle, null_out ? nullptr : &count);
        expect_status(status, o.handle == nullptr || null_out ? NAB_STATUS_INVALID_ARGUMENT : NAB_STATUS_OK,
                      "nab_optimizer_count_nonfinite_gradients");
        if (status != NAB_STATUS_OK) {
            FUZZ_CHECK(count == 0xfeedfacecafebeefu, "a failed nab_optimizer_count_nonfinite_gradients wrote *out_count");
            return;
        }
        std::uint64_t expected = 0;
        for (const ModelTensor& t : o.tensors) {
            if (t.gradients == nullptr) continue;
            for (std::uint64_t i = 0; i < t.count; ++i) expected += std::isfinite(t.gradients[i]) ? 0 : 1;
        }
        FUZZ_CHECK(count == expected, "nab_optimizer_count_nonfinite_gradients counted " + std::to_string(count) +
                                          ", the gradients hold " + std::to_string(expected));
    }

    void set_thread_count() {
        ModelOptimizer& o = pick_optimizer();
        const std::uint8_t choice = in_.byte();
        const std::int32_t threads = choice < 240 ? static_cast<std::int32_t>(choice % 5) : -static_cast<std::int32_t>(choice % 3) - 1;
        const int expected = o.handle == nullptr || threads < 0 ? NAB_STATUS_INVALID_ARGUMENT : NAB_STATUS_OK;
        const nab_status status = nab_optimizer_set_thread_count(o.handle, threads);
        expect_status(status, expected, "nab_optimizer_set_thread_count");
        if (status == NAB_STATUS_OK) o.thread_count = threads == 0 ? hardware_threads_ : threads;
    }

    void set_simd_level() {
        ModelOptimizer& o = pick_optimizer();
        const std::uint8_t choice = in_.byte();
        const std::int32_t level = choice < 240 ? static_cast<std::int32_t>(choice % 6) : in_.interesting_int32();
        int expected = NAB_STATUS_OK;
        if (o.handle == nullptr || level < NAB_SIMD_AUTO || level > NAB_SIMD_AVX512_BF16) {
            expected = NAB_STATUS_INVALID_ARGUMENT;
        } else if (level != NAB_SIMD_AUTO && !cpu_runs(level)) {
            expected = NAB_STATUS_UNSUPPORTED;
        }
        const nab_status status = nab_optimizer_set_simd_level(o.handle, level);
        expect_status(status, expected, "nab_optimizer_set_simd_level");
        if (status == NAB_STATUS_OK) o.simd_level = level == NAB_SIMD_AUTO ? best_simd_ : level;
    }

    void misc_optimizer_calls() {
        ModelOptimizer& o = pick_optimizer();
        const int null_optimizer = o.handle == nullptr ? NAB_STATUS_INVALID_ARGUMENT : NAB_STATUS_OK;
        switch (in_.byte() % 6) {
            case 0:
                expect_status(nab_optimizer_synchronize(o.handle), null_optimizer, "nab_optimizer_synchronize");
                break;
            case 1: {
                // A CPU optimizer has no CUDA stream.
                void* stream = reinterpret_cast<void*>(static_cast<std::uintptr_t>(in_.u64()));
                expect_status(nab_optimizer_set_cuda_stream(o.handle, stream), NAB_STATUS_INVALID_ARGUMENT,
                              "nab_optimizer_set_cuda_stream");
                break;
            }
            case 2:
                expect_status(nab_optimizer_get_thread_count(o.handle, nullptr), NAB_STATUS_INVALID_ARGUMENT,
                              "nab_optimizer_get_thread_count(null)");
                expect_status(nab_optimizer_get_simd_level(o.handle, nullptr), NAB_STATUS_INVALID_ARGUMENT,
                              "nab_optimizer_get_simd_level(null)");
                break;
            case 3:
                expect_status(nab_optimizer_get_group_count(o.handle, nullptr), NAB_STATUS_INVALID_ARGUMENT,
                              "nab_optimizer_get_group_count(null)");
                expect_status(nab_optimizer_get_tensor_count(o.handle, nullptr), NAB_STATUS_INVALID_ARGUMENT,
                              "nab_optimizer_get_tensor_count(null)");
                // The model's tensors are float32: none has a master copy to re-initialise.
                expect_status(nab_optimizer_initialize_master_parameters(o.handle, 0),
                              o.handle == nullptr || !o.tensors.empty() ? NAB_STATUS_INVALID_ARGUMENT : NAB_STATUS_NOT_FOUND,
                              "nab_optimizer_initialize_master_parameters");
                expect_status(nab_optimizer_initialize_master_parameters(o.handle, static_cast<std::uint32_t>(o.tensors.size())),
                              o.handle == nullptr ? NAB_STATUS_INVALID_ARGUMENT : NAB_STATUS_NOT_FOUND,
                              "nab_optimizer_initialize_master_parameters(unknown id)");
                break;
            case 4: {
                // Destroy then keep using a fresh one in the same slot: handles are independent.
                expect_status(nab_optimizer_destroy(o.handle), NAB_STATUS_OK, "nab_optimizer_destroy");
                o = ModelOptimizer{};
                nab_optimizer_config config;
                expect_status(nab_optimizer_config_init(&config), NAB_STATUS_OK, "nab_optimizer_config_init");
                config.thread_count = 1;
                nab_optimizer* created = nullptr;
                expect_status(nab_optimizer_create(&config, &created), NAB_STATUS_OK, "nab_optimizer_create");
                o.handle = created;
                o.thread_count = 1;
                o.simd_level = best_simd_;
                break;
            }
            default: {
                nab_optimizer_config config;
                expect_status(nab_optimizer_config_init(&config), NAB_STATUS_OK, "nab_optimizer_config_init");
                FUZZ_CHECK(config.struct_size == sizeof config && config.device_type == NAB_DEVICE_CPU &&
                               config.device_ordinal == 0 && config.thread_count == 0 && config.simd_level == NAB_SIMD_AUTO,
                           "nab_optimizer_config_init defaults");
                break;
            }
        }
    }

    void allocate_buffer() {
        const std::uint8_t how = in_.byte();
        if (buffers_.size() >= kMaxBuffers) return;
        if (how < 96) {
            const std::size_t count = 1 + static_cast<std::size_t>(in_.below(kMaxBufferElements));
            if (pool_elements() + count <= kMaxPoolElements) add_host_buffer(count);
            return;
        }
        std::uint64_t count = 0;
        int expected = NAB_STATUS_OK;
        switch (how % 6) {
            case 0: count = 0; expected = NAB_STATUS_INVALID_ARGUMENT; break;
            case 1: count = kCountLimit + 1 + in_.below(1000); expected = NAB_STATUS_INVALID_ARGUMENT; break;
            case 2: count = kUnallocatableCount + in_.below(kCountLimit - kUnallocatableCount + 1); expected = NAB_STATUS_OUT_OF_MEMORY; break;
            default: count = 1 + in_.below(kMaxBufferElements); break;
        }
        if (expected == NAB_STATUS_OK && pool_elements() + count > kMaxPoolElements) return;
        const bool null_out = in_.byte() >= 248;
        if (null_out) expected = NAB_STATUS_INVALID_ARGUMENT;
        float* data = reinterpret_cast<float*>(std::uintptr_t{0x40});
        const nab_status status = nab_buffer_allocate(NAB_DTYPE_FLOAT32, count, null_out ? nullptr : reinterpret_cast<void**>(&data));
        expect_status(status, expected, "nab_buffer_allocate");
        if (status != NAB_STATUS_OK) {
            if (!null_out) FUZZ_CHECK(data == nullptr, "a failed nab_buffer_allocate left *out_data non-null");
            return;
        }
        FUZZ_CHECK(reinterpret_cast<std::uintptr_t>(data) % 64 == 0, "nab_buffer_allocate: not 64-byte aligned");
        for (std::uint64_t i = 0; i < count; ++i) FUZZ_CHECK(data[i] == 0.0f, "nab_buffer_allocate: not zeroed");
        Buffer b;
        b.data = data;
        b.count = static_cast<std::size_t>(count);
        b.native = true;
        buffers_.push_back(std::move(b));
    }

    void free_buffer() {
        const std::uint8_t how = in_.byte();
        if (how >= 240) {
            expect_status(nab_buffer_free(nullptr), NAB_STATUS_OK, "nab_buffer_free(null)");
            return;
        }
        // Only a buffer no live optimizer still points into may go (the ABI's rule).
        for (std::size_t attempt = 0; attempt < buffers_.size(); ++attempt) {
            const std::size_t index = (how + attempt) % buffers_.size();
            if (registered(buffers_[index])) continue;
            float* const data = buffers_[index].data;
            if (buffers_[index].native) {
                expect_status(nab_buffer_free(data), NAB_STATUS_OK, "nab_buffer_free");
                // Freed now: a second free is refused (the allocator is never asked twice).
                expect_status(nab_buffer_free(data), NAB_STATUS_INVALID_ARGUMENT, "nab_buffer_free(freed)");
            } else {
                expect_status(nab_buffer_free(data), NAB_STATUS_INVALID_ARGUMENT, "nab_buffer_free(not ours)");
            }
            buffers_.erase(buffers_.begin() + static_cast<std::ptrdiff_t>(index));
            return;
        }
    }

    void fill_buffer() {
        if (buffers_.empty()) return;
        Buffer& b = buffers_[in_.below(buffers_.size())];
        const std::size_t begin = static_cast<std::size_t>(in_.below(b.count));
        const std::size_t length = std::min<std::size_t>(b.count - begin, 1 + static_cast<std::size_t>(in_.below(b.count)));
        const float value = in_.interesting_float();
        const std::uint8_t pattern = in_.byte() % 4;
        std::uint32_t state = in_.u32() | 1u;
        const std::size_t stride = 1 + static_cast<std::size_t>(in_.below(64));
        for (std::size_t i = begin; i < begin + length; ++i) {
            switch (pattern) {
                case 0: b.data[i] = value; break;
                case 1: b.data[i] = value * static_cast<float>(static_cast<int>(i % 17) - 8); break;
                case 2: {
                    state = state * 1664525u + 1013904223u;  // a cheap generator: values of every magnitude
                    b.data[i] = value * (static_cast<float>(state >> 8) * (1.0f / 8388608.0f) - 1.0f);
                    break;
                }
                default:
                    if (i % stride == 0) b.data[i] = value;  // a sprinkling (e.g. a few NaNs)
                    break;
            }
        }
    }

    void library_calls() {
        switch (in_.byte() % 8) {
            case 0: {
                FuzzedOptions options = fuzzed_options();
                expect_status(nab_group_options_validate(&options.caller.value()),
                              options.valid() ? NAB_STATUS_OK : NAB_STATUS_INVALID_ARGUMENT, "nab_group_options_validate");
                expect_status(nab_group_options_validate(nullptr), NAB_STATUS_INVALID_ARGUMENT, "nab_group_options_validate(null)");
                break;
            }
            case 1: {
                nab_group_options options;
                std::memset(&options, 0x77, sizeof options);
                const nab_group_options before = options;
                const std::int32_t compatibility = in_.interesting_int32();
                const bool known = compatibility == NAB_COMPATIBILITY_LABML || compatibility == NAB_COMPATIBILITY_ADABELIEF_PYTORCH;
                const nab_status status = nab_group_options_init(&options, compatibility);
                expect_status(status, known ? NAB_STATUS_OK : NAB_STATUS_INVALID_ARGUMENT, "nab_group_options_init");
                if (status == NAB_STATUS_OK) {
                    FUZZ_CHECK(options_valid(options), "nab_group_options_init produced invalid defaults");
                } else {
                    FUZZ_CHECK(std::memcmp(&options, &before, sizeof options) == 0, "a failed nab_group_options_init wrote");
                }
                expect_status(nab_group_options_init(nullptr, NAB_COMPATIBILITY_LABML), NAB_STATUS_INVALID_ARGUMENT,
                              "nab_group_options_init(null)");
                break;
            }
            case 2:
                expect_status(nab_optimizer_config_init(nullptr), NAB_STATUS_INVALID_ARGUMENT, "nab_optimizer_config_init(null)");
                expect_status(nab_cpu_get_best_simd_level(nullptr), NAB_STATUS_INVALID_ARGUMENT, "nab_cpu_get_best_simd_level(null)");
                expect_status(nab_get_allocated_bytes(nullptr), NAB_STATUS_INVALID_ARGUMENT, "nab_get_allocated_bytes(null)");
                expect_status(nab_cuda_get_device_count(nullptr), NAB_STATUS_INVALID_ARGUMENT, "nab_cuda_get_device_count(null)");
                break;
            case 3: {
                FUZZ_CHECK(nab_get_abi_version() == NAB_ABI_VERSION, "ABI version");
                const char* version = nab_get_version_string();
                FUZZ_CHECK(version != nullptr && version[0] != '\0', "version string");
                FUZZ_CHECK(nab_get_last_error() != nullptr, "last error is null");
                break;
            }
            case 4: {
                if (cuda_devices_ > 0) break;  // host pointers must not reach a real device
                float* data = reinterpret_cast<float*>(std::uintptr_t{0x40});
                const std::uint64_t count = (in_.byte() & 1) != 0 ? 0 : 1 + in_.below(1000);
                expect_status(nab_cuda_buffer_allocate(in_.interesting_int32(), NAB_DTYPE_FLOAT32, count, reinterpret_cast<void**>(&data)), kAnyError, "nab_cuda_buffer_allocate");
                FUZZ_CHECK(data == nullptr, "a failed nab_cuda_buffer_allocate left *out_data non-null");
                expect_status(nab_cuda_buffer_allocate(0, NAB_DTYPE_FLOAT32, 16, nullptr), NAB_STATUS_INVALID_ARGUMENT, "nab_cuda_buffer_allocate(null)");
                expect_status(nab_cuda_buffer_free(nullptr), NAB_STATUS_OK, "nab_cuda_buffer_free(null)");
                break;
            }
            case 5: {
                if (cuda_devices_ > 0 || buffers_.size() < 2) break;
                float* a = buffers_[0].data;
                float* b = buffers_[1].data;
                const std::uint64_t count = std::min(buffers_[0].count, buffers_[1].count);
                const std::uint64_t bytes = count * sizeof(float);
                expect_status(nab_cuda_copy_to_device(a, b, bytes), kAnyError, "nab_cuda_copy_to_device");
                expect_status(nab_cuda_copy_to_host(a, b, bytes), kAnyError, "nab_cuda_copy_to_host");
                expect_status(nab_cuda_copy_to_device(nullptr, b, bytes), NAB_STATUS_INVALID_ARGUMENT, "nab_cuda_copy_to_device(null)");
                expect_status(nab_cuda_copy_to_host(a, nullptr, bytes), NAB_STATUS_INVALID_ARGUMENT, "nab_cuda_copy_to_host(null)");
                break;
            }
            case 6: {
                std::int32_t devices = -1;
                expect_status(nab_cuda_get_device_count(&devices), NAB_STATUS_OK, "nab_cuda_get_device_count");
                FUZZ_CHECK(devices == cuda_devices_, "device count changed");
                std::int32_t best = -1;
                expect_status(nab_cpu_get_best_simd_level(&best), NAB_STATUS_OK, "nab_cpu_get_best_simd_level");
                FUZZ_CHECK(best == best_simd_ && best != NAB_SIMD_AUTO, "best SIMD level");
                break;
            }
            default: {
                // Destroying null is accepted and does nothing.
                expect_status(nab_optimizer_destroy(nullptr), NAB_STATUS_OK, "nab_optimizer_destroy(null)");
                break;
            }
        }
    }

    Input& in_;
    ModelOptimizer optimizers_[kMaxOptimizers];
    std::vector<Buffer> buffers_;
    std::uint64_t baseline_bytes_ = 0;
    std::int32_t best_simd_ = NAB_SIMD_SCALAR;
    // Whether this CPU runs a named SIMD level (not AUTO). The levels are names, not a ranking:
    // x86-64 runs SCALAR and the AVX levels up to its best (in the order AVX2, AVX512,
    // AVX512_BF16), arm64 SCALAR and NEON.
    bool cpu_runs(std::int32_t level) const {
        if (level == NAB_SIMD_SCALAR) return true;
        if (best_simd_ == NAB_SIMD_NEON) return level == NAB_SIMD_NEON;
        const auto rank = [](std::int32_t l) {
            return l == NAB_SIMD_AVX2 ? 1 : l == NAB_SIMD_AVX512 ? 2 : l == NAB_SIMD_AVX512_BF16 ? 3 : 0;
        };
        return rank(level) != 0 && rank(level) <= rank(best_simd_);
    }
    std::int32_t cuda_devices_ = 0;
    std::int32_t hardware_threads_ = 1;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Input input(data, size);
    Harness harness(input);
    harness.run();
    return 0;
}
