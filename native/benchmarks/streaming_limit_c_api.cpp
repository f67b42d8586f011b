// The streaming limit kernel (streaming_limit.cpp) behind one C function, built as the shared
// library nab_streaming_limit so that the .NET benchmarks (tests/NativeAdaBelief.Benchmarks)
// measure the memory limit with the same native kernel and thread pool type as the Google
// Benchmark here. Not part of the product: nothing installs or ships it.
//
// One persistent thread pool per thread count, created on first use, so no thread creation
// is ever timed (the optimizer keeps its pool the same way).
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "cpu/thread_pool.h"
#include "streaming_limit.h"

#if defined(_WIN32)
#  define NAB_BENCH_EXPORT extern "C" __declspec(dllexport)
#else
#  define NAB_BENCH_EXPORT extern "C" __attribute__((visibility("default")))
#endif

namespace {

nab::cpu::ThreadPool* pool_for(int threads) {
    static std::mutex mutex;
    static std::map<int, std::unique_ptr<nab::cpu::ThreadPool>> pools;
    std::lock_guard<std::mutex> lock(mutex);
    std::unique_ptr<nab::cpu::ThreadPool>& pool = pools[threads];
    if (!pool) pool = std::make_unique<nab::cpu::ThreadPool>(threads);
    return pool.get();
}

}  // namespace

// Reads p, g, m, s and writes p, m, s once per element (28 bytes), like one optimizer step:
// m, s and p each plus g (as integers: streaming_limit.h). threads = 0 means one per logical core. Returns 0, or -1 for a null
// pointer or a negative thread count (nothing is touched then). Calls with the same thread
// count must not overlap; the benchmarks call it from one thread.
NAB_BENCH_EXPORT std::int32_t nab_bench_streaming_limit(float* parameters, const float* gradients,
                                                        float* first_moment, float* second_moment,
                                                        std::uint64_t element_count, std::int32_t threads) {
    if (threads < 0) return -1;
    if (element_count == 0) return 0;
    if (parameters == nullptr || gradients == nullptr || first_moment == nullptr || second_moment == nullptr) {
        return -1;
    }
    const int resolved = threads == 0 ? nab::cpu::hardware_thread_count() : threads;
    try {
        nab::bench::streaming_limit(*pool_for(resolved), parameters, gradients, first_moment, second_moment,
                                    static_cast<std::size_t>(element_count));
    } catch (...) {
        return -1;  // a pool could not start its threads
    }
    return 0;
}

// The thread count a call with threads = 0 uses.
NAB_BENCH_EXPORT std::int32_t nab_bench_hardware_threads(void) { return nab::cpu::hardware_thread_count(); }
