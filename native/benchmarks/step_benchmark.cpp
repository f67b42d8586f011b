// Parameters/second and bytes/second of the fused step (labml AdaBelief defaults) beside a
// streaming kernel that moves that form's exact bytes (streaming_limit.h), timed alternately
// within the same benchmark, so both see the same machine at the same moments (machines are
// noisy, and shared ones more so): fused_over_limit is their ratio.
//
// The forms of the step (StepForm) and the bytes each moves per element: float32 28 (read p, g,
// m, s; write p, m, s); with AMSGrad 36 (s_max read and written); 16-bit parameters and
// gradients with a float32 master copy 28 (read g 2, master 4, m 4, s 4; write master 4, p 2,
// m 4, s 4) and without one 22 (p 2 read and written); each with the gradient pass of the step
// options (skip on non-finite and clipping: the gradients are read once more, +4 or +2);
// float32 parameters and gradients with 8-bit state, 16 per element and 16 per 256-element
// block (read p, g, the codes of m and s and their block scales; write p, codes, scales), which
// also alternates with the float32 step of the same size (over_float32: that step's time over
// the 8-bit one's).
//
// BM_FusedStepTransformer steps the .NET benchmarks' transformer set (260 tensors, one group)
// with float32 and with 8-bit state, each beside its own streaming limit, all four alternating.
#include <benchmark/benchmark.h>

#if defined(__x86_64__)
#  include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cpu/thread_pool.h"
#include "native_adabelief.h"
#include "streaming_limit.h"

namespace {

// What BM_FusedStep's third argument selects (tests/NativeAdaBelief.Benchmarks/Report.cs names them).
enum class StepForm : std::int64_t {
    Float32 = 0,
    Bfloat16WithMaster = 1,
    Float32WithGradientPass = 2,
    EightBitState = 3,
    Float32Amsgrad = 4,
    Bfloat16 = 5,
    Bfloat16WithMasterAndGradientPass = 6,
    Bfloat16WithGradientPass = 7,
    Float16WithMaster = 8,
    Float16WithMasterAndGradientPass = 9,
};
constexpr std::int64_t kLastForm = static_cast<std::int64_t>(StepForm::Float16WithMasterAndGradientPass);

struct FormTraits {
    nab_dtype dtype = NAB_DTYPE_FLOAT32;  // of the parameters and the gradients
    bool master = false;
    bool amsgrad = false;
    bool gradient_pass = false;
    bool eight_bit = false;
};

FormTraits traits_of(StepForm form) {
    FormTraits t;
    switch (form) {
        case StepForm::Float32: break;
        case StepForm::Bfloat16WithMaster: t.dtype = NAB_DTYPE_BFLOAT16, t.master = true; break;
        case StepForm::Float32WithGradientPass: t.gradient_pass = true; break;
        case StepForm::EightBitState: t.eight_bit = true; break;
        case StepForm::Float32Amsgrad: t.amsgrad = true; break;
        case StepForm::Bfloat16: t.dtype = NAB_DTYPE_BFLOAT16; break;
        case StepForm::Bfloat16WithMasterAndGradientPass: t.dtype = NAB_DTYPE_BFLOAT16, t.master = t.gradient_pass = true; break;
        case StepForm::Bfloat16WithGradientPass: t.dtype = NAB_DTYPE_BFLOAT16, t.gradient_pass = true; break;
        case StepForm::Float16WithMaster: t.dtype = NAB_DTYPE_FLOAT16, t.master = true; break;
        case StepForm::Float16WithMasterAndGradientPass: t.dtype = NAB_DTYPE_FLOAT16, t.master = t.gradient_pass = true; break;
    }
    return t;
}

void check(nab_status status) {
    if (status != NAB_STATUS_OK) throw std::runtime_error(nab_get_last_error());
}

// An array of the benchmark's own (parameters, gradients, the limits' state) in the memory the
// optimizer keeps its state in, nab_buffer_allocate's (64-byte aligned; on Linux, blocks of
// 2 MiB or more on transparent huge pages): a step and its streaming limit then touch the same
// kind of pages, and the limit stays a bound for the step.
template <class T>
class BenchArray {
public:
    BenchArray() = default;
    BenchArray(std::size_t count, T value) { assign(count, value); }
    BenchArray(const BenchArray&) = delete;
    BenchArray& operator=(const BenchArray&) = delete;
    ~BenchArray() { nab_buffer_free(data_); }

    void assign(std::size_t count, T value) {
        nab_buffer_free(data_);
        data_ = nullptr;
        size_ = 0;
        void* data = nullptr;
        // Any element type: as many float32 elements as cover the bytes.
        check(nab_buffer_allocate(NAB_DTYPE_FLOAT32, (count * sizeof(T) + sizeof(float) - 1) / sizeof(float), &data));
        data_ = static_cast<T*>(data);
        size_ = count;
        std::fill(data_, data_ + count, value);
    }
    T* data() { return data_; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

// 16-bit patterns of 0.5 and 1e-3 (rounded).
constexpr std::uint16_t kBfloat16Half = 0x3f00, kBfloat16Thousandth = 0x3a83;
constexpr std::uint16_t kFloat16Half = 0x3800, kFloat16Thousandth = 0x1419;

// One form's arrays: the step's (registered with the optimizer, which keeps its own m, s, s_max
// and master copy) or the limit's (all of them here). Each array starts at its own offset into
// a page (kStagger elements apart): arrays at one offset make every store alias the next
// array's loads in the store buffer's address check (4K aliasing), which slows a streaming loop
// by a third on this AMD host, and the optimizer's own arrays do not all share one offset.
struct FormBuffers {
    static constexpr std::size_t kStagger = 80;
    enum Slot : std::size_t { P, G, M, S, SMax, NarrowP, NarrowG };

    FormBuffers(const FormTraits& t, std::size_t count, bool state) {
        const bool narrow = t.dtype != NAB_DTYPE_FLOAT32;
        const std::uint16_t half = t.dtype == NAB_DTYPE_FLOAT16 ? kFloat16Half : kBfloat16Half;
        const std::uint16_t thousandth = t.dtype == NAB_DTYPE_FLOAT16 ? kFloat16Thousandth : kBfloat16Thousandth;
        if (narrow) {
            fill(narrow_p, count, half, NarrowP);
            fill(narrow_g, count, thousandth, NarrowG);
        } else {
            fill(p, count, 0.5f, P);
            fill(g, count, 1e-3f, G);
        }
        if (!state) return;
        if (narrow && t.master) fill(p, count, 0.5f, P);
        fill(m, count, 0.0f, M);
        fill(s, count, 0.0f, S);
        if (t.amsgrad) fill(s_max, count, 0.0f, SMax);
    }
    template <class T>
    static void fill(BenchArray<T>& v, std::size_t count, T value, Slot slot) {
        v.assign(count + kStagger * slot, value);
    }
    template <class T>
    static T* data(BenchArray<T>& v, Slot slot) {
        return v.empty() ? nullptr : v.data() + kStagger * slot;
    }
    nab::bench::LimitArrays limit_arrays(bool gradient_pass) {
        nab::bench::LimitArrays a;
        a.parameters = data(p, P);
        a.narrow_parameters = data(narrow_p, NarrowP);
        a.gradients = data(g, G);
        a.narrow_gradients = data(narrow_g, NarrowG);
        a.first_moment = data(m, M);
        a.second_moment = data(s, S);
        a.max_second_moment = data(s_max, SMax);
        a.gradient_pass = gradient_pass;
        return a;
    }
    BenchArray<float> p, g, m, s, s_max;
    BenchArray<std::uint16_t> narrow_p, narrow_g;
};

// The thread count of benchmark argument `index`: 0 means all cores.
int threads_of(const benchmark::State& state, int index) {
    return state.range(index) == 0 ? nab::cpu::hardware_thread_count() : static_cast<int>(state.range(index));
}

void report(benchmark::State& state, std::size_t count, int threads, double element_bytes) {
    const double elements = static_cast<double>(state.iterations()) * static_cast<double>(count);
    state.counters["params_per_second"] = benchmark::Counter(elements, benchmark::Counter::kIsRate);
    state.counters["bytes_per_second"] = benchmark::Counter(elements * element_bytes, benchmark::Counter::kIsRate);
    state.counters["threads"] = threads;
}

// CPU time of every thread of this process so far.
double process_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// The wall and CPU seconds one of the things an interleaved benchmark alternates has spent.
struct Stopwatch {
    double wall = 0, cpu = 0;

    // Runs `work`, adds its time and returns its wall seconds.
    template <class Work>
    double time(Work&& work) {
        using Clock = std::chrono::steady_clock;
        const Clock::time_point start = Clock::now();
        const double start_cpu = process_cpu_seconds();
        work();
        benchmark::ClobberMemory();
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        wall += seconds;
        cpu += process_cpu_seconds() - start_cpu;
        return seconds;
    }
};

using OptimizerHandle = std::unique_ptr<nab_optimizer, decltype(&nab_optimizer_destroy)>;

// An optimizer on `threads` threads with one group of labml defaults in `traits`' encoding and
// options; tensors are added by the caller.
OptimizerHandle make_optimizer(const FormTraits& traits, int threads, std::uint32_t& group) {
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config));
    config.thread_count = threads;
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer));
    OptimizerHandle owner(optimizer, &nab_optimizer_destroy);
    nab_group_options options;
    check(nab_group_options_init(&options, NAB_COMPATIBILITY_LABML));
    if (traits.eight_bit) options.state_encoding = NAB_STATE_ENCODING_BLOCKWISE_8BIT;
    options.amsgrad = traits.amsgrad ? 1 : 0;
    check(nab_optimizer_add_group(optimizer, &options, &group));
    if (traits.gradient_pass) {
        nab_step_options step_options;
        check(nab_step_options_init(&step_options));
        step_options.skip_nonfinite = 1;
        step_options.max_gradient_norm = 1.0;
        check(nab_optimizer_set_step_options(optimizer, &step_options));
    }
    return owner;
}

// Registers the parameters and gradients of `buffers` (in `traits`' types) as one tensor.
void add_tensor(nab_optimizer* optimizer, std::uint32_t group, const FormTraits& traits, FormBuffers& buffers,
                std::size_t count) {
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.group_id = group;
    desc.element_count = count;
    if (traits.dtype == NAB_DTYPE_FLOAT32) {
        desc.parameters = FormBuffers::data(buffers.p, FormBuffers::P);
        desc.gradients = FormBuffers::data(buffers.g, FormBuffers::G);
    } else {
        desc.parameters = FormBuffers::data(buffers.narrow_p, FormBuffers::NarrowP);
        desc.gradients = FormBuffers::data(buffers.narrow_g, FormBuffers::NarrowG);
        desc.parameter_dtype = desc.gradient_dtype = traits.dtype;
        desc.master_parameters = traits.master ? 1 : 0;
    }
    std::uint32_t tensor = 0;
    check(nab_optimizer_add_tensor(optimizer, &desc, &tensor));
}

// Steps before the timing: first touch of the state, and past labml's rectification warm-up
// (t <= 5 takes SGD steps, which have no square root and no division).
constexpr int kWarmUpSteps = 6;

void warm_up(nab_optimizer* optimizer) {
    for (int step = 0; step < kWarmUpSteps; ++step) check(nab_optimizer_step(optimizer));
}

// The arrays of the 8-bit step's streaming limit: float32 parameters and gradients, codes of m
// and s, one scale of each per 256-element block. `prefetch`: as a step of this one tensor would;
// a step of several sets it for all.
struct EightBitLimitArrays {
    explicit EightBitLimitArrays(std::size_t count)
        : p(count, 0.5f), g(count, 1e-3f), m_scales((count + 255) / 256, 1.0f), s_scales(m_scales.size(), 1.0f),
          m_codes(count, 0), s_codes(count, 0),
          prefetch(nab::bench::step_would_prefetch(nab::bench::step_footprint_bytes_8bit(count))) {}
    void stream(nab::cpu::ThreadPool& pool) {
        nab::bench::streaming_limit_8bit(pool, p.data(), g.data(), m_codes.data(), s_codes.data(), m_scales.data(),
                                         s_scales.data(), p.size(), prefetch);
    }
    BenchArray<float> p, g, m_scales, s_scales;
    BenchArray<std::uint8_t> m_codes, s_codes;
    bool prefetch;
};

// Records the step's and its limit's rates and their ratios (wall and CPU time).
void report_against_limit(benchmark::State& state, std::size_t count, int threads, double element_bytes,
                          const Stopwatch& step, const Stopwatch& limit) {
    report(state, count, threads, element_bytes);
    const double bytes = static_cast<double>(state.iterations()) * static_cast<double>(count) * element_bytes;
    state.counters["limit_bytes_per_second"] = bytes / limit.wall;
    state.counters["fused_over_limit"] = limit.wall / step.wall;
    // The same ratio in CPU time (all threads; idle workers spin up to 100 us, then sleep): on a shared
    // machine it leaves out the time the scheduler gave to other processes.
    state.counters["fused_over_limit_cpu"] = limit.cpu / step.cpu;
}

void BM_FusedStep(benchmark::State& state) {
    const auto count = static_cast<std::size_t>(state.range(0));
    const int threads = threads_of(state, 1);
    const FormTraits traits = traits_of(static_cast<StepForm>(state.range(2)));
    FormBuffers step_buffers(traits, count, /*state=*/false);
    std::uint32_t group = 0;
    OptimizerHandle optimizer = make_optimizer(traits, threads, group);
    add_tensor(optimizer.get(), group, traits, step_buffers, count);
    warm_up(optimizer.get());
    nab::cpu::ThreadPool pool(threads);
    Stopwatch step, limit;
    if (traits.eight_bit) {
        // Beside its own limit and the float32 step of the same size.
        EightBitLimitArrays limit_arrays(count);
        const FormTraits float32{};
        FormBuffers float32_buffers(float32, count, /*state=*/false);
        std::uint32_t float32_group = 0;
        OptimizerHandle float32_optimizer = make_optimizer(float32, threads, float32_group);
        add_tensor(float32_optimizer.get(), float32_group, float32, float32_buffers, count);
        warm_up(float32_optimizer.get());
        limit_arrays.stream(pool);
        Stopwatch float32_step;
        for (auto _ : state) {
            state.SetIterationTime(step.time([&] { check(nab_optimizer_step(optimizer.get())); }));
            limit.time([&] { limit_arrays.stream(pool); });
            float32_step.time([&] { check(nab_optimizer_step(float32_optimizer.get())); });
        }
        report_against_limit(state, count, threads, nab::bench::streaming_limit_8bit_bytes(count) / static_cast<double>(count),
                             step, limit);
        state.counters["over_float32"] = float32_step.wall / step.wall;
        return;
    }
    // The limit's own arrays, of the step's sizes; its pool, of the step's thread count.
    FormBuffers limit_buffers(traits, count, /*state=*/true);
    nab::bench::LimitArrays limit_arrays = limit_buffers.limit_arrays(traits.gradient_pass);
    limit_arrays.prefetch = nab::bench::step_would_prefetch(nab::bench::step_footprint_bytes(limit_arrays, count));
    int sign = +1;
    auto run_limit = [&] {
        nab::bench::streaming_limit(pool, limit_arrays, count, sign);
        sign = -sign;
    };
    run_limit();
    run_limit();
    for (auto _ : state) {
        state.SetIterationTime(step.time([&] { check(nab_optimizer_step(optimizer.get())); }));
        limit.time(run_limit);
    }
    report_against_limit(state, count, threads, nab::bench::streaming_limit_bytes_per_element(limit_arrays), step, limit);
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

bool keeps_8bit_state(std::size_t count) { return count >= NAB_BLOCKWISE_8BIT_MIN_ELEMENTS; }

// Bytes one step over `shapes` must move: 8-bit state for tensors of at least
// NAB_BLOCKWISE_8BIT_MIN_ELEMENTS elements when `eight_bit`, float32 (28 per element) otherwise.
double transformer_bytes(const std::vector<std::size_t>& shapes, bool eight_bit) {
    double bytes = 0;
    for (std::size_t n : shapes) {
        bytes += eight_bit && keeps_8bit_state(n) ? nab::bench::streaming_limit_8bit_bytes(n) : 28.0 * static_cast<double>(n);
    }
    return bytes;
}

// One step form over the transformer set: the optimizer (one group, every tensor registered)
// and the streaming limit of its exact bytes, tensor by tensor, on arrays of its own.
struct TransformerForm {
    TransformerForm(const std::vector<std::size_t>& shapes, const FormTraits& traits, int threads) {
        std::uint32_t group = 0;
        optimizer = make_optimizer(traits, threads, group);
        for (std::size_t n : shapes) {
            step_buffers.push_back(std::make_unique<FormBuffers>(traits, n, /*state=*/false));
            add_tensor(optimizer.get(), group, traits, *step_buffers.back(), n);
            if (traits.eight_bit && keeps_8bit_state(n)) {
                eight_bit_limits.push_back(std::make_unique<EightBitLimitArrays>(n));
            } else {
                float32_limits.push_back({std::make_unique<FormBuffers>(FormTraits{}, n, /*state=*/true), n});
            }
        }
        // The step decides for all its tensors at once, and so does their limit.
        std::size_t footprint = 0;
        for (auto& [buffers, count] : float32_limits) footprint += nab::bench::step_footprint_bytes(buffers->limit_arrays(false), count);
        for (auto& arrays : eight_bit_limits) footprint += nab::bench::step_footprint_bytes_8bit(arrays->p.size());
        limits_prefetch = nab::bench::step_would_prefetch(footprint);
        for (auto& arrays : eight_bit_limits) arrays->prefetch = limits_prefetch;
        warm_up(optimizer.get());
    }
    void step() { check(nab_optimizer_step(optimizer.get())); }
    void stream(nab::cpu::ThreadPool& pool) {
        for (auto& arrays : eight_bit_limits) arrays->stream(pool);
        for (auto& [buffers, count] : float32_limits) {
            nab::bench::LimitArrays arrays = buffers->limit_arrays(false);
            arrays.prefetch = limits_prefetch;
            nab::bench::streaming_limit(pool, arrays, count, sign);
        }
        sign = -sign;
    }
    OptimizerHandle optimizer{nullptr, &nab_optimizer_destroy};
    std::vector<std::unique_ptr<FormBuffers>> step_buffers;
    std::vector<std::pair<std::unique_ptr<FormBuffers>, std::size_t>> float32_limits;  // arrays, element count
    std::vector<std::unique_ptr<EightBitLimitArrays>> eight_bit_limits;
    int sign = +1;
    bool limits_prefetch = false;
};

// Argument: threads (0 = all cores). The float32 step, its limit, the 8-bit step and its limit,
// alternating; the time is the 8-bit step's, params the set's total. Counters as BM_FusedStep's
// for the 8-bit step, and float32_ for the float32 step against its own limit.
void BM_FusedStepTransformer(benchmark::State& state) {
    const std::vector<std::size_t> shapes = transformer_shapes();
    const int threads = threads_of(state, 0);
    std::size_t total = 0;
    for (std::size_t n : shapes) total += n;
    FormTraits eight_bit_traits;
    eight_bit_traits.eight_bit = true;
    TransformerForm float32(shapes, FormTraits{}, threads), eight_bit(shapes, eight_bit_traits, threads);
    nab::cpu::ThreadPool pool(threads);
    Stopwatch float32_step, float32_limit, step, limit;
    for (auto _ : state) {
        float32_step.time([&] { float32.step(); });
        float32_limit.time([&] { float32.stream(pool); });
        state.SetIterationTime(step.time([&] { eight_bit.step(); }));
        limit.time([&] { eight_bit.stream(pool); });
    }
    report_against_limit(state, total, threads, transformer_bytes(shapes, true) / static_cast<double>(total), step, limit);
    state.counters["over_float32"] = float32_step.wall / step.wall;
    const double float32_bytes = static_cast<double>(state.iterations()) * transformer_bytes(shapes, false);
    state.counters["float32_bytes_per_second"] = float32_bytes / float32_step.wall;
    state.counters["float32_limit_bytes_per_second"] = float32_bytes / float32_limit.wall;
    state.counters["float32_over_limit"] = float32_limit.wall / float32_step.wall;
    state.counters["float32_over_limit_cpu"] = float32_limit.cpu / float32_step.cpu;
}

// Each form's own arithmetic rate: its step over 16,384 elements (every array in L2), one
// thread, nothing alternating with it (the interleaved limit's arrays would evict the step's).
// The per-call cost of a step, a fraction of a microsecond, is in it.
void BM_InCacheStep(benchmark::State& state) {
    constexpr std::size_t count = 16384;
    const FormTraits traits = traits_of(static_cast<StepForm>(state.range(0)));
    FormBuffers buffers(traits, count, /*state=*/false);
    std::uint32_t group = 0;
    OptimizerHandle optimizer = make_optimizer(traits, 1, group);
    add_tensor(optimizer.get(), group, traits, buffers, count);
    warm_up(optimizer.get());
    for (auto _ : state) check(nab_optimizer_step(optimizer.get()));
    state.counters["params_per_second"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * count, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_InCacheStep)
    ->DenseRange(0, kLastForm)
    ->ArgName("form")
    ->Unit(benchmark::kMicrosecond);

// Argument: {element count, StepForm (a bfloat16 one)}. What the NAB_SIMD_AVX512_BF16 level's
// bfloat16 narrowing gains: the step at that level beside the same step at NAB_SIMD_AVX512, on
// one thread, alternating (over_avx512: the AVX512 step's time over this level's). The time is
// the AVX512_BF16 step's. Skipped where the CPU lacks the level.
void BM_Bfloat16NarrowingLevel(benchmark::State& state) {
    std::int32_t best = NAB_SIMD_SCALAR;
    check(nab_cpu_get_best_simd_level(&best));
    if (best != NAB_SIMD_AVX512_BF16) {
        state.SkipWithError("this CPU has no AVX-512 BF16 (NAB_SIMD_AVX512_BF16 is not its best level)");
        return;
    }
    const auto count = static_cast<std::size_t>(state.range(0));
    const FormTraits traits = traits_of(static_cast<StepForm>(state.range(1)));
    FormBuffers level_buffers(traits, count, /*state=*/false), avx512_buffers(traits, count, /*state=*/false);
    std::uint32_t group = 0;
    OptimizerHandle level = make_optimizer(traits, 1, group);
    add_tensor(level.get(), group, traits, level_buffers, count);
    OptimizerHandle avx512 = make_optimizer(traits, 1, group);
    check(nab_optimizer_set_simd_level(avx512.get(), NAB_SIMD_AVX512));
    add_tensor(avx512.get(), group, traits, avx512_buffers, count);
    warm_up(level.get());
    warm_up(avx512.get());
    // Wall time only: a step in cache lasts a few microseconds, and Stopwatch's reading of the
    // process CPU time (a system call) would add a constant to both sides of the ratio.
    const auto step_seconds = [](nab_optimizer* optimizer) {
        const auto start = std::chrono::steady_clock::now();
        check(nab_optimizer_step(optimizer));
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    double level_seconds = 0, avx512_seconds = 0;
    for (auto _ : state) {
        const double seconds = step_seconds(level.get());
        state.SetIterationTime(seconds);
        level_seconds += seconds;
        avx512_seconds += step_seconds(avx512.get());
    }
    state.counters["params_per_second"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(count), benchmark::Counter::kIsRate);
    state.counters["over_avx512"] = avx512_seconds / level_seconds;
}
BENCHMARK(BM_Bfloat16NarrowingLevel)
    ->ArgsProduct({{16384, std::int64_t{1} << 20, std::int64_t{1} << 24},
                   {static_cast<std::int64_t>(StepForm::Bfloat16), static_cast<std::int64_t>(StepForm::Bfloat16WithMaster)}})
    ->ArgNames({"params", "form"})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// The step's arithmetic bound in cache: one square root and one division per element, the two
// instructions of update_math.h that share the divider, in the widest vectors the step's kernel
// uses on this host (16 lanes with AVX-512, else 8 with AVX2) over L1-resident arrays; nothing
// else per element. The "lanes" counter says which.
#if defined(__GNUC__) && defined(__x86_64__)
__attribute__((target("avx512f"))) void divide_by_roots_avx512(const float* numerators, const float* radicands, float* out,
                                                               std::size_t count) {
    const __m512 epsilon = _mm512_set1_ps(1e-8f);
    for (std::size_t i = 0; i + 16 <= count; i += 16) {
        const __m512 root = _mm512_add_ps(_mm512_sqrt_ps(_mm512_loadu_ps(radicands + i)), epsilon);
        _mm512_storeu_ps(out + i, _mm512_div_ps(_mm512_loadu_ps(numerators + i), root));
    }
}

__attribute__((target("avx2"))) void divide_by_roots_avx2(const float* numerators, const float* radicands, float* out,
                                                          std::size_t count) {
    const __m256 epsilon = _mm256_set1_ps(1e-8f);
    for (std::size_t i = 0; i + 8 <= count; i += 8) {
        const __m256 root = _mm256_add_ps(_mm256_sqrt_ps(_mm256_loadu_ps(radicands + i)), epsilon);
        _mm256_storeu_ps(out + i, _mm256_div_ps(_mm256_loadu_ps(numerators + i), root));
    }
}

void BM_DividerBound(benchmark::State& state) {
    const bool avx512 = __builtin_cpu_supports("avx512f");
    if (!avx512 && !__builtin_cpu_supports("avx2")) {
        state.SkipWithError("neither AVX-512F nor AVX2 on this CPU");
        return;
    }
    constexpr std::size_t count = 2048;  // 3 arrays of 8 KiB: in L1
    std::vector<float> numerators(count, 1e-3f), radicands(count, 2e-6f), out(count);
    for (auto _ : state) {
        if (avx512) {
            divide_by_roots_avx512(numerators.data(), radicands.data(), out.data(), count);
        } else {
            divide_by_roots_avx2(numerators.data(), radicands.data(), out.data(), count);
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["elements_per_second"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * count, benchmark::Counter::kIsRate);
    state.counters["lanes"] = avx512 ? 16 : 8;
}
BENCHMARK(BM_DividerBound);
#endif

constexpr std::int64_t kSizes[] = {std::int64_t{1} << 20, std::int64_t{1} << 24, std::int64_t{1} << 26};

// Arguments: {element count, threads, StepForm}: every form at every size and thread count.
// The time is the step's alone (the limit's runs between the steps are not counted in it).
void sizes_threads_and_forms(benchmark::internal::Benchmark* b) {
    for (std::int64_t count : kSizes) {
        for (std::int64_t threads : {1, 0}) {
            for (std::int64_t form = 0; form <= kLastForm; ++form) {
                b->Args({count, threads, form});
            }
        }
    }
    b->ArgNames({"params", "threads", "form"})->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_FusedStep)->Apply(sizes_threads_and_forms);
BENCHMARK(BM_FusedStepTransformer)->Arg(1)->Arg(0)->ArgName("threads")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
