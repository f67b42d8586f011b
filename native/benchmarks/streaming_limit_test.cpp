// The streaming limit moves what it claims: every element of every array it writes gets the
// gradient's bits added (or, with the 16-bit parameters written from a master copy, the master's
// upper half), with and without asking ahead, on one and on two threads, and a call with sign -1
// gives every array back bit for bit; the 8-bit form's limit updates every element and scale. A limit that skipped elements would report a memory speed
// no step could reach.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "cpu/prefetch_policy.h"
#include "streaming_limit.h"

namespace {

using nab::bench::LimitArrays;

// The arrays of one form, filled with random bits; `copy` is what they held before a call.
struct FormArrays {
    FormArrays(std::size_t count, bool float_parameters, bool narrow_parameters, bool float_gradients, bool max,
               std::mt19937& random)
        : p(float_parameters ? count : 0), g(float_gradients ? count : 0), m(count), s(count), s_max(max ? count : 0),
          narrow_p(narrow_parameters ? count : 0), narrow_g(float_gradients ? 0 : count) {
        for (auto* words : {&p, &g, &m, &s, &s_max}) {
            for (std::uint32_t& w : *words) w = static_cast<std::uint32_t>(random());
        }
        for (auto* halves : {&narrow_p, &narrow_g}) {
            for (std::uint16_t& h : *halves) h = static_cast<std::uint16_t>(random());
        }
    }
    LimitArrays arrays() {
        LimitArrays a;
        a.parameters = p.empty() ? nullptr : reinterpret_cast<float*>(p.data());
        a.gradients = g.empty() ? nullptr : reinterpret_cast<const float*>(g.data());
        a.first_moment = reinterpret_cast<float*>(m.data());
        a.second_moment = reinterpret_cast<float*>(s.data());
        a.max_second_moment = s_max.empty() ? nullptr : reinterpret_cast<float*>(s_max.data());
        a.narrow_parameters = narrow_p.empty() ? nullptr : narrow_p.data();
        a.narrow_gradients = narrow_g.empty() ? nullptr : narrow_g.data();
        return a;
    }
    bool operator==(const FormArrays& other) const {
        return p == other.p && g == other.g && m == other.m && s == other.s && s_max == other.s_max &&
               narrow_p == other.narrow_p && narrow_g == other.narrow_g;
    }
    std::vector<std::uint32_t> p, g, m, s, s_max;
    std::vector<std::uint16_t> narrow_p, narrow_g;
};

struct Form {
    const char* name;
    bool float_parameters, narrow_parameters, float_gradients, max;
};

constexpr Form kForms[] = {
    {"float32", true, false, true, false},
    {"float32 AMSGrad", true, false, true, true},
    {"16-bit with master", true, true, false, false},
    {"16-bit", false, true, false, false},
};

// Checks one call with sign +1 element by element against its definition, then that sign -1
// undoes it.
void check_form(const Form& form, std::size_t count, int threads, bool prefetch, std::uint32_t seed) {
    SCOPED_TRACE(::testing::Message() << form.name << ", " << count << " elements, " << threads
                                      << " threads, prefetch " << prefetch << ", seed " << seed);
    std::mt19937 random(seed);
    FormArrays arrays(count, form.float_parameters, form.narrow_parameters, form.float_gradients, form.max, random);
    const FormArrays before = arrays;
    LimitArrays a = arrays.arrays();
    a.prefetch = prefetch;
    nab::cpu::ThreadPool pool(threads);
    nab::bench::streaming_limit(pool, a, count, +1);
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint32_t delta = form.float_gradients ? before.g[i] : before.narrow_g[i];
        ASSERT_EQ(arrays.m[i], before.m[i] + delta) << "m at " << i;
        ASSERT_EQ(arrays.s[i], before.s[i] + delta) << "s at " << i;
        if (form.max) {
            ASSERT_EQ(arrays.s_max[i], before.s_max[i] + delta) << "s_max at " << i;
        }
        if (form.float_parameters) {
            ASSERT_EQ(arrays.p[i], before.p[i] + delta) << "parameters at " << i;
        }
        if (form.narrow_parameters) {
            const std::uint16_t expected = form.float_parameters ? static_cast<std::uint16_t>(arrays.p[i] >> 16)
                                                                 : static_cast<std::uint16_t>(before.narrow_p[i] + delta);
            ASSERT_EQ(arrays.narrow_p[i], expected) << "16-bit parameters at " << i;
        }
    }
    nab::bench::streaming_limit(pool, a, count, -1);
    if (form.narrow_parameters && form.float_parameters) {
        // Written from the master copy again, not undone: the restored master's upper half.
        for (std::size_t i = 0; i < count; ++i) {
            ASSERT_EQ(arrays.narrow_p[i], static_cast<std::uint16_t>(before.p[i] >> 16)) << "16-bit parameters at " << i;
        }
        arrays.narrow_p = before.narrow_p;
    }
    EXPECT_TRUE(arrays == before) << "sign -1 did not undo sign +1";
}

// Sizes around the prefetching loop's edges: shorter than the distance, one line past it, and
// odd lengths so that each thread's share ends mid-line.
TEST(StreamingLimitTest, EveryFormMovesEveryElementAndUndoesItself) {
    const std::uint32_t seed = std::random_device{}();
    constexpr std::size_t distance = nab::cpu::kPrefetchDistance;
    for (const Form& form : kForms) {
        for (std::size_t count : {std::size_t{37}, distance + 16, 4 * distance + 23, 40 * distance + 5}) {
            for (int threads : {1, 2}) {
                for (bool prefetch : {false, true}) check_form(form, count, threads, prefetch, seed);
            }
        }
    }
}

// The 8-bit form's limit: every parameter less its gradient, every code of m plus 1 and of s plus
// 3, every block's scales halved, with and without asking ahead, on one and on two threads.
TEST(StreamingLimitTest, EightBitFormMovesEveryElementAndEveryScale) {
    const std::uint32_t seed = std::random_device{}();
    constexpr std::size_t block = 256;
    for (std::size_t count : {std::size_t{37}, 2 * block + 5, 40 * block + 129}) {
        for (int threads : {1, 2}) {
            for (bool prefetch : {false, true}) {
                SCOPED_TRACE(::testing::Message() << count << " elements, " << threads << " threads, prefetch "
                                                  << prefetch << ", seed " << seed);
                std::mt19937 random(seed);
                std::uniform_real_distribution<float> value(-1.0f, 1.0f);
                const std::size_t blocks = (count + block - 1) / block;
                std::vector<float> p(count), g(count), m_scales(blocks), s_scales(blocks);
                std::vector<std::uint8_t> m_codes(count), s_codes(count);
                for (auto* floats : {&p, &g, &m_scales, &s_scales}) {
                    for (float& f : *floats) f = value(random);
                }
                for (auto* codes : {&m_codes, &s_codes}) {
                    for (std::uint8_t& c : *codes) c = static_cast<std::uint8_t>(random());
                }
                const auto p0 = p, m_scales0 = m_scales, s_scales0 = s_scales;
                const auto m_codes0 = m_codes, s_codes0 = s_codes;
                nab::cpu::ThreadPool pool(threads);
                nab::bench::streaming_limit_8bit(pool, p.data(), g.data(), m_codes.data(), s_codes.data(),
                                                 m_scales.data(), s_scales.data(), count, prefetch);
                for (std::size_t i = 0; i < count; ++i) {
                    ASSERT_EQ(p[i], p0[i] - g[i]) << "parameters at " << i;
                    ASSERT_EQ(m_codes[i], static_cast<std::uint8_t>(m_codes0[i] + 1)) << "codes of m at " << i;
                    ASSERT_EQ(s_codes[i], static_cast<std::uint8_t>(s_codes0[i] + 3)) << "codes of s at " << i;
                }
                for (std::size_t b = 0; b < blocks; ++b) {
                    ASSERT_EQ(m_scales[b], m_scales0[b] * 0.5f) << "scale of m, block " << b;
                    ASSERT_EQ(s_scales[b], s_scales0[b] * 0.5f) << "scale of s, block " << b;
                }
            }
        }
    }
}

// The footprint the prefetching rule counts is the step's: each array once, s_max left out.
TEST(StreamingLimitTest, FootprintCountsEachArrayOnceWithoutMaxSecondMoment) {
    std::mt19937 random(1);
    FormArrays float32(4, true, false, true, true, random), master(4, true, true, false, false, random),
        narrow(4, false, true, false, false, random);
    EXPECT_EQ(nab::bench::step_footprint_bytes(float32.arrays(), 1000), 1000u * 16u);
    EXPECT_EQ(nab::bench::step_footprint_bytes(master.arrays(), 1000), 1000u * 16u);
    EXPECT_EQ(nab::bench::step_footprint_bytes(narrow.arrays(), 1000), 1000u * 12u);
    EXPECT_EQ(nab::bench::step_footprint_bytes_8bit(1000), 1000u * 10u);
    EXPECT_FALSE(nab::bench::step_would_prefetch(nab::cpu::kPrefetchFromBytes - 1));
    EXPECT_TRUE(nab::bench::step_would_prefetch(nab::cpu::kPrefetchFromBytes));
}

}  // namespace
