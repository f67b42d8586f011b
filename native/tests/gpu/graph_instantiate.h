// Instantiating a captured CUDA graph with every CUDA the project builds with: CUDA 12 dropped the
// five-argument cudaGraphInstantiate, and cudaGraphInstantiateWithFlags came only with CUDA 11.4
// (the Debian 11 release build has CUDA 11.2).
#pragma once

#include <cuda_runtime_api.h>

namespace nab::gpu_test {

inline cudaError_t instantiate_graph(cudaGraphExec_t* exec, cudaGraph_t graph) {
#if CUDART_VERSION >= 11040
    return cudaGraphInstantiateWithFlags(exec, graph, 0);
#else
    return cudaGraphInstantiate(exec, graph, nullptr, nullptr, 0);
#endif
}

}  // namespace nab::gpu_test
