// The gradient pass in chunks (nab_optimizer_get_gradient_chunk_count,
// nab_optimizer_compute_gradient_chunk_statistics, nab_optimizer_step_with_gradient_statistics):
// a model split into parts registered as sub-ranges of its tensors (cut at multiples of
// NAB_GRADIENT_CHUNK_ELEMENTS) has exactly the whole model's chunk totals, and parts stepping
// with everyone's totals end bit-identical to one optimizer stepping the whole model, with
// clipping and skips. Plus the refusals. The whole-model optimizer is the reference: it is
// the plain nab_optimizer_step, tested against the float64 reference elsewhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "native_adabelief.h"
#include "support/sixteen_bit.h"
#include "support/test_support.h"

namespace nabtest {
namespace {

constexpr uint64_t kChunk = NAB_GRADIENT_CHUNK_ELEMENTS;

// One part of the split model: [offset, offset + count) of tensor `tensor`.
struct Piece {
    std::size_t tensor;
    std::size_t offset;
    std::size_t count;
};

// The model: two tensors of 100000 and 70000 elements, cut at chunk multiples into three parts
// whose cuts cross the tensor boundary (part 1 ends inside tensor 0, part 2 holds the tail of
// tensor 0 and the head of tensor 1).
const std::vector<std::size_t> kLengths = {100000, 70000};
const std::vector<std::vector<Piece>> kParts = {
    {{0, 0, 2 * kChunk}},
    {{0, 2 * kChunk, 100000 - 2 * kChunk}, {1, 0, kChunk}},
    {{1, kChunk, 70000 - kChunk}},
};

// Parameters of one dtype (float32, or bfloat16 with a master copy), gradients float32.
struct Model {
    int32_t dtype;
    std::vector<std::vector<float>> wide;       // float32 parameters
    std::vector<std::vector<uint16_t>> narrow;  // bfloat16 parameters
    std::vector<std::vector<float>> gradients;

    Model(int32_t parameter_dtype, Random& random) : dtype(parameter_dtype) {
        for (std::size_t length : kLengths) {
            std::vector<float> values = random_parameters(random, length);
            if (dtype == NAB_DTYPE_FLOAT32) {
                wide.push_back(values);
            } else {
                std::vector<uint16_t> bits(length);
                for (std::size_t i = 0; i < length; ++i) bits[i] = encode_sixteen_bit(values[i], NAB_DTYPE_BFLOAT16);
                narrow.push_back(bits);
            }
            gradients.emplace_back(length, 0.0f);
        }
    }
    void* parameters(std::size_t tensor, std::size_t offset) {
        return dtype == NAB_DTYPE_FLOAT32 ? static_cast<void*>(wide[tensor].data() + offset)
                                          : static_cast<void*>(narrow[tensor].data() + offset);
    }
    std::string parameter_bytes() const {
        std::string bytes;
        for (std::size_t t = 0; t < kLengths.size(); ++t) {
            bytes += dtype == NAB_DTYPE_FLOAT32
                         ? std::string(reinterpret_cast<const char*>(wide[t].data()), wide[t].size() * 4)
                         : std::string(reinterpret_cast<const char*>(narrow[t].data()), narrow[t].size() * 2);
        }
        return bytes;
    }
};

void add(nab_optimizer* optimizer, Model& model, std::size_t tensor, std::size_t offset, std::size_t count) {
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.element_count = count;
    desc.parameters = model.parameters(tensor, offset);
    desc.gradients = model.gradients[tensor].data() + offset;
    desc.parameter_dtype = model.dtype;
    desc.gradient_dtype = NAB_DTYPE_FLOAT32;
    desc.master_parameters = model.dtype == NAB_DTYPE_FLOAT32 ? 0 : 1;
    uint32_t id = 0;
    NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer, &desc, &id));
}

OptimizerPtr with_group(int32_t thread_count = 2, int32_t simd_level = NAB_SIMD_AUTO) {
    OptimizerPtr optimizer = make_optimizer(thread_count, simd_level);
    nab_group_options options = default_options();
    options.weight_decay = 0.01;
    uint32_t group = 0;
    EXPECT_EQ(nab_optimizer_add_group(optimizer.get(), &options, &group), NAB_STATUS_OK);
    return optimizer;
}

void set_step_options(nab_optimizer* optimizer, double max_norm, bool skip) {
    nab_step_options options{};
    NAB_ASSERT_OK(nab_step_options_init(&options));
    options.max_gradient_norm = max_norm;
    options.skip_nonfinite = skip ? 1 : 0;
    options.compute_gradient_norm = 1;
    NAB_ASSERT_OK(nab_optimizer_set_step_options(optimizer, &options));
}

struct ChunkTotals {
    std::vector<double> sums;
    std::vector<uint64_t> counts;
};

ChunkTotals chunk_totals(nab_optimizer* optimizer) {
    uint64_t count = 0;
    EXPECT_EQ(nab_optimizer_get_gradient_chunk_count(optimizer, &count), NAB_STATUS_OK);
    ChunkTotals totals{std::vector<double>(count), std::vector<uint64_t>(count)};
    EXPECT_EQ(nab_optimizer_compute_gradient_chunk_statistics(optimizer, totals.sums.data(), totals.counts.data(), count),
              NAB_STATUS_OK)
        << nab_get_last_error();
    return totals;
}

nab_step_report last_report(nab_optimizer* optimizer) {
    nab_step_report report{};
    report.struct_size = sizeof report;
    EXPECT_EQ(nab_optimizer_get_last_step_report(optimizer, &report), NAB_STATUS_OK);
    return report;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(GradientChunksTest, ChunkCountIsTheDocumentedSum) {
    OptimizerPtr optimizer = with_group();
    const std::vector<std::size_t> lengths = {1, kChunk, kChunk + 1, 100000, 5};
    std::vector<std::vector<float>> parameters, gradients;
    for (std::size_t length : lengths) {
        parameters.emplace_back(length, 1.0f);
        gradients.emplace_back(length, 0.5f);
    }
    for (std::size_t i = 0; i < lengths.size(); ++i) {
        nab_tensor_desc desc{};
        desc.struct_size = sizeof desc;
        desc.element_count = lengths[i];
        desc.parameters = parameters[i].data();
        desc.gradients = i == 4 ? nullptr : gradients[i].data();  // no gradients: no chunks
        uint32_t id = 0;
        NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &desc, &id));
    }
    uint64_t count = 0;
    NAB_ASSERT_OK(nab_optimizer_get_gradient_chunk_count(optimizer.get(), &count));
    EXPECT_EQ(count, 1u + 1u + 2u + 4u);
    const ChunkTotals totals = chunk_totals(optimizer.get());
    // Every chunk is full of 0.5: its sum of squares is a quarter of its length.
    const double full = kChunk * 0.25;
    const std::vector<double> expected = {0.25, full, full, 0.25, full, full, full, (100000 - 3 * kChunk) * 0.25};
    ASSERT_EQ(totals.sums.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(totals.sums[i], expected[i]) << "chunk " << i;
}

// The same gradient values stored as float32, bfloat16 and float16 (values all three hold
// exactly: 8 significant bits, exponents in float16's normal range) total bit for bit the same
// in every chunk, whatever the type and the thread count: one association per chunk, with
// float16 widened block by block and bfloat16 read directly. The tensor ends inside a chunk, a
// conversion block and a vector; a NaN in the last chunk is counted once in each copy.
TEST(GradientChunksTest, ChunkTotalsDoNotDependOnTheGradientType) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    const std::size_t length = 2 * kChunk + 1000 + 7;
    std::vector<float> wide(length);
    for (float& value : wide) {
        const double significand = 1.0 + static_cast<double>(random.integer(0, 127)) / 128.0;
        value = static_cast<float>((random.chance(0.5) ? -1.0 : 1.0) *
                                   std::ldexp(significand, static_cast<int>(random.integer(-12, 12))));
    }
    wide[length - 5] = std::numeric_limits<float>::quiet_NaN();
    std::vector<uint16_t> bfloat16(length), float16(length);
    for (std::size_t i = 0; i < length; ++i) {
        if (std::isnan(wide[i])) {
            bfloat16[i] = 0x7fc0;
            float16[i] = 0x7e00;
            continue;
        }
        bfloat16[i] = encode_sixteen_bit(wide[i], NAB_DTYPE_BFLOAT16);
        float16[i] = encode_sixteen_bit(wide[i], NAB_DTYPE_FLOAT16);
        ASSERT_EQ(decode_sixteen_bit(bfloat16[i], NAB_DTYPE_BFLOAT16), wide[i]) << "element " << i;
        ASSERT_EQ(decode_sixteen_bit(float16[i], NAB_DTYPE_FLOAT16), wide[i]) << "element " << i;
    }
    const uint64_t chunks = (length + kChunk - 1) / kChunk;
    for (int32_t threads : {1, 2}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        OptimizerPtr optimizer = with_group(threads);
        const std::vector<std::pair<int32_t, void*>> copies = {
            {NAB_DTYPE_FLOAT32, wide.data()}, {NAB_DTYPE_BFLOAT16, bfloat16.data()}, {NAB_DTYPE_FLOAT16, float16.data()}};
        std::vector<std::vector<float>> parameters;  // one buffer per tensor (memory is registered once)
        parameters.reserve(copies.size());
        for (const auto& [dtype, gradients] : copies) {
            nab_tensor_desc desc{};
            desc.struct_size = sizeof desc;
            desc.element_count = length;
            desc.parameters = parameters.emplace_back(length, 1.0f).data();
            desc.gradients = gradients;
            desc.gradient_dtype = dtype;
            uint32_t id = 0;
            NAB_ASSERT_OK(nab_optimizer_add_tensor(optimizer.get(), &desc, &id));
        }
        const ChunkTotals totals = chunk_totals(optimizer.get());
        ASSERT_EQ(totals.sums.size(), 3 * chunks);
        for (uint64_t chunk = 0; chunk < chunks; ++chunk) {
            const bool last = chunk + 1 == chunks;
            EXPECT_EQ(totals.counts[chunk], last ? 1u : 0u) << "float32, chunk " << chunk;
            if (!last) {
                EXPECT_TRUE(std::isfinite(totals.sums[chunk]) && totals.sums[chunk] > 0.0) << "chunk " << chunk;
            }
            for (uint64_t copy = 1; copy < 3; ++copy) {
                const uint64_t index = copy * chunks + chunk;
                const char* name = copy == 1 ? "bfloat16" : "float16";
                EXPECT_EQ(totals.counts[index], totals.counts[chunk]) << name << ", chunk " << chunk;
                if (!last) {
                    EXPECT_TRUE(same_bits(totals.sums[index], totals.sums[chunk]))
                        << name << ", chunk " << chunk << ": " << totals.sums[index] << " against float32's "
                        << totals.sums[chunk];
                }
            }
        }
    }
}

// Every finite 16-bit value (subnormals to the largest, both signs and zeros) totals bit for bit
// as its float32 widening does, at every SIMD level (each reads 16-bit gradients with its own
// code) and thread count, in chunks that end at every offset inside a run of lanes and a vector
// (tensors of 1 to 69 elements, and chunks cut short by a tensor's end); and each chunk's total
// is its float64 sum of squares to the rounding of a sum of positive terms.
class SixteenBitTotalsTest : public ::testing::TestWithParam<nab_dtype> {};

TEST_P(SixteenBitTotalsTest, TotalsAreTheFloat32WideningsAtEveryLevel) {
    const nab_dtype dtype = GetParam();
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    // The fields of a finite value: bfloat16 8 exponent bits and 7 fraction bits, float16 5 and 10.
    const int fraction_bits = dtype == NAB_DTYPE_BFLOAT16 ? 7 : 10;
    const int64_t largest_exponent = dtype == NAB_DTYPE_BFLOAT16 ? 254 : 30;
    std::vector<std::size_t> lengths = {kChunk + 45, 2 * kChunk - 3};
    for (std::size_t length = 1; length < 70; ++length) lengths.push_back(length);
    std::vector<std::vector<uint16_t>> narrow;
    std::vector<std::vector<float>> wide;
    for (std::size_t length : lengths) {
        std::vector<uint16_t>& bits = narrow.emplace_back(length);
        std::vector<float>& values = wide.emplace_back(length);
        for (std::size_t i = 0; i < length; ++i) {
            bits[i] = static_cast<uint16_t>((random.chance(0.5) ? 0x8000 : 0) |
                                            random.integer(0, largest_exponent) << fraction_bits |
                                            random.integer(0, (int64_t{1} << fraction_bits) - 1));
            values[i] = static_cast<float>(decode_sixteen_bit(bits[i], dtype));  // exact
        }
    }
    // The float64 sums, chunk by chunk in tensor order.
    std::vector<double> expected;
    for (const std::vector<float>& values : wide) {
        for (std::size_t begin = 0; begin < values.size(); begin += kChunk) {
            double sum = 0.0;
            for (std::size_t i = begin; i < values.size() && i < begin + kChunk; ++i) {
                sum += static_cast<double>(values[i]) * values[i];
            }
            expected.push_back(sum);
        }
    }
    auto totals_of = [&](int32_t level, int32_t threads, nab_dtype gradient_dtype) {
        OptimizerPtr optimizer = with_group(threads, level);
        std::vector<std::vector<float>> parameters;  // one buffer per tensor (memory is registered once)
        parameters.reserve(lengths.size());
        for (std::size_t t = 0; t < lengths.size(); ++t) {
            nab_tensor_desc desc{};
            desc.struct_size = sizeof desc;
            desc.element_count = lengths[t];
            desc.parameters = parameters.emplace_back(lengths[t], 1.0f).data();
            desc.gradients =
                gradient_dtype == NAB_DTYPE_FLOAT32 ? static_cast<void*>(wide[t].data()) : narrow[t].data();
            desc.gradient_dtype = gradient_dtype;
            uint32_t id = 0;
            EXPECT_EQ(nab_optimizer_add_tensor(optimizer.get(), &desc, &id), NAB_STATUS_OK) << nab_get_last_error();
        }
        return chunk_totals(optimizer.get());
    };
    const ChunkTotals reference = totals_of(NAB_SIMD_SCALAR, 1, NAB_DTYPE_FLOAT32);
    ASSERT_EQ(reference.sums.size(), expected.size());
    for (std::size_t chunk = 0; chunk < expected.size(); ++chunk) {
        EXPECT_EQ(reference.counts[chunk], 0u) << "chunk " << chunk;
        EXPECT_LE(std::fabs(reference.sums[chunk] - expected[chunk]), 1e-10 * expected[chunk])
            << "chunk " << chunk << ": " << reference.sums[chunk] << " against the float64 sum " << expected[chunk];
    }
    for (int32_t level : supported_simd_levels()) {
        for (int32_t threads : {1, 2}) {
            SCOPED_TRACE(std::string(simd_level_text(level)) + ", threads " + std::to_string(threads));
            const ChunkTotals totals = totals_of(level, threads, dtype);
            ASSERT_EQ(totals.sums.size(), expected.size());
            for (std::size_t chunk = 0; chunk < expected.size(); ++chunk) {
                EXPECT_EQ(totals.counts[chunk], 0u) << "chunk " << chunk;
                EXPECT_TRUE(same_bits(totals.sums[chunk], reference.sums[chunk]))
                    << "chunk " << chunk << ": " << totals.sums[chunk] << " against float32's " << reference.sums[chunk];
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Formats, SixteenBitTotalsTest, ::testing::Values(NAB_DTYPE_BFLOAT16, NAB_DTYPE_FLOAT16),
                         [](const ::testing::TestParamInfo<nab_dtype>& param) {
                             return std::string(param.param == NAB_DTYPE_BFLOAT16 ? "BFloat16" : "Float16");
                         });

class SplitModelTest : public ::testing::TestWithParam<int32_t> {};

// The parts' chunk totals, concatenated in part order, are the whole model's; and parts that
// step with all of them end where the whole model's optimizer ends, bit for bit, through steps
// that clip and a step that a NaN in one part's gradients makes everyone skip.
TEST_P(SplitModelTest, PartsSteppingWithEveryonesTotalsMatchTheWholeModel) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(seed_text(seed));
    Random random(seed);
    const int32_t dtype = GetParam();
    Model whole_model(dtype, random);
    Model split_model = whole_model;

    OptimizerPtr whole = with_group();
    for (std::size_t t = 0; t < kLengths.size(); ++t) add(whole.get(), whole_model, t, 0, kLengths[t]);
    std::vector<OptimizerPtr> parts;
    for (const std::vector<Piece>& pieces : kParts) {
        parts.push_back(with_group(1 + static_cast<int32_t>(parts.size())));  // thread counts differ on purpose
        for (const Piece& piece : pieces) add(parts.back().get(), split_model, piece.tensor, piece.offset, piece.count);
    }

    std::vector<GradientSource> sources;
    for (std::size_t length : kLengths) sources.emplace_back(random, length);
    for (int step = 1; step <= 6; ++step) {
        SCOPED_TRACE("step " + std::to_string(step));
        const double max_norm = step % 2 == 0 ? 1e-3 : 1e6;  // clips on even steps
        set_step_options(whole.get(), max_norm, /*skip=*/true);
        for (OptimizerPtr& part : parts) set_step_options(part.get(), max_norm, /*skip=*/true);
        for (std::size_t t = 0; t < kLengths.size(); ++t) {
            sources[t].fill(random, whole_model.gradients[t].data());
            if (step == 4 && t == 1) whole_model.gradients[t][kChunk + 17] = std::numeric_limits<float>::quiet_NaN();
            split_model.gradients[t] = whole_model.gradients[t];
        }

        const ChunkTotals expected = chunk_totals(whole.get());
        ChunkTotals gathered;
        for (OptimizerPtr& part : parts) {
            const ChunkTotals mine = chunk_totals(part.get());
            gathered.sums.insert(gathered.sums.end(), mine.sums.begin(), mine.sums.end());
            gathered.counts.insert(gathered.counts.end(), mine.counts.begin(), mine.counts.end());
        }
        ASSERT_EQ(gathered.sums.size(), expected.sums.size());
        for (std::size_t i = 0; i < expected.sums.size(); ++i) {
            ASSERT_TRUE(same_bits(gathered.sums[i], expected.sums[i])) << "chunk " << i;
            ASSERT_EQ(gathered.counts[i], expected.counts[i]) << "chunk " << i;
        }

        NAB_ASSERT_OK(nab_optimizer_step(whole.get()));
        const nab_step_report reference = last_report(whole.get());
        EXPECT_EQ(reference.skipped, step == 4 ? 1 : 0);
        for (OptimizerPtr& part : parts) {
            NAB_ASSERT_OK(nab_optimizer_step_with_gradient_statistics(part.get(), gathered.sums.data(),
                                                                      gathered.counts.data(), gathered.sums.size()));
            const nab_step_report report = last_report(part.get());
            EXPECT_EQ(report.gradients_checked, 1);
            EXPECT_EQ(report.skipped, reference.skipped);
            EXPECT_EQ(report.nonfinite_count, reference.nonfinite_count);
            EXPECT_TRUE(same_bits(report.gradient_norm, reference.gradient_norm));
            EXPECT_TRUE(same_bits(report.gradient_scale, reference.gradient_scale));
        }
        ASSERT_EQ(split_model.parameter_bytes(), whole_model.parameter_bytes());
    }
    // Masters and moments too: each part's state is its slice of the whole model's.
    for (std::size_t p = 0; p < kParts.size(); ++p) {
        for (std::size_t i = 0; i < kParts[p].size(); ++i) {
            const Piece& piece = kParts[p][i];
            for (int32_t kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT}) {
                const std::vector<float> whole_state = read_state(whole.get(), static_cast<uint32_t>(piece.tensor), kind);
                const std::vector<float> part_state = read_state(parts[p].get(), static_cast<uint32_t>(i), kind);
                ASSERT_EQ(0, std::memcmp(part_state.data(), whole_state.data() + piece.offset, piece.count * 4))
                    << "part " << p << " piece " << i << " state " << kind;
            }
            EXPECT_EQ(tensor_info(parts[p].get(), static_cast<uint32_t>(i)).step, 5);  // 6 steps, one skipped
        }
    }
}

INSTANTIATE_TEST_SUITE_P(ParameterTypes, SplitModelTest, ::testing::Values(NAB_DTYPE_FLOAT32, NAB_DTYPE_BFLOAT16),
                         [](const ::testing::TestParamInfo<int32_t>& param) {
                             return std::string(param.param == NAB_DTYPE_FLOAT32 ? "Float32" : "BFloat16WithMaster");
                         });

TEST(GradientChunksTest, StepWithoutGradientPassReadsNoTotals) {
    Random random(fresh_seed());
    Model a(NAB_DTYPE_FLOAT32, random);
    Model b = a;
    OptimizerPtr plain = with_group(), given = with_group();
    add(plain.get(), a, 0, 0, kLengths[0]);
    add(given.get(), b, 0, 0, kLengths[0]);
    GradientSource source(random, kLengths[0]);
    source.fill(random, a.gradients[0].data());
    b.gradients[0] = a.gradients[0];
    // Step options that ask for no pass: the totals (NaN, non-finite counts) must not matter.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const uint64_t huge = 12345;
    NAB_ASSERT_OK(nab_optimizer_step(plain.get()));
    NAB_ASSERT_OK(nab_optimizer_step_with_gradient_statistics(given.get(), &nan, &huge, 1));
    EXPECT_EQ(a.parameter_bytes(), b.parameter_bytes());
    EXPECT_EQ(last_report(given.get()).gradients_checked, 0);
    // And no totals at all (chunk_count 0, null arrays) is valid too.
    NAB_ASSERT_OK(nab_optimizer_step_with_gradient_statistics(given.get(), nullptr, nullptr, 0));
}

TEST(GradientChunksTest, RefusalsNameTheArgumentAndChangeNothing) {
    Random random(fresh_seed());
    Model model(NAB_DTYPE_FLOAT32, random);
    OptimizerPtr optimizer = with_group();
    add(optimizer.get(), model, 0, 0, kLengths[0]);  // 4 chunks
    std::vector<double> sums(5, -1.0);
    std::vector<uint64_t> counts(5, 99);

    EXPECT_EQ(nab_optimizer_compute_gradient_chunk_statistics(optimizer.get(), sums.data(), counts.data(), 5),
              NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "chunk_count");
    EXPECT_TRUE(contains_text(nab_get_last_error(), "= 5 does not match")) << nab_get_last_error();
    EXPECT_TRUE(contains_text(nab_get_last_error(), "4 gradient chunks")) << nab_get_last_error();
    EXPECT_EQ(nab_optimizer_compute_gradient_chunk_statistics(optimizer.get(), nullptr, counts.data(), 4),
              NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "out_sums_of_squares");
    EXPECT_EQ(nab_optimizer_compute_gradient_chunk_statistics(optimizer.get(), sums.data(), nullptr, 4),
              NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "out_nonfinite_counts");
    for (std::size_t i = 0; i < sums.size(); ++i) {
        EXPECT_EQ(sums[i], -1.0);
        EXPECT_EQ(counts[i], 99u);
    }
    uint64_t count = 0;
    EXPECT_EQ(nab_optimizer_get_gradient_chunk_count(nullptr, &count), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(nab_optimizer_get_gradient_chunk_count(optimizer.get(), nullptr), NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "out_count");

    const std::vector<float> before = model.wide[0];
    EXPECT_EQ(nab_optimizer_step_with_gradient_statistics(optimizer.get(), nullptr, counts.data(), 1),
              NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "sums_of_squares");
    EXPECT_EQ(nab_optimizer_step_with_gradient_statistics(optimizer.get(), sums.data(), nullptr, 1),
              NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(nab_get_last_error_argument(), "nonfinite_counts");
    EXPECT_EQ(nab_optimizer_step_with_gradient_statistics(nullptr, sums.data(), counts.data(), 1),
              NAB_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(model.wide[0], before);
    EXPECT_EQ(tensor_info(optimizer.get(), 0).step, 0);
}

#ifdef NAB_TEST_CUDA_BUILD
TEST(GradientChunksTest, CudaOptimizersRefuseThemAsUnsupported) {
    int32_t devices = 0;
    NAB_ASSERT_OK(nab_cuda_get_device_count(&devices));
    if (devices == 0) GTEST_SKIP() << "no CUDA device visible: the CUDA refusal is checked on a GPU machine";
    nab_optimizer_config config{};
    NAB_ASSERT_OK(nab_optimizer_config_init(&config));
    config.device_type = NAB_DEVICE_CUDA;
    nab_optimizer* raw = nullptr;
    NAB_ASSERT_OK(nab_optimizer_create(&config, &raw));
    OptimizerPtr optimizer(raw);
    uint64_t count = 0;
    EXPECT_EQ(nab_optimizer_get_gradient_chunk_count(optimizer.get(), &count), NAB_STATUS_UNSUPPORTED);
    EXPECT_TRUE(contains_text(nab_get_last_error(), "CPU optimizers only")) << nab_get_last_error();
    EXPECT_EQ(nab_optimizer_compute_gradient_chunk_statistics(optimizer.get(), nullptr, nullptr, 0), NAB_STATUS_UNSUPPORTED);
    EXPECT_EQ(nab_optimizer_step_with_gradient_statistics(optimizer.get(), nullptr, nullptr, 0), NAB_STATUS_UNSUPPORTED);
}
#endif

}  // namespace
}  // namespace nabtest
