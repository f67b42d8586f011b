// A fixed set of worker threads that run one job at a time, with the calling thread taking
// part (so a pool of N threads starts N-1 workers). Jobs are handed over without allocation:
// the pool stores a pointer to the caller's callable for the duration of run().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace nab::cpu {

class ThreadPool {
public:
    explicit ThreadPool(int thread_count);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int thread_count() const noexcept { return static_cast<int>(workers_.size()) + 1; }

    // Calls job(thread_index) once on every thread (index 0 is the caller) and returns when
    // all calls have returned. job must not throw.
    template <class Job>
    void run(Job& job) {
        run_erased(&job, [](void* context, int index) { (*static_cast<Job*>(context))(index); });
    }

    // Calls work(index) once for every index in [0, count), on every thread, and returns when
    // all calls have returned. Thread t starts with the t-th of thread_count() contiguous
    // shares of the indices, in order, and when it is done takes indices from the ends of the
    // other shares. So consecutive calls over the same items give each thread the same items:
    // data that fits the caches stays in the caches of the core that works on it, instead of
    // moving between cores (between L3 caches, where the cores do not share one) at every call.
    // work must not throw.
    template <class Work>
    void for_each_index(std::size_t count, Work& work);

private:
    // One thread's share of for_each_index's indices, [front, back) packed in one word: its
    // owner takes from the front and the other threads from the back, one compare-and-swap
    // each. On a cache line of its own, so that the owner's claims do not slow its neighbours.
    struct alignas(64) Share {
        std::atomic<std::uint64_t> bounds{0};
        void assign(std::size_t front, std::size_t back) noexcept {
            bounds.store(static_cast<std::uint64_t>(back) << 32 | front, std::memory_order_relaxed);
        }
        bool take(bool from_front, std::size_t& index) noexcept {
            std::uint64_t current = bounds.load(std::memory_order_relaxed);
            for (;;) {
                const std::uint64_t front = current & 0xffffffffu, back = current >> 32;
                if (front >= back) return false;
                const std::uint64_t next = from_front ? current + 1 : current - (std::uint64_t{1} << 32);
                if (bounds.compare_exchange_weak(current, next, std::memory_order_relaxed)) {
                    index = static_cast<std::size_t>(from_front ? front : back - 1);
                    return true;
                }
            }
        }
    };

    using Trampoline = void (*)(void* context, int thread_index);
    void run_erased(void* context, Trampoline trampoline);
    void worker_loop(int thread_index);

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable work_ready_;
    std::condition_variable work_done_;
    // Written under mutex_; atomic so that a thread can spin on them without it (run_erased).
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stopping_{false};
    void* job_context_ = nullptr;
    Trampoline job_trampoline_ = nullptr;
    std::unique_ptr<Share[]> shares_;  // one per thread, for for_each_index
};

template <class Work>
void ThreadPool::for_each_index(std::size_t count, Work& work) {
    // Shares hold 32-bit indices: a count beyond that (2^32 chunks, far more memory than exists)
    // runs on the calling thread rather than be truncated.
    const std::size_t threads = static_cast<std::size_t>(thread_count());
    if (threads == 1 || count > 0xffffffffu) {
        for (std::size_t index = 0; index < count; ++index) work(index);
        return;
    }
    for (std::size_t t = 0; t < threads; ++t) shares_[t].assign(count * t / threads, count * (t + 1) / threads);
    auto job = [&](int thread_index) {
        const auto own = static_cast<std::size_t>(thread_index);
        std::size_t index;
        while (shares_[own].take(true, index)) work(index);
        for (std::size_t step = 1; step < threads; ++step) {
            Share& other = shares_[(own + step) % threads];
            while (other.take(false, index)) work(index);
        }
    };
    run(job);
}

// One thread per logical core (at least 1).
int hardware_thread_count() noexcept;

}  // namespace nab::cpu
