// A fixed set of worker threads that run one job at a time, with the calling thread taking
// part (so a pool of N threads starts N-1 workers). Jobs are handed over without allocation:
// the pool stores a pointer to the caller's callable for the duration of run().
#pragma once

#include <condition_variable>
#include <cstdint>
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

private:
    using Trampoline = void (*)(void* context, int thread_index);
    void run_erased(void* context, Trampoline trampoline);
    void worker_loop(int thread_index);

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable work_ready_;
    std::condition_variable work_done_;
    std::uint64_t generation_ = 0;
    int pending_ = 0;
    bool stopping_ = false;
    void* job_context_ = nullptr;
    Trampoline job_trampoline_ = nullptr;
};

// One thread per logical core (at least 1).
int hardware_thread_count() noexcept;

}  // namespace nab::cpu
