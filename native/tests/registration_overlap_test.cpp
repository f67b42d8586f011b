// The rule that caller memory is registered once, as one buffer of one tensor: every
// registration and replacement path (add_tensor, set_tensor_parameters, set_tensor_gradients,
// set_gradients) refuses memory shared with a registered buffer, names both tensors, and changes
// nothing. Random layouts are checked against a brute-force O(N^2) model of the rule. Also: a
// master copy follows new parameters (set_tensor_parameters, initialize_master_parameters).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "native_adabelief.h"
#include "support/sixteen_bit.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

// One registered buffer of the model: float offsets [first, first + count) in the arena.
struct Range {
    std::size_t first, count;
    uint32_t tensor;
    bool gradients;
};

bool overlaps(std::size_t a, std::size_t a_count, std::size_t b, std::size_t b_count) {
    return a < b + b_count && b < a + a_count;
}

std::string buffer_text(uint32_t tensor, bool gradients) {
    return "tensor " + std::to_string(tensor) + "'s " + (gradients ? "gradients" : "parameters");
}

class RegistrationOverlapTest : public ::testing::Test {
protected:
    void SetUp() override {
        optimizer_ = make_optimizer(1);
        nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
        uint32_t id = 0;
        NAB_ASSERT_OK(nab_optimizer_add_group(optimizer_.get(), &options, &id));
    }
    nab_status add(float* parameters, float* gradients, uint64_t count, uint32_t* id) {
        nab_tensor_desc d{};
        d.struct_size = sizeof d;
        d.element_count = count;
        d.parameters = parameters;
        d.gradients = gradients;
        return nab_optimizer_add_tensor(optimizer_.get(), &d, id);
    }
    uint32_t tensor_count() {
        uint32_t count = 0;
        EXPECT_EQ(nab_optimizer_get_tensor_count(optimizer_.get(), &count), NAB_STATUS_OK);
        return count;
    }
    // A refusal must name both buffers (the one being registered and one it overlaps).
    static void expect_names(const std::string& mine, const std::string& theirs) {
        const std::string message = nab_get_last_error();
        EXPECT_TRUE(contains_text(message, mine)) << message << "\nshould name " << mine;
        EXPECT_TRUE(contains_text(message, theirs)) << message << "\nshould name " << theirs;
    }
    OptimizerPtr optimizer_;
};

TEST_F(RegistrationOverlapTest, TheSameArrayInTwoTensorsIsRefusedNamingBoth) {
    std::vector<float> p(64, 1.0f), g(64, 0.5f), other(64);
    uint32_t id = 0;
    NAB_ASSERT_OK(add(p.data(), g.data(), 64, &id));
    EXPECT_EQ(add(p.data(), other.data(), 64, &id), NAB_STATUS_INVALID_ARGUMENT);
    expect_names("tensor 1's parameters", "tensor 0's parameters");
    EXPECT_EQ(add(other.data(), g.data() + 10, 8, &id), NAB_STATUS_INVALID_ARGUMENT);
    expect_names("tensor 1's gradients", "tensor 0's gradients");
    EXPECT_EQ(add(other.data(), p.data() + 63, 1, &id), NAB_STATUS_INVALID_ARGUMENT);  // a gradient in parameters
    expect_names("tensor 1's gradients", "tensor 0's parameters");
    EXPECT_EQ(tensor_count(), 1u);
    // Adjacent memory is not shared: the range ends where the next begins.
    std::vector<float> arena(100);
    NAB_ASSERT_OK(add(arena.data(), arena.data() + 50, 50, &id));
    NAB_ASSERT_OK(add(other.data(), nullptr, 64, &id));
    EXPECT_EQ(tensor_count(), 3u);
}

TEST_F(RegistrationOverlapTest, ReplacementsAreCheckedAgainstEveryOtherBuffer) {
    std::vector<float> arena(500);
    float* a = arena.data();
    uint32_t id = 0;
    NAB_ASSERT_OK(add(a, a + 100, 100, &id));        // tensor 0: [0,100) and [100,200)
    NAB_ASSERT_OK(add(a + 200, a + 300, 100, &id));  // tensor 1: [200,300) and [300,400)
    std::vector<float> free_memory(100);

    EXPECT_EQ(nab_optimizer_set_tensor_parameters(optimizer_.get(), 1, a + 150), NAB_STATUS_INVALID_ARGUMENT);
    expect_names("tensor 1's parameters", "tensor 0's gradients");
    EXPECT_EQ(nab_optimizer_set_tensor_gradients(optimizer_.get(), 0, a + 150), NAB_STATUS_INVALID_ARGUMENT);
    expect_names("tensor 0's gradients", "tensor 1's parameters");
    EXPECT_EQ(nab_optimizer_set_tensor_gradients(optimizer_.get(), 1, a + 250), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_TRUE(contains_text(nab_get_last_error(), "the tensor's other buffer")) << nab_get_last_error();
    // A replacement may overlap the buffer it replaces.
    NAB_ASSERT_OK(nab_optimizer_set_tensor_gradients(optimizer_.get(), 1, a + 310));
    NAB_ASSERT_OK(nab_optimizer_set_tensor_gradients(optimizer_.get(), 1, a + 300));
    // Memory a replaced buffer held is free again.
    NAB_ASSERT_OK(nab_optimizer_set_tensor_parameters(optimizer_.get(), 0, free_memory.data()));
    NAB_ASSERT_OK(nab_optimizer_set_tensor_gradients(optimizer_.get(), 1, a + 0));
    EXPECT_EQ(nab_optimizer_set_tensor_parameters(optimizer_.get(), 0, a + 0), NAB_STATUS_INVALID_ARGUMENT);
    expect_names("tensor 0's parameters", "tensor 1's gradients");
}

TEST_F(RegistrationOverlapTest, SetGradientsChecksTheNewLayoutAsAWhole) {
    std::vector<float> p0(32), p1(32), g0(32), g1(32);
    uint32_t id = 0;
    NAB_ASSERT_OK(add(p0.data(), g0.data(), 32, &id));
    NAB_ASSERT_OK(add(p1.data(), g1.data(), 32, &id));
    // The same gradient buffer for both: refused, naming both tensors; nothing changes.
    void* same[] = {g0.data(), g0.data() + 16};
    EXPECT_EQ(nab_optimizer_set_gradients(optimizer_.get(), same, 2), NAB_STATUS_INVALID_ARGUMENT);
    expect_names("tensor 1's gradients", "tensor 0's gradients");
    EXPECT_TRUE(contains_text(nab_get_last_error(), "gradients[1]")) << nab_get_last_error();
    void* into_parameters[] = {p1.data() + 4, g1.data()};
    EXPECT_EQ(nab_optimizer_set_gradients(optimizer_.get(), into_parameters, 2), NAB_STATUS_INVALID_ARGUMENT);
    expect_names("tensor 0's gradients", "tensor 1's parameters");
    // Swapping two tensors' gradients is fine: the old ones are replaced in the same call.
    void* swapped[] = {g1.data(), g0.data()};
    NAB_ASSERT_OK(nab_optimizer_set_gradients(optimizer_.get(), swapped, 2));
    // ...and the registered layout is now the swapped one.
    EXPECT_EQ(nab_optimizer_set_tensor_gradients(optimizer_.get(), 0, g0.data()), NAB_STATUS_INVALID_ARGUMENT);
    expect_names("tensor 0's gradients", "tensor 1's gradients");
}

// Random layouts in one arena against the brute-force model: every candidate is accepted
// exactly when the model says it shares no memory, and a refusal names a buffer it overlaps.
TEST_F(RegistrationOverlapTest, RandomLayoutsAgreeWithTheBruteForceModel) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    const std::size_t arena_size = 20000;
    std::vector<float> arena(arena_size);
    std::vector<Range> model;
    const auto below = [&](std::size_t limit) { return static_cast<std::size_t>(random.integer(0, static_cast<int64_t>(limit) - 1)); };
    const auto pick = [&](std::size_t count) { return below(arena_size - count + 1); };
    const auto conflict = [&](std::size_t first, std::size_t count, uint32_t tensor, bool gradients) {
        std::vector<Range> hits;
        for (const Range& r : model) {
            if (r.tensor == tensor && r.gradients == gradients) continue;  // the buffer it replaces
            if (overlaps(first, count, r.first, r.count)) hits.push_back(r);
        }
        return hits;
    };
    const auto expect_named_one_of = [&](const std::vector<Range>& hits) {
        const std::string message = nab_get_last_error();
        bool named = false;
        for (const Range& r : hits) named = named || contains_text(message, buffer_text(r.tensor, r.gradients) + ":");
        EXPECT_TRUE(named) << message;
    };
    int accepted = 0, refused = 0;
    for (int attempt = 0; attempt < 600; ++attempt) {
        const std::size_t count = 1 + below(40);
        const uint32_t n = static_cast<uint32_t>(model.size() / 2);
        const int action = n == 0 ? 0 : static_cast<int>(below(3));
        if (action == 0) {  // add a tensor
            const std::size_t pf = pick(count), gf = pick(count);
            std::vector<Range> hits = conflict(pf, count, n, false);
            const bool self = overlaps(pf, count, gf, count);
            std::vector<Range> ghits = conflict(gf, count, n, true);
            uint32_t id = 0;
            const nab_status status = add(arena.data() + pf, arena.data() + gf, count, &id);
            if (hits.empty() && ghits.empty() && !self) {
                NAB_ASSERT_OK(status);
                ASSERT_EQ(id, n);
                model.push_back({pf, count, n, false});
                model.push_back({gf, count, n, true});
                ++accepted;
            } else {
                ASSERT_EQ(status, NAB_STATUS_INVALID_ARGUMENT) << "add at " << pf << "/" << gf << " x" << count;
                if (!self && !hits.empty()) expect_named_one_of(hits);
                ++refused;
            }
            ASSERT_EQ(tensor_count(), model.size() / 2);
        } else {  // point a tensor's parameters or gradients elsewhere
            const uint32_t t = static_cast<uint32_t>(below(n));
            const bool gradients = action == 2;
            Range& mine = model[2 * t + (gradients ? 1 : 0)];
            const std::size_t first = pick(mine.count);
            const std::vector<Range> hits = conflict(first, mine.count, t, gradients);
            float* where = arena.data() + first;
            const nab_status status = gradients ? nab_optimizer_set_tensor_gradients(optimizer_.get(), t, where)
                                                : nab_optimizer_set_tensor_parameters(optimizer_.get(), t, where);
            if (hits.empty()) {
                NAB_ASSERT_OK(status);
                mine.first = first;
                ++accepted;
            } else {
                ASSERT_EQ(status, NAB_STATUS_INVALID_ARGUMENT);
                bool other_tensor = false;
                for (const Range& r : hits) other_tensor = other_tensor || r.tensor != t;
                if (other_tensor) {
                    std::vector<Range> others;
                    for (const Range& r : hits) if (r.tensor != t) others.push_back(r);
                    // The message names the other tensor's buffer, unless the first overlap found is the tensor's own.
                    const std::string message = nab_get_last_error();
                    if (!contains_text(message, "the tensor's other buffer")) expect_named_one_of(others);
                }
                ++refused;
            }
        }
    }
    // One set_gradients call that scatters every gradient anew, against the model.
    std::vector<void*> pointers;
    std::vector<Range> next;
    for (const Range& r : model) if (!r.gradients) next.push_back(r);
    bool expect_ok = true;
    for (uint32_t t = 0; t < model.size() / 2; ++t) {
        const std::size_t count = model[2 * t].count, first = pick(count);
        for (const Range& r : next) expect_ok = expect_ok && !overlaps(first, count, r.first, r.count);
        next.push_back({first, count, t, true});
        pointers.push_back(arena.data() + first);
    }
    const nab_status status = nab_optimizer_set_gradients(optimizer_.get(), pointers.data(), static_cast<uint32_t>(pointers.size()));
    EXPECT_EQ(status == NAB_STATUS_OK, expect_ok) << nab_get_last_error();
    EXPECT_GT(accepted, 10);
    EXPECT_GT(refused, 10);
}

// 16-bit parameters with a master copy: new values written into the 16-bit buffer are taken by
// nab_optimizer_initialize_master_parameters, and set_tensor_parameters does the same.
TEST(MasterCopyTest, FollowsParametersTheCallerWrote) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    const std::size_t n = 257;
    OptimizerPtr optimizer = make_optimizer(1);
    nab_group_options options = default_options(NAB_COMPATIBILITY_LABML);
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_group(optimizer.get(), &options, &id));
    std::vector<uint16_t> p(n), q(n), g(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = encode_sixteen_bit(random.uniform(-1, 1), NAB_DTYPE_BFLOAT16);
    nab_tensor_desc d{};
    d.struct_size = sizeof d;
    d.element_count = n;
    d.parameters = p.data();
    d.gradients = g.data();
    d.parameter_dtype = NAB_DTYPE_BFLOAT16;
    d.gradient_dtype = NAB_DTYPE_BFLOAT16;
    d.master_parameters = 1;
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &d, &id));
    const auto expect_master_is = [&](const std::vector<uint16_t>& values, const char* when) {
        const std::vector<float> master = read_state(optimizer.get(), 0, NAB_STATE_MASTER_PARAMETERS);
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(static_cast<double>(master[i]), decode_sixteen_bit(values[i], NAB_DTYPE_BFLOAT16)) << when << " at " << i;
        }
    };
    // The caller loads new weights into the registered buffer: the master copy still holds the old.
    for (std::size_t i = 0; i < n; ++i) p[i] = encode_sixteen_bit(random.uniform(-1, 1), NAB_DTYPE_BFLOAT16);
    NAB_ASSERT_OK(nab_optimizer_initialize_master_parameters(optimizer.get(), 0));
    expect_master_is(p, "after initialize_master_parameters");
    for (std::size_t i = 0; i < n; ++i) q[i] = encode_sixteen_bit(random.uniform(-1, 1), NAB_DTYPE_BFLOAT16);
    NAB_ASSERT_OK(nab_optimizer_set_tensor_parameters(optimizer.get(), 0, q.data()));
    expect_master_is(q, "after set_tensor_parameters");

    // A tensor without a master copy is refused, naming tensor_id.
    std::vector<float> f(8), fg(8);
    nab_tensor_desc plain{};
    plain.struct_size = sizeof plain;
    plain.element_count = 8;
    plain.parameters = f.data();
    plain.gradients = fg.data();
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &plain, &id));
    EXPECT_EQ(nab_optimizer_initialize_master_parameters(optimizer.get(), id), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "tensor_id");
    EXPECT_EQ(nab_optimizer_initialize_master_parameters(optimizer.get(), 99), NAB_STATUS_NOT_FOUND);
    EXPECT_EQ(nab_optimizer_initialize_master_parameters(nullptr, 0), NAB_STATUS_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace nabtest
