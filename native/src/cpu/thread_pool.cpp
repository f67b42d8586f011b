#include "cpu/thread_pool.h"

#include <chrono>
#include <string>
#include <system_error>

#include "core/errors.h"

namespace nab::cpu {

namespace {

// How long a thread that waits for the pool (a worker for its next job, the caller for the
// workers) checks for it before it sleeps. Waking a sleeping thread costs tens of microseconds
// where the core it ran on has halted (a virtual machine's idle vCPU above all): as much as
// a whole step over a million parameters. The step's passes (the gradient pass, then the update)
// and the steps of a loop without other work between them follow each other within this time.
constexpr std::chrono::microseconds kSpinBeforeSleeping{100};

// Tells the core that this thread is spinning (frees its resources for a sibling thread).
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// Spins until done() or kSpinBeforeSleeping has passed; returns done().
template <class Done>
bool spin_until(Done done) noexcept {
    const auto deadline = std::chrono::steady_clock::now() + kSpinBeforeSleeping;
    for (;;) {
        for (int i = 0; i < 64; ++i) {
            if (done()) return true;
            spin_pause();
        }
        if (std::chrono::steady_clock::now() >= deadline) return done();
    }
}

}  // namespace

int hardware_thread_count() noexcept {
    const unsigned count = std::thread::hardware_concurrency();
    return count == 0 ? 1 : static_cast<int>(count);
}

ThreadPool::ThreadPool(int thread_count)
    : shares_(std::make_unique<Share[]>(static_cast<std::size_t>(thread_count > 1 ? thread_count : 1))) {
    workers_.reserve(static_cast<std::size_t>(thread_count > 1 ? thread_count - 1 : 0));
    try {
        for (int index = 1; index < thread_count; ++index) {
            workers_.emplace_back([this, index] { worker_loop(index); });
        }
    } catch (...) {
        const int started = static_cast<int>(workers_.size()) + 1;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_.store(true, std::memory_order_relaxed);
        }
        work_ready_.notify_all();
        for (std::thread& worker : workers_) worker.join();
        try {
            throw;
        } catch (const std::system_error& error) {
            // The operating system refused a thread (a process or user limit, such as ulimit -u,
            // or memory for its stack): a resource limit of the machine, not a bug.
            fail(ErrorCode::OutOfMemory, "could not start worker thread " + std::to_string(started) + " of " +
                                             std::to_string(thread_count) + ": " + error.what() +
                                             " (a process or user thread limit, such as ulimit -u, or memory); ask "
                                             "for fewer threads");
        }
    }
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_.store(true, std::memory_order_relaxed);
    }
    work_ready_.notify_all();
    for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::run_erased(void* context, Trampoline trampoline) {
    if (workers_.empty()) {
        trampoline(context, 0);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        job_context_ = context;
        job_trampoline_ = trampoline;
        pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
    }
    work_ready_.notify_all();
    trampoline(context, 0);
    // The acquire loads of pending_ make the workers' writes visible to the caller.
    auto all_done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
    if (!spin_until(all_done)) {
        std::unique_lock<std::mutex> lock(mutex_);
        work_done_.wait(lock, all_done);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    job_context_ = nullptr;
    job_trampoline_ = nullptr;
}

void ThreadPool::worker_loop(int thread_index) {
    std::uint64_t seen_generation = 0;
    auto job_or_stop = [&] {
        return stopping_.load(std::memory_order_relaxed) ||
               generation_.load(std::memory_order_acquire) != seen_generation;
    };
    for (;;) {
        void* context = nullptr;
        Trampoline trampoline = nullptr;
        spin_until(job_or_stop);
        {
            std::unique_lock<std::mutex> lock(mutex_);
            work_ready_.wait(lock, job_or_stop);
            if (stopping_.load(std::memory_order_relaxed)) return;
            seen_generation = generation_.load(std::memory_order_relaxed);
            context = job_context_;
            trampoline = job_trampoline_;
        }
        trampoline(context, thread_index);
        // The release publishes the job's writes to the caller; the lock after it makes sure the
        // caller is either before its check of pending_ or asleep on work_done_, not in between.
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            { std::lock_guard<std::mutex> lock(mutex_); }
            work_done_.notify_one();
        }
    }
}

}  // namespace nab::cpu
