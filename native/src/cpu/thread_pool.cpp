#include "cpu/thread_pool.h"

#include <string>
#include <system_error>

#include "core/errors.h"

namespace nab::cpu {

int hardware_thread_count() noexcept {
    const unsigned count = std::thread::hardware_concurrency();
    return count == 0 ? 1 : static_cast<int>(count);
}

ThreadPool::ThreadPool(int thread_count) {
    workers_.reserve(static_cast<std::size_t>(thread_count > 1 ? thread_count - 1 : 0));
    try {
        for (int index = 1; index < thread_count; ++index) {
            workers_.emplace_back([this, index] { worker_loop(index); });
        }
    } catch (...) {
        const int started = static_cast<int>(workers_.size()) + 1;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
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
        stopping_ = true;
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
        pending_ = static_cast<int>(workers_.size());
        ++generation_;
    }
    work_ready_.notify_all();
    trampoline(context, 0);
    std::unique_lock<std::mutex> lock(mutex_);
    work_done_.wait(lock, [this] { return pending_ == 0; });
    job_context_ = nullptr;
    job_trampoline_ = nullptr;
}

void ThreadPool::worker_loop(int thread_index) {
    std::uint64_t seen_generation = 0;
    for (;;) {
        void* context = nullptr;
        Trampoline trampoline = nullptr;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            work_ready_.wait(lock, [&] { return stopping_ || generation_ != seen_generation; });
            if (stopping_) return;
            seen_generation = generation_;
            context = job_context_;
            trampoline = job_trampoline_;
        }
        trampoline(context, thread_index);
        bool last = false;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            last = --pending_ == 0;
        }
        if (last) work_done_.notify_one();
    }
}

}  // namespace nab::cpu
