// Parameters/second and bytes/second of the fused step (labml AdaBelief defaults, one tensor)
// beside the streaming limit kernel with the same traffic and thread count, for 1M and 64M
// parameters. Compare the bytes_per_second columns of one run: machines are noisy.
//
// Four forms of the step: float32 (28 bytes per element: read p, g, m, s; write p, m, s);
// bfloat16 parameters with a float32 master copy and bfloat16 gradients (also 28: read g 2,
// master 4, m 4, s 4; write master 4, p 2, m 4, s 4); float32 with the gradient pass of the
// step options on (skip on non-finite and clipping: 32, the gradients are read twice); float32
// parameters and gradients with 8-bit state (16 bytes per element and 16 per 256-element block:
// read p, g, the codes of m and s and their block scales; write p, codes, scales), beside its own
// streaming limit (BM_StreamingLimit8Bit). And the float32 and 8-bit steps over the .NET
// benchmarks' transformer set (BM_FusedStepTransformer) beside the streaming limit of the 8-bit
// step's exact bytes over the same tensors (BM_StreamingLimit8BitTransformer).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/thread_pool.h"
#include "native_adabelief.h"
#include "streaming_limit.h"

namespace {

// What BM_FusedStep's third argument selects.
enum class StepForm : std::int64_t {
    Float32 = 0,
    Bfloat16WithMaster = 1,
    Float32WithGradientPass = 2,
    EightBitState = 3
};

double bytes_per_element(StepForm form, std::size_t count) {
    switch (form) {
        case StepForm::Float32WithGradientPass: return 32.0;
        case StepForm::EightBitState: return nab::bench::streaming_limit_8bit_bytes(count) / static_cast<double>(count);
        default: return 28.0;
    }
}

void check(nab_status status) {
    if (status != NAB_STATUS_OK) throw std::runtime_error(nab_get_last_error());
}

struct Buffers {
    explicit Buffers(std::size_t count) : p(count, 0.5f), g(count, 1e-3f), m(count, 0.0f), s(count, 0.0f) {}
    std::vector<float> p, g, m, s;
};

// bfloat16 patterns of 0.5 and 1e-3 (the float32 values' upper halves, rounded).
constexpr std::uint16_t kBfloat16Half = 0x3f00, kBfloat16Thousandth = 0x3a83;

int threads_of(const benchmark::State& state) {
    return state.range(1) == 0 ? nab::cpu::hardware_thread_count() : static_cast<int>(state.range(1));
}

void report(benchmark::State& state, std::size_t count, int threads, double element_bytes) {
    const double elements = static_cast<double>(state.iterations()) * static_cast<double>(count);
    state.counters["params_per_second"] = benchmark::Counter(elements, benchmark::Counter::kIsRate);
    state.counters["bytes_per_second"] = benchmark::Counter(elements * element_bytes, benchmark::Counter::kIsRate);
    state.counters["threads"] = threads;
}

void BM_FusedStep(benchmark::State& state) {
    const auto count = static_cast<std::size_t>(state.range(0));
    const int threads = threads_of(state);
    const auto form = static_cast<StepForm>(state.range(2));
    Buffers buffers(count);
    std::vector<std::uint16_t> narrow_parameters, narrow_gradients;
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config));
    config.thread_count = threads;
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer));
    std::unique_ptr<nab_optimizer, decltype(&nab_optimizer_destroy)> owner(optimizer, &nab_optimizer_destroy);
    nab_group_options options;
    check(nab_group_options_init(&options, NAB_COMPATIBILITY_LABML));
    if (form == StepForm::EightBitState) options.state_encoding = NAB_STATE_ENCODING_BLOCKWISE_8BIT;
    std::uint32_t group = 0, tensor = 0;
    check(nab_optimizer_add_group(optimizer, &options, &group));
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.group_id = group;
    desc.element_count = count;
    desc.parameters = buffers.p.data();
    desc.gradients = buffers.g.data();
    if (form == StepForm::Bfloat16WithMaster) {
        narrow_parameters.assign(count, kBfloat16Half);
        narrow_gradients.assign(count, kBfloat16Thousandth);
        desc.parameters = narrow_parameters.data();
        desc.gradients = narrow_gradients.data();
        desc.parameter_dtype = desc.gradient_dtype = NAB_DTYPE_BFLOAT16;
        desc.master_parameters = 1;
    }
    check(nab_optimizer_add_tensor(optimizer, &desc, &tensor));
    if (form == StepForm::Float32WithGradientPass) {
        nab_step_options step_options;
        check(nab_step_options_init(&step_options));
        step_options.skip_nonfinite = 1;
        step_options.max_gradient_norm = 1.0;
        check(nab_optimizer_set_step_options(optimizer, &step_options));
    }
    check(nab_optimizer_step(optimizer));  // first touch of the state outside the timing
    for (auto _ : state) check(nab_optimizer_step(optimizer));
    report(state, count, threads, bytes_per_element(form, count));
}

void BM_StreamingLimit(benchmark::State& state) {
    const auto count = static_cast<std::size_t>(state.range(0));
    const int threads = threads_of(state);
    Buffers buffers(count);
    nab::cpu::ThreadPool pool(threads);
    nab::bench::streaming_limit(pool, buffers.p.data(), buffers.g.data(), buffers.m.data(), buffers.s.data(), count);
    for (auto _ : state) {
        nab::bench::streaming_limit(pool, buffers.p.data(), buffers.g.data(), buffers.m.data(), buffers.s.data(),
                                    count);
        benchmark::ClobberMemory();
    }
    report(state, count, threads, bytes_per_element(StepForm::Float32, count));
}

void BM_StreamingLimit8Bit(benchmark::State& state) {
    const auto count = static_cast<std::size_t>(state.range(0));
    const int threads = threads_of(state);
    const std::size_t blocks = (count + 255) / 256;
    std::vector<float> p(count, 0.5f), g(count, 1e-3f), m_scales(blocks, 1.0f), s_scales(blocks, 1.0f);
    std::vector<std::uint8_t> m(count, 0), s(count, 0);
    nab::cpu::ThreadPool pool(threads);
    auto run = [&] {
        nab::bench::streaming_limit_8bit(pool, p.data(), g.data(), m.data(), s.data(), m_scales.data(),
                                         s_scales.data(), count);
    };
    run();
    for (auto _ : state) {
        run();
        benchmark::ClobberMemory();
    }
    report(state, count, threads, bytes_per_element(StepForm::EightBitState, count));
}

// The .NET benchmarks' transformer set (tests/NativeAdaBelief.Benchmarks/Workloads.cs,
// TransformerShapes): a GPT-style decoder, d_model 640, 16 layers, vocabulary 32,000, context
// 1,024, 260 tensors, 99.9M parameters. With 8-bit state its 98 matrices keep 8-bit state and its
// 162 vectors (640 and 2,560 elements, below NAB_BLOCKWISE_8BIT_MIN_ELEMENTS) float32.
std::vector<std::size_t> transformer_shapes() {
    constexpr std::size_t d = 640, layers = 16, vocabulary = 32000, context = 1024;
    std::vector<std::size_t> shapes{vocabulary * d, context * d};
    for (std::size_t layer = 0; layer < layers; ++layer) {
        shapes.insert(shapes.end(), {d, d});                      // LayerNorm 1: weight, bias
        for (int projection = 0; projection < 4; ++projection) {
            shapes.insert(shapes.end(), {d * d, d});              // q, k, v, o: weight, bias
        }
        shapes.insert(shapes.end(), {d, d});                      // LayerNorm 2
        shapes.insert(shapes.end(), {d * 4 * d, 4 * d});          // MLP up
        shapes.insert(shapes.end(), {4 * d * d, d});              // MLP down
    }
    shapes.insert(shapes.end(), {d, d});                          // final LayerNorm
    return shapes;
}

// Bytes one step over `shapes` must move: 8-bit state for tensors of at least
// NAB_BLOCKWISE_8BIT_MIN_ELEMENTS elements when `eight_bit`, float32 (28 per element) otherwise.
double transformer_bytes(const std::vector<std::size_t>& shapes, bool eight_bit) {
    double bytes = 0;
    for (std::size_t n : shapes) {
        bytes += eight_bit && n >= NAB_BLOCKWISE_8BIT_MIN_ELEMENTS ? nab::bench::streaming_limit_8bit_bytes(n)
                                                                   : 28.0 * static_cast<double>(n);
    }
    return bytes;
}

// The step over the transformer set, one group, every tensor registered. Arguments: {threads,
// StepForm (Float32 or EightBitState)}. Reports like the one-tensor forms, with params the total.
void BM_FusedStepTransformer(benchmark::State& state) {
    const std::vector<std::size_t> shapes = transformer_shapes();
    const int threads = threads_of(state);
    const auto form = static_cast<StepForm>(state.range(1));
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config));
    config.thread_count = threads;
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer));
    std::unique_ptr<nab_optimizer, decltype(&nab_optimizer_destroy)> owner(optimizer, &nab_optimizer_destroy);
    nab_group_options options;
    check(nab_group_options_init(&options, NAB_COMPATIBILITY_LABML));
    if (form == StepForm::EightBitState) options.state_encoding = NAB_STATE_ENCODING_BLOCKWISE_8BIT;
    std::uint32_t group = 0;
    check(nab_optimizer_add_group(optimizer, &options, &group));
    std::vector<std::vector<float>> parameters, gradients;
    std::size_t total = 0;
    for (std::size_t n : shapes) {
        parameters.emplace_back(n, 0.5f);
        gradients.emplace_back(n, 1e-3f);
        nab_tensor_desc desc{};
        desc.struct_size = sizeof desc;
        desc.group_id = group;
        desc.element_count = n;
        desc.parameters = parameters.back().data();
        desc.gradients = gradients.back().data();
        std::uint32_t tensor = 0;
        check(nab_optimizer_add_tensor(optimizer, &desc, &tensor));
        total += n;
    }
    check(nab_optimizer_step(optimizer));  // first touch of the state outside the timing
    for (auto _ : state) check(nab_optimizer_step(optimizer));
    report(state, total, threads, transformer_bytes(shapes, form == StepForm::EightBitState) / static_cast<double>(total));
}

// The streaming limit of the 8-bit step over the transformer set: each tensor of at least
// NAB_BLOCKWISE_8BIT_MIN_ELEMENTS through streaming_limit_8bit, each smaller one (float32
// state) through streaming_limit, one after the other on one pool, as the step's exact bytes.
void BM_StreamingLimit8BitTransformer(benchmark::State& state) {
    const std::vector<std::size_t> shapes = transformer_shapes();
    const int threads = threads_of(state);
    struct Arrays {
        std::vector<float> p, g, m, s, m_scales, s_scales;
        std::vector<std::uint8_t> m_codes, s_codes;
    };
    std::vector<Arrays> arrays(shapes.size());
    std::size_t total = 0;
    for (std::size_t t = 0; t < shapes.size(); ++t) {
        const std::size_t n = shapes[t];
        Arrays& a = arrays[t];
        a.p.assign(n, 0.5f);
        a.g.assign(n, 1e-3f);
        if (n >= NAB_BLOCKWISE_8BIT_MIN_ELEMENTS) {
            a.m_codes.assign(n, 0);
            a.s_codes.assign(n, 0);
            a.m_scales.assign((n + 255) / 256, 1.0f);
            a.s_scales.assign((n + 255) / 256, 1.0f);
        } else {
            a.m.assign(n, 0.0f);
            a.s.assign(n, 0.0f);
        }
        total += n;
    }
    nab::cpu::ThreadPool pool(threads);
    auto run = [&] {
        for (std::size_t t = 0; t < shapes.size(); ++t) {
            Arrays& a = arrays[t];
            if (a.m_codes.empty()) {
                nab::bench::streaming_limit(pool, a.p.data(), a.g.data(), a.m.data(), a.s.data(), shapes[t]);
            } else {
                nab::bench::streaming_limit_8bit(pool, a.p.data(), a.g.data(), a.m_codes.data(), a.s_codes.data(),
                                                 a.m_scales.data(), a.s_scales.data(), shapes[t]);
            }
        }
    };
    run();
    for (auto _ : state) {
        run();
        benchmark::ClobberMemory();
    }
    report(state, total, threads, transformer_bytes(shapes, true) / static_cast<double>(total));
}

constexpr std::int64_t kSizes[] = {std::int64_t{1} << 20, std::int64_t{1} << 24, std::int64_t{1} << 26};

// Arguments: {element count, threads (0 = all cores)}.
void sizes_and_threads(benchmark::internal::Benchmark* b) {
    for (std::int64_t count : kSizes) {
        for (std::int64_t threads : {1, 0}) b->Args({count, threads});
    }
    b->ArgNames({"params", "threads"})->UseRealTime()->Unit(benchmark::kMicrosecond);
}

// Arguments: {element count, threads, StepForm}. The 16M size for the float32 and 8-bit forms
// only (the 8-bit state's targets are at 16M and 64M).
void sizes_threads_and_forms(benchmark::internal::Benchmark* b) {
    for (std::int64_t count : kSizes) {
        for (std::int64_t threads : {1, 0}) {
            for (std::int64_t form : {0, 1, 2, 3}) {
                if (count == (std::int64_t{1} << 24) && (form == 1 || form == 2)) continue;
                b->Args({count, threads, form});
            }
        }
    }
    b->ArgNames({"params", "threads", "form"})->UseRealTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_FusedStep)->Apply(sizes_threads_and_forms);
BENCHMARK(BM_StreamingLimit)->Apply(sizes_and_threads);
BENCHMARK(BM_StreamingLimit8Bit)->Apply(sizes_and_threads);
BENCHMARK(BM_FusedStepTransformer)
    ->ArgsProduct({{1, 0}, {static_cast<std::int64_t>(StepForm::Float32), static_cast<std::int64_t>(StepForm::EightBitState)}})
    ->ArgNames({"threads", "form"})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StreamingLimit8BitTransformer)->Arg(1)->Arg(0)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
