// The CUDA backend where it can go wrong outside the arithmetic, through the C ABI: a device out
// of memory while the tables grow, calls that allocate, wait or copy while the optimizer's stream
// is being captured, a graph replayed after the tensor tables changed under it, and the buffer
// helpers' ordering against work on other streams. Written for issue 20's defects, before their
// fixes (docs/gpu-validation.md lists what each test expects); skipped where no device is visible.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "gpu/graph_scenarios.h"
#include "gpu/gpu_test_support.h"
#include "gpu/graph_instantiate.h"

namespace nab::gpu_test {
namespace {

#define ASSERT_CUDA(expression)                                                                      \
    do {                                                                                             \
        const cudaError_t nab_cuda_result = (expression);                                            \
        ASSERT_EQ(nab_cuda_result, cudaSuccess) << #expression << ": " << cudaGetErrorString(nab_cuda_result); \
    } while (0)

// The optimizer, its stream and the device buffers of a test, released in any case.
struct Fixture {
    cudaStream_t stream = nullptr;
    nab_optimizer* optimizer = nullptr;
    std::vector<void*> buffers;
    ~Fixture() {
        if (optimizer != nullptr) nab_optimizer_destroy(optimizer);
        for (void* b : buffers) nab_cuda_buffer_free(b);
        if (stream != nullptr) cudaStreamDestroy(stream);
    }
    // A CUDA optimizer on a new non-blocking stream with one labml group (options `o`).
    void create(const nab_group_options* o = nullptr) {
        if (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) throw std::runtime_error("stream");
        nab_optimizer_config config;
        check(nab_optimizer_config_init(&config), "config");
        config.device_type = NAB_DEVICE_CUDA;
        check(nab_optimizer_create(&config, &optimizer), "create");
        check(nab_optimizer_set_cuda_stream(optimizer, stream), "set_cuda_stream");
        nab_group_options defaults;
        check(nab_group_options_init(&defaults, NAB_COMPATIBILITY_LABML), "group options");
        std::uint32_t group = 0;
        check(nab_optimizer_add_group(optimizer, o != nullptr ? o : &defaults, &group), "add_group");
    }
    void* buffer(nab_dtype dtype, std::size_t count) {
        void* data = nullptr;
        check(nab_cuda_buffer_allocate(0, dtype, count, &data), "nab_cuda_buffer_allocate");
        buffers.push_back(data);
        return data;
    }
    // A float32 tensor of group 0 with ramp values, gradients or none; returns its id.
    std::uint32_t add_tensor(std::size_t count, bool with_gradients, float** parameters_out = nullptr,
                             float** gradients_out = nullptr) {
        auto* parameters = static_cast<float*>(buffer(NAB_DTYPE_FLOAT32, count));
        float* gradients = nullptr;
        std::vector<float> host(count);
        for (std::size_t i = 0; i < count; ++i) host[i] = centered_ramp(i, 97, 0.01f);
        check(nab_cuda_copy_to_device(parameters, host.data(), count * sizeof(float)), "upload");
        if (with_gradients) {
            gradients = static_cast<float*>(buffer(NAB_DTYPE_FLOAT32, count));
            for (std::size_t i = 0; i < count; ++i) host[i] = centered_ramp(i, 13, 0.003f);
            check(nab_cuda_copy_to_device(gradients, host.data(), count * sizeof(float)), "upload");
        }
        const nab_tensor_desc desc = tensor_desc(0, count, parameters, gradients);
        std::uint32_t id = 0;
        check(nab_optimizer_add_tensor(optimizer, &desc, &id), "add_tensor");
        if (parameters_out != nullptr) *parameters_out = parameters;
        if (gradients_out != nullptr) *gradients_out = gradients;
        return id;
    }
    std::int64_t step_of(std::uint32_t tensor) {
        nab_tensor_info info{};
        info.struct_size = sizeof info;
        check(nab_optimizer_get_tensor_info(optimizer, tensor, &info), "get_tensor_info");
        return info.step;
    }
    std::vector<float> download(const float* data, std::size_t count) {
        std::vector<float> values(count);
        check(nab_cuda_copy_to_host(values.data(), data, count * sizeof(float)), "download");
        return values;
    }
    std::vector<float> state(std::uint32_t tensor, nab_state_kind kind, std::size_t count) {
        std::vector<float> values(count);
        check(nab_optimizer_read_state(optimizer, tensor, kind, values.data(), count), "read_state");
        return values;
    }
    nab_step_report report() {
        nab_step_report r{};
        r.struct_size = sizeof r;
        check(nab_optimizer_get_last_step_report(optimizer, &r), "get_last_step_report");
        return r;
    }
};

// ---- Out of device memory while the tables grow ------------------------------------------------

// Holds every byte of device memory cudaMalloc will still give, in pieces from 1 GiB down to 256
// bytes, so the library's next allocation fails.
class DeviceMemoryHog {
public:
    DeviceMemoryHog() {
        for (std::size_t size = std::size_t{1} << 30; size >= 256;) {
            void* piece = nullptr;
            if (cudaMalloc(&piece, size) == cudaSuccess) {
                pieces_.emplace_back(piece, size);
            } else {
                cudaGetLastError();
                size /= 2;
            }
        }
    }
    ~DeviceMemoryHog() { release(); }
    DeviceMemoryHog(const DeviceMemoryHog&) = delete;
    DeviceMemoryHog& operator=(const DeviceMemoryHog&) = delete;
    // Frees the last (smallest) pieces until at least `bytes` are free: a hole that a small
    // allocation fits and a larger one does not.
    void free_smallest(std::size_t bytes) {
        std::size_t freed = 0;
        while (freed < bytes && !pieces_.empty()) {
            cudaFree(pieces_.back().first);
            freed += pieces_.back().second;
            pieces_.pop_back();
        }
    }
    void release() {
        for (const auto& piece : pieces_) cudaFree(piece.first);
        pieces_.clear();
    }
    bool holds_memory() const { return !pieces_.empty(); }

private:
    std::vector<std::pair<void*, std::size_t>> pieces_;
};

// A step that needs larger tables while the device is full fails with OUT_OF_MEMORY (as the
// header documents; not DEVICE_ERROR) and changes nothing: no step count moves, and once memory
// is back the next step succeeds (the failed cudaMalloc's error is not reported by a later call)
// and every tensor is where the same steps without the failure would put it. The hole left for
// a small allocation lets the step-count table (24 bytes) grow while the gradient partials (16 KiB)
// cannot, where the allocator reuses it: a failure between two growths must leave both as they were.
TEST(CudaAllocationFailureTest, ATableGrowthThatFailsIsOutOfMemoryAndChangesNothing) {
    NAB_REQUIRE_CUDA_DEVICE();
    for (const bool with_hole : {false, true}) {
        SCOPED_TRACE(with_hole ? "with a small hole" : "device full");
        Fixture f;
        f.create();
        nab_step_options checked;
        check(nab_step_options_init(&checked), "step options");
        checked.skip_nonfinite = 1;  // the gradient pass: partials, one per 16384 elements
        check(nab_optimizer_set_step_options(f.optimizer, &checked), "set_step_options");
        float* first = nullptr;
        const std::uint32_t a = f.add_tensor(4096, true, &first);
        check(nab_optimizer_step(f.optimizer), "first step");  // tables for one tensor, one block
        // The new layout: a's gradients off, d with 1024 blocks (its state allocated now, before
        // the device fills up), e without gradients; entries stay at two, step counts grow to 3.
        check(nab_optimizer_set_tensor_gradients(f.optimizer, a, nullptr), "a without gradients");
        float* large = nullptr;
        const std::uint32_t d = f.add_tensor(std::size_t{1024} * 16384, true, &large);
        const std::uint32_t e = f.add_tensor(100, false);
        check(nab_optimizer_synchronize(f.optimizer), "synchronize");
        const std::vector<float> a_before = f.download(first, 4096);

        DeviceMemoryHog hog;
        ASSERT_TRUE(hog.holds_memory());
        if (with_hole) hog.free_smallest(4096);
        const nab_status failed = nab_optimizer_step(f.optimizer);
        const std::string message = nab_get_last_error();
        EXPECT_EQ(failed, NAB_STATUS_OUT_OF_MEMORY) << message;
        EXPECT_NE(message.find("out of"), std::string::npos) << message;
        std::uint32_t count = 0;
        check(nab_optimizer_get_tensor_count(f.optimizer, &count), "count");
        EXPECT_EQ(count, 3u);
        hog.release();

        EXPECT_EQ(f.step_of(a), 1);  // read back from the device's step counts
        EXPECT_EQ(f.step_of(d), 0);
        EXPECT_EQ(f.step_of(e), 0);
        EXPECT_EQ(nab_optimizer_step(f.optimizer), NAB_STATUS_OK) << nab_get_last_error();
        EXPECT_EQ(nab_optimizer_synchronize(f.optimizer), NAB_STATUS_OK) << nab_get_last_error();
        EXPECT_EQ(f.step_of(a), 1);
        EXPECT_EQ(f.step_of(d), 1);
        EXPECT_EQ(f.step_of(e), 0);
        EXPECT_EQ(f.download(first, 4096), a_before);
        const nab_step_report report = f.report();
        EXPECT_EQ(report.step_calls, 2u);  // the refused step is not counted
        EXPECT_EQ(report.gradients_checked, 1);
        EXPECT_EQ(report.skipped, 0);
    }
}

// ---- Calls that allocate, wait or copy during a capture -----------------------------------------

// Every call that would allocate device memory, wait for the stream or copy through it is refused
// with INVALID_ARGUMENT and a message about the capture, in each capture mode, before it touches
// the stream: the caller's capture stays valid and captures nothing, and the optimizer is as it
// was. After the capture the same calls succeed.
TEST(CudaCaptureTest, CallsThatAllocateWaitOrCopyAreRefusedInEveryCaptureMode) {
    NAB_REQUIRE_CUDA_DEVICE();
    const cudaStreamCaptureMode modes[] = {cudaStreamCaptureModeGlobal, cudaStreamCaptureModeThreadLocal,
                                           cudaStreamCaptureModeRelaxed};
    for (const cudaStreamCaptureMode mode : modes) {
        SCOPED_TRACE("capture mode " + std::to_string(static_cast<int>(mode)));
        Fixture f;
        f.create();
        const std::uint32_t t = f.add_tensor(1000, true);
        check(nab_optimizer_step(f.optimizer), "eager step");  // the tables are current
        check(nab_optimizer_synchronize(f.optimizer), "synchronize");
        void* parameters = f.buffer(NAB_DTYPE_FLOAT32, 500);
        void* sixteen = f.buffer(NAB_DTYPE_BFLOAT16, 500);
        const nab_tensor_desc plain = tensor_desc(0, 500, parameters, nullptr);
        const nab_tensor_desc with_master =
            tensor_desc(0, 500, sixteen, nullptr, NAB_DTYPE_BFLOAT16, NAB_DTYPE_BFLOAT16, true);
        std::vector<float> host(1000, 0.5f), read_back(1000);
        nab_group_options amsgrad;
        check(nab_optimizer_get_group_options(f.optimizer, 0, &amsgrad), "get_group_options");
        amsgrad.amsgrad = 1;
        nab_tensor_info info{};
        info.struct_size = sizeof info;
        std::uint32_t id = 99;

        ASSERT_CUDA(cudaStreamBeginCapture(f.stream, mode));
        struct Call {
            const char* name;
            nab_status status;
            std::string message;
        };
        std::vector<Call> calls;
        auto call = [&](const char* name, nab_status status) { calls.push_back({name, status, nab_get_last_error()}); };
        call("add_tensor", nab_optimizer_add_tensor(f.optimizer, &plain, &id));
        call("add_tensor with a master copy", nab_optimizer_add_tensor(f.optimizer, &with_master, &id));
        call("write_state", nab_optimizer_write_state(f.optimizer, t, NAB_STATE_FIRST_MOMENT, host.data(), 1000));
        call("write_state creating s_max",
             nab_optimizer_write_state(f.optimizer, t, NAB_STATE_MAX_SECOND_MOMENT, host.data(), 1000));
        call("read_state", nab_optimizer_read_state(f.optimizer, t, NAB_STATE_FIRST_MOMENT, read_back.data(), 1000));
        call("get_tensor_info", nab_optimizer_get_tensor_info(f.optimizer, t, &info));
        call("set_group_options turning amsgrad on", nab_optimizer_set_group_options(f.optimizer, 0, &amsgrad));
        cudaGraph_t graph = nullptr;
        const cudaError_t ended = cudaStreamEndCapture(f.stream, &graph);

        for (const Call& c : calls) {
            EXPECT_EQ(c.status, NAB_STATUS_INVALID_ARGUMENT) << c.name << ": " << c.message;
            EXPECT_NE(c.message.find("captur"), std::string::npos) << c.name << ": " << c.message;
        }
        EXPECT_EQ(ended, cudaSuccess) << "the refused calls invalidated the caller's capture: " << cudaGetErrorString(ended);
        if (graph != nullptr) {
            std::size_t nodes = 99;
            ASSERT_CUDA(cudaGraphGetNodes(graph, nullptr, &nodes));
            EXPECT_EQ(nodes, 0u) << "a refused call left work in the caller's graph";
            cudaGraphDestroy(graph);
        }
        cudaGetLastError();
        std::uint32_t count = 0;
        check(nab_optimizer_get_tensor_count(f.optimizer, &count), "count");
        EXPECT_EQ(count, 1u);
        EXPECT_EQ(f.step_of(t), 1);
        EXPECT_NE(f.state(t, NAB_STATE_FIRST_MOMENT, 1000), host);  // write_state did not happen
        EXPECT_EQ(nab_optimizer_get_tensor_info(f.optimizer, t, &info), NAB_STATUS_OK);
        EXPECT_EQ(info.has_max_second_moment, 0);

        // Outside the capture, all of it works.
        EXPECT_EQ(nab_optimizer_add_tensor(f.optimizer, &plain, &id), NAB_STATUS_OK) << nab_get_last_error();
        EXPECT_EQ(nab_optimizer_add_tensor(f.optimizer, &with_master, &id), NAB_STATUS_OK) << nab_get_last_error();
        EXPECT_EQ(nab_optimizer_set_group_options(f.optimizer, 0, &amsgrad), NAB_STATUS_OK) << nab_get_last_error();
        EXPECT_EQ(nab_optimizer_write_state(f.optimizer, t, NAB_STATE_FIRST_MOMENT, host.data(), 1000), NAB_STATUS_OK);
        EXPECT_EQ(f.state(t, NAB_STATE_FIRST_MOMENT, 1000), host);
        EXPECT_EQ(nab_optimizer_step(f.optimizer), NAB_STATUS_OK) << nab_get_last_error();
        EXPECT_EQ(nab_optimizer_synchronize(f.optimizer), NAB_STATUS_OK) << nab_get_last_error();
        EXPECT_EQ(f.step_of(t), 2);
    }
}

// ---- A graph replayed after a layout change ------------------------------------------------------

// Guard values around a small tensor's parameters: a replay that walks past the tensor's end
// (blocks of the captured grid beyond the new table's tensors) overwrites them.
constexpr float kGuard = 7.25f;
constexpr std::size_t kGuardElements = 16384 * 2;

struct Guarded {
    float* whole = nullptr;  // kGuardElements, the tensor, kGuardElements
    float* data = nullptr;
    std::size_t count = 0;
};

Guarded guarded_buffer(Fixture& f, std::size_t count, float value) {
    Guarded g;
    g.count = count;
    g.whole = static_cast<float*>(f.buffer(NAB_DTYPE_FLOAT32, count + 2 * kGuardElements));
    g.data = g.whole + kGuardElements;
    std::vector<float> host(count + 2 * kGuardElements, kGuard);
    std::fill(host.begin() + kGuardElements, host.begin() + kGuardElements + count, value);
    check(nab_cuda_copy_to_device(g.whole, host.data(), host.size() * sizeof(float)), "upload");
    return g;
}

enum class Change { RewrittenInPlace, Reallocated };

// A graph of one step is captured with one large tensor; then the layout changes -- the large
// tensor loses its gradients and a small one (guarded) arrives, so the tables are rewritten at the
// same addresses, or many tensors arrive, so they move -- and an eager step uploads the new
// tables. Replaying the old graph then must not step anything with tables that no longer match
// it: no device error, no parameter, moment or step count changes, no guard is touched, and the
// report says the replay was skipped. A graph captured after the change steps normally.
void replay_after_layout_change(Change change) {
    Fixture f;
    f.create();
    float* large = nullptr;
    const std::uint32_t a = f.add_tensor(std::size_t{64} * 16384, true, &large);
    check(nab_optimizer_step(f.optimizer), "eager step");
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t stale = nullptr;
    ASSERT_CUDA(cudaStreamBeginCapture(f.stream, cudaStreamCaptureModeThreadLocal));
    check(nab_optimizer_step(f.optimizer), "captured step");
    ASSERT_CUDA(cudaStreamEndCapture(f.stream, &graph));
    ASSERT_CUDA(nab::gpu_test::instantiate_graph(&stale, graph));
    ASSERT_CUDA(cudaGraphDestroy(graph));

    check(nab_optimizer_set_tensor_gradients(f.optimizer, a, nullptr), "a without gradients");
    // 103 elements: not a multiple of 4, so the old grid's extra blocks reach the vectorised tail.
    const Guarded parameters = guarded_buffer(f, 103, 0.5f);
    const Guarded gradients = guarded_buffer(f, 103, 0.01f);
    const nab_tensor_desc small = tensor_desc(0, 103, parameters.data, gradients.data);
    std::uint32_t b = 0;
    check(nab_optimizer_add_tensor(f.optimizer, &small, &b), "small tensor");
    std::vector<std::uint32_t> others;
    if (change == Change::Reallocated) {
        for (int i = 0; i < 20; ++i) others.push_back(f.add_tensor(1000, true));
    }
    check(nab_optimizer_step(f.optimizer), "eager step with the new layout");
    check(nab_optimizer_synchronize(f.optimizer), "synchronize");
    const std::vector<float> whole_before = f.download(parameters.whole, parameters.count + 2 * kGuardElements);
    const std::vector<float> large_before = f.download(large, std::size_t{64} * 16384);
    const std::vector<float> moment_before = f.state(b, NAB_STATE_FIRST_MOMENT, 103);
    const std::int64_t a_step = f.step_of(a), b_step = f.step_of(b);

    ASSERT_CUDA(cudaGraphLaunch(stale, f.stream));
    EXPECT_EQ(nab_optimizer_synchronize(f.optimizer), NAB_STATUS_OK) << nab_get_last_error();
    ASSERT_CUDA(cudaGraphExecDestroy(stale));
    EXPECT_EQ(f.download(parameters.whole, parameters.count + 2 * kGuardElements), whole_before)
        << "the stale replay changed the small tensor or wrote past it";
    EXPECT_EQ(f.download(large, std::size_t{64} * 16384), large_before) << "the stale replay stepped a tensor";
    EXPECT_EQ(f.state(b, NAB_STATE_FIRST_MOMENT, 103), moment_before);
    EXPECT_EQ(f.step_of(a), a_step);
    EXPECT_EQ(f.step_of(b), b_step);
    EXPECT_EQ(f.report().skipped, 1) << "the stale replay is not reported as skipped";
    for (const std::uint32_t other : others) EXPECT_EQ(f.step_of(other), 1);

    // Captured again after the change, the graph steps the new layout.
    cudaGraphExec_t fresh = nullptr;
    ASSERT_CUDA(cudaStreamBeginCapture(f.stream, cudaStreamCaptureModeThreadLocal));
    check(nab_optimizer_step(f.optimizer), "captured step");
    ASSERT_CUDA(cudaStreamEndCapture(f.stream, &graph));
    ASSERT_CUDA(nab::gpu_test::instantiate_graph(&fresh, graph));
    ASSERT_CUDA(cudaGraphDestroy(graph));
    ASSERT_CUDA(cudaGraphLaunch(fresh, f.stream));
    EXPECT_EQ(nab_optimizer_synchronize(f.optimizer), NAB_STATUS_OK) << nab_get_last_error();
    ASSERT_CUDA(cudaGraphExecDestroy(fresh));
    EXPECT_EQ(f.step_of(b), b_step + 1);
    EXPECT_EQ(f.report().skipped, 0);
    const std::vector<float> whole_after = f.download(parameters.whole, parameters.count + 2 * kGuardElements);
    for (std::size_t i = 0; i < kGuardElements; ++i) {
        ASSERT_EQ(whole_after[i], kGuard) << i;
        ASSERT_EQ(whole_after[kGuardElements + parameters.count + i], kGuard) << i;
    }
}

TEST(CudaGraphLayoutTest, AReplayAfterTheTablesWereRewrittenInPlaceChangesNothing) {
    NAB_REQUIRE_CUDA_DEVICE();
    replay_after_layout_change(Change::RewrittenInPlace);
}

TEST(CudaGraphLayoutTest, AReplayAfterTheTablesWereReallocatedChangesNothing) {
    NAB_REQUIRE_CUDA_DEVICE();
    replay_after_layout_change(Change::Reallocated);
}

// ---- The buffer helpers against other streams ----------------------------------------------------

// The header promises zeroed memory and synchronous copies. Work another stream (non-blocking,
// so not ordered with the legacy default stream) queues right after a helper returns must find
// the helper's work done; a download sees what the device was asked to do before it. Large
// buffers make an unordered helper lose the race nearly always; an ordered one never does.
constexpr std::size_t kLargeBytes = std::size_t{1} << 30;
constexpr std::size_t kTailBytes = 4096;

struct PinnedTail {
    std::uint8_t* data = nullptr;
    PinnedTail() {
        if (cudaMallocHost(reinterpret_cast<void**>(&data), kTailBytes) != cudaSuccess) data = nullptr;
    }
    ~PinnedTail() { cudaFreeHost(data); }
};

TEST(CudaBufferTest, ANewBufferIsZeroedBeforeAllocateReturns) {
    NAB_REQUIRE_CUDA_DEVICE();
    cudaStream_t stream = nullptr;
    ASSERT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    PinnedTail pattern;
    ASSERT_NE(pattern.data, nullptr);
    for (std::size_t i = 0; i < kTailBytes; ++i) pattern.data[i] = static_cast<std::uint8_t>(i * 7 + 1);
    void* buffer = nullptr;
    ASSERT_EQ(nab_cuda_buffer_allocate(0, NAB_DTYPE_BFLOAT16, kLargeBytes / 2, &buffer), NAB_STATUS_OK)
        << nab_get_last_error();
    auto* tail = static_cast<std::uint8_t*>(buffer) + kLargeBytes - kTailBytes;
    ASSERT_CUDA(cudaMemcpyAsync(tail, pattern.data, kTailBytes, cudaMemcpyHostToDevice, stream));
    ASSERT_CUDA(cudaStreamSynchronize(stream));
    ASSERT_CUDA(cudaDeviceSynchronize());
    std::vector<std::uint8_t> back(kTailBytes);
    ASSERT_CUDA(cudaMemcpy(back.data(), tail, kTailBytes, cudaMemcpyDeviceToHost));
    EXPECT_EQ(std::memcmp(back.data(), pattern.data, kTailBytes), 0)
        << "the buffer's zeroing ran after work queued once nab_cuda_buffer_allocate had returned";
    nab_cuda_buffer_free(buffer);
    cudaStreamDestroy(stream);
}

TEST(CudaBufferTest, AnUploadIsCompleteWhenItReturns) {
    NAB_REQUIRE_CUDA_DEVICE();
    cudaStream_t stream = nullptr;
    ASSERT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    void* buffer = nullptr;
    ASSERT_EQ(nab_cuda_buffer_allocate(0, NAB_DTYPE_BFLOAT16, kLargeBytes / 2, &buffer), NAB_STATUS_OK);
    ASSERT_CUDA(cudaDeviceSynchronize());
    std::vector<std::uint8_t> host(kLargeBytes);  // pageable, as most callers' memory
    for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<std::uint8_t>(i % 251 + 1);
    ASSERT_EQ(nab_cuda_copy_to_device(buffer, host.data(), host.size()), NAB_STATUS_OK) << nab_get_last_error();
    PinnedTail tail;
    ASSERT_NE(tail.data, nullptr);
    ASSERT_CUDA(cudaMemcpyAsync(tail.data, static_cast<std::uint8_t*>(buffer) + kLargeBytes - kTailBytes, kTailBytes,
                                cudaMemcpyDeviceToHost, stream));
    ASSERT_CUDA(cudaStreamSynchronize(stream));
    EXPECT_EQ(std::memcmp(tail.data, host.data() + kLargeBytes - kTailBytes, kTailBytes), 0)
        << "nab_cuda_copy_to_device returned before its data was on the device";
    nab_cuda_buffer_free(buffer);
    cudaStreamDestroy(stream);
}

TEST(CudaBufferTest, ADownloadSeesTheStepQueuedBeforeItOnTheOptimizersStream) {
    NAB_REQUIRE_CUDA_DEVICE();
    constexpr std::size_t count = std::size_t{1} << 26;  // a step of ~2 GB of traffic
    Fixture f;
    f.create();
    float* parameters = nullptr;
    f.add_tensor(count, true, &parameters);
    check(nab_optimizer_synchronize(f.optimizer), "synchronize");
    const std::vector<float> before = f.download(parameters + count - 1024, 1024);
    check(nab_optimizer_step(f.optimizer), "step");  // queued on the non-blocking stream
    const std::vector<float> unsynchronized = f.download(parameters + count - 1024, 1024);
    check(nab_optimizer_synchronize(f.optimizer), "synchronize");
    const std::vector<float> after = f.download(parameters + count - 1024, 1024);
    EXPECT_NE(after, before);  // the step moved them (the ramp's gradients are not all zero)
    EXPECT_EQ(unsynchronized, after) << "nab_cuda_copy_to_host did not wait for the step queued before it";
}

}  // namespace
}  // namespace nab::gpu_test
