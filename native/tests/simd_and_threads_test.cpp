// The CPU result must not depend on the SIMD level or the number of threads: bit-identical
// parameters and state (memcmp), over many steps, odd sizes and unaligned caller buffers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cpu/prefetch_policy.h"
#include "native_adabelief.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

// A cheap, deterministic input: the same (seed, step, tensor, index) always gives the same
// float, whatever optimizer configuration consumes it. Values span about 2^-12 .. 2^4 with both
// signs.
uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
float input_value(uint64_t seed, uint64_t step, uint64_t tensor, uint64_t index) {
    const uint64_t h = mix(seed ^ mix(step * 0x100000001B3ull ^ mix(tensor * 0x51ED27ull ^ index)));
    const double unit = static_cast<double>(h >> 11) * 0x1.0p-53 * 2.0 - 1.0;  // [-1, 1)
    const int exponent = static_cast<int>(h & 15u) - 12;                       // -12 .. 3
    return static_cast<float>(std::ldexp(unit, exponent));
}

struct Layout {
    std::vector<std::size_t> sizes;
    std::vector<std::size_t> parameter_offsets;  // floats from a 64-byte boundary
    std::vector<std::size_t> gradient_offsets;
};

// Everything a run leaves behind, per tensor (for 8-bit state also the codes and scales, each
// array's codes followed by its scales' bytes).
struct Outcome {
    std::vector<std::vector<float>> parameters, m, s, s_max;
    std::vector<std::vector<uint8_t>> codes;
    std::vector<int64_t> steps;
};

// Four groups covering both modes and the main flags, with m, s and s_max in `encoding`.
std::vector<nab_group_options> groups_for_bit_tests(int32_t encoding) {
    std::vector<nab_group_options> groups;
    nab_group_options a = default_options(NAB_COMPATIBILITY_LABML);
    a.amsgrad = 1;
    a.weight_decay = 0.1;
    groups.push_back(a);
    nab_group_options b = default_options(NAB_COMPATIBILITY_LABML);
    b.second_moment = NAB_SECOND_MOMENT_SQUARE;
    b.optimized_update = 0;
    b.rectify = 0;
    b.weight_decay = 0.01;
    b.weight_decay_mode = NAB_WEIGHT_DECAY_ABSOLUTE;
    b.epsilon = 1e-8;
    groups.push_back(b);
    nab_group_options c = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
    c.amsgrad = 1;
    c.weight_decay = 0.05;
    c.weight_decay_mode = NAB_WEIGHT_DECAY_L2;
    c.beta2 = 0.99;
    groups.push_back(c);
    nab_group_options d = default_options(NAB_COMPATIBILITY_ADABELIEF_PYTORCH);
    d.rectify = 0;
    d.degenerate_to_sgd = 0;
    d.epsilon = 1e-12;
    groups.push_back(d);
    for (nab_group_options& g : groups) g.state_encoding = encoding;
    return groups;
}

// The raw 8-bit state of a tensor (empty for float32 state).
std::vector<uint8_t> raw_state(nab_optimizer* optimizer, uint32_t id, const nab_tensor_info& info) {
    std::vector<uint8_t> raw;
    if (info.state_encoding != NAB_STATE_ENCODING_BLOCKWISE_8BIT) return raw;
    for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
        if (kind == NAB_STATE_MAX_SECOND_MOMENT && info.has_max_second_moment == 0) continue;
        const std::size_t count = info.element_count, blocks = (count + 255) / 256;
        std::vector<uint8_t> codes(count);
        std::vector<float> scales(blocks);
        EXPECT_EQ(nab_optimizer_read_state_codes(optimizer, id, kind, codes.data(), count, scales.data(), blocks),
                  NAB_STATUS_OK)
            << nab_get_last_error();
        raw.insert(raw.end(), codes.begin(), codes.end());
        const auto* bytes = reinterpret_cast<const uint8_t*>(scales.data());
        raw.insert(raw.end(), bytes, bytes + blocks * sizeof(float));
    }
    return raw;
}

// Runs `steps` steps of a fixed problem under one configuration. `switch_at` > 0 changes the
// configuration to (switch_threads, switch_simd) before that step (0 = no switch).
Outcome run(uint64_t seed, const Layout& layout, int steps, int32_t threads, int32_t simd,
            int switch_at = 0, int32_t switch_threads = 0, int32_t switch_simd = NAB_SIMD_AUTO,
            int32_t encoding = NAB_STATE_ENCODING_FLOAT32) {
    Outcome out;
    OptimizerPtr optimizer = make_optimizer(threads, simd);
    if (!optimizer) return out;
    const std::vector<nab_group_options> groups = groups_for_bit_tests(encoding);
    for (const nab_group_options& g : groups) {
        uint32_t id = 0;
        EXPECT_EQ(nab_optimizer_add_group(optimizer.get(), &g, &id), NAB_STATUS_OK) << nab_get_last_error();
    }
    const std::size_t n_tensors = layout.sizes.size();
    std::vector<std::unique_ptr<OffsetBuffer>> params, grads;
    for (std::size_t t = 0; t < n_tensors; ++t) {
        params.push_back(std::make_unique<OffsetBuffer>(layout.sizes[t], layout.parameter_offsets[t]));
        grads.push_back(std::make_unique<OffsetBuffer>(layout.sizes[t], layout.gradient_offsets[t]));
        for (std::size_t i = 0; i < layout.sizes[t]; ++i) {
            (*params[t])[i] = input_value(seed, 0, t, i) * 4.0f;
        }
        nab_tensor_desc desc{};
        desc.struct_size = sizeof desc;
        desc.group_id = static_cast<uint32_t>(t % groups.size());
        desc.element_count = layout.sizes[t];
        desc.parameters = params[t]->data();
        desc.gradients = grads[t]->data();
        uint32_t id = 0;
        EXPECT_EQ(nab_optimizer_add_tensor(optimizer.get(), &desc, &id), NAB_STATUS_OK) << nab_get_last_error();
    }
    for (int step = 1; step <= steps; ++step) {
        if (step == switch_at) {
            EXPECT_EQ(nab_optimizer_set_thread_count(optimizer.get(), switch_threads), NAB_STATUS_OK)
                << nab_get_last_error();
            EXPECT_EQ(nab_optimizer_set_simd_level(optimizer.get(), switch_simd), NAB_STATUS_OK)
                << nab_get_last_error();
        }
        for (std::size_t t = 0; t < n_tensors; ++t) {
            // Every 5th tensor skips every 4th step (null gradient).
            const bool absent = t % 5 == 4 && step % 4 == 0;
            EXPECT_EQ(nab_optimizer_set_tensor_gradients(optimizer.get(), static_cast<uint32_t>(t),
                                                         absent ? nullptr : grads[t]->data()),
                      NAB_STATUS_OK);
            if (!absent) {
                for (std::size_t i = 0; i < layout.sizes[t]; ++i) {
                    (*grads[t])[i] = input_value(seed, static_cast<uint64_t>(step), t, i);
                }
            }
        }
        EXPECT_EQ(nab_optimizer_set_learning_rate(optimizer.get(), 1, 1e-3 / step), NAB_STATUS_OK);
        EXPECT_EQ(nab_optimizer_step(optimizer.get()), NAB_STATUS_OK) << nab_get_last_error();
    }
    for (std::size_t t = 0; t < n_tensors; ++t) {
        const auto id = static_cast<uint32_t>(t);
        EXPECT_TRUE(params[t]->guards_intact() && grads[t]->guards_intact()) << "tensor " << t;
        out.parameters.push_back(params[t]->copy());
        out.m.push_back(read_state(optimizer.get(), id, NAB_STATE_FIRST_MOMENT));
        out.s.push_back(read_state(optimizer.get(), id, NAB_STATE_SECOND_MOMENT));
        const nab_tensor_info info = tensor_info(optimizer.get(), id);
        out.s_max.push_back(info.has_max_second_moment == 1
                                ? read_state(optimizer.get(), id, NAB_STATE_MAX_SECOND_MOMENT)
                                : std::vector<float>{});
        out.steps.push_back(info.step);
        out.codes.push_back(raw_state(optimizer.get(), id, info));
    }
    return out;
}

// Empty if bit-identical; else the first difference.
std::string bit_difference(const Outcome& a, const Outcome& b) {
    if (a.parameters.size() != b.parameters.size()) return "different tensor counts";
    auto first_diff = [](const std::vector<float>& x, const std::vector<float>& y,
                         const char* what, std::size_t t) -> std::string {
        if (x.size() != y.size()) return std::string(what) + " sizes differ, tensor " + std::to_string(t);
        if (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0) return {};
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (std::memcmp(&x[i], &y[i], sizeof(float)) != 0) {
                char text[200];
                std::snprintf(text, sizeof text, "%s of tensor %zu (size %zu) differs at %zu: %.9g vs %.9g",
                              what, t, x.size(), i, static_cast<double>(x[i]), static_cast<double>(y[i]));
                return text;
            }
        }
        return {};
    };
    for (std::size_t t = 0; t < a.parameters.size(); ++t) {
        if (a.steps[t] != b.steps[t]) return "step count of tensor " + std::to_string(t) + " differs";
        if (a.codes[t] != b.codes[t]) return "8-bit codes or scales of tensor " + std::to_string(t) + " differ";
        for (const std::string& d : {first_diff(a.parameters[t], b.parameters[t], "theta", t),
                                     first_diff(a.m[t], b.m[t], "m", t),
                                     first_diff(a.s[t], b.s[t], "s", t),
                                     first_diff(a.s_max[t], b.s_max[t], "s_max", t)}) {
            if (!d.empty()) return d;
        }
    }
    return {};
}

int32_t best_level() {
    int32_t level = -1;
    EXPECT_EQ(nab_cpu_get_best_simd_level(&level), NAB_STATUS_OK);
    return level;
}

// Tensors of these sizes with buffers offset by 1..15 floats from a 64-byte boundary,
// parameters and gradients offset differently.
Layout unaligned_layout(std::vector<std::size_t> sizes) {
    Layout layout;
    layout.sizes = std::move(sizes);
    for (std::size_t t = 0; t < layout.sizes.size(); ++t) {
        layout.parameter_offsets.push_back(1 + t % 15);
        layout.gradient_offsets.push_back(1 + (t * 7 + 3) % 15);
    }
    return layout;
}

// Odd sizes (every tail of 8- and 16-wide vectors, and some long bodies), buffers offset by
// 1..15 floats from a 64-byte boundary, parameters and gradients offset differently. 80, 99 and
// 117 hold 5, 6 and 7 whole 16-wide vectors (10, 12 and 14 8-wide ones): with them the kernel's
// three-vector loop (cpu/kernel_body.h) leaves each of its possible remainders at both widths.
Layout odd_unaligned_layout() {
    std::vector<std::size_t> sizes;
    for (std::size_t n = 1; n <= 40; ++n) sizes.push_back(n);
    for (std::size_t n : {63, 65, 80, 99, 117, 127, 129, 1000, 4099, 65537}) sizes.push_back(n);
    return unaligned_layout(std::move(sizes));
}

TEST(SimdTest, AutoResolvesToTheBestLevel) {
    const int32_t best = best_level();
    EXPECT_EQ(best, supported_simd_levels().back()) << "the best level is the last of this CPU's levels";
    OptimizerPtr optimizer = make_optimizer(1, NAB_SIMD_AUTO);
    ASSERT_TRUE(optimizer);
    int32_t level = -1;
    NAB_ASSERT_OK(nab_optimizer_get_simd_level(optimizer.get(), &level));
    EXPECT_EQ(level, best);
}

TEST(SimdTest, EveryLevelThisCpuHasIsBitIdenticalToScalar) {
    const std::vector<int32_t> levels = supported_simd_levels();
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    const Layout layout = odd_unaligned_layout();
    const Outcome scalar = run(seed, layout, 40, 2, NAB_SIMD_SCALAR);
    ASSERT_FALSE(HasFailure());
    if (levels.size() == 1) {
        GTEST_SKIP() << "this CPU has no SIMD level besides scalar";
    }
    for (int32_t level : levels) {
        if (level == NAB_SIMD_SCALAR) continue;
        SCOPED_TRACE(simd_level_text(level));
        {
            OptimizerPtr optimizer = make_optimizer(1, level);
            ASSERT_TRUE(optimizer);
            int32_t got = -1;
            NAB_ASSERT_OK(nab_optimizer_get_simd_level(optimizer.get(), &got));
            EXPECT_EQ(got, level);
        }
        const Outcome vector = run(seed, layout, 40, 2, level);
        ASSERT_FALSE(HasFailure());
        EXPECT_EQ(bit_difference(scalar, vector), "") << simd_level_text(level) << " vs SCALAR";
        // The level changed between steps gives the same bits as well.
        const Outcome switched = run(seed, layout, 40, 2, NAB_SIMD_SCALAR, 17, 2, level);
        EXPECT_EQ(bit_difference(scalar, switched), "") << "SCALAR then " << simd_level_text(level);
    }
}

// 8-bit state (m, s, s_max in 8 bits for the tensors of at least 4096 elements): the last
// block of a tensor ends at every tail of 8- and 16-wide vectors, and its whole vectors (32, 31,
// 30 and 28 of 8; 16, 15 and 14 of 16) end the three-vector loop of pipeline_whole_vectors in
// each of its three ways and the encoding's four-vector loop with 0, 2 and 3 vectors left, at
// both widths; unaligned buffers; float32 tensors of the same groups beside them.
Layout eight_bit_layout() {
    std::vector<std::size_t> sizes;
    for (std::size_t tail = 0; tail <= 17; ++tail) sizes.push_back(4096 + tail);
    for (std::size_t n : {4096 + 255, 4096 + 245, 4096 + 229, 65537, 1000, 33}) sizes.push_back(n);
    return unaligned_layout(std::move(sizes));
}

TEST(SimdTest, EveryLevelThisCpuHasIsBitIdenticalToScalarWithEightBitState) {
    const std::vector<int32_t> levels = supported_simd_levels();
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    const Layout layout = eight_bit_layout();
    const Outcome scalar = run(seed, layout, 30, 2, NAB_SIMD_SCALAR, 0, 0, NAB_SIMD_AUTO, NAB_STATE_ENCODING_BLOCKWISE_8BIT);
    ASSERT_FALSE(HasFailure());
    ASSERT_FALSE(scalar.codes.front().empty()) << "the 4096-element tensor should have 8-bit state";
    if (levels.size() == 1) {
        GTEST_SKIP() << "this CPU has no SIMD level besides scalar";
    }
    for (int32_t level : levels) {
        if (level == NAB_SIMD_SCALAR) continue;
        SCOPED_TRACE(simd_level_text(level));
        const Outcome vector = run(seed, layout, 30, 2, level, 0, 0, NAB_SIMD_AUTO, NAB_STATE_ENCODING_BLOCKWISE_8BIT);
        ASSERT_FALSE(HasFailure());
        EXPECT_EQ(bit_difference(scalar, vector), "") << simd_level_text(level) << " vs SCALAR";
        const Outcome switched =
            run(seed, layout, 30, 2, NAB_SIMD_SCALAR, 13, 2, level, NAB_STATE_ENCODING_BLOCKWISE_8BIT);
        EXPECT_EQ(bit_difference(scalar, switched), "") << "SCALAR then " << simd_level_text(level);
    }
}

// A step that moves more than the CPU backend's prefetching threshold (64 MiB: kPrefetchFromBytes
// in cpu/prefetch_policy.h, `bytes_per_element` here), so that the AVX2 and AVX-512 kernels ask for
// lines ahead of their loads: the same bits as the scalar kernel, which never does.
void expect_prefetching_levels_match_scalar(const Layout& layout, int32_t encoding, std::size_t bytes_per_element) {
    const std::vector<int32_t> levels = supported_simd_levels();
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    std::size_t elements = 0;
    for (std::size_t n : layout.sizes) elements += n;
    ASSERT_GE(elements * bytes_per_element, nab::cpu::kPrefetchFromBytes) << "the layout should move at least 64 MiB per step";
    const Outcome scalar = run(seed, layout, 3, 2, NAB_SIMD_SCALAR, 0, 0, NAB_SIMD_AUTO, encoding);
    ASSERT_FALSE(::testing::Test::HasFailure());
    if (levels.size() == 1) {
        GTEST_SKIP() << "this CPU has no SIMD level besides scalar";
    }
    for (int32_t level : levels) {
        if (level == NAB_SIMD_SCALAR) continue;
        const Outcome vector = run(seed, layout, 3, 2, level, 0, 0, NAB_SIMD_AUTO, encoding);
        ASSERT_FALSE(::testing::Test::HasFailure());
        EXPECT_EQ(bit_difference(scalar, vector), "") << simd_level_text(level) << " vs SCALAR";
    }
}

// float32 state, 16 bytes per element: odd, unaligned tensors, one shorter than the prefetch
// distance (256 elements), one just longer.
TEST(SimdTest, PrefetchingStepsAreBitIdenticalToScalar) {
    expect_prefetching_levels_match_scalar(unaligned_layout({4194319, 70001, 255, 257, 1000, 33}),
                                           NAB_STATE_ENCODING_FLOAT32, 16);
}

// 8-bit state, 10 bytes per element (float32 parameters and gradients, a byte per moment): a
// tensor whose last block is partial and whose chunks end mid-group, one of two groups and a
// little more, and small ones that keep float32 state.
TEST(SimdTest, PrefetchingStepsAreBitIdenticalToScalarWithEightBitState) {
    const Layout layout = unaligned_layout({6800003, 2 * 1024 + 77, 70001, 255, 33});
    expect_prefetching_levels_match_scalar(layout, NAB_STATE_ENCODING_BLOCKWISE_8BIT, 10);
}

// A level the CPU lacks is UNSUPPORTED (above the best AVX level on x86-64, the other
// architecture's levels everywhere); a level it has is accepted. Only what applies to this CPU is
// checked (the rest cannot be provoked here).
TEST(SimdTest, LevelsThisCpuLacksAreUnsupportedAndTheOthersAccepted) {
    const std::vector<int32_t> supported = supported_simd_levels();
    for (int32_t level : named_simd_levels()) {
        SCOPED_TRACE(simd_level_text(level));
        nab_optimizer_config config;
        NAB_ASSERT_OK(nab_optimizer_config_init(&config));
        config.simd_level = level;
        nab_optimizer* raw = reinterpret_cast<nab_optimizer*>(&config);  // non-null sentinel
        const nab_status status = nab_optimizer_create(&config, &raw);
        OptimizerPtr owned(status == NAB_STATUS_OK ? raw : nullptr);
        if (std::find(supported.begin(), supported.end(), level) != supported.end()) {
            ASSERT_EQ(status, NAB_STATUS_OK) << nab_get_last_error();
            int32_t got = -1;
            NAB_ASSERT_OK(nab_optimizer_get_simd_level(owned.get(), &got));
            EXPECT_EQ(got, level);
            NAB_EXPECT_OK(nab_optimizer_set_simd_level(owned.get(), level));
        } else {
            EXPECT_EQ(status, NAB_STATUS_UNSUPPORTED);
            EXPECT_EQ(raw, nullptr);
            EXPECT_TRUE(contains_text(nab_get_last_error(), "simd")) << nab_get_last_error();
            OptimizerPtr other = make_optimizer(1, NAB_SIMD_SCALAR);
            ASSERT_TRUE(other);
            EXPECT_EQ(nab_optimizer_set_simd_level(other.get(), level), NAB_STATUS_UNSUPPORTED);
            int32_t got = -1;
            NAB_ASSERT_OK(nab_optimizer_get_simd_level(other.get(), &got));
            EXPECT_EQ(got, NAB_SIMD_SCALAR);
        }
    }
}

// Several tensors, one above 10^6 elements, so that every thread count splits the work
// differently; 1 thread vs 2, 3, 8 and "all cores" must agree bit for bit.
TEST(ThreadsTest, ThreadCountDoesNotChangeABit) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Layout layout;
    layout.sizes = {1048583, 3, 100003, 4097, 1, 70001, 33, 262147};
    for (std::size_t t = 0; t < layout.sizes.size(); ++t) {
        layout.parameter_offsets.push_back(t % 3 == 0 ? 0 : 1 + t);
        layout.gradient_offsets.push_back(t % 2 == 0 ? 0 : 2 + t);
    }
    const int steps = 8;
    const Outcome one = run(seed, layout, steps, 1, NAB_SIMD_AUTO);
    ASSERT_FALSE(HasFailure());
    for (int32_t threads : {2, 3, 8, 0}) {
        {
            OptimizerPtr optimizer = make_optimizer(threads);
            ASSERT_TRUE(optimizer);
            int32_t got = 0;
            NAB_ASSERT_OK(nab_optimizer_get_thread_count(optimizer.get(), &got));
            if (threads > 0) {
                EXPECT_EQ(got, threads);
            } else {
                EXPECT_GE(got, 1);
            }
        }
        const Outcome many = run(seed, layout, steps, threads, NAB_SIMD_AUTO);
        EXPECT_EQ(bit_difference(one, many), "") << threads << " threads vs 1";
    }
    // Changing the thread count between steps.
    const Outcome switched = run(seed, layout, steps, 1, NAB_SIMD_AUTO, 4, 3, NAB_SIMD_AUTO);
    EXPECT_EQ(bit_difference(one, switched), "") << "1 thread, then 3";
}

// Fewer chunks than threads (3 chunks of one tensor above the parallel threshold, 8 threads):
// the threads without a share of their own take from the others' and nothing runs twice.
TEST(ThreadsTest, FewerChunksThanThreadsDoesNotChangeABit) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Layout layout;
    layout.sizes = {70001};
    layout.parameter_offsets = {1};
    layout.gradient_offsets = {3};
    const Outcome one = run(seed, layout, 5, 1, NAB_SIMD_AUTO);
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(bit_difference(one, run(seed, layout, 5, 8, NAB_SIMD_AUTO)), "") << "8 threads vs 1";
}

// The same with 8-bit state: every block's scale is found within its chunk, so the split over
// threads cannot change a code.
TEST(ThreadsTest, ThreadCountDoesNotChangeABitWithEightBitState) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Layout layout;
    layout.sizes = {1048583, 3, 100003, 4097, 1, 70001, 33, 262147};
    for (std::size_t t = 0; t < layout.sizes.size(); ++t) {
        layout.parameter_offsets.push_back(t % 3 == 0 ? 0 : 1 + t);
        layout.gradient_offsets.push_back(t % 2 == 0 ? 0 : 2 + t);
    }
    const int steps = 6;
    const int32_t eight_bit = NAB_STATE_ENCODING_BLOCKWISE_8BIT;
    const Outcome one = run(seed, layout, steps, 1, NAB_SIMD_AUTO, 0, 0, NAB_SIMD_AUTO, eight_bit);
    ASSERT_FALSE(HasFailure());
    for (int32_t threads : {2, 3, 8, 0}) {
        const Outcome many = run(seed, layout, steps, threads, NAB_SIMD_AUTO, 0, 0, NAB_SIMD_AUTO, eight_bit);
        EXPECT_EQ(bit_difference(one, many), "") << threads << " threads vs 1";
    }
    const Outcome switched = run(seed, layout, steps, 1, NAB_SIMD_AUTO, 3, 3, NAB_SIMD_AUTO, eight_bit);
    EXPECT_EQ(bit_difference(one, switched), "") << "1 thread, then 3";
}

// The scalar kernel with many threads against one thread, on the odd layout.
TEST(ThreadsTest, ScalarKernelWithThreadsMatchesOneThread) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    const Layout layout = odd_unaligned_layout();
    const Outcome one = run(seed, layout, 12, 1, NAB_SIMD_SCALAR);
    const Outcome three = run(seed, layout, 12, 3, NAB_SIMD_SCALAR);
    EXPECT_EQ(bit_difference(one, three), "");
}

}  // namespace
}  // namespace nabtest
