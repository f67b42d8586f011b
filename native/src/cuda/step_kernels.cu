// The fused multi-tensor kernels. A tiny planning kernel computes each tensor's scalars;
// then one block of the step kernel updates up to kElementsPerBlock elements of one tensor,
// every thread applying update_element — the same function the CPU kernels instantiate —
// with float4 loads and stores where the tensor's arrays are 16-byte aligned.
#include "core/step_coefficients.h"
#include "core/update_math.h"
#include "cuda/launch_layout.h"
#include "cuda/step_kernels.h"

namespace nab::cuda {

namespace {

template <bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
__device__ __forceinline__ void update_block(const DeviceTensor& t, ElementRange range,
                                             const ElementCoefficients<float>& c) {
    for_each_thread_element(range, t.vectorized != 0, threadIdx.x, blockDim.x, [&](std::uint64_t i, unsigned width) {
        if (width == kVectorWidth) {
            float4 p = *reinterpret_cast<const float4*>(t.parameters + i);
            const float4 g = *reinterpret_cast<const float4*>(t.gradients + i);
            float4 m = *reinterpret_cast<const float4*>(t.first_moment + i);
            float4 s = *reinterpret_cast<const float4*>(t.second_moment + i);
            float4 s_max = KeepsMax ? *reinterpret_cast<const float4*>(t.max_second_moment + i) : float4{};
            update_element<L2, Square, KeepsMax, FromMax, Rule>(p.x, g.x, m.x, s.x, s_max.x, c);
            update_element<L2, Square, KeepsMax, FromMax, Rule>(p.y, g.y, m.y, s.y, s_max.y, c);
            update_element<L2, Square, KeepsMax, FromMax, Rule>(p.z, g.z, m.z, s.z, s_max.z, c);
            update_element<L2, Square, KeepsMax, FromMax, Rule>(p.w, g.w, m.w, s.w, s_max.w, c);
            *reinterpret_cast<float4*>(t.parameters + i) = p;
            *reinterpret_cast<float4*>(t.first_moment + i) = m;
            *reinterpret_cast<float4*>(t.second_moment + i) = s;
            if (KeepsMax) *reinterpret_cast<float4*>(t.max_second_moment + i) = s_max;
        } else {
            float p = t.parameters[i], m = t.first_moment[i], s = t.second_moment[i];
            float s_max = KeepsMax ? t.max_second_moment[i] : 0.0f;
            update_element<L2, Square, KeepsMax, FromMax, Rule>(p, t.gradients[i], m, s, s_max, c);
            t.parameters[i] = p;
            t.first_moment[i] = m;
            t.second_moment[i] = s;
            if (KeepsMax) t.max_second_moment[i] = s_max;
        }
    });
}

// One thread per tensor: plans its step in double from the group's options and the step
// count on the device (so a replayed CUDA graph uses the current lr and t), then advances
// the count. Kept out of the element kernel so the double arithmetic costs it no registers.
__global__ void plan_kernel(const DeviceTensor* tensors, std::uint32_t tensor_count, const GroupOptions* groups,
                            std::int64_t* steps, TensorStepPlan* plans) {
    const std::uint32_t index = blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= tensor_count) return;
    const DeviceTensor& t = tensors[index];
    const std::int64_t step = steps[t.tensor_id] + 1;
    plans[index] = plan_tensor_step(groups[t.group_id], step);
    steps[t.tensor_id] = step;
}

template <bool L2, bool Square, bool KeepsMax>
__global__ void __launch_bounds__(kThreadsPerBlock)
    step_kernel(const DeviceTensor* tensors, std::uint32_t tensor_count, const TensorStepPlan* plans) {
    const std::uint32_t index = tensor_of_block(tensors, tensor_count, blockIdx.x);
    const DeviceTensor t = tensors[index];
    const TensorStepPlan& plan = plans[index];
    const ElementRange range = block_elements(t.element_count, t.first_block, blockIdx.x);
    const ElementCoefficients<float> c = plan.coefficients;
    // The rule is the same for the whole block: no divergence.
    switch (plan.variant.rule) {
        case UpdateRule::Adaptive:
            if (KeepsMax && plan.variant.denominator_from_max) {
                update_block<L2, Square, KeepsMax, KeepsMax, UpdateRule::Adaptive>(t, range, c);
            } else {
                update_block<L2, Square, KeepsMax, false, UpdateRule::Adaptive>(t, range, c);
            }
            break;
        case UpdateRule::AdaptiveScaledRoot:
            if (KeepsMax && plan.variant.denominator_from_max) {
                update_block<L2, Square, KeepsMax, KeepsMax, UpdateRule::AdaptiveScaledRoot>(t, range, c);
            } else {
                update_block<L2, Square, KeepsMax, false, UpdateRule::AdaptiveScaledRoot>(t, range, c);
            }
            break;
        case UpdateRule::Sgd: update_block<L2, Square, KeepsMax, false, UpdateRule::Sgd>(t, range, c); break;
        case UpdateRule::None: update_block<L2, Square, KeepsMax, false, UpdateRule::None>(t, range, c); break;
    }
}

__global__ void __launch_bounds__(kThreadsPerBlock)
    zero_kernel(const DeviceTensor* tensors, std::uint32_t tensor_count) {
    const DeviceTensor t = tensors[tensor_of_block(tensors, tensor_count, blockIdx.x)];
    float* gradients = const_cast<float*>(t.gradients);
    const ElementRange range = block_elements(t.element_count, t.first_block, blockIdx.x);
    for_each_thread_element(range, t.vectorized != 0, threadIdx.x, blockDim.x, [&](std::uint64_t i, unsigned width) {
        if (width == kVectorWidth) {
            *reinterpret_cast<float4*>(gradients + i) = float4{0.0f, 0.0f, 0.0f, 0.0f};
        } else {
            gradients[i] = 0.0f;
        }
    });
}

__device__ __forceinline__ unsigned is_nonfinite(float value) {
    // All exponent bits set: NaN, +Inf or -Inf (an integer test, unaffected by fast-math).
    return (__float_as_uint(value) & 0x7f800000u) == 0x7f800000u ? 1u : 0u;
}

// Counts the non-finite gradient elements of the tensors in a zero-gradients layout: each
// thread counts its elements, the block sums its threads (warp shuffles, then one warp over
// the warps' totals) and adds its total to *total with one atomic.
__global__ void __launch_bounds__(kThreadsPerBlock)
    count_nonfinite_kernel(const DeviceTensor* tensors, std::uint32_t tensor_count, unsigned long long* total) {
    constexpr unsigned kWarpSize = 32;
    constexpr unsigned kWarps = kThreadsPerBlock / kWarpSize;
    __shared__ unsigned warp_totals[kWarps];
    const DeviceTensor t = tensors[tensor_of_block(tensors, tensor_count, blockIdx.x)];
    const ElementRange range = block_elements(t.element_count, t.first_block, blockIdx.x);
    unsigned found = 0;
    for_each_thread_element(range, t.vectorized != 0, threadIdx.x, blockDim.x, [&](std::uint64_t i, unsigned width) {
        if (width == kVectorWidth) {
            const float4 g = *reinterpret_cast<const float4*>(t.gradients + i);
            found += is_nonfinite(g.x) + is_nonfinite(g.y) + is_nonfinite(g.z) + is_nonfinite(g.w);
        } else {
            found += is_nonfinite(t.gradients[i]);
        }
    });
    for (unsigned offset = kWarpSize / 2; offset > 0; offset /= 2) found += __shfl_down_sync(0xffffffffu, found, offset);
    const unsigned lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
    if (lane == 0) warp_totals[warp] = found;
    __syncthreads();
    if (warp == 0) {
        found = lane < kWarps ? warp_totals[lane] : 0u;
        for (unsigned offset = kWarpSize / 2; offset > 0; offset /= 2) found += __shfl_down_sync(0xffffffffu, found, offset);
        if (lane == 0 && found != 0) atomicAdd(total, static_cast<unsigned long long>(found));
    }
}

template <bool L2, bool Square, bool KeepsMax>
void launch(std::uint64_t block_count, cudaStream_t stream, const DeviceTensor* tensors, std::uint32_t tensor_count,
            const TensorStepPlan* plans) {
    step_kernel<L2, Square, KeepsMax><<<static_cast<unsigned>(block_count), kThreadsPerBlock, 0, stream>>>(
        tensors, tensor_count, plans);
}

}  // namespace

cudaError_t launch_step(const LaunchVariant& variant, const DeviceTensor* tensors, std::uint32_t tensor_count,
                        std::uint64_t block_count, const GroupOptions* groups, std::int64_t* steps,
                        TensorStepPlan* plans, cudaStream_t stream) {
    if (tensor_count == 0) return cudaSuccess;
    plan_kernel<<<(tensor_count + 255) / 256, 256, 0, stream>>>(tensors, tensor_count, groups, steps, plans);
    const cudaError_t planned = cudaGetLastError();
    if (planned != cudaSuccess) return planned;
    using Launch = void (*)(std::uint64_t, cudaStream_t, const DeviceTensor*, std::uint32_t, const TensorStepPlan*);
    // Indexed by l2 * 4 + square * 2 + keeps_max.
    static constexpr Launch launches[8] = {
        &launch<false, false, false>, &launch<false, false, true>, &launch<false, true, false>,
        &launch<false, true, true>,   &launch<true, false, false>,  &launch<true, false, true>,
        &launch<true, true, false>,   &launch<true, true, true>};
    launches[(variant.l2_gradient ? 4 : 0) + (variant.square_gradient ? 2 : 0) + (variant.keeps_max ? 1 : 0)](
        block_count, stream, tensors, tensor_count, plans);
    return cudaGetLastError();
}

cudaError_t launch_zero_gradients(const DeviceTensor* tensors, std::uint32_t tensor_count, std::uint64_t block_count,
                                  cudaStream_t stream) {
    if (tensor_count == 0) return cudaSuccess;
    zero_kernel<<<static_cast<unsigned>(block_count), kThreadsPerBlock, 0, stream>>>(tensors, tensor_count);
    return cudaGetLastError();
}

cudaError_t launch_count_nonfinite(const DeviceTensor* tensors, std::uint32_t tensor_count, std::uint64_t block_count,
                                  unsigned long long* total, cudaStream_t stream) {
    if (tensor_count == 0) return cudaSuccess;
    count_nonfinite_kernel<<<static_cast<unsigned>(block_count), kThreadsPerBlock, 0, stream>>>(tensors, tensor_count,
                                                                                                  total);
    return cudaGetLastError();
}

}  // namespace nab::cuda
