// Parameters/second and bytes/second of the fused step (labml AdaBelief defaults, one tensor)
// beside the streaming limit kernel with the same traffic and thread count, for 1M and 64M
// parameters. Compare the two bytes_per_second columns of one run: machines are noisy.
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

constexpr double kBytesPerElement = 28.0;  // read p, g, m, s; write p, m, s

void check(nab_status status) {
    if (status != NAB_STATUS_OK) throw std::runtime_error(nab_get_last_error());
}

struct Buffers {
    explicit Buffers(std::size_t count) : p(count, 0.5f), g(count, 1e-3f), m(count, 0.0f), s(count, 0.0f) {}
    std::vector<float> p, g, m, s;
};

int threads_of(const benchmark::State& state) {
    return state.range(1) == 0 ? nab::cpu::hardware_thread_count() : static_cast<int>(state.range(1));
}

void report(benchmark::State& state, std::size_t count, int threads) {
    const double elements = static_cast<double>(state.iterations()) * static_cast<double>(count);
    state.counters["params_per_second"] = benchmark::Counter(elements, benchmark::Counter::kIsRate);
    state.counters["bytes_per_second"] = benchmark::Counter(elements * kBytesPerElement, benchmark::Counter::kIsRate);
    state.counters["threads"] = threads;
}

void BM_FusedStep(benchmark::State& state) {
    const auto count = static_cast<std::size_t>(state.range(0));
    const int threads = threads_of(state);
    Buffers buffers(count);
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config));
    config.thread_count = threads;
    nab_optimizer* optimizer = nullptr;
    check(nab_optimizer_create(&config, &optimizer));
    std::unique_ptr<nab_optimizer, decltype(&nab_optimizer_destroy)> owner(optimizer, &nab_optimizer_destroy);
    nab_group_options options;
    check(nab_group_options_init(&options, NAB_COMPATIBILITY_LABML));
    std::uint32_t group = 0, tensor = 0;
    check(nab_optimizer_add_group(optimizer, &options, &group));
    nab_tensor_desc desc{sizeof desc, group, count, buffers.p.data(), buffers.g.data()};
    check(nab_optimizer_add_tensor(optimizer, &desc, &tensor));
    check(nab_optimizer_step(optimizer));  // first touch of the state outside the timing
    for (auto _ : state) check(nab_optimizer_step(optimizer));
    report(state, count, threads);
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
    report(state, count, threads);
}

// Arguments: {element count, threads (0 = all cores)}.
void sizes_and_threads(benchmark::internal::Benchmark* b) {
    for (std::int64_t count : {std::int64_t{1} << 20, std::int64_t{1} << 26}) {
        for (std::int64_t threads : {1, 0}) b->Args({count, threads});
    }
    b->ArgNames({"params", "threads"})->UseRealTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_FusedStep)->Apply(sizes_and_threads);
BENCHMARK(BM_StreamingLimit)->Apply(sizes_and_threads);
BENCHMARK_MAIN();
