// The all-or-nothing restore (nab_optimizer_begin_restore ... commit_restore): a committed
// restore makes an optimizer continue exactly as the one whose state it holds; a refused
// commit, an aborted restore or a refused stage leaves the optimizer exactly as it was; the
// state's values are checked as they are staged; staging changes nothing observable.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "native_adabelief.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

// Two groups (the second with AMSGrad), three tensors of odd sizes, some steps taken. With
// `encoding` 8-bit, the largest tensor keeps 8-bit state (the others are below the threshold).
struct Model {
    explicit Model(Random& random, int32_t encoding = NAB_STATE_ENCODING_FLOAT32) {
        optimizer = make_optimizer(2);
        nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
        nab_group_options b = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
        a.state_encoding = encoding;
        b.state_encoding = encoding;
        b.amsgrad = 1;
        b.learning_rate = 0.02;
        uint32_t id = 0;
        EXPECT_EQ(nab_optimizer_add_group(optimizer.get(), &a, &id), NAB_STATUS_OK);
        EXPECT_EQ(nab_optimizer_add_group(optimizer.get(), &b, &id), NAB_STATUS_OK);
        for (std::size_t count : {std::size_t{17}, std::size_t{1031}, std::size_t{70003}, std::size_t{5000}}) {
            parameters.push_back(random_parameters(random, count));
            gradients.push_back(random_parameters(random, count));
        }
        for (std::size_t t = 0; t < parameters.size(); ++t) {
            nab_tensor_desc d{};
            d.struct_size = sizeof d;
            d.group_id = t % 2 == 1 ? 1u : 0u;
            d.element_count = parameters[t].size();
            d.parameters = parameters[t].data();
            d.gradients = gradients[t].data();
            EXPECT_EQ(nab_optimizer_add_tensor(optimizer.get(), &d, &id), NAB_STATUS_OK) << nab_get_last_error();
        }
    }

    // New values in the registered buffers (never new buffers: the optimizer holds their addresses).
    static void refill(std::vector<float>& registered, const std::vector<float>& values) {
        std::copy(values.begin(), values.end(), registered.begin());
    }

    void step(Random& random, int steps) {
        for (int i = 0; i < steps; ++i) {
            for (auto& g : gradients) refill(g, random_parameters(random, g.size()));
            EXPECT_EQ(nab_optimizer_step(optimizer.get()), NAB_STATUS_OK) << nab_get_last_error();
        }
    }

    Snapshot snapshot() const {
        std::vector<const float*> p, g;
        for (const auto& v : parameters) p.push_back(v.data());
        for (const auto& v : gradients) g.push_back(v.data());
        return take_snapshot(optimizer.get(), p, g);
    }

    OptimizerPtr optimizer;
    std::vector<std::vector<float>> parameters, gradients;
};

// Stages `from`'s whole state (its float32 values, 8-bit state decoded) into `to`: the groups
// first, or with `groups_last` after the tensors.
void stage_everything(nab_optimizer* from, nab_optimizer* to, bool groups_last = false) {
    ASSERT_EQ(nab_optimizer_begin_restore(to), NAB_STATUS_OK) << nab_get_last_error();
    uint32_t groups = 0, tensors = 0;
    ASSERT_EQ(nab_optimizer_get_group_count(from, &groups), NAB_STATUS_OK);
    ASSERT_EQ(nab_optimizer_get_tensor_count(from, &tensors), NAB_STATUS_OK);
    auto stage_groups = [&] {
        for (uint32_t g = 0; g < groups; ++g) {
            nab_group_options options{};
            options.struct_size = sizeof options;
            ASSERT_EQ(nab_optimizer_get_group_options(from, g, &options), NAB_STATUS_OK);
            ASSERT_EQ(nab_optimizer_restore_group(to, g, &options), NAB_STATUS_OK) << nab_get_last_error();
        }
    };
    if (!groups_last) stage_groups();
    for (uint32_t t = 0; t < tensors; ++t) {
        const nab_tensor_info info = tensor_info(from, t);
        const std::vector<float> m = read_state(from, t, NAB_STATE_FIRST_MOMENT);
        const std::vector<float> s = read_state(from, t, NAB_STATE_SECOND_MOMENT);
        std::vector<float> s_max;
        if (info.has_max_second_moment != 0) s_max = read_state(from, t, NAB_STATE_MAX_SECOND_MOMENT);
        nab_tensor_state state{};
        state.struct_size = sizeof state;
        state.step = info.step;
        state.element_count = info.element_count;
        state.first_moment = m.data();
        state.second_moment = s.data();
        state.max_second_moment = s_max.empty() ? nullptr : s_max.data();
        ASSERT_EQ(nab_optimizer_restore_tensor(to, t, &state), NAB_STATUS_OK) << nab_get_last_error();
    }
    if (groups_last) stage_groups();
}

// The codes and scales of m, s and s_max of every 8-bit tensor, in one string to compare.
std::string eight_bit_state(nab_optimizer* optimizer) {
    uint32_t tensors = 0;
    EXPECT_EQ(nab_optimizer_get_tensor_count(optimizer, &tensors), NAB_STATUS_OK);
    std::string bytes;
    for (uint32_t t = 0; t < tensors; ++t) {
        const nab_tensor_info info = tensor_info(optimizer, t);
        if (info.state_encoding != NAB_STATE_ENCODING_BLOCKWISE_8BIT) continue;
        for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
            if (kind == NAB_STATE_MAX_SECOND_MOMENT && info.has_max_second_moment == 0) continue;
            std::vector<uint8_t> codes(info.element_count);
            std::vector<float> scales((info.element_count + NAB_BLOCKWISE_8BIT_BLOCK_SIZE - 1) / NAB_BLOCKWISE_8BIT_BLOCK_SIZE);
            EXPECT_EQ(nab_optimizer_read_state_codes(optimizer, t, kind, codes.data(), codes.size(), scales.data(), scales.size()),
                      NAB_STATUS_OK)
                << nab_get_last_error();
            bytes.append(reinterpret_cast<const char*>(codes.data()), codes.size());
            bytes.append(reinterpret_cast<const char*>(scales.data()), scales.size() * sizeof(float));
        }
    }
    return bytes;
}

TEST(RestoreTest, ACommittedRestoreContinuesExactlyAsTheOriginal) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed), twin_random(seed);
    Model original(random);
    original.step(random, 7);
    Model copy(twin_random);  // same registration, its own (different) state
    for (std::size_t t = 0; t < copy.parameters.size(); ++t) {
        Model::refill(copy.parameters[t], original.parameters[t]);
        Model::refill(copy.gradients[t], original.gradients[t]);
    }
    stage_everything(original.optimizer.get(), copy.optimizer.get());
    NAB_ASSERT_OK(nab_optimizer_commit_restore(copy.optimizer.get()));
    EXPECT_EQ(snapshot_difference(original.snapshot(), copy.snapshot()), "");

    // The same gradients from here on: bit-identical parameters and state.
    for (int i = 0; i < 5; ++i) {
        for (std::size_t t = 0; t < original.gradients.size(); ++t) {
            Model::refill(original.gradients[t], random_parameters(random, original.gradients[t].size()));
            Model::refill(copy.gradients[t], original.gradients[t]);
        }
        NAB_ASSERT_OK(nab_optimizer_step(original.optimizer.get()));
        NAB_ASSERT_OK(nab_optimizer_step(copy.optimizer.get()));
    }
    EXPECT_EQ(snapshot_difference(original.snapshot(), copy.snapshot()), "");
}

// 8-bit state is staged as decoded float32 values and quantized again: the same codes and
// scales, and the same steps after, whether the groups (which decide the encoding) are staged
// before the tensors or after them (the commit then converts), and into an optimizer whose
// groups kept float32 state until the restore.
TEST(RestoreTest, EightBitStateRestoresToTheSameCodesAndScales) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    for (const bool groups_last : {false, true}) {
        for (const int32_t copy_encoding : {NAB_STATE_ENCODING_BLOCKWISE_8BIT, NAB_STATE_ENCODING_FLOAT32}) {
            SCOPED_TRACE(std::string(groups_last ? "groups staged last" : "groups staged first") + ", copy's encoding " +
                         std::to_string(copy_encoding));
            Random random(seed), twin_random(seed);
            Model original(random, NAB_STATE_ENCODING_BLOCKWISE_8BIT);
            original.step(random, 7);
            Model copy(twin_random, copy_encoding);
            for (std::size_t t = 0; t < copy.parameters.size(); ++t) {
                Model::refill(copy.parameters[t], original.parameters[t]);
                Model::refill(copy.gradients[t], original.gradients[t]);
            }
            const std::string codes = eight_bit_state(original.optimizer.get());
            ASSERT_GT(codes.size(), 70003u) << "the 70003- and 5000-element tensors should keep 8-bit state";
            stage_everything(original.optimizer.get(), copy.optimizer.get(), groups_last);
            NAB_ASSERT_OK(nab_optimizer_commit_restore(copy.optimizer.get()));
            EXPECT_TRUE(eight_bit_state(copy.optimizer.get()) == codes) << "the codes or scales changed";
            EXPECT_EQ(snapshot_difference(original.snapshot(), copy.snapshot()), "");
            for (int i = 0; i < 3; ++i) {
                for (std::size_t t = 0; t < original.gradients.size(); ++t) {
                    Model::refill(original.gradients[t], random_parameters(random, original.gradients[t].size()));
                    Model::refill(copy.gradients[t], original.gradients[t]);
                }
                NAB_ASSERT_OK(nab_optimizer_step(original.optimizer.get()));
                NAB_ASSERT_OK(nab_optimizer_step(copy.optimizer.get()));
            }
            EXPECT_TRUE(eight_bit_state(copy.optimizer.get()) == eight_bit_state(original.optimizer.get()));
            EXPECT_EQ(snapshot_difference(original.snapshot(), copy.snapshot()), "");
        }
    }
}

TEST(RestoreTest, ARefusedOrAbortedRestoreChangesNothingAndFreesWhatItStaged) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    Model source(random), target(random);
    source.step(random, 3);
    target.step(random, 2);
    const Snapshot before = target.snapshot();

    EXPECT_EQ(nab_optimizer_commit_restore(target.optimizer.get()), NAB_STATUS_INVALID_ARGUMENT);  // nothing begun
    EXPECT_NE(std::string(nab_get_last_error()).find("begin"), std::string::npos) << nab_get_last_error();

    stage_everything(source.optimizer.get(), target.optimizer.get());
    // Staged, not committed: nothing observable changed (the staged copy is extra memory only).
    Snapshot staged = target.snapshot();
    staged.allocated_bytes = before.allocated_bytes;
    EXPECT_EQ(snapshot_difference(before, staged), "");
    NAB_ASSERT_OK(nab_optimizer_abort_restore(target.optimizer.get()));
    EXPECT_EQ(snapshot_difference(before, target.snapshot()), "");
    EXPECT_EQ(nab_optimizer_commit_restore(target.optimizer.get()), NAB_STATUS_INVALID_ARGUMENT);  // aborted

    // A tensor left out: the commit is refused, names it, and the restore stays staged.
    NAB_ASSERT_OK(nab_optimizer_begin_restore(target.optimizer.get()));
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    for (uint32_t g = 0; g < 2; ++g) NAB_ASSERT_OK(nab_optimizer_restore_group(target.optimizer.get(), g, &options));
    EXPECT_EQ(nab_optimizer_commit_restore(target.optimizer.get()), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(nab_get_last_error()).find("tensor 0 was not staged"), std::string::npos) << nab_get_last_error();
    EXPECT_EQ(snapshot_difference(before, target.snapshot()), "");

    // A tensor added after the restore began: refused.
    stage_everything(source.optimizer.get(), target.optimizer.get());
    std::vector<float> extra(5, 1.0f);
    nab_tensor_desc d{};
    d.struct_size = sizeof d;
    d.element_count = extra.size();
    d.parameters = extra.data();
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_tensor(target.optimizer.get(), &d, &id));
    EXPECT_EQ(nab_optimizer_commit_restore(target.optimizer.get()), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(nab_get_last_error()).find("added since the restore began"), std::string::npos)
        << nab_get_last_error();
    NAB_ASSERT_OK(nab_optimizer_abort_restore(target.optimizer.get()));
}

TEST(RestoreTest, BadValuesAreRefusedWhenStagedNamingTheTensorAndTheElement) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    options.amsgrad = 1;
    uint32_t group = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &options, &group));
    std::vector<float> parameters(6, 1.0f);
    nab_tensor_desc d{};
    d.struct_size = sizeof d;
    d.element_count = parameters.size();
    d.parameters = parameters.data();
    uint32_t tensor = 0;
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &tensor));
    NAB_ASSERT_OK(nab_optimizer_begin_restore(optimizer.get()));

    std::vector<float> m(6, 0.1f), s(6, 0.5f), s_max(6, 0.5f);
    nab_tensor_state state{};
    state.struct_size = sizeof state;
    state.step = 3;
    state.element_count = 6;
    state.first_moment = m.data();
    state.second_moment = s.data();
    state.max_second_moment = s_max.data();
    NAB_EXPECT_OK(nab_optimizer_restore_tensor(optimizer.get(), tensor, &state));

    const float nan = std::numeric_limits<float>::quiet_NaN();
    struct Case {
        std::vector<float>* array;
        float value;
        const char* text;
    };
    for (const Case& c : {Case{&s, -1e-30f, "second moment s[4]"}, Case{&s, nan, "second moment s[4]"},
                          Case{&s_max, nan, "s_max[4]"}, Case{&s_max, 0.25f, "s_max[4]"}}) {
        const float kept = (*c.array)[4];
        (*c.array)[4] = c.value;
        EXPECT_EQ(nab_optimizer_restore_tensor(optimizer.get(), tensor, &state), NAB_STATUS_INVALID_ARGUMENT) << c.text;
        const std::string message = nab_get_last_error();
        EXPECT_NE(message.find("tensor 0"), std::string::npos) << message;
        EXPECT_NE(message.find(c.text), std::string::npos) << message;
        (*c.array)[4] = kept;
    }
    // s_max below s is fine before the tensor has stepped, or when s_max is all zero (AMSGrad just
    // turned on).
    std::vector<float> zeros(6, 0.0f);
    state.max_second_moment = zeros.data();
    NAB_EXPECT_OK(nab_optimizer_restore_tensor(optimizer.get(), tensor, &state));
    state.max_second_moment = s_max.data();
    s_max[1] = 0.0f;
    state.step = 0;
    NAB_EXPECT_OK(nab_optimizer_restore_tensor(optimizer.get(), tensor, &state));
    // A master copy for a tensor that keeps none, a wrong count, a negative step.
    state.master_parameters = m.data();
    EXPECT_EQ(nab_optimizer_restore_tensor(optimizer.get(), tensor, &state), NAB_STATUS_INVALID_ARGUMENT);
    state.master_parameters = nullptr;
    state.element_count = 5;
    EXPECT_EQ(nab_optimizer_restore_tensor(optimizer.get(), tensor, &state), NAB_STATUS_INVALID_ARGUMENT);
    state.element_count = 6;
    state.step = -1;
    EXPECT_EQ(nab_optimizer_restore_tensor(optimizer.get(), tensor, &state), NAB_STATUS_INVALID_ARGUMENT);
    NAB_ASSERT_OK(nab_optimizer_abort_restore(optimizer.get()));
}

TEST(RestoreTest, AMasterCopyMustBeFiniteAndIsRestored) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t group = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &options, &group));
    std::vector<uint16_t> parameters(4, 0x3f80);  // bfloat16 ones
    nab_tensor_desc d{};
    d.struct_size = sizeof d;
    d.element_count = parameters.size();
    d.parameters = parameters.data();
    d.parameter_dtype = NAB_DTYPE_BFLOAT16;
    d.gradient_dtype = NAB_DTYPE_BFLOAT16;
    d.master_parameters = 1;
    uint32_t tensor = 0;
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &tensor));
    std::vector<float> m(4, 0.0f), s(4, 0.0f), master = {0.5f, 1.5f, -2.0f, 3.25f};
    nab_tensor_state state{};
    state.struct_size = sizeof state;
    state.element_count = 4;
    state.first_moment = m.data();
    state.second_moment = s.data();
    NAB_ASSERT_OK(nab_optimizer_begin_restore(optimizer.get()));
    NAB_ASSERT_OK(nab_optimizer_restore_group(optimizer.get(), group, &options));
    EXPECT_EQ(nab_optimizer_restore_tensor(optimizer.get(), tensor, &state), NAB_STATUS_INVALID_ARGUMENT);  // master missing
    master[2] = std::numeric_limits<float>::infinity();
    state.master_parameters = master.data();
    EXPECT_EQ(nab_optimizer_restore_tensor(optimizer.get(), tensor, &state), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(nab_get_last_error()).find("master copy[2]"), std::string::npos) << nab_get_last_error();
    master[2] = -2.0f;
    NAB_ASSERT_OK(nab_optimizer_restore_tensor(optimizer.get(), tensor, &state));
    NAB_ASSERT_OK(nab_optimizer_commit_restore(optimizer.get()));
    EXPECT_EQ(read_state(optimizer.get(), tensor, NAB_STATE_MASTER_PARAMETERS), master);
}

TEST(RestoreTest, AGroupThatKeepsSMaxGetsAZeroedOneWhereNoneWasStaged) {
    OptimizerPtr optimizer = make_optimizer(1);
    ASSERT_TRUE(optimizer);
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t group = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &options, &group));
    std::vector<float> parameters(3, 1.0f);
    nab_tensor_desc d{};
    d.struct_size = sizeof d;
    d.element_count = 3;
    d.parameters = parameters.data();
    uint32_t tensor = 0;
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &tensor));
    EXPECT_EQ(tensor_info(optimizer.get(), tensor).has_max_second_moment, 0);
    std::vector<float> m(3, 0.1f), s(3, 0.2f);
    nab_tensor_state state{};
    state.struct_size = sizeof state;
    state.step = 4;
    state.element_count = 3;
    state.first_moment = m.data();
    state.second_moment = s.data();
    options.amsgrad = 1;
    NAB_ASSERT_OK(nab_optimizer_begin_restore(optimizer.get()));
    NAB_ASSERT_OK(nab_optimizer_restore_group(optimizer.get(), group, &options));
    NAB_ASSERT_OK(nab_optimizer_restore_tensor(optimizer.get(), tensor, &state));
    NAB_ASSERT_OK(nab_optimizer_commit_restore(optimizer.get()));
    EXPECT_EQ(tensor_info(optimizer.get(), tensor).has_max_second_moment, 1);
    EXPECT_EQ(tensor_info(optimizer.get(), tensor).step, 4);
    EXPECT_EQ(read_state(optimizer.get(), tensor, NAB_STATE_MAX_SECOND_MOMENT), std::vector<float>(3, 0.0f));
    EXPECT_EQ(read_state(optimizer.get(), tensor, NAB_STATE_SECOND_MOMENT), s);
}

}  // namespace
}  // namespace nabtest
