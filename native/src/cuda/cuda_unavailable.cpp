// The CUDA entry points of a library built without nvcc: every request says so clearly.
#include "core/errors.h"
#include "cuda/cuda_api.h"

namespace nab::cuda {

namespace {
[[noreturn]] void no_cuda() {
    fail(ErrorCode::Unsupported, "this build of the library has no CUDA backend (it was built without nvcc)");
}
}  // namespace

std::unique_ptr<Backend> create_backend(int) { no_cuda(); }
void set_stream(Backend&, void*) { no_cuda(); }
int device_count() noexcept { return 0; }
void* allocate_buffer(int, std::size_t) { no_cuda(); }
void free_buffer(void*) { no_cuda(); }
void copy_to_device(void*, const void*, std::size_t) { no_cuda(); }
void copy_to_host(void*, const void*, std::size_t) { no_cuda(); }

}  // namespace nab::cuda
