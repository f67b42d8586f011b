#include "streaming_limit.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "cpu/prefetch_policy.h"

namespace nab::bench {

namespace {

using cpu::kPrefetchDistance;
using cpu::prefetch_line;

// float32 arrays seen as their bits: integer additions are exact and undone by a subtraction,
// and they never meet a slow floating-point case (subnormals), whatever the values become.
using Bits = std::uint32_t __attribute__((may_alias));
using Bits16 = std::uint16_t __attribute__((may_alias));

// Elements of a float32 array per 64-byte cache line.
constexpr std::size_t kLineWords = 16;

// Runs element(i) for i in [begin, end). With `prefetch`, a line of elements at a time, each line
// first asking with ahead(i + kPrefetchDistance) for the float32 arrays' lines that far ahead (not
// the 16-bit ones), as the step's prefetching loop does, until those would lie past `end`. The
// arrays never overlap, and both loops say so to the compiler (the pointers the element lambdas
// capture carry no __restrict), so that it vectorizes them without run-time overlap checks.
template <class Element, class Ahead>
NAB_BENCH_INLINE void for_each_element(std::size_t begin, std::size_t end, bool prefetch, Ahead ahead,
                                       Element element) {
    std::size_t i = begin;
    if (prefetch && end > begin + kPrefetchDistance) {
        for (; i + kLineWords <= end - kPrefetchDistance; i += kLineWords) {
            ahead(i + kPrefetchDistance);
            NAB_BENCH_INDEPENDENT_ITERATIONS
            for (std::size_t k = 0; k < kLineWords; ++k) element(i + k);
        }
    }
    NAB_BENCH_INDEPENDENT_ITERATIONS
    for (; i < end; ++i) element(i);
}

// `negate` is 0 or all ones: (x ^ negate) - negate is x or -x.
NAB_BENCH_WIDEST_VECTORS
void stream_float(Bits* parameters, const Bits* gradients, Bits* first_moment, Bits* second_moment,
                  std::uint32_t negate, bool prefetch, std::size_t begin, std::size_t end) {
    for_each_element(
        begin, end, prefetch,
        [&](std::size_t at) {
            for (const Bits* array : {static_cast<const Bits*>(parameters), gradients,
                                      static_cast<const Bits*>(first_moment), static_cast<const Bits*>(second_moment)}) {
                prefetch_line(array + at);
            }
        },
        [&](std::size_t i) {
            const std::uint32_t delta = (gradients[i] ^ negate) - negate;
            first_moment[i] += delta;
            second_moment[i] += delta;
            parameters[i] += delta;
        });
}

NAB_BENCH_WIDEST_VECTORS
void stream_float_max(Bits* parameters, const Bits* gradients, Bits* first_moment, Bits* second_moment,
                      Bits* max_second_moment, std::uint32_t negate, bool prefetch, std::size_t begin,
                      std::size_t end) {
    for_each_element(
        begin, end, prefetch,
        [&](std::size_t at) {
            for (const Bits* array : {static_cast<const Bits*>(parameters), gradients, static_cast<const Bits*>(first_moment),
                                      static_cast<const Bits*>(second_moment), static_cast<const Bits*>(max_second_moment)}) {
                prefetch_line(array + at);
            }
        },
        [&](std::size_t i) {
            const std::uint32_t delta = (gradients[i] ^ negate) - negate;
            first_moment[i] += delta;
            second_moment[i] += delta;
            max_second_moment[i] += delta;
            parameters[i] += delta;
        });
}

// 16-bit parameters and gradients with a float32 master copy: the 16-bit parameters are only
// written.
NAB_BENCH_WIDEST_VECTORS
void stream_narrow_master(Bits* master, Bits16* parameters, const Bits16* gradients, Bits* first_moment,
                          Bits* second_moment, std::uint32_t negate, bool prefetch, std::size_t begin,
                          std::size_t end) {
    for_each_element(
        begin, end, prefetch,
        [&](std::size_t at) {
            for (const Bits* array : {master, first_moment, second_moment}) prefetch_line(array + at);
        },
        [&](std::size_t i) {
            const std::uint32_t delta = (std::uint32_t{gradients[i]} ^ negate) - negate;
            first_moment[i] += delta;
            second_moment[i] += delta;
            const std::uint32_t updated = master[i] + delta;
            master[i] = updated;
            parameters[i] = static_cast<std::uint16_t>(updated >> 16);
        });
}

NAB_BENCH_WIDEST_VECTORS
void stream_narrow(Bits16* parameters, const Bits16* gradients, Bits* first_moment, Bits* second_moment,
                   std::uint32_t negate, bool prefetch, std::size_t begin, std::size_t end) {
    for_each_element(
        begin, end, prefetch,
        [&](std::size_t at) {
            for (const Bits* array : {first_moment, second_moment}) prefetch_line(array + at);
        },
        [&](std::size_t i) {
            const std::uint32_t delta = (std::uint32_t{gradients[i]} ^ negate) - negate;
            first_moment[i] += delta;
            second_moment[i] += delta;
            parameters[i] = static_cast<std::uint16_t>(parameters[i] + delta);
        });
}

// A read of every byte of [begin, end) of 32-bit words: what the gradient pass must read.
NAB_BENCH_WIDEST_VECTORS
std::uint32_t read_words(const Bits* __restrict words, std::size_t begin, std::size_t end) {
    std::uint32_t any = 0;
    for (std::size_t i = begin; i < end; ++i) any |= words[i];
    return any;
}

// Where read_words' results go, so the reads cannot be left out.
std::atomic<std::uint32_t> read_sink{0};

// Runs range(begin, end) over an even split of [0, count) on every thread of the pool.
template <class Range>
void split(cpu::ThreadPool& pool, std::size_t count, Range range) {
    const std::size_t threads = static_cast<std::size_t>(pool.thread_count());
    auto job = [&](int thread_index) {
        const std::size_t share = (count + threads - 1) / threads;
        const std::size_t begin = std::min(count, share * static_cast<std::size_t>(thread_index));
        range(begin, std::min(count, begin + share));
    };
    pool.run(job);
}

// 256 elements (one block of the 8-bit state) per call.
constexpr std::size_t kBlock = 256;

// With `prefetch`, asks for the lines of the parameters, the gradients and the codes ahead, as the
// 8-bit step does (begin is a multiple of kBlock, so `at` is one of 16 at every line of codes).
NAB_BENCH_WIDEST_VECTORS
void stream_blocks_8bit(float* parameters, const float* gradients, std::uint8_t* first_moment_codes,
                        std::uint8_t* second_moment_codes, float* __restrict first_moment_scales,
                        float* __restrict second_moment_scales, bool prefetch, std::size_t begin, std::size_t end) {
    for_each_element(
        begin, end, prefetch,
        [&](std::size_t at) {
            prefetch_line(parameters + at);
            prefetch_line(gradients + at);
            if (at % 64 == 0) {
                prefetch_line(first_moment_codes + at);
                prefetch_line(second_moment_codes + at);
            }
        },
        [&](std::size_t i) {
            parameters[i] = parameters[i] - gradients[i];
            first_moment_codes[i] = static_cast<std::uint8_t>(first_moment_codes[i] + 1);
            second_moment_codes[i] = static_cast<std::uint8_t>(second_moment_codes[i] + 3);
        });
    for (std::size_t block = begin / kBlock; block < (end + kBlock - 1) / kBlock; ++block) {
        first_moment_scales[block] = first_moment_scales[block] * 0.5f;
        second_moment_scales[block] = second_moment_scales[block] * 0.5f;
    }
}

}  // namespace

void streaming_limit_8bit(cpu::ThreadPool& pool, float* parameters, const float* gradients,
                          std::uint8_t* first_moment_codes, std::uint8_t* second_moment_codes,
                          float* first_moment_scales, float* second_moment_scales, std::size_t element_count,
                          bool prefetch) {
    const std::size_t threads = static_cast<std::size_t>(pool.thread_count());
    const std::size_t blocks = (element_count + kBlock - 1) / kBlock;
    auto job = [&](int thread_index) {
        const std::size_t share = (blocks + threads - 1) / threads;
        const std::size_t first = std::min(blocks, share * static_cast<std::size_t>(thread_index));
        const std::size_t last = std::min(blocks, first + share);
        if (first == last) return;  // more threads than blocks
        stream_blocks_8bit(parameters, gradients, first_moment_codes, second_moment_codes, first_moment_scales,
                           second_moment_scales, prefetch, first * kBlock, std::min(element_count, last * kBlock));
    };
    pool.run(job);
}

std::size_t step_footprint_bytes_8bit(std::size_t element_count) {
    return cpu::prefetch_footprint(element_count, sizeof(float), sizeof(float), 0, sizeof(std::uint8_t));
}

double streaming_limit_8bit_bytes(std::size_t element_count) {
    const double blocks = static_cast<double>((element_count + kBlock - 1) / kBlock);
    return 16.0 * static_cast<double>(element_count) + 16.0 * blocks;
}

void streaming_limit(cpu::ThreadPool& pool, const LimitArrays& a, std::size_t element_count, int sign) {
    const std::uint32_t negate = sign < 0 ? ~std::uint32_t{0} : 0;
    auto* p = reinterpret_cast<Bits*>(a.parameters);
    auto* m = reinterpret_cast<Bits*>(a.first_moment);
    auto* s = reinterpret_cast<Bits*>(a.second_moment);
    auto* narrow_p = reinterpret_cast<Bits16*>(a.narrow_parameters);
    const auto* g = reinterpret_cast<const Bits*>(a.gradients);
    const auto* narrow_g = reinterpret_cast<const Bits16*>(a.narrow_gradients);
    if (a.gradient_pass) {
        // 16-bit gradients as 32-bit words (a tail of one odd element is left out: a benchmark
        // size is even).
        const Bits* words = g != nullptr ? g : reinterpret_cast<const Bits*>(narrow_g);
        const std::size_t word_count = g != nullptr ? element_count : element_count / 2;
        split(pool, word_count, [&](std::size_t begin, std::size_t end) {
            read_sink.fetch_or(read_words(words, begin, end), std::memory_order_relaxed);
        });
    }
    if (p != nullptr && narrow_p == nullptr && g != nullptr && a.max_second_moment == nullptr) {
        split(pool, element_count, [&](std::size_t b, std::size_t e) { stream_float(p, g, m, s, negate, a.prefetch, b, e); });
    } else if (p != nullptr && narrow_p == nullptr && g != nullptr) {
        auto* s_max = reinterpret_cast<Bits*>(a.max_second_moment);
        split(pool, element_count, [&](std::size_t b, std::size_t e) { stream_float_max(p, g, m, s, s_max, negate, a.prefetch, b, e); });
    } else if (p != nullptr && narrow_p != nullptr && narrow_g != nullptr && a.max_second_moment == nullptr) {
        split(pool, element_count,
              [&](std::size_t b, std::size_t e) { stream_narrow_master(p, narrow_p, narrow_g, m, s, negate, a.prefetch, b, e); });
    } else if (p == nullptr && narrow_p != nullptr && narrow_g != nullptr && a.max_second_moment == nullptr) {
        split(pool, element_count, [&](std::size_t b, std::size_t e) { stream_narrow(narrow_p, narrow_g, m, s, negate, a.prefetch, b, e); });
    } else {
        throw std::invalid_argument("streaming_limit: no limit kernel for this form");
    }
}

double streaming_limit_bytes_per_element(const LimitArrays& a) {
    const double gradient = a.gradients != nullptr ? 4.0 : 2.0;
    double bytes = gradient + 8.0 + 8.0;  // g; m and s read and written
    if (a.max_second_moment != nullptr) bytes += 8.0;
    if (a.parameters != nullptr) bytes += 8.0;                                    // float32 or master, read and written
    if (a.narrow_parameters != nullptr) bytes += a.parameters != nullptr ? 2.0 : 4.0;  // written; or read and written
    if (a.gradient_pass) bytes += gradient;
    return bytes;
}

std::size_t step_footprint_bytes(const LimitArrays& a, std::size_t element_count) {
    // The float32 array is the parameters, or the master copy beside 16-bit parameters.
    const bool narrow = a.narrow_parameters != nullptr;
    const std::size_t float_bytes = a.parameters != nullptr ? sizeof(float) : 0;
    return cpu::prefetch_footprint(element_count, narrow ? sizeof(std::uint16_t) : float_bytes,
                                   a.gradients != nullptr ? sizeof(float) : sizeof(std::uint16_t),
                                   narrow ? float_bytes : 0, sizeof(float));
}

bool step_would_prefetch(std::size_t footprint_bytes) { return cpu::step_prefetches(footprint_bytes); }

void streaming_limit(cpu::ThreadPool& pool, float* parameters, const float* gradients, float* first_moment,
                     float* second_moment, std::size_t element_count) {
    LimitArrays arrays;
    arrays.parameters = parameters;
    arrays.gradients = gradients;
    arrays.first_moment = first_moment;
    arrays.second_moment = second_moment;
    arrays.prefetch = step_would_prefetch(step_footprint_bytes(arrays, element_count));
    streaming_limit(pool, arrays, element_count, +1);
}

}  // namespace nab::bench
