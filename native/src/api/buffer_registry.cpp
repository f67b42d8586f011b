#include "api/buffer_registry.h"

#include <cstdio>
#include <string>

#include "core/errors.h"

namespace nab::api {

void BufferRegistry::check_live(BufferKind kind, void* data) const {
    const auto found = live_.find(data);
    char address[32];
    std::snprintf(address, sizeof address, "%p", data);
    if (found == live_.end()) {
        fail_argument("data", std::string("= ") + address +
                                  " is not a live buffer of this library: it was freed already, or did not come "
                                  "from nab_buffer_allocate / nab_cuda_buffer_allocate");
    }
    if (found->second != kind) {
        fail_argument("data", std::string("= ") + address +
                                  (kind == BufferKind::Host ? " is a CUDA buffer: free it with nab_cuda_buffer_free"
                                                            : " is a host buffer: free it with nab_buffer_free"));
    }
}

BufferRegistry& buffers() {
    // Never destroyed: buffers may be freed until the process ends.
    static BufferRegistry* instance = new BufferRegistry;
    return *instance;
}

}  // namespace nab::api
