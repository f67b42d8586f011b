// The conventions every function of the header shares, beyond single calls' errors: the
// struct_size promise (older, smaller structs read with defaults; newer, larger ones accepted
// when their unknown bytes are zero), the status names, the refused argument's name, the
// configuration check, and the step counts of every tensor in one call.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "native_adabelief.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

// A caller's struct with room behind it, as a caller compiled against a newer header has.
template <class Struct>
struct Padded {
    alignas(16) unsigned char bytes[sizeof(Struct) + 64];
    Struct& value() { return *reinterpret_cast<Struct*>(bytes); }
};

std::string last_error() { return nab_get_last_error(); }

TEST(AbiConventionsTest, AnOlderSmallerInputStructGetsTheDefaultsOfTheFieldsItLacks) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    // A struct that ends before amsgrad: what lies behind it (here 7s) must not be read.
    nab_group_options older = default_options(NAB_COMPATIBILITY_LABML);
    older.learning_rate = 0.25;
    older.weight_decay = 0.5;
    older.amsgrad = 7;
    older.rectify = 7;
    older.degenerate_to_sgd = 7;
    older.optimized_update = 7;
    older.struct_size = offsetof(nab_group_options, amsgrad);
    NAB_ASSERT_OK(nab_group_options_validate(&older));
    uint32_t group = 99;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &older, &group));
    nab_group_options read{};
    read.struct_size = sizeof read;
    NAB_ASSERT_OK(nab_optimizer_get_group_options(optimizer.get(), group, &read));
    const nab_group_options defaults = default_options(NAB_COMPATIBILITY_LABML);
    EXPECT_EQ(read.learning_rate, 0.25);
    EXPECT_EQ(read.weight_decay, 0.5);
    EXPECT_EQ(read.amsgrad, defaults.amsgrad);
    EXPECT_EQ(read.rectify, defaults.rectify);
    EXPECT_EQ(read.degenerate_to_sgd, defaults.degenerate_to_sgd);
    EXPECT_EQ(read.optimized_update, defaults.optimized_update);

    // Step options without max_gradient_norm and after: no clipping.
    nab_step_options step{};
    NAB_ASSERT_OK(nab_step_options_init(&step));
    step.inverse_gradient_scale = 0.5;
    step.max_gradient_norm = -1.0;  // behind the struct's end: never read
    step.struct_size = offsetof(nab_step_options, max_gradient_norm);
    NAB_ASSERT_OK(nab_optimizer_set_step_options(optimizer.get(), &step));
    nab_step_options in_force{};
    in_force.struct_size = sizeof in_force;
    NAB_ASSERT_OK(nab_optimizer_get_step_options(optimizer.get(), &in_force));
    EXPECT_EQ(in_force.inverse_gradient_scale, 0.5);
    EXPECT_EQ(in_force.max_gradient_norm, 0.0);

    // A tensor description without the element types and after: float32, no master copy.
    std::vector<float> parameters(8, 1.0f), gradients(8, 0.5f);
    nab_tensor_desc desc{};
    desc.group_id = group;
    desc.element_count = parameters.size();
    desc.parameters = parameters.data();
    desc.gradients = gradients.data();
    desc.parameter_dtype = 77;  // behind the struct's end: never read
    desc.struct_size = offsetof(nab_tensor_desc, parameter_dtype);
    uint32_t tensor = 99;
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &desc, &tensor));
    const nab_tensor_info info = tensor_info(optimizer.get(), tensor);
    EXPECT_EQ(info.parameter_dtype, NAB_DTYPE_FLOAT32);
    EXPECT_EQ(info.has_master_parameters, 0);
}

TEST(AbiConventionsTest, AnOlderSmallerOutputStructGetsOnlyTheFieldsItHasRoomFor) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t group = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &options, &group));
    std::vector<float> parameters(8, 1.0f), gradients(8, 0.5f);
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.element_count = parameters.size();
    desc.parameters = parameters.data();
    desc.gradients = gradients.data();
    uint32_t tensor = 0;
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &desc, &tensor));
    NAB_ASSERT_OK(nab_optimizer_step(optimizer.get()));

    nab_tensor_info info;
    std::memset(&info, 0xCD, sizeof info);
    info.struct_size = offsetof(nab_tensor_info, has_max_second_moment);
    NAB_ASSERT_OK(nab_optimizer_get_tensor_info(optimizer.get(), tensor, &info));
    EXPECT_EQ(info.struct_size, offsetof(nab_tensor_info, has_max_second_moment));  // the caller's, kept
    EXPECT_EQ(info.element_count, 8u);
    EXPECT_EQ(info.step, 1);
    const auto* bytes = reinterpret_cast<const unsigned char*>(&info);
    for (std::size_t i = offsetof(nab_tensor_info, has_max_second_moment); i < sizeof info; ++i) {
        EXPECT_EQ(bytes[i], 0xCD) << "byte " << i << " lies beyond the caller's struct and was written";
    }
}

TEST(AbiConventionsTest, ANewerLargerStructIsAcceptedWhenItsUnknownBytesAreZero) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    Padded<nab_group_options> newer;
    std::memset(newer.bytes, 0, sizeof newer.bytes);
    newer.value() = default_options(NAB_COMPATIBILITY_LABML);
    newer.value().beta1 = 0.5;
    newer.value().struct_size = sizeof(nab_group_options) + 16;
    uint32_t group = 99;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &newer.value(), &group));

    // A non-zero byte of a field this library does not have: refused, naming the byte.
    newer.bytes[sizeof(nab_group_options) + 5] = 1;
    EXPECT_EQ(nab_optimizer_add_group(optimizer.get(), &newer.value(), &group), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find("options.struct_size"), std::string::npos) << last_error();
    EXPECT_NE(last_error().find("byte " + std::to_string(sizeof(nab_group_options) + 5)), std::string::npos)
        << last_error();
    EXPECT_EQ(std::string(nab_get_last_error_argument()), "options.struct_size");
    uint32_t groups = 0;
    NAB_ASSERT_OK(nab_optimizer_get_group_count(optimizer.get(), &groups));
    EXPECT_EQ(groups, 1u);

    // An output struct of a newer header: its unknown bytes come back zero.
    Padded<nab_group_options> out;
    std::memset(out.bytes, 0xCD, sizeof out.bytes);
    out.value().struct_size = sizeof(nab_group_options) + 16;
    NAB_ASSERT_OK(nab_optimizer_get_group_options(optimizer.get(), group, &out.value()));
    EXPECT_EQ(out.value().beta1, 0.5);
    EXPECT_EQ(out.value().struct_size, sizeof(nab_group_options) + 16);
    for (std::size_t i = sizeof(nab_group_options); i < sizeof(nab_group_options) + 16; ++i) {
        EXPECT_EQ(out.bytes[i], 0) << "byte " << i;
    }
    EXPECT_EQ(out.bytes[sizeof(nab_group_options) + 16], 0xCD) << "written beyond the caller's struct";
}

TEST(AbiConventionsTest, StructSizesOutsideTheLimitsOrInsideAFieldAreRefused) {
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    for (uint32_t size : {0u, 3u, static_cast<uint32_t>(offsetof(nab_group_options, beta1) + 4),
                          static_cast<uint32_t>(NAB_MAX_STRUCT_SIZE) + 1u, 0xFFFFFFFFu}) {
        options.struct_size = size;
        EXPECT_EQ(nab_group_options_validate(&options), NAB_STATUS_INVALID_ARGUMENT) << size;
        EXPECT_EQ(std::string(nab_get_last_error_argument()), "options.struct_size") << size;
        EXPECT_NE(last_error().find(std::to_string(size)), std::string::npos) << last_error();
    }
}

TEST(AbiConventionsTest, EveryStatusHasItsHeaderName) {
    EXPECT_STREQ(nab_status_name(NAB_STATUS_OK), "NAB_STATUS_OK");
    EXPECT_STREQ(nab_status_name(NAB_STATUS_INVALID_ARGUMENT), "NAB_STATUS_INVALID_ARGUMENT");
    EXPECT_STREQ(nab_status_name(NAB_STATUS_NOT_FOUND), "NAB_STATUS_NOT_FOUND");
    EXPECT_STREQ(nab_status_name(NAB_STATUS_OUT_OF_MEMORY), "NAB_STATUS_OUT_OF_MEMORY");
    EXPECT_STREQ(nab_status_name(NAB_STATUS_UNSUPPORTED), "NAB_STATUS_UNSUPPORTED");
    EXPECT_STREQ(nab_status_name(NAB_STATUS_BUSY), "NAB_STATUS_BUSY");
    EXPECT_STREQ(nab_status_name(NAB_STATUS_DEVICE_ERROR), "NAB_STATUS_DEVICE_ERROR");
    EXPECT_STREQ(nab_status_name(NAB_STATUS_INTERNAL_ERROR), "NAB_STATUS_INTERNAL_ERROR");
    EXPECT_STREQ(nab_status_name(8), "NAB_STATUS_UNKNOWN");
    EXPECT_STREQ(nab_status_name(-1), "NAB_STATUS_UNKNOWN");
}

TEST(AbiConventionsTest, TheLastErrorNamesTheRefusedArgumentAsTheCallerCallsIt) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    options.beta1 = 1.0;
    uint32_t group = 0;
    EXPECT_EQ(nab_optimizer_add_group(optimizer.get(), &options, &group), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "options.beta1");
    options.beta1 = 0.9;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &options, &group));
    EXPECT_EQ(nab_optimizer_set_learning_rate(optimizer.get(), group, -1.0), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "learning_rate");
    std::vector<float> buffer(16, 1.0f);
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.element_count = 16;
    desc.parameters = buffer.data();
    desc.gradients = buffer.data() + 4;
    uint32_t tensor = 0;
    EXPECT_EQ(nab_optimizer_add_tensor(optimizer.get(), &desc, &tensor), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "tensor->gradients");
    EXPECT_EQ(nab_optimizer_set_tensor_step(optimizer.get(), 5, 1), NAB_STATUS_NOT_FOUND);
    EXPECT_STREQ(nab_get_last_error_argument(), "tensor_id");
    nab_optimizer_config config{};
    NAB_ASSERT_OK(nab_optimizer_config_init(&config));
    config.thread_count = NAB_MAX_THREAD_COUNT + 1;
    EXPECT_EQ(nab_optimizer_config_validate(&config), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "config->thread_count");
    // A failure about no argument in particular.
    EXPECT_EQ(nab_optimizer_set_cuda_stream(optimizer.get(), nullptr), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "");
}

TEST(AbiConventionsTest, ConfigValidationChecksRangesButNotTheMachine) {
    nab_optimizer_config config{};
    NAB_ASSERT_OK(nab_optimizer_config_init(&config));
    NAB_EXPECT_OK(nab_optimizer_config_validate(&config));
    config.thread_count = NAB_MAX_THREAD_COUNT;
    config.simd_level = NAB_SIMD_AVX512;  // valid, whether or not this CPU has it
    NAB_EXPECT_OK(nab_optimizer_config_validate(&config));
    config.simd_level = NAB_SIMD_NEON;  // valid on every architecture
    NAB_EXPECT_OK(nab_optimizer_config_validate(&config));
    config.simd_level = NAB_SIMD_AVX512_BF16;
    NAB_EXPECT_OK(nab_optimizer_config_validate(&config));
    config.device_type = NAB_DEVICE_CUDA;
    config.device_ordinal = 3;  // valid, whether or not this machine has it
    NAB_EXPECT_OK(nab_optimizer_config_validate(&config));
    config.device_type = NAB_DEVICE_CPU;
    EXPECT_EQ(nab_optimizer_config_validate(&config), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "config->device_ordinal");
    config.device_ordinal = 0;
    config.simd_level = 9;
    EXPECT_EQ(nab_optimizer_config_validate(&config), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "config->simd_level");
    EXPECT_EQ(nab_optimizer_config_validate(nullptr), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "config");
}

TEST(AbiConventionsTest, EveryStepCountComesBackInOneCall) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t group = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &options, &group));
    NAB_EXPECT_OK(nab_optimizer_get_step_counts(optimizer.get(), nullptr, 0));  // no tensors yet
    // More tensors than the count array's first capacity, so it grows while counts exist.
    constexpr uint32_t kTensors = 40;
    std::vector<std::vector<float>> parameters(kTensors, std::vector<float>(4, 1.0f));
    std::vector<std::vector<float>> gradients(kTensors, std::vector<float>(4, 0.5f));
    for (uint32_t t = 0; t < kTensors; ++t) {
        nab_tensor_desc desc{};
        desc.struct_size = sizeof desc;
        desc.element_count = 4;
        desc.parameters = parameters[t].data();
        desc.gradients = t % 3 == 0 ? nullptr : gradients[t].data();
        uint32_t id = 0;
        NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &desc, &id));
        NAB_ASSERT_OK(nab_optimizer_set_tensor_step(optimizer.get(), id, 100 + t));
        if (t % 7 == 0) NAB_ASSERT_OK(nab_optimizer_step(optimizer.get()));
    }
    std::vector<int64_t> steps(kTensors, -1);
    NAB_ASSERT_OK(nab_optimizer_get_step_counts(optimizer.get(), steps.data(), kTensors));
    for (uint32_t t = 0; t < kTensors; ++t) {
        EXPECT_EQ(steps[t], tensor_info(optimizer.get(), t).step) << t;
        // Stepped once by each step taken after it was added, if it has gradients.
        const int64_t later_steps = t % 3 == 0 ? 0 : static_cast<int64_t>((kTensors - 1) / 7 - t / 7 + (t % 7 == 0 ? 1 : 0));
        EXPECT_EQ(steps[t], 100 + t + later_steps) << t;
    }
    EXPECT_EQ(nab_optimizer_get_step_counts(optimizer.get(), steps.data(), kTensors - 1), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "count");
    EXPECT_EQ(nab_optimizer_get_step_counts(optimizer.get(), nullptr, kTensors), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "out_steps");
}

}  // namespace
}  // namespace nabtest
