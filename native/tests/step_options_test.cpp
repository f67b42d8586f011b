// nab_step_options and nab_step_report: validation, the inverse gradient scale, clipping by the
// global L2 norm, skipping steps with non-finite gradients, the determinism of the reported
// norm, and step_calls. No expected value comes from the library: norms are recomputed here in
// double, and "the step scaled the gradients by f" is checked against a second optimizer fed
// gradients this file multiplied by (float)f (the step multiplies each element by the
// float32-rounded factor first, core/update_math.h, so the two must agree bit for bit).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "native_adabelief.h"
#include "support/sixteen_bit.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int32_t kF32 = NAB_DTYPE_FLOAT32, kF16 = NAB_DTYPE_FLOAT16, kBF16 = NAB_DTYPE_BFLOAT16;

// ---- caller buffers of any dtype (16-bit conversions: support/sixteen_bit.h) -------------

float widen16(uint16_t bits, int32_t dtype) { return static_cast<float>(decode_sixteen_bit(bits, nab_dtype(dtype))); }

// A random finite value of about `scale` that `dtype` holds exactly.
float random_value(Random& random, int32_t dtype, double scale) {
    const double value = random.normal() * scale;
    return dtype == kF32 ? static_cast<float>(value) : widen16(encode_sixteen_bit(value, nab_dtype(dtype)), dtype);
}

// A caller buffer of one dtype; value(i) is what element i holds, widened to float32.
class Buffer {
public:
    Buffer(int32_t dtype, std::size_t count) : dtype_(dtype), wide_(dtype == kF32 ? count : 0), narrow_(dtype == kF32 ? 0 : count) {}
    void set(std::size_t i, float value) {  // value must be exact in the dtype
        if (dtype_ == kF32) wide_[i] = value;
        if (dtype_ != kF32 && widen16(narrow_[i] = encode_sixteen_bit(value, nab_dtype(dtype_)), dtype_) != value) {
            ADD_FAILURE() << value << " is not exact in dtype " << dtype_;
        }
    }
    void set_bits(std::size_t i, uint16_t bits) { narrow_[i] = bits; }
    float value(std::size_t i) const { return dtype_ == kF32 ? wide_[i] : widen16(narrow_[i], dtype_); }
    void* data() { return dtype_ == kF32 ? static_cast<void*>(wide_.data()) : static_cast<void*>(narrow_.data()); }
    int32_t dtype() const { return dtype_; }
    std::size_t size() const { return dtype_ == kF32 ? wide_.size() : narrow_.size(); }
    std::string bytes() const {
        return dtype_ == kF32 ? std::string(reinterpret_cast<const char*>(wide_.data()), wide_.size() * 4)
                              : std::string(reinterpret_cast<const char*>(narrow_.data()), narrow_.size() * 2);
    }

private:
    int32_t dtype_;
    std::vector<float> wide_;
    std::vector<uint16_t> narrow_;
};

// ---- problems ------------------------------------------------------------------------------

struct TensorSpec {
    uint32_t group;
    std::size_t count;
    int32_t parameter_dtype, gradient_dtype, master;
};
struct Layout {
    std::vector<nab_group_options> groups;
    std::vector<TensorSpec> specs;
    std::vector<std::vector<float>> initial;  // exact in each tensor's parameter dtype
};

// Two groups (labml + L2 decay + amsgrad; adabelief-pytorch + decoupled decay) and five tensors
// of random sizes (all but one not multiples of 16, so SIMD tails run): float32 data, bfloat16
// gradients, float16 parameters and gradients with a master copy, bfloat16 parameters without.
Layout random_layout(Random& random) {
    Layout layout;
    nab_group_options a = default_options(NAB_COMPATIBILITY_LABML), b = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
    a.weight_decay = 0.01;
    a.weight_decay_mode = NAB_WEIGHT_DECAY_L2;
    a.amsgrad = 1;
    b.weight_decay = 0.05;
    layout.groups = {a, b};
    auto size = [&](int64_t tail) { return static_cast<std::size_t>(16 * random.integer(1, 150) + tail); };
    layout.specs = {{0, size(random.integer(1, 15)), kF32, kF32, 0}, {1, size(0), kF32, kF32, 0},
                    {0, size(random.integer(1, 15)), kF32, kBF16, 0}, {1, size(random.integer(1, 15)), kF16, kF16, 1},
                    {0, size(random.integer(1, 15)), kBF16, kF32, 0}};
    for (const TensorSpec& spec : layout.specs) {
        layout.initial.emplace_back(spec.count);
        for (float& v : layout.initial.back()) v = random_value(random, spec.parameter_dtype, 1.0);
    }
    return layout;
}

// The same layout with float32 gradients: for a twin fed pre-multiplied (inexact in 16 bits) ones.
Layout with_float32_gradients(Layout layout) {
    for (TensorSpec& spec : layout.specs) spec.gradient_dtype = kF32;
    return layout;
}

struct Problem {
    OptimizerPtr optimizer;
    std::vector<Buffer> parameters, gradients;
    nab_optimizer* get() const { return optimizer.get(); }
};

Problem make_problem(const Layout& layout, int32_t threads = 2, int32_t simd = NAB_SIMD_AUTO) {
    Problem p;
    p.optimizer = make_optimizer(threads, simd);
    if (!p.optimizer) return p;
    uint32_t id = 0;
    for (const nab_group_options& g : layout.groups) NAB_EXPECT_OK(nab_optimizer_add_group(p.get(), &g, &id));
    p.parameters.reserve(layout.specs.size());  // the optimizer keeps pointers into these
    p.gradients.reserve(layout.specs.size());
    for (std::size_t t = 0; t < layout.specs.size(); ++t) {
        const TensorSpec& spec = layout.specs[t];
        p.parameters.emplace_back(spec.parameter_dtype, spec.count);
        p.gradients.emplace_back(spec.gradient_dtype, spec.count);
        for (std::size_t i = 0; i < spec.count; ++i) p.parameters[t].set(i, layout.initial[t][i]);
        const nab_tensor_desc d{uint32_t{sizeof(nab_tensor_desc)}, spec.group, spec.count, p.parameters[t].data(),
                                p.gradients[t].data(), spec.parameter_dtype, spec.gradient_dtype, spec.master, 0};
        NAB_EXPECT_OK(nab_optimizer_add_tensor(p.get(), &d, &id));
    }
    return p;
}

// Fresh random gradients, each tensor at its own scale (10^-3 .. 10^0.5).
void fill_gradients(Random& random, Problem& p) {
    for (Buffer& g : p.gradients) {
        const double scale = std::pow(10.0, random.uniform(-3.0, 0.5));
        for (std::size_t i = 0; i < g.size(); ++i) g.set(i, random_value(random, g.dtype(), scale));
    }
}

// to.gradients = from.gradients * factor, multiplied in float32 here.
void copy_scaled_gradients(const Problem& from, Problem& to, float factor) {
    for (std::size_t t = 0; t < from.gradients.size(); ++t) {
        for (std::size_t i = 0; i < from.gradients[t].size(); ++i) to.gradients[t].set(i, from.gradients[t].value(i) * factor);
    }
}

// sqrt(sum g^2) over every gradient element, in double (before any inverse scale).
double raw_norm(const Problem& p) {
    double sum = 0.0;
    for (const Buffer& g : p.gradients) {
        for (std::size_t i = 0; i < g.size(); ++i) sum += static_cast<double>(g.value(i)) * g.value(i);
    }
    return std::sqrt(sum);
}

// Everything a step may change, as labelled raw bytes: parameters, step count, m, s, and s_max
// and the master copy where they exist.
using Capture = std::vector<std::pair<std::string, std::string>>;
Capture capture(const Problem& p) {
    Capture out;
    for (uint32_t t = 0; t < p.parameters.size(); ++t) {
        const std::string name = "tensor " + std::to_string(t) + " ";
        const nab_tensor_info info = tensor_info(p.get(), t);
        out.emplace_back(name + "parameters", p.parameters[t].bytes());
        out.emplace_back(name + "step", std::to_string(info.step));
        std::vector<int32_t> kinds = {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT};
        if (info.has_max_second_moment) kinds.push_back(NAB_STATE_MAX_SECOND_MOMENT);
        if (info.has_master_parameters) kinds.push_back(NAB_STATE_MASTER_PARAMETERS);
        for (int32_t kind : kinds) {
            const std::vector<float> v = read_state(p.get(), t, kind);
            out.emplace_back(name + "state " + std::to_string(kind), std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
        }
    }
    return out;
}
// "" when bit-identical, else the label of the first difference.
std::string first_difference(const Capture& a, const Capture& b) {
    if (a.size() != b.size()) return "a different set of arrays";
    for (std::size_t k = 0; k < a.size(); ++k) {
        if (a[k] != b[k]) return a[k].first;
    }
    return "";
}

// ---- step options and reports --------------------------------------------------------------

nab_step_options step_options(int32_t skip, double inverse_scale, double max_norm, int32_t compute) {
    nab_step_options o;
    EXPECT_EQ(nab_step_options_init(&o), NAB_STATUS_OK) << nab_get_last_error();
    o.skip_nonfinite = skip;
    o.inverse_gradient_scale = inverse_scale;
    o.max_gradient_norm = max_norm;
    o.compute_gradient_norm = compute;
    return o;
}
void set_options(nab_optimizer* optimizer, int32_t skip, double inverse_scale, double max_norm, int32_t compute) {
    const nab_step_options o = step_options(skip, inverse_scale, max_norm, compute);
    NAB_EXPECT_OK(nab_optimizer_set_step_options(optimizer, &o));
}
nab_step_options current_options(nab_optimizer* optimizer) {
    nab_step_options o;
    std::memset(&o, 0x5a, sizeof o);
    o.struct_size = sizeof o;
    NAB_EXPECT_OK(nab_optimizer_get_step_options(optimizer, &o));
    return o;
}
bool same_step_options(const nab_step_options& a, const nab_step_options& b) { return std::memcmp(&a, &b, sizeof a) == 0; }
nab_step_report last_report(nab_optimizer* optimizer) {
    nab_step_report r;
    std::memset(&r, 0x5a, sizeof r);  // every field must be written
    r.struct_size = sizeof r;
    NAB_EXPECT_OK(nab_optimizer_get_last_step_report(optimizer, &r));
    return r;
}
void expect_report(const nab_step_report& r, int32_t checked, int32_t skipped, uint64_t nonfinite, uint64_t calls) {
    EXPECT_EQ(r.gradients_checked, checked);
    EXPECT_EQ(r.skipped, skipped);
    EXPECT_EQ(r.nonfinite_count, nonfinite);
    EXPECT_EQ(r.step_calls, calls);
    EXPECT_EQ(r.step_count_exhausted, 0);  // a CPU step refuses an exhausted count instead
}
void expect_message(const std::vector<std::string>& texts, const std::string& what) {
    const std::string message = nab_get_last_error();
    for (const std::string& text : texts) EXPECT_TRUE(contains_text(message, text)) << what << ": \"" << message << "\" lacks " << text;
}

// ---- 1. validation -------------------------------------------------------------------------

TEST(StepOptionsTest, DefaultsValidationAndTheReportBeforeAnyStep) {
    nab_step_options defaults;
    std::memset(&defaults, 0x5a, sizeof defaults);
    NAB_ASSERT_OK(nab_step_options_init(&defaults));
    nab_step_options expected{};  // skip 0, scale 1, no clipping, no norm, reserved 0
    expected.struct_size = sizeof expected;
    expected.inverse_gradient_scale = 1.0;
    EXPECT_TRUE(same_step_options(defaults, expected));
    EXPECT_EQ(nab_step_options_init(nullptr), NAB_STATUS_INVALID_ARGUMENT);

    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    nab_optimizer* opt = optimizer.get();
    EXPECT_TRUE(same_step_options(current_options(opt), defaults));
    // Valid extremes; then a non-default set that every refusal must leave in force.
    set_options(opt, 1, 1e-44, 0.0, 1);
    set_options(opt, 0, 3e38, 1e300, 0);
    const nab_step_options accepted = step_options(1, 0.25, 2.5, 1);
    NAB_ASSERT_OK(nab_optimizer_set_step_options(opt, &accepted));
    EXPECT_TRUE(same_step_options(current_options(opt), accepted));

    struct Bad {
        std::string field, value;
        void (*spoil)(nab_step_options&);
    };
#define NAB_BAD(member, v, text) Bad{#member, text, [](nab_step_options& o) { o.member = v; }}
    const std::vector<Bad> cases = {
        NAB_BAD(inverse_gradient_scale, 0.0, "0"), NAB_BAD(inverse_gradient_scale, -1.0, "-1"),
        NAB_BAD(inverse_gradient_scale, kNaN, "nan"), NAB_BAD(inverse_gradient_scale, kInf, "inf"),
        // Valid doubles that a float32 turns into 0 or infinity (the step multiplies in float32).
        NAB_BAD(inverse_gradient_scale, 1e-46, "1e-46"), NAB_BAD(inverse_gradient_scale, 1e39, "1e+39"),
        NAB_BAD(max_gradient_norm, -1.0, "-1"), NAB_BAD(max_gradient_norm, kNaN, "nan"),
        NAB_BAD(max_gradient_norm, kInf, "inf"), NAB_BAD(skip_nonfinite, 2, "2"), NAB_BAD(skip_nonfinite, -1, "-1"),
        NAB_BAD(compute_gradient_norm, 2, "2"), NAB_BAD(compute_gradient_norm, -1, "-1"), NAB_BAD(reserved, 1, "1"),
        NAB_BAD(struct_size, 0u, "0"),
        NAB_BAD(struct_size, 12u, "12"),  // ends inside inverse_gradient_scale
    };
#undef NAB_BAD
    for (const Bad& c : cases) {
        SCOPED_TRACE(c.field + " = " + c.value);
        nab_step_options bad = step_options(0, 1.0, 0.0, 0);
        c.spoil(bad);
        EXPECT_EQ(nab_optimizer_set_step_options(opt, &bad), NAB_STATUS_INVALID_ARGUMENT);
        expect_message({c.field, c.value}, "set_step_options");
        EXPECT_TRUE(same_step_options(current_options(opt), accepted)) << "a refusal changed the options";
    }
    EXPECT_EQ(nab_optimizer_set_step_options(opt, nullptr), NAB_STATUS_INVALID_ARGUMENT);
    expect_message({"options", "null"}, "null options");
    EXPECT_EQ(nab_optimizer_set_step_options(nullptr, &accepted), NAB_STATUS_INVALID_ARGUMENT);
    expect_message({"optimizer", "null"}, "null optimizer");
    EXPECT_TRUE(same_step_options(current_options(opt), accepted));

    // The getters: null and wrong struct sizes.
    nab_step_options out_options = defaults;
    EXPECT_EQ(nab_optimizer_get_step_options(opt, nullptr), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(nab_optimizer_get_step_options(nullptr, &out_options), NAB_STATUS_INVALID_ARGUMENT);
    nab_step_report report{};
    // Too small to hold struct_size, or ending inside a field (max_gradient_norm of the options,
    // nonfinite_count of the report).
    for (uint32_t size : {0u, 2u, 20u}) {
        out_options.struct_size = size;
        EXPECT_EQ(nab_optimizer_get_step_options(opt, &out_options), NAB_STATUS_INVALID_ARGUMENT);
        report.struct_size = size;
        EXPECT_EQ(nab_optimizer_get_last_step_report(opt, &report), NAB_STATUS_INVALID_ARGUMENT);
        expect_message({"struct_size", std::to_string(size)}, "get_last_step_report");
    }
    EXPECT_EQ(nab_optimizer_get_last_step_report(opt, nullptr), NAB_STATUS_INVALID_ARGUMENT);
    expect_message({"out_report"}, "null report");
    report.struct_size = sizeof report;
    EXPECT_EQ(nab_optimizer_get_last_step_report(nullptr, &report), NAB_STATUS_INVALID_ARGUMENT);

    // Before any step (even with options set): nothing checked, scale 1, no calls.
    const nab_step_report before = last_report(opt);
    expect_report(before, 0, 0, 0, 0);
    EXPECT_TRUE(std::isnan(before.gradient_norm)) << before.gradient_norm;
    EXPECT_EQ(before.gradient_scale, 1.0);
}

// ---- 2. the inverse gradient scale ----------------------------------------------------------

// A is fed gradients g with inverse scale f; B plain float32 gradients (float)f * g. With
// f = 1/1024 this is undoing a loss scale of 1024 (exact: A's g are B's times 1024); with
// f = 1/3 it shows the factor is applied rounded to float32. Both must stay bit-identical.
TEST(StepOptionsTest, InverseScaleIsTheFloat32FactorEveryGradientIsMultipliedBy) {
    NAB_SEEDED_RANDOM(random);
    for (double inverse : {1.0 / 1024, 1.0 / 3}) {
        SCOPED_TRACE(inverse);
        const Layout layout = random_layout(random);
        Problem a = make_problem(layout), b = make_problem(with_float32_gradients(layout));
        ASSERT_TRUE(a.optimizer && b.optimizer);
        set_options(a.get(), 0, inverse, 0.0, 0);
        for (uint64_t step = 1; step <= 10; ++step) {
            fill_gradients(random, a);
            copy_scaled_gradients(a, b, static_cast<float>(inverse));
            NAB_ASSERT_OK(nab_optimizer_step(a.get()));
            NAB_ASSERT_OK(nab_optimizer_step(b.get()));
            const nab_step_report r = last_report(a.get());
            expect_report(r, 0, 0, 0, step);  // a scale alone needs no gradient pass
            EXPECT_EQ(r.gradient_scale, inverse);
            EXPECT_TRUE(std::isnan(r.gradient_norm));
        }
        EXPECT_EQ(first_difference(capture(a), capture(b)), "");
    }
}

// ---- 3. clipping by the global norm ---------------------------------------------------------

TEST(StepOptionsTest, ClippingScalesEveryGradientByTheReportedFactor) {
    NAB_SEEDED_RANDOM(random);
    const Layout layout = random_layout(random);
    Problem a = make_problem(layout), b = make_problem(with_float32_gradients(layout));
    ASSERT_TRUE(a.optimizer && b.optimizer);
    const double inverse = std::ldexp(1.0, -static_cast<int>(random.integer(0, 6)));
    struct Phase {
        const char* name;
        double max_over_norm;  // max_gradient_norm / the true norm (0: no clipping)
        int32_t compute;
    };
    uint64_t calls = 0;
    for (const Phase& phase : {Phase{"clipped", 0.3, 0}, Phase{"max above the norm", 10.0, 0}, Phase{"norm only", 0.0, 1}}) {
        for (int step = 0; step < 3; ++step) {
            SCOPED_TRACE(std::string(phase.name) + ", step " + std::to_string(step));
            fill_gradients(random, a);
            const double norm = inverse * raw_norm(a);
            const double max_norm = phase.max_over_norm * norm;
            set_options(a.get(), 0, inverse, max_norm, phase.compute);
            NAB_ASSERT_OK(nab_optimizer_step(a.get()));
            const nab_step_report r = last_report(a.get());
            expect_report(r, 1, 0, 0, ++calls);
            EXPECT_NEAR(r.gradient_norm, norm, 1e-12 * norm);
            if (phase.max_over_norm > 0.0 && phase.max_over_norm < 1.0) {
                const double expected = inverse * std::min(1.0, max_norm / (norm + 1e-6));
                EXPECT_NEAR(r.gradient_scale, expected, 1e-12 * expected);
                EXPECT_LT(r.gradient_scale, inverse);
            } else {
                EXPECT_EQ(r.gradient_scale, inverse);  // clip coefficient exactly 1 (or none)
            }
            // B, unclipped and unscaled, fed the gradients x (float)gradient_scale.
            copy_scaled_gradients(a, b, static_cast<float>(r.gradient_scale));
            NAB_ASSERT_OK(nab_optimizer_step(b.get()));
            ASSERT_EQ(first_difference(capture(a), capture(b)), "");
        }
    }
}

// ---- 4. skipping steps with non-finite gradients ---------------------------------------------

TEST(StepOptionsTest, NonfiniteGradientsSkipTheWholeStep) {
    NAB_SEEDED_RANDOM(random);
    Problem p = make_problem(random_layout(random));
    ASSERT_TRUE(p.optimizer);
    nab_optimizer* opt = p.get();
    set_options(opt, 1, 0.5, 0.0, 0);
    for (int step = 0; step < 2; ++step) {  // first make m, s, s_max and the master copy non-trivial
        fill_gradients(random, p);
        NAB_ASSERT_OK(nab_optimizer_step(opt));
        EXPECT_EQ(last_report(opt).skipped, 0);
    }
    // NaNs in float32 tensor 0; +Inf as bfloat16 0x7f80 in tensor 2 and as float16 0x7c00 in tensor 3.
    auto index_in = [&](std::size_t t) { return static_cast<std::size_t>(random.integer(0, int64_t(p.gradients[t].size()) - 1)); };
    std::set<std::size_t> nan_at;
    for (int64_t k = random.integer(1, 3); k > 0; --k) nan_at.insert(index_in(0));
    const std::size_t bf16_at = index_in(2), f16_at = index_in(3);
    for (std::size_t i : nan_at) p.gradients[0].set(i, float(kNaN));
    p.gradients[2].set_bits(bf16_at, 0x7f80);
    p.gradients[3].set_bits(f16_at, 0x7c00);

    const Capture before = capture(p);
    for (uint64_t calls : {3u, 4u}) {  // skipped twice in a row: still nothing changes
        NAB_ASSERT_OK(nab_optimizer_step(opt));
        EXPECT_EQ(first_difference(before, capture(p)), "") << "a skipped step changed something";
        const nab_step_report r = last_report(opt);
        expect_report(r, 1, 1, nan_at.size() + 2, calls);
        EXPECT_TRUE(std::isnan(r.gradient_norm)) << r.gradient_norm;
    }

    // Finite again: the step runs, every step count and every m moves.
    for (std::size_t i : nan_at) p.gradients[0].set(i, 0.25f);
    p.gradients[2].set(bf16_at, -0.5f);
    p.gradients[3].set(f16_at, 0.125f);
    NAB_ASSERT_OK(nab_optimizer_step(opt));
    nab_step_report r = last_report(opt);
    expect_report(r, 1, 0, 0, 5);
    EXPECT_NEAR(r.gradient_norm, 0.5 * raw_norm(p), 1e-12 * raw_norm(p));
    const Capture after = capture(p);
    for (std::size_t k = 0; k < after.size(); ++k) {
        const std::string& label = after[k].first;
        if (label.find("step") != std::string::npos || label.find("state 0") != std::string::npos) {
            EXPECT_NE(after[k].second, before[k].second) << label;
        }
    }
    for (uint32_t t = 0; t < p.parameters.size(); ++t) EXPECT_EQ(tensor_info(opt, t).step, 3) << t;

    // Without skip_nonfinite the step runs and the NaN/Inf reach only their own elements.
    set_options(opt, 0, 0.5, 0.0, 1);
    const std::size_t nan_index = *nan_at.begin();
    p.gradients[0].set(nan_index, float(kNaN));
    p.gradients[2].set_bits(bf16_at, 0x7f80);
    NAB_ASSERT_OK(nab_optimizer_step(opt));
    r = last_report(opt);
    expect_report(r, 1, 0, 2, 6);
    EXPECT_TRUE(std::isnan(r.gradient_norm)) << r.gradient_norm;
    for (uint32_t t = 0; t < p.parameters.size(); ++t) {
        EXPECT_EQ(tensor_info(opt, t).step, 4) << t;
        for (std::size_t i = 0; i < p.parameters[t].size(); ++i) {
            const bool poisoned = (t == 0 && i == nan_index) || (t == 2 && i == bf16_at);
            ASSERT_EQ(!std::isfinite(p.parameters[t].value(i)), poisoned) << "tensor " << t << " element " << i;
        }
    }
    EXPECT_TRUE(std::isnan(p.parameters[0].value(nan_index)));
    for (float v : read_state(opt, 3, NAB_STATE_MASTER_PARAMETERS)) ASSERT_TRUE(std::isfinite(v));
    // Only an Inf left: the norm is +Inf.
    p.gradients[0].set(nan_index, 1.0f);
    NAB_ASSERT_OK(nab_optimizer_step(opt));
    r = last_report(opt);
    expect_report(r, 1, 0, 1, 7);
    EXPECT_EQ(r.gradient_norm, kInf);
}

// Clipping without skip_nonfinite follows PyTorch's clip_grad_norm_ (docs/mixed-precision.md):
// an infinity alone makes the global norm +Inf and the clip coefficient 0, so every finite
// gradient of every tensor counts as 0 (a twin without options, fed the gradients times
// (float)0, gives the same bytes: the infinite element's own 0 x Inf is NaN in both); a NaN
// anywhere makes the norm and the coefficient NaN, so every tensor's first moment turns NaN.
TEST(StepOptionsTest, ClippingWithoutSkippingAppliesANonfiniteNormToEveryTensor) {
    NAB_SEEDED_RANDOM(random);
    const Layout layout = random_layout(random);
    Problem a = make_problem(layout), b = make_problem(with_float32_gradients(layout));
    ASSERT_TRUE(a.optimizer && b.optimizer);
    const double max_norm = 1.0;
    set_options(a.get(), 0, 1.0, max_norm, 0);
    const std::size_t float32_tensor = 1;
    auto any_index = [&] { return static_cast<std::size_t>(random.integer(0, int64_t(a.gradients[float32_tensor].size()) - 1)); };

    fill_gradients(random, a);
    a.gradients[float32_tensor].set(any_index(), float(kInf));
    NAB_ASSERT_OK(nab_optimizer_step(a.get()));
    nab_step_report r = last_report(a.get());
    expect_report(r, 1, 0, 1, 1);
    EXPECT_EQ(r.gradient_norm, kInf);
    EXPECT_EQ(r.gradient_scale, 0.0);
    copy_scaled_gradients(a, b, 0.0f);
    NAB_ASSERT_OK(nab_optimizer_step(b.get()));
    ASSERT_EQ(first_difference(capture(a), capture(b)), "");

    fill_gradients(random, a);
    a.gradients[float32_tensor].set(any_index(), float(kNaN));
    NAB_ASSERT_OK(nab_optimizer_step(a.get()));
    r = last_report(a.get());
    expect_report(r, 1, 0, 1, 2);
    EXPECT_TRUE(std::isnan(r.gradient_norm)) << r.gradient_norm;
    EXPECT_TRUE(std::isnan(r.gradient_scale)) << r.gradient_scale;
    for (uint32_t t = 0; t < a.parameters.size(); ++t) {
        const std::vector<float> m = read_state(a.get(), t, NAB_STATE_FIRST_MOMENT);
        ASSERT_EQ(std::count_if(m.begin(), m.end(), [](float v) { return std::isnan(v); }), std::ptrdiff_t(m.size()))
            << "tensor " << t;
    }
}

// ---- 5. determinism of the reported norm -------------------------------------------------------

// Tensors of several 32768-element chunks, split across threads, for every SIMD level.
TEST(StepOptionsTest, ReportedNormIsBitIdenticalForEveryThreadCountAndSimdLevel) {
    NAB_SEEDED_RANDOM(random);
    Layout layout;
    layout.groups = {default_options()};
    layout.specs = {{0, static_cast<std::size_t>(3 * 32768 + random.integer(1, 5000)), kF32, kF32, 0},
                    {0, static_cast<std::size_t>(3 * 32768 + random.integer(1, 5000)), kF32, kBF16, 0},
                    {0, static_cast<std::size_t>(random.integer(1, 100)), kF32, kBF16, 0}};
    for (const TensorSpec& spec : layout.specs) layout.initial.emplace_back(spec.count, 0.5f);
    Problem p = make_problem(layout, 1, NAB_SIMD_SCALAR);
    ASSERT_TRUE(p.optimizer);
    fill_gradients(random, p);
    const double expected = raw_norm(p);
    set_options(p.get(), 0, 1.0, 0.0, 1);
    const double* first = nullptr;
    double reference = 0.0;
    for (int32_t level : supported_simd_levels()) {
        NAB_ASSERT_OK(nab_optimizer_set_simd_level(p.get(), level));
        for (int32_t threads : {1, 2, 3, 8}) {
            SCOPED_TRACE("simd " + std::to_string(level) + ", threads " + std::to_string(threads));
            NAB_ASSERT_OK(nab_optimizer_set_thread_count(p.get(), threads));
            NAB_ASSERT_OK(nab_optimizer_step(p.get()));
            const double norm = last_report(p.get()).gradient_norm;
            EXPECT_NEAR(norm, expected, 1e-12 * expected);
            if (first == nullptr) first = &(reference = norm);
            EXPECT_EQ(std::memcmp(&norm, first, sizeof norm), 0) << norm << " vs " << reference;
        }
    }
}

// ---- 6. step_calls -----------------------------------------------------------------------------

TEST(StepOptionsTest, StepCallsCountsEveryStepSkippedOrNot) {
    NAB_SEEDED_RANDOM(random);
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    nab_optimizer* opt = optimizer.get();
    NAB_ASSERT_OK(nab_optimizer_step(opt));  // no groups, no tensors: still a step call
    nab_step_report r = last_report(opt);
    expect_report(r, 0, 0, 0, 1);
    EXPECT_TRUE(std::isnan(r.gradient_norm));
    EXPECT_EQ(r.gradient_scale, 1.0);

    nab_group_options group = default_options();
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(opt, &group, &id));
    std::vector<float> parameters = random_parameters(random, 50), gradients = random_parameters(random, 50);
    const nab_tensor_desc d{uint32_t{sizeof(nab_tensor_desc)}, 0, parameters.size(), parameters.data(), gradients.data(), kF32, kF32, 0, 0};
    NAB_ASSERT_OK(nab_optimizer_add_tensor(opt, &d, &id));
    set_options(opt, 1, 1.0, 0.0, 0);
    uint64_t calls = 1;
    for (int step = 0; step < 6; ++step) {  // alternately skipped and not
        const bool poisoned = step % 2 == 0;
        if (poisoned) gradients[static_cast<std::size_t>(random.integer(0, 49))] = float(kNaN);
        NAB_ASSERT_OK(nab_optimizer_step(opt));
        expect_report(last_report(opt), 1, poisoned ? 1 : 0, poisoned ? 1 : 0, ++calls);
        std::replace_if(gradients.begin(), gradients.end(), [](float v) { return std::isnan(v); }, 0.5f);
    }
    EXPECT_EQ(tensor_info(opt, 0).step, 3);
    // No gradient registered: the step still counts (and the pass over nothing gives norm 0).
    NAB_ASSERT_OK(nab_optimizer_set_tensor_gradients(opt, 0, nullptr));
    NAB_ASSERT_OK(nab_optimizer_step(opt));
    r = last_report(opt);
    expect_report(r, 1, 0, 0, ++calls);
    EXPECT_EQ(r.gradient_norm, 0.0);
    // A refused step did not run: neither the count nor the report changes.
    NAB_ASSERT_OK(nab_optimizer_set_tensor_gradients(opt, 0, gradients.data()));
    NAB_ASSERT_OK(nab_optimizer_set_tensor_step(opt, 0, std::numeric_limits<int64_t>::max()));
    EXPECT_EQ(nab_optimizer_step(opt), NAB_STATUS_INVALID_ARGUMENT);
    const nab_step_report after_refusal = last_report(opt);
    EXPECT_EQ(std::memcmp(&after_refusal, &r, sizeof r), 0) << "step_calls " << after_refusal.step_calls;
    // Setting options again does not reset the count.
    NAB_ASSERT_OK(nab_optimizer_set_tensor_step(opt, 0, 7));
    set_options(opt, 1, 1.0, 0.0, 0);
    NAB_ASSERT_OK(nab_optimizer_step(opt));
    EXPECT_EQ(last_report(opt).step_calls, ++calls);
    EXPECT_EQ(tensor_info(opt, 0).step, 8);
}

}  // namespace
}  // namespace nabtest
