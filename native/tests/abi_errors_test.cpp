// Every error path of every function in native_adabelief.h: the status, a message naming the
// argument and its value (nab_get_last_error), and that nothing changed (options, state,
// parameters, gradients, step counts, allocated bytes, outputs). Also: the thread-local error
// message, null destroy, version queries, allocation accounting, and BUSY under a race.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "native_adabelief.h"
#include "support/test_support.h"

#ifndef NAB_TEST_EXPECTED_VERSION
#define NAB_TEST_EXPECTED_VERSION ""
#endif

namespace nabtest {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Ways a number may be printed in a message; the message must contain one of them.
std::vector<std::string> number_texts(double value) {
    if (std::isnan(value)) return {"nan"};
    if (std::isinf(value)) return {value > 0 ? "inf" : "-inf"};
    std::vector<std::string> texts;
    char text[64];
    for (const char* format : {"%g", "%.17g", "%f", "%.1f", "%e"}) {
        std::snprintf(text, sizeof text, format, value);
        texts.push_back(text);
    }
    return texts;
}
std::vector<std::string> integer_texts(long long value) { return {std::to_string(value)}; }
const std::vector<std::string> kNullText = {"null"};
const std::vector<std::string> kAnyValue = {};

std::string join(const std::vector<std::string>& texts) {
    std::string out;
    for (const auto& t : texts) out += (out.empty() ? "" : " | ") + t;
    return out;
}

// Checks the message of the last failed call names `field` and (one spelling of) the value.
void expect_message(const std::string& field, const std::vector<std::string>& value_texts,
                    const std::string& call) {
    const std::string message = nab_get_last_error();
    EXPECT_TRUE(contains_text(message, field))
        << call << ": message does not name '" << field << "': \"" << message << "\"";
    if (!value_texts.empty()) {
        bool found = false;
        for (const auto& v : value_texts) found = found || contains_text(message, v);
        EXPECT_TRUE(found) << call << ": message does not contain the value (" << join(value_texts)
                           << "): \"" << message << "\"";
    }
}

// An optimizer with two groups (labml without amsgrad; adabelief-pytorch with amsgrad), three
// tensors (one without gradients) and a few steps taken, so that state is non-trivial.
class AbiErrorsTest : public testing::Test {
protected:
    void SetUp() override {
        optimizer_ = make_optimizer(2);
        ASSERT_TRUE(optimizer_);
        nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
        a.weight_decay = 0.01;
        nab_group_options b = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
        b.amsgrad = 1;
        uint32_t id = 0;
        NAB_ASSERT_OK(nab_optimizer_add_group(opt(), &a, &id));
        NAB_ASSERT_OK(nab_optimizer_add_group(opt(), &b, &id));
        Random random(12345);
        const std::size_t sizes[3] = {37, 20, 5};
        const uint32_t groups[3] = {0, 1, 0};
        for (int t = 0; t < 3; ++t) {
            params_[t] = random_parameters(random, sizes[t]);
            grads_[t] = random_parameters(random, sizes[t]);
            nab_tensor_desc desc{};
            desc.struct_size = sizeof desc;
            desc.group_id = groups[t];
            desc.element_count = sizes[t];
            desc.parameters = params_[t].data();
            desc.gradients = t == 2 ? nullptr : grads_[t].data();
            NAB_ASSERT_OK(nab_optimizer_add_tensor(opt(), &desc, &id));
        }
        for (int i = 0; i < 3; ++i) NAB_ASSERT_OK(nab_optimizer_step(opt()));
    }

    nab_optimizer* opt() { return optimizer_.get(); }

    Snapshot snapshot() {
        return take_snapshot(opt(), {params_[0].data(), params_[1].data(), params_[2].data()},
                             {grads_[0].data(), grads_[1].data(), grads_[2].data()});
    }

    // Runs `call`, which must fail with `expected` naming `field` and the value, changing
    // nothing in the optimizer (or the library's allocations).
    void expect_refused(nab_status expected, const std::string& field,
                        const std::vector<std::string>& value_texts,
                        const std::function<nab_status()>& call, const std::string& text) {
        const Snapshot before = snapshot();
        const nab_status status = call();
        EXPECT_EQ(status, expected) << text << " returned " << nab_status_name(status)
                                    << " (message: \"" << nab_get_last_error() << "\")";
        if (status != NAB_STATUS_OK) expect_message(field, value_texts, text);
        const Snapshot after = snapshot();
        EXPECT_EQ(snapshot_difference(before, after), "") << text << " changed something";
    }

    OptimizerPtr optimizer_;
    std::vector<float> params_[3];
    std::vector<float> grads_[3];
};

#define EXPECT_REFUSED(expected, field, values, expr) \
    expect_refused(expected, field, values, [&] { return (expr); }, #expr)

// ---- the hyper-parameter table -----------------------------------------------------------

struct BadOption {
    std::string name;   // what the case is
    std::string field;  // what the message must name
    std::vector<std::string> value_texts;
    std::function<void(nab_group_options&)> spoil;
};

std::vector<BadOption> bad_options() {
    std::vector<BadOption> cases;
    auto add_double = [&](const std::string& field, double nab_group_options::*member, double value) {
        cases.push_back({field + "=" + std::to_string(value), field, number_texts(value),
                         [member, value](nab_group_options& o) { o.*member = value; }});
    };
    for (double v : {-0.25, kNaN, kInf, -kInf}) add_double("learning_rate", &nab_group_options::learning_rate, v);
    for (double v : {-0.25, 1.0, 1.25, kNaN, kInf}) add_double("beta1", &nab_group_options::beta1, v);
    for (double v : {-0.25, 1.0, 1.25, kNaN, kInf}) add_double("beta2", &nab_group_options::beta2, v);
    for (double v : {-0.25, kInf, kNaN}) add_double("epsilon", &nab_group_options::epsilon, v);
    for (double v : {-0.25, kInf, kNaN}) add_double("weight_decay", &nab_group_options::weight_decay, v);
    auto add_int = [&](const std::string& field, int32_t nab_group_options::*member, int32_t value) {
        cases.push_back({field + "=" + std::to_string(value), field, integer_texts(value),
                         [member, value](nab_group_options& o) { o.*member = value; }});
    };
    for (int32_t v : {2, -1}) add_int("compatibility", &nab_group_options::compatibility, v);
    for (int32_t v : {3, -1}) add_int("weight_decay_mode", &nab_group_options::weight_decay_mode, v);
    for (int32_t v : {2, -1}) add_int("second_moment", &nab_group_options::second_moment, v);
    for (int32_t v : {2, -1}) add_int("state_encoding", &nab_group_options::state_encoding, v);
    // Booleans are 0 or 1, nothing else.
    for (int32_t v : {2, -1}) {
        add_int("amsgrad", &nab_group_options::amsgrad, v);
        add_int("rectify", &nab_group_options::rectify, v);
        add_int("degenerate_to_sgd", &nab_group_options::degenerate_to_sgd, v);
        add_int("optimized_update", &nab_group_options::optimized_update, v);
    }
    // Valid only in labml mode.
    cases.push_back({"pytorch+square", "second_moment", kAnyValue, [](nab_group_options& o) {
                         o = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
                         o.second_moment = NAB_SECOND_MOMENT_SQUARE;
                     }});
    cases.push_back({"pytorch+optimized_update=0", "optimized_update", kAnyValue, [](nab_group_options& o) {
                         o = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
                         o.optimized_update = 0;
                     }});
    // Too small to hold struct_size, ending inside a field (epsilon), or beyond the largest size.
    for (uint32_t size : {0u, 2u, static_cast<uint32_t>(offsetof(nab_group_options, epsilon) + 4), NAB_MAX_STRUCT_SIZE + 8u}) {
        cases.push_back({"struct_size=" + std::to_string(size), "struct_size",
                         integer_texts(size), [size](nab_group_options& o) { o.struct_size = size; }});
    }
    return cases;
}

TEST_F(AbiErrorsTest, EveryInvalidHyperParameterIsRefusedByEveryCallThatTakesOptions) {
    const std::vector<BadOption> cases = bad_options();
    for (const BadOption& c : cases) {
        SCOPED_TRACE(c.name);
        nab_group_options bad = default_options(NAB_COMPATIBILITY_LABML);
        c.spoil(bad);
        const nab_group_options copy = bad;

        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, c.field, c.value_texts, nab_group_options_validate(&bad));
        uint32_t id = 777;
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, c.field, c.value_texts, nab_optimizer_add_group(opt(), &bad, &id));
        EXPECT_EQ(id, 777u);
        for (uint32_t group : {0u, 1u}) {
            EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, c.field, c.value_texts,
                           nab_optimizer_set_group_options(opt(), group, &bad));
        }
        // The caller's struct is only read.
        EXPECT_TRUE(std::memcmp(&copy, &bad, sizeof bad) == 0);
    }
}

TEST_F(AbiErrorsTest, ValidOptionsPass) {
    for (int32_t compat : {NAB_COMPATIBILITY_LABML, NAB_COMPATIBILITY_ADABELIEF_PYTORCH}) {
        nab_group_options o = default_options(compat);
        NAB_EXPECT_OK(nab_group_options_validate(&o));
        // Boundaries that are valid.
        o.learning_rate = 0.0;
        o.beta1 = 0.0;
        o.beta2 = 0.0;
        o.epsilon = 0.0;
        o.weight_decay = 0.0;
        NAB_EXPECT_OK(nab_group_options_validate(&o));
        o.beta1 = std::nextafter(1.0, 0.0);
        o.beta2 = std::nextafter(1.0, 0.0);
        NAB_EXPECT_OK(nab_group_options_validate(&o));
    }
}

TEST_F(AbiErrorsTest, SetLearningRateRefusesBadRatesAndUnknownGroups) {
    for (double v : {-0.25, kNaN, kInf, -kInf}) {
        SCOPED_TRACE(v);
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "learning_rate", number_texts(v),
                       nab_optimizer_set_learning_rate(opt(), 0, v));
    }
    for (uint32_t g : {2u, 99u, 0xFFFFFFFFu}) {
        EXPECT_REFUSED(NAB_STATUS_NOT_FOUND, "group_id", integer_texts(g),
                       nab_optimizer_set_learning_rate(opt(), g, 1e-3));
    }
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText,
                   nab_optimizer_set_learning_rate(nullptr, 0, 1e-3));
}

// ---- defaults and queries ----------------------------------------------------------------

TEST_F(AbiErrorsTest, DefaultsAndQueriesRefuseNullAndUnknownValues) {
    nab_group_options options;
    std::memset(&options, 0xAB, sizeof options);
    const nab_group_options untouched = options;
    for (int32_t compat : {2, -1, 100}) {
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "compatibility", integer_texts(compat),
                       nab_group_options_init(&options, compat));
        EXPECT_TRUE(std::memcmp(&options, &untouched, sizeof options) == 0) << "options written";
    }
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "options", kNullText,
                   nab_group_options_init(nullptr, NAB_COMPATIBILITY_LABML));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "options", kNullText, nab_group_options_validate(nullptr));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "config", kNullText, nab_optimizer_config_init(nullptr));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_level", kNullText, nab_cpu_get_best_simd_level(nullptr));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_bytes", kNullText, nab_get_allocated_bytes(nullptr));
}

// ---- create / destroy --------------------------------------------------------------------

TEST_F(AbiErrorsTest, CreateRefusesBadConfigsAndSetsTheOutputToNull) {
    struct Case {
        std::string field;
        std::vector<std::string> values;
        nab_status status;
        std::function<void(nab_optimizer_config&)> spoil;
    };
    std::vector<Case> cases = {
        {"struct_size", integer_texts(0), NAB_STATUS_INVALID_ARGUMENT, [](nab_optimizer_config& c) { c.struct_size = 0; }},
        {"struct_size", integer_texts(6), NAB_STATUS_INVALID_ARGUMENT, [](nab_optimizer_config& c) { c.struct_size = 6; }},
        {"thread_count", integer_texts(-1), NAB_STATUS_INVALID_ARGUMENT, [](nab_optimizer_config& c) { c.thread_count = -1; }},
        {"thread_count", integer_texts(-1000), NAB_STATUS_INVALID_ARGUMENT, [](nab_optimizer_config& c) { c.thread_count = -1000; }},
        {"thread_count", integer_texts(100000), NAB_STATUS_INVALID_ARGUMENT, [](nab_optimizer_config& c) { c.thread_count = 100000; }},
        {"device_type", integer_texts(7), NAB_STATUS_INVALID_ARGUMENT, [](nab_optimizer_config& c) { c.device_type = 7; }},
        {"device_type", integer_texts(-1), NAB_STATUS_INVALID_ARGUMENT, [](nab_optimizer_config& c) { c.device_type = -1; }},
        {"simd_level", integer_texts(6), NAB_STATUS_INVALID_ARGUMENT, [](nab_optimizer_config& c) { c.simd_level = 6; }},
        {"simd_level", integer_texts(-1), NAB_STATUS_INVALID_ARGUMENT, [](nab_optimizer_config& c) { c.simd_level = -1; }},
        {"device_ordinal", integer_texts(1), NAB_STATUS_INVALID_ARGUMENT, [](nab_optimizer_config& c) { c.device_ordinal = 1; }},
        {"device_ordinal", integer_texts(-1), NAB_STATUS_INVALID_ARGUMENT, [](nab_optimizer_config& c) { c.device_ordinal = -1; }},
    };
#if !defined(NAB_TEST_CUDA_BUILD)
    // A CPU-only build has no CUDA backend.
    cases.push_back({"cuda", kAnyValue, NAB_STATUS_UNSUPPORTED, [](nab_optimizer_config& c) { c.device_type = NAB_DEVICE_CUDA; }});
#endif
    for (const Case& c : cases) {
        SCOPED_TRACE(c.field);
        nab_optimizer_config config;
        NAB_ASSERT_OK(nab_optimizer_config_init(&config));
        c.spoil(config);
        nab_optimizer* out = reinterpret_cast<nab_optimizer*>(&config);  // non-null sentinel
        EXPECT_REFUSED(c.status, c.field, c.values, nab_optimizer_create(&config, &out));
        EXPECT_EQ(out, nullptr) << "*out_optimizer must be null on failure";
        if (out != nullptr && out != reinterpret_cast<nab_optimizer*>(&config)) nab_optimizer_destroy(out);
    }
    nab_optimizer_config config;
    NAB_ASSERT_OK(nab_optimizer_config_init(&config));
    nab_optimizer* out = reinterpret_cast<nab_optimizer*>(&config);
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "config", kNullText, nab_optimizer_create(nullptr, &out));
    EXPECT_EQ(out, nullptr);
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_optimizer", kNullText, nab_optimizer_create(&config, nullptr));
}

TEST(AbiLifetimeTest, DestroyNullIsOk) {
    NAB_EXPECT_OK(nab_optimizer_destroy(nullptr));
}

// ---- execution settings ------------------------------------------------------------------

TEST_F(AbiErrorsTest, ThreadAndSimdSettingsRefuseBadValues) {
    for (int32_t v : {-1, -64, 4097, 2147483647}) {
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "thread_count", integer_texts(v),
                       nab_optimizer_set_thread_count(opt(), v));
    }
    for (int32_t v : {6, 99, -1}) {
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "simd_level", integer_texts(v),
                       nab_optimizer_set_simd_level(opt(), v));
    }
    int32_t value = 555;
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_set_thread_count(nullptr, 2));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_get_thread_count(nullptr, &value));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_count", kNullText, nab_optimizer_get_thread_count(opt(), nullptr));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_set_simd_level(nullptr, NAB_SIMD_SCALAR));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_get_simd_level(nullptr, &value));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_level", kNullText, nab_optimizer_get_simd_level(opt(), nullptr));
    EXPECT_EQ(value, 555) << "an output was written by a failed call";
}

// ---- groups ------------------------------------------------------------------------------

TEST_F(AbiErrorsTest, GroupCallsRefuseNullsUnknownIdsAndBadSizes) {
    nab_group_options good = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t id = 777;
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_add_group(nullptr, &good, &id));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "options", kNullText, nab_optimizer_add_group(opt(), nullptr, &id));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_group_id", kNullText, nab_optimizer_add_group(opt(), &good, nullptr));
    EXPECT_EQ(id, 777u);

    uint32_t count = 777;
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_get_group_count(nullptr, &count));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_count", kNullText, nab_optimizer_get_group_count(opt(), nullptr));
    EXPECT_EQ(count, 777u);

    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_set_group_options(nullptr, 0, &good));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "options", kNullText, nab_optimizer_set_group_options(opt(), 0, nullptr));
    for (uint32_t g : {2u, 1000u, 0xFFFFFFFFu}) {
        EXPECT_REFUSED(NAB_STATUS_NOT_FOUND, "group_id", integer_texts(g), nab_optimizer_set_group_options(opt(), g, &good));
    }

    nab_group_options out;
    std::memset(&out, 0xCD, sizeof out);
    out.struct_size = sizeof out;
    const nab_group_options out_before = out;
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_get_group_options(nullptr, 0, &out));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_options", kNullText, nab_optimizer_get_group_options(opt(), 0, nullptr));
    for (uint32_t g : {2u, 0xFFFFFFFFu}) {
        EXPECT_REFUSED(NAB_STATUS_NOT_FOUND, "group_id", integer_texts(g), nab_optimizer_get_group_options(opt(), g, &out));
    }
    EXPECT_TRUE(std::memcmp(&out, &out_before, sizeof out) == 0) << "output written by a failed call";
    for (uint32_t size : {0u, 2u, 10u}) {  // 10 ends inside learning_rate
        nab_group_options small;
        std::memset(&small, 0xCD, sizeof small);
        small.struct_size = size;
        const nab_group_options small_before = small;
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "struct_size", integer_texts(size),
                       nab_optimizer_get_group_options(opt(), 0, &small));
        EXPECT_TRUE(std::memcmp(&small, &small_before, sizeof small) == 0);
    }
}

// ---- tensors -----------------------------------------------------------------------------

TEST_F(AbiErrorsTest, AddTensorRefusesBadDescriptions) {
    std::vector<float> p(10, 1.0f), g(10, 0.5f);
    auto desc_with = [&](const std::function<void(nab_tensor_desc&)>& spoil) {
        nab_tensor_desc d{};
        d.struct_size = sizeof d;
        d.group_id = 0;
        d.element_count = p.size();
        d.parameters = p.data();
        d.gradients = g.data();
        spoil(d);
        return d;
    };
    uint32_t id = 777;
    nab_tensor_desc d = desc_with([](nab_tensor_desc&) {});
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_add_tensor(nullptr, &d, &id));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "tensor", kNullText, nab_optimizer_add_tensor(opt(), nullptr, &id));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_tensor_id", kNullText, nab_optimizer_add_tensor(opt(), &d, nullptr));
    for (uint32_t size : {0u, 3u, 12u}) {  // 12 ends inside element_count
        d = desc_with([size](nab_tensor_desc& x) { x.struct_size = size; });
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "struct_size", integer_texts(size), nab_optimizer_add_tensor(opt(), &d, &id));
    }
    d = desc_with([](nab_tensor_desc& x) { x.element_count = 0; });
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "element_count", integer_texts(0), nab_optimizer_add_tensor(opt(), &d, &id));
    d = desc_with([](nab_tensor_desc& x) { x.parameters = nullptr; });
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "parameters", kNullText, nab_optimizer_add_tensor(opt(), &d, &id));
    d = desc_with([&](nab_tensor_desc& x) { x.gradients = x.parameters; });
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "gradients", kAnyValue, nab_optimizer_add_tensor(opt(), &d, &id));
    for (uint32_t group : {2u, 0xFFFFFFFFu}) {
        d = desc_with([group](nab_tensor_desc& x) { x.group_id = group; });
        EXPECT_REFUSED(NAB_STATUS_NOT_FOUND, "group_id", integer_texts(group), nab_optimizer_add_tensor(opt(), &d, &id));
    }
    EXPECT_EQ(id, 777u);
    // The same description, corrected, is accepted.
    d = desc_with([](nab_tensor_desc&) {});
    NAB_EXPECT_OK(nab_optimizer_add_tensor(opt(), &d, &id));
    EXPECT_EQ(id, 3u);
}

// The header: gradients "must not overlap parameters". A partial overlap (not just the same
// pointer) is refused too.
TEST_F(AbiErrorsTest, AddTensorRefusesOverlappingBuffers) {
    std::vector<float> buffer(20, 1.0f);
    nab_tensor_desc d{};
    d.struct_size = sizeof d;
    d.group_id = 0;
    d.element_count = 10;
    d.parameters = buffer.data();
    d.gradients = buffer.data() + 5;
    uint32_t id = 777;
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "gradients", kAnyValue, nab_optimizer_add_tensor(opt(), &d, &id));
    d.parameters = buffer.data() + 9;
    d.gradients = buffer.data();
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "gradients", kAnyValue, nab_optimizer_add_tensor(opt(), &d, &id));
    EXPECT_EQ(id, 777u);
    d.parameters = buffer.data() + 10;  // adjacent, not overlapping: fine
    NAB_EXPECT_OK(nab_optimizer_add_tensor(opt(), &d, &id));
}

TEST_F(AbiErrorsTest, TensorQueriesRefuseNullsUnknownIdsAndBadSizes) {
    uint32_t count = 777;
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_get_tensor_count(nullptr, &count));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_count", kNullText, nab_optimizer_get_tensor_count(opt(), nullptr));
    EXPECT_EQ(count, 777u);

    nab_tensor_info info;
    std::memset(&info, 0xCD, sizeof info);
    info.struct_size = sizeof info;
    const nab_tensor_info before = info;
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_get_tensor_info(nullptr, 0, &info));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_info", kNullText, nab_optimizer_get_tensor_info(opt(), 0, nullptr));
    for (uint32_t t : {3u, 99u, 0xFFFFFFFFu}) {
        EXPECT_REFUSED(NAB_STATUS_NOT_FOUND, "tensor_id", integer_texts(t), nab_optimizer_get_tensor_info(opt(), t, &info));
    }
    EXPECT_TRUE(std::memcmp(&info, &before, sizeof info) == 0) << "output written by a failed call";
    for (uint32_t size : {0u, 2u, 12u}) {  // 12 ends inside element_count
        nab_tensor_info small;
        std::memset(&small, 0xCD, sizeof small);
        small.struct_size = size;
        const nab_tensor_info small_before = small;
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "struct_size", integer_texts(size),
                       nab_optimizer_get_tensor_info(opt(), 0, &small));
        EXPECT_TRUE(std::memcmp(&small, &small_before, sizeof small) == 0);
    }
}

TEST_F(AbiErrorsTest, TensorSettersRefuseBadArguments) {
    std::vector<float> other(37, 2.0f);
    // set_tensor_parameters
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_set_tensor_parameters(nullptr, 0, other.data()));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "parameters", kNullText, nab_optimizer_set_tensor_parameters(opt(), 0, nullptr));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "parameters", kAnyValue,
                   nab_optimizer_set_tensor_parameters(opt(), 0, grads_[0].data()));  // == its gradients
    for (uint32_t t : {3u, 0xFFFFFFFFu}) {
        EXPECT_REFUSED(NAB_STATUS_NOT_FOUND, "tensor_id", integer_texts(t), nab_optimizer_set_tensor_parameters(opt(), t, other.data()));
    }
    // set_tensor_gradients
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_set_tensor_gradients(nullptr, 0, other.data()));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "gradients", kAnyValue,
                   nab_optimizer_set_tensor_gradients(opt(), 0, params_[0].data()));  // == its parameters
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "gradients", kAnyValue,
                   nab_optimizer_set_tensor_gradients(opt(), 2, params_[2].data()));
    for (uint32_t t : {3u, 0xFFFFFFFFu}) {
        EXPECT_REFUSED(NAB_STATUS_NOT_FOUND, "tensor_id", integer_texts(t), nab_optimizer_set_tensor_gradients(opt(), t, other.data()));
    }
    // set_gradients (all tensors at once): refused as a whole, so tensor 0 keeps its gradients
    // although its new pointer (null) was valid and came before the bad one.
    std::vector<void*> all = {nullptr, other.data(), params_[2].data()};
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_set_gradients(nullptr, all.data(), 3));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "gradients[2]", kAnyValue, nab_optimizer_set_gradients(opt(), all.data(), 3));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "gradients", kNullText, nab_optimizer_set_gradients(opt(), nullptr, 3));
    for (uint32_t count : {0u, 2u, 4u}) {
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "count", integer_texts(count), nab_optimizer_set_gradients(opt(), all.data(), count));
    }
    // set_tensor_step
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_set_tensor_step(nullptr, 0, 5));
    for (int64_t s : {int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "step", integer_texts(s), nab_optimizer_set_tensor_step(opt(), 0, s));
    }
    for (uint32_t t : {3u, 0xFFFFFFFFu}) {
        EXPECT_REFUSED(NAB_STATUS_NOT_FOUND, "tensor_id", integer_texts(t), nab_optimizer_set_tensor_step(opt(), t, 5));
    }
}

// ---- state access ------------------------------------------------------------------------

TEST_F(AbiErrorsTest, ReadAndWriteStateRefuseBadArguments) {
    std::vector<float> buffer(64, 3.0f);
    const std::vector<float> buffer_before = buffer;
    using Fn = nab_status (*)(nab_optimizer*, uint32_t, int32_t, float*, uint64_t);
    auto write = [](nab_optimizer* o, uint32_t t, int32_t k, float* p, uint64_t n) {
        return nab_optimizer_write_state(o, t, k, p, n);
    };
    const std::pair<const char*, Fn> calls[] = {{"read_state", &nab_optimizer_read_state},
                                                {"write_state", +write}};
    for (const auto& [name, call] : calls) {
        SCOPED_TRACE(name);
        const bool reading = std::string(name) == "read_state";
        const char* buffer_name = reading ? "destination" : "source";
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, call(nullptr, 0, NAB_STATE_FIRST_MOMENT, buffer.data(), 37));
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, buffer_name, kNullText, call(opt(), 0, NAB_STATE_FIRST_MOMENT, nullptr, 37));
        for (uint64_t n : {uint64_t{0}, uint64_t{36}, uint64_t{38}, uint64_t{64}}) {
            EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "element_count", integer_texts(static_cast<long long>(n)),
                           call(opt(), 0, NAB_STATE_SECOND_MOMENT, buffer.data(), n));
        }
        for (int32_t kind : {4, -1, 100}) {
            EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "state_kind", integer_texts(kind),
                           call(opt(), 0, kind, buffer.data(), 37));
        }
        // A float32 tensor has no master copy to read or write.
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "state_kind", integer_texts(3),
                       call(opt(), 0, NAB_STATE_MASTER_PARAMETERS, buffer.data(), 37));
        for (uint32_t t : {3u, 0xFFFFFFFFu}) {
            EXPECT_REFUSED(NAB_STATUS_NOT_FOUND, "tensor_id", integer_texts(t),
                           call(opt(), t, NAB_STATE_FIRST_MOMENT, buffer.data(), 37));
        }
        if (reading) {
            // Tensor 0's group never had amsgrad: it has no s_max to read.
            EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "s_max", kAnyValue,
                           call(opt(), 0, NAB_STATE_MAX_SECOND_MOMENT, buffer.data(), 37));
        }
        EXPECT_EQ(buffer, buffer_before) << "the caller's buffer was written by a failed call";
    }
}

// ---- step and zero_gradients -------------------------------------------------------------

TEST_F(AbiErrorsTest, StepAndZeroGradientsRefuseNull) {
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_step(nullptr));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText, nab_optimizer_zero_gradients(nullptr));
    uint64_t count = 99;
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "optimizer", kNullText,
                   nab_optimizer_count_nonfinite_gradients(nullptr, &count));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_count", kNullText,
                   nab_optimizer_count_nonfinite_gradients(opt(), nullptr));
    EXPECT_EQ(count, 99u);
}

// Found by the ABI fuzzer (native/fuzz/regressions/step-count-overflow): a tensor whose step count
// was set to INT64_MAX made the next step compute t + 1, a signed overflow (undefined behaviour,
// reported by UBSan). The step is refused instead, before anything changes; a tensor without
// gradients (skipped by the step) does not count, and a smaller count steps again.
TEST_F(AbiErrorsTest, StepRefusesATensorWhoseStepCountCannotGrow) {
    const int64_t largest = std::numeric_limits<int64_t>::max();
    NAB_ASSERT_OK(nab_optimizer_set_tensor_step(opt(), 2, largest));  // no gradients: never stepped
    NAB_ASSERT_OK(nab_optimizer_step(opt()));
    EXPECT_EQ(tensor_info(opt(), 2).step, largest);
    NAB_ASSERT_OK(nab_optimizer_set_tensor_step(opt(), 1, largest));
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "tensor 1", integer_texts(largest), nab_optimizer_step(opt()));
    NAB_ASSERT_OK(nab_optimizer_set_tensor_step(opt(), 1, largest - 1));
    NAB_ASSERT_OK(nab_optimizer_step(opt()));
    EXPECT_EQ(tensor_info(opt(), 1).step, largest);
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "tensor 1", integer_texts(largest), nab_optimizer_step(opt()));
}

// ---- native buffers ----------------------------------------------------------------------

TEST_F(AbiErrorsTest, BufferAllocateRefusesZeroOverflowAndNull) {
    float* data = nullptr;
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "element_count", integer_texts(0), nab_buffer_allocate(NAB_DTYPE_FLOAT32, 0, reinterpret_cast<void**>(&data)));
    for (uint64_t n : {std::numeric_limits<uint64_t>::max(), std::numeric_limits<uint64_t>::max() / 4 + 1}) {
        EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "element_count", kAnyValue, nab_buffer_allocate(NAB_DTYPE_FLOAT32, n, reinterpret_cast<void**>(&data)));
    }
    EXPECT_REFUSED(NAB_STATUS_INVALID_ARGUMENT, "out_data", kNullText, nab_buffer_allocate(NAB_DTYPE_FLOAT32, 16, nullptr));
    EXPECT_EQ(data, nullptr);
    NAB_EXPECT_OK(nab_buffer_free(nullptr));
}

TEST(AbiBufferTest, BuffersAreZeroedAlignedAndCounted) {
    uint64_t start = 0;
    NAB_ASSERT_OK(nab_get_allocated_bytes(&start));
    float* data = nullptr;
    NAB_ASSERT_OK(nab_buffer_allocate(NAB_DTYPE_FLOAT32, 1001, reinterpret_cast<void**>(&data)));
    ASSERT_NE(data, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data) % 64, 0u);
    for (int i = 0; i < 1001; ++i) ASSERT_EQ(data[i], 0.0f) << i;
    uint64_t during = 0;
    NAB_ASSERT_OK(nab_get_allocated_bytes(&during));
    EXPECT_GE(during, start + 1001 * sizeof(float));
    NAB_EXPECT_OK(nab_buffer_free(data));
    uint64_t end = 0;
    NAB_ASSERT_OK(nab_get_allocated_bytes(&end));
    EXPECT_EQ(end, start);
}

// ---- thread-local last error -------------------------------------------------------------

TEST(AbiLastErrorTest, IsThreadLocal) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    ASSERT_EQ(nab_optimizer_set_thread_count(optimizer.get(), -7), NAB_STATUS_INVALID_ARGUMENT);
    const std::string mine = nab_get_last_error();
    ASSERT_TRUE(contains_text(mine, "-7")) << mine;

    std::string fresh_thread_message = "(not run)";
    std::string other_thread_message = "(not run)";
    std::thread fresh([&] { fresh_thread_message = nab_get_last_error(); });
    fresh.join();
    std::thread other([&] {
        nab_optimizer_set_learning_rate(optimizer.get(), 0, 1.0);  // no group 0: NOT_FOUND
        other_thread_message = nab_get_last_error();
    });
    other.join();

    EXPECT_EQ(fresh_thread_message, "") << "a thread that made no call sees another's error";
    EXPECT_TRUE(contains_text(other_thread_message, "group_id")) << other_thread_message;
    EXPECT_FALSE(contains_text(other_thread_message, "-7")) << other_thread_message;
    EXPECT_EQ(std::string(nab_get_last_error()), mine) << "another thread's error replaced mine";
}

// ---- versions ----------------------------------------------------------------------------

TEST(AbiVersionTest, VersionsMatchTheHeaderAndTheBuild) {
    EXPECT_EQ(nab_get_abi_version(), static_cast<uint32_t>(NAB_ABI_VERSION));
    const char* version = nab_get_version_string();
    ASSERT_NE(version, nullptr);
    EXPECT_EQ(version, nab_get_version_string()) << "not static storage";
    int major = -1, minor = -1, patch = -1;
    EXPECT_EQ(std::sscanf(version, "%d.%d.%d", &major, &minor, &patch), 3) << version;
    if (std::strlen(NAB_TEST_EXPECTED_VERSION) > 0) {
        EXPECT_STREQ(version, NAB_TEST_EXPECTED_VERSION);
    }
}

// ---- allocation accounting ---------------------------------------------------------------

TEST(AbiAllocationTest, AllocatedBytesReturnToTheStartAfterEveryCycle) {
    uint64_t start = 0;
    NAB_ASSERT_OK(nab_get_allocated_bytes(&start));
    for (int cycle = 0; cycle < 3; ++cycle) {
        SCOPED_TRACE(cycle);
        {
            OptimizerPtr optimizer = make_optimizer(cycle + 1);
            ASSERT_TRUE(optimizer);
            nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
            nab_group_options b = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
            b.amsgrad = 1;
            uint32_t id = 0;
            NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &a, &id));
            NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &b, &id));
            float* native_params = nullptr;
            float* native_grads = nullptr;
            NAB_ASSERT_OK(nab_buffer_allocate(NAB_DTYPE_FLOAT32, 100000, reinterpret_cast<void**>(&native_params)));
            NAB_ASSERT_OK(nab_buffer_allocate(NAB_DTYPE_FLOAT32, 100000, reinterpret_cast<void**>(&native_grads)));
            std::vector<float> p(333, 1.0f), g(333, 0.1f);
            nab_tensor_desc d{};
            d.struct_size = sizeof d;
            d.group_id = 0;
            d.element_count = 100000;
            d.parameters = native_params;
            d.gradients = native_grads;
            uint64_t before_tensor = 0;
            NAB_ASSERT_OK(nab_get_allocated_bytes(&before_tensor));
            NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &id));
            uint64_t after_tensor = 0;
            NAB_ASSERT_OK(nab_get_allocated_bytes(&after_tensor));
            EXPECT_GE(after_tensor, before_tensor + 2 * 100000 * sizeof(float)) << "m and s not counted";
            d.group_id = 1;
            d.element_count = 333;
            d.parameters = p.data();
            d.gradients = g.data();
            NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &id));
            for (int i = 0; i < 3; ++i) NAB_ASSERT_OK(nab_optimizer_step(optimizer.get()));
            a.amsgrad = 1;  // allocates s_max for tensor 0
            NAB_ASSERT_OK(nab_optimizer_set_group_options(optimizer.get(), 0, &a));
            NAB_ASSERT_OK(nab_optimizer_set_thread_count(optimizer.get(), 3));
            NAB_ASSERT_OK(nab_optimizer_step(optimizer.get()));
            NAB_ASSERT_OK(nab_optimizer_zero_gradients(optimizer.get()));
            std::vector<float> s(333, 0.5f);
            NAB_ASSERT_OK(nab_optimizer_write_state(optimizer.get(), 1, NAB_STATE_MAX_SECOND_MOMENT, s.data(), 333));
            optimizer.reset();
            NAB_ASSERT_OK(nab_buffer_free(native_params));
            NAB_ASSERT_OK(nab_buffer_free(native_grads));
        }
        uint64_t end = 0;
        NAB_ASSERT_OK(nab_get_allocated_bytes(&end));
        EXPECT_EQ(end, start);
    }
}

// ---- concurrent use of one optimizer -----------------------------------------------------

// One thread steps a big tensor (each step takes milliseconds) while another keeps calling into
// the same optimizer. The other's calls must be refused with BUSY while a step runs (seen at
// least once), every call returns OK or BUSY, and afterwards the state is exactly that of as many
// steps as succeeded, run alone.
TEST(AbiBusyTest, ConcurrentCallsOnOneOptimizerGetBusyAndStateStaysConsistent) {
    const std::size_t n = std::size_t{1} << 22;
    std::vector<float> initial(n);
    for (std::size_t i = 0; i < n; ++i) initial[i] = static_cast<float>(i % 1000) * 1e-3f - 0.5f;
    std::vector<float> gradient(n);
    for (std::size_t i = 0; i < n; ++i) gradient[i] = static_cast<float>((i * 7919) % 2000) * 1e-3f - 1.0f;
    const nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);

    struct Run {
        OptimizerPtr optimizer;
        std::vector<float> params, grads;
    };
    auto start_run = [&](Run& run) {
        run.optimizer = make_optimizer(1);
        ASSERT_TRUE(run.optimizer);
        run.params = initial;
        run.grads = gradient;
        uint32_t id = 0;
        NAB_ASSERT_OK(nab_optimizer_add_group(run.optimizer.get(), &options, &id));
        nab_tensor_desc d{};
        d.struct_size = sizeof d;
        d.group_id = 0;
        d.element_count = n;
        d.parameters = run.params.data();
        d.gradients = run.grads.data();
        NAB_ASSERT_OK(nab_optimizer_add_tensor(run.optimizer.get(), &d, &id));
    };

    Run raced;
    start_run(raced);
    if (HasFatalFailure()) return;
    nab_optimizer* shared = raced.optimizer.get();

    std::atomic<bool> stop{false};
    std::atomic<bool> saw_busy{false};
    std::atomic<int> other_steps_ok{0};
    std::atomic<int> unexpected{0};
    std::string unexpected_text;
    std::thread other([&] {
        uint32_t count = 0;
        int round = 0;
        while (!stop.load()) {
            nab_status status;
            if (round++ % 8 == 7) {
                status = nab_optimizer_step(shared);
                if (status == NAB_STATUS_OK) other_steps_ok.fetch_add(1);
            } else {
                status = nab_optimizer_get_group_count(shared, &count);
                if (status == NAB_STATUS_OK && count != 1) {
                    unexpected.fetch_add(1);
                }
            }
            if (status == NAB_STATUS_BUSY) {
                saw_busy.store(true);
                if (std::string(nab_get_last_error()).empty() && unexpected.fetch_add(1) == 0) {
                    unexpected_text = "BUSY without a message";
                }
            } else if (status != NAB_STATUS_OK) {
                if (unexpected.fetch_add(1) == 0) unexpected_text = nab_status_name(status);
            }
        }
    });

    int main_steps_ok = 0;
    int main_busy = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int steps_after_busy = 0;
    while (std::chrono::steady_clock::now() < deadline && steps_after_busy < 2) {
        const nab_status status = nab_optimizer_step(shared);
        if (status == NAB_STATUS_OK) {
            ++main_steps_ok;
        } else if (status == NAB_STATUS_BUSY) {
            ++main_busy;
        } else {
            ADD_FAILURE() << "step returned " << nab_status_name(status) << ": " << nab_get_last_error();
            break;
        }
        if (saw_busy.load()) ++steps_after_busy;
    }
    stop.store(true);
    other.join();

    EXPECT_TRUE(saw_busy.load() || main_busy > 0) << "no BUSY in 60 s of racing calls";
    EXPECT_EQ(unexpected.load(), 0) << unexpected_text;
    EXPECT_TRUE(unexpected_text.empty()) << unexpected_text;

    const int total = main_steps_ok + other_steps_ok.load();
    const nab_tensor_info info = tensor_info(shared, 0);
    EXPECT_EQ(info.step, total) << main_steps_ok << " + " << other_steps_ok.load() << " successful steps";

    // The same number of steps, alone, gives the same bits.
    Run alone;
    start_run(alone);
    if (HasFatalFailure()) return;
    for (int i = 0; i < total; ++i) NAB_ASSERT_OK(nab_optimizer_step(alone.optimizer.get()));
    EXPECT_TRUE(std::memcmp(alone.params.data(), raced.params.data(), n * sizeof(float)) == 0);
    EXPECT_TRUE(read_state(alone.optimizer.get(), 0, NAB_STATE_FIRST_MOMENT) ==
                read_state(shared, 0, NAB_STATE_FIRST_MOMENT));
    EXPECT_TRUE(read_state(alone.optimizer.get(), 0, NAB_STATE_SECOND_MOMENT) ==
                read_state(shared, 0, NAB_STATE_SECOND_MOMENT));
}

}  // namespace
}  // namespace nabtest
