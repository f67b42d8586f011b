// The fused multi-tensor kernels. An optional gradient pass writes per-block totals; a tiny
// planning kernel turns them into the step's decision (skip, gradient scale) and computes each
// tensor's scalars; then one block of the step kernel updates up to kElementsPerBlock elements
// of one tensor, every thread applying update_element — the same function the CPU kernels
// instantiate — to groups of 4 elements, one float4 (8 bytes for 16-bit data) per array where
// the tensor's arrays are aligned for it. 16-bit values are widened and narrowed with
// core/half_precision.h, the CPU's own conversions, so both backends produce the same bits.
// Tensors with 8-bit state go through their own kernel, one warp per 256-element block: decode
// (core/block_quantization.h, the CPU's own formats), update_element, the block's largest
// magnitudes by warp shuffles, encode.
#include <type_traits>

#include "core/block_quantization.h"
#include "core/gradient_scaling.h"
#include "core/half_precision.h"
#include "core/step_coefficients.h"
#include "core/step_counts.h"
#include "core/update_math.h"
#include "cuda/launch_layout.h"
#include "cuda/step_kernels.h"

namespace nab::cuda {

namespace {

static_assert(kVectorWidth == 4, "a group is one float4, or 4 16-bit values in 8 bytes");

constexpr unsigned kWarpSize = 32;
// Threads of the planning kernel and of the partials' summation: fixed, because the order in
// which the partials are added (and so the bits of the sum) depends on it.
constexpr unsigned kPlanThreads = 256;

// ---- Element access: Width (1 or kVectorWidth) consecutive elements per call ---------------

template <unsigned Width>
__device__ __forceinline__ void load_floats(const float* data, float (&out)[Width]) {
    if constexpr (Width == kVectorWidth) {
        const float4 v = *reinterpret_cast<const float4*>(data);
        out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
    } else {
        out[0] = data[0];
    }
}

template <unsigned Width>
__device__ __forceinline__ void store_floats(float* data, const float (&in)[Width]) {
    if constexpr (Width == kVectorWidth) {
        *reinterpret_cast<float4*>(data) = float4{in[0], in[1], in[2], in[3]};
    } else {
        data[0] = in[0];
    }
}

template <unsigned Width>
__device__ __forceinline__ void load_bits(const std::uint16_t* data, std::uint16_t (&out)[Width]) {
    if constexpr (Width == kVectorWidth) {
        const uint2 v = *reinterpret_cast<const uint2*>(data);  // little-endian: element 0 is the low half
        out[0] = static_cast<std::uint16_t>(v.x), out[1] = static_cast<std::uint16_t>(v.x >> 16);
        out[2] = static_cast<std::uint16_t>(v.y), out[3] = static_cast<std::uint16_t>(v.y >> 16);
    } else {
        out[0] = data[0];
    }
}

template <unsigned Width>
__device__ __forceinline__ void store_bits(std::uint16_t* data, const std::uint16_t (&in)[Width]) {
    if constexpr (Width == kVectorWidth) {
        *reinterpret_cast<uint2*>(data) = uint2{in[0] | (unsigned{in[1]} << 16), in[2] | (unsigned{in[3]} << 16)};
    } else {
        data[0] = in[0];
    }
}

// Elements i .. i + Width - 1 of a caller buffer of `type`, widened to float.
template <unsigned Width>
__device__ __forceinline__ void load_widened(const void* data, ElementType type, std::uint64_t i, float (&out)[Width]) {
    if (type == ElementType::Float32) {
        load_floats<Width>(static_cast<const float*>(data) + i, out);
        return;
    }
    std::uint16_t bits[Width];
    load_bits<Width>(static_cast<const std::uint16_t*>(data) + i, bits);
    if (type == ElementType::BFloat16) {
        for (unsigned k = 0; k < Width; ++k) out[k] = bfloat16_to_float(bits[k]);
    } else {
        for (unsigned k = 0; k < Width; ++k) out[k] = half_to_float(bits[k]);
    }
}

// Stores floats into elements i .. i + Width - 1 of a caller buffer of `type`, rounding to
// nearest even where it is 16-bit.
template <unsigned Width>
__device__ __forceinline__ void store_narrowed(void* data, ElementType type, std::uint64_t i, const float (&in)[Width]) {
    if (type == ElementType::Float32) {
        store_floats<Width>(static_cast<float*>(data) + i, in);
        return;
    }
    std::uint16_t bits[Width];
    if (type == ElementType::BFloat16) {
        for (unsigned k = 0; k < Width; ++k) bits[k] = float_to_bfloat16(in[k]);
    } else {
        for (unsigned k = 0; k < Width; ++k) bits[k] = float_to_half(in[k]);
    }
    store_bits<Width>(static_cast<std::uint16_t*>(data) + i, bits);
}

// Where a block's tensor keeps its values. For float32 tensors the element types are
// compile-time constants, so every access above folds to one plain float4 load or store; the
// other tensors read them from their table entry. A block picks one of the two with a single
// branch on its tensor, and the type tests inside are the same for all its threads, so they
// never diverge. (Specialising every combination of parameter type, gradient type and master
// copy instead would compile each step kernel's body 15 times rather than twice.)
struct AllFloat32 {
    __device__ static ElementType parameter_type(const DeviceTensor&) { return ElementType::Float32; }
    __device__ static ElementType gradient_type(const DeviceTensor&) { return ElementType::Float32; }
    __device__ static float* master(const DeviceTensor&) { return nullptr; }
};

struct TypesFromTable {
    __device__ static ElementType parameter_type(const DeviceTensor& t) { return t.parameter_type; }
    __device__ static ElementType gradient_type(const DeviceTensor& t) { return t.gradient_type; }
    __device__ static float* master(const DeviceTensor& t) { return t.master; }
};

// for_each_thread_element with the group's width as a compile-time constant
// (std::integral_constant), so each access of a group is one instruction of the right size.
template <class Visit>
__device__ __forceinline__ void for_each_group(const DeviceTensor& t, ElementRange range, Visit&& visit) {
    for_each_thread_element(range, t.vectorized != 0, threadIdx.x, blockDim.x, [&](std::uint64_t i, unsigned width) {
        if (width == kVectorWidth) {
            visit(i, std::integral_constant<unsigned, kVectorWidth>{});
        } else {
            visit(i, std::integral_constant<unsigned, 1>{});
        }
    });
}

// ---- The step -------------------------------------------------------------------------------

// One group of elements: widen, update in float32, narrow. A tensor with a master copy updates
// the master and writes its rounding into the 16-bit parameters; one without widens the
// parameters themselves and rounds the result back.
template <unsigned Width, class Types, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
__device__ __forceinline__ void update_group(const DeviceTensor& t, std::uint64_t i,
                                             const ElementCoefficients<float>& c) {
    float* const master = Types::master(t);
    float p[Width], g[Width], m[Width], s[Width], s_max[Width] = {};
    load_widened<Width>(t.gradients, Types::gradient_type(t), i, g);
    if (master != nullptr) {
        load_floats<Width>(master + i, p);
    } else {
        load_widened<Width>(t.parameters, Types::parameter_type(t), i, p);
    }
    load_floats<Width>(t.first_moment + i, m);
    load_floats<Width>(t.second_moment + i, s);
    if (KeepsMax) load_floats<Width>(t.max_second_moment + i, s_max);
    for (unsigned k = 0; k < Width; ++k) {
        update_element<L2, Square, KeepsMax, FromMax, Rule>(p[k], g[k], m[k], s[k], s_max[k], c);
    }
    if (master != nullptr) store_floats<Width>(master + i, p);
    store_narrowed<Width>(t.parameters, Types::parameter_type(t), i, p);
    store_floats<Width>(t.first_moment + i, m);
    store_floats<Width>(t.second_moment + i, s);
    if (KeepsMax) store_floats<Width>(t.max_second_moment + i, s_max);
}

template <class Types, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
__device__ __forceinline__ void update_range(const DeviceTensor& t, ElementRange range,
                                             const ElementCoefficients<float>& c) {
    for_each_group(t, range, [&](std::uint64_t i, auto width) {
        update_group<decltype(width)::value, Types, L2, Square, KeepsMax, FromMax, Rule>(t, i, c);
    });
}

template <class Types, bool L2, bool Square, bool KeepsMax>
__device__ __forceinline__ void update_block(const DeviceTensor& t, ElementRange range, const TensorStepPlan& plan) {
    const ElementCoefficients<float>& c = plan.coefficients;
    // The rule is the same for the whole block: no divergence.
    switch (plan.variant.rule) {
        case UpdateRule::Adaptive:
            if (KeepsMax && plan.variant.denominator_from_max) {
                update_range<Types, L2, Square, KeepsMax, KeepsMax, UpdateRule::Adaptive>(t, range, c);
            } else {
                update_range<Types, L2, Square, KeepsMax, false, UpdateRule::Adaptive>(t, range, c);
            }
            break;
        case UpdateRule::AdaptiveScaledRoot:
            if (KeepsMax && plan.variant.denominator_from_max) {
                update_range<Types, L2, Square, KeepsMax, KeepsMax, UpdateRule::AdaptiveScaledRoot>(t, range, c);
            } else {
                update_range<Types, L2, Square, KeepsMax, false, UpdateRule::AdaptiveScaledRoot>(t, range, c);
            }
            break;
        case UpdateRule::Sgd: update_range<Types, L2, Square, KeepsMax, false, UpdateRule::Sgd>(t, range, c); break;
        case UpdateRule::None: update_range<Types, L2, Square, KeepsMax, false, UpdateRule::None>(t, range, c); break;
    }
}

// Whether a launch built for layout `generation` may read its tables: only while the device's
// layout is still that one (see DeviceStepState::layout_generation).
__device__ __forceinline__ bool layout_is_current(const DeviceStepState* state, std::uint64_t generation) {
    return state->layout_generation == generation;
}

template <bool L2, bool Square, bool KeepsMax>
__global__ void __launch_bounds__(kThreadsPerBlock)
    step_kernel(const DeviceTensor* tensors, std::uint32_t tensor_count, const TensorStepPlan* plans,
                const DeviceStepState* state, std::uint64_t generation) {
    // The planning kernel skipped this step (non-finite gradients under skip_nonfinite, a count
    // at its limit, a stale graph): the plans were not written, and nothing may change. Checked
    // before the tables are read, which a stale graph's may no longer be.
    if (state->report.skipped || !layout_is_current(state, generation)) return;
    const std::uint32_t index = tensor_of_block(tensors, tensor_count, blockIdx.x);
    const DeviceTensor t = tensors[index];
    const TensorStepPlan plan = plans[index];
    const ElementRange range = block_elements(t.element_count, t.first_block, blockIdx.x);
    if (t.parameter_type == ElementType::Float32 && t.gradient_type == ElementType::Float32 && t.master == nullptr) {
        update_block<AllFloat32, L2, Square, KeepsMax>(t, range, plan);
    } else {
        update_block<TypesFromTable, L2, Square, KeepsMax>(t, range, plan);
    }
}

// ---- The step with 8-bit state ------------------------------------------------------------------

static_assert(kElementsPerBlock % kQuantizationBlockSize == 0, "a CUDA block holds whole 8-bit blocks");
constexpr unsigned kQuantizedPerLane = kQuantizationBlockSize / kWarpSize;  // 8 elements of a block per lane

__device__ __forceinline__ std::uint32_t warp_max(std::uint32_t value) {
    for (unsigned offset = kWarpSize / 2; offset > 0; offset /= 2) {
        const std::uint32_t other = __shfl_xor_sync(0xffffffffu, value, offset);
        value = other > value ? other : value;
    }
    return value;
}

// One state array's part of a quantization block in one lane: its new values, kept in registers
// between the update and the encoding.
template <CodeFormat Format>
struct LaneState {
    std::uint8_t* codes;
    float* scale;
    float values[kQuantizedPerLane];
    std::uint32_t largest = 0;

    __device__ __forceinline__ float decode_at(std::uint64_t i, float old_scale) const {
        return decode<Format, ScalarLanes>(codes[i], old_scale);
    }
    __device__ __forceinline__ void keep(unsigned k, float value) {
        values[k] = value;
        const std::uint32_t bits = magnitude_bits<Format, ScalarLanes>(value);
        largest = bits > largest ? bits : largest;
    }
    // The block's new scale (every lane computes it from the warp's largest magnitude) and this
    // lane's codes.
    __device__ __forceinline__ void encode_block(std::uint64_t first, std::uint64_t count, unsigned lane) {
        const BlockScale s = block_scale<ScalarLanes>(warp_max(largest));
        if (lane == 0) *scale = s.scale;  // every lane read the old scale before the shuffles
        for (unsigned k = 0; k < kQuantizedPerLane; ++k) {
            const std::uint64_t i = first + lane + std::uint64_t{kWarpSize} * k;
            if (i < first + count) {
                codes[i] = s.finite ? static_cast<std::uint8_t>(encode<Format, ScalarLanes>(values[k], s.inverse)) : 0;
            }
        }
    }
};

// One warp updates elements [first, first + count) (one quantization block): lane l takes
// elements first + l + 32k, so each access of the warp is contiguous.
template <class Types, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
__device__ __forceinline__ void update_quantized_block(const DeviceTensor& t, std::uint64_t first, std::uint64_t count,
                                                       unsigned lane, const ElementCoefficients<float>& c) {
    const std::uint64_t block = first / kQuantizationBlockSize;
    LaneState<kFirstMomentFormat> m{t.first_moment_codes, t.first_moment_scales + block};
    LaneState<kSecondMomentFormat> s{t.second_moment_codes, t.second_moment_scales + block};
    LaneState<kSecondMomentFormat> s_max{t.max_second_moment_codes, KeepsMax ? t.max_second_moment_scales + block : nullptr};
    const float m_scale = *m.scale, s_scale = *s.scale, s_max_scale = KeepsMax ? *s_max.scale : 0.0f;
    float* const master = Types::master(t);
    for (unsigned k = 0; k < kQuantizedPerLane; ++k) {
        const std::uint64_t i = first + lane + std::uint64_t{kWarpSize} * k;
        if (i >= first + count) continue;
        float p[1], g[1];
        load_widened<1>(t.gradients, Types::gradient_type(t), i, g);
        if (master != nullptr) {
            p[0] = master[i];
        } else {
            load_widened<1>(t.parameters, Types::parameter_type(t), i, p);
        }
        float vm = m.decode_at(i, m_scale), vs = s.decode_at(i, s_scale);
        float vs_max = KeepsMax ? s_max.decode_at(i, s_max_scale) : 0.0f;
        update_element<L2, Square, KeepsMax, FromMax, Rule>(p[0], g[0], vm, vs, vs_max, c);
        if (master != nullptr) master[i] = p[0];
        store_narrowed<1>(t.parameters, Types::parameter_type(t), i, p);
        m.keep(k, vm);
        s.keep(k, vs);
        if (KeepsMax) s_max.keep(k, vs_max);
    }
    m.encode_block(first, count, lane);
    s.encode_block(first, count, lane);
    if (KeepsMax) s_max.encode_block(first, count, lane);
}

template <class Types, bool L2, bool Square, bool KeepsMax, bool FromMax, UpdateRule Rule>
__device__ __forceinline__ void update_quantized_range(const DeviceTensor& t, ElementRange range,
                                                       const ElementCoefficients<float>& c) {
    // range.begin is a multiple of kElementsPerBlock, so of the quantization block: warp w takes
    // the blocks w, w + warps, ... of the range.
    const unsigned lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, warps = blockDim.x / kWarpSize;
    for (std::uint64_t first = range.begin + std::uint64_t{kQuantizationBlockSize} * warp; first < range.end;
         first += std::uint64_t{kQuantizationBlockSize} * warps) {
        const std::uint64_t count = range.end - first < kQuantizationBlockSize ? range.end - first : kQuantizationBlockSize;
        update_quantized_block<Types, L2, Square, KeepsMax, FromMax, Rule>(t, first, count, lane, c);
    }
}

template <class Types, bool L2, bool Square, bool KeepsMax>
__device__ __forceinline__ void update_quantized(const DeviceTensor& t, ElementRange range, const TensorStepPlan& plan) {
    const ElementCoefficients<float>& c = plan.coefficients;
    switch (plan.variant.rule) {
        case UpdateRule::Adaptive:
            if (KeepsMax && plan.variant.denominator_from_max) {
                update_quantized_range<Types, L2, Square, KeepsMax, KeepsMax, UpdateRule::Adaptive>(t, range, c);
            } else {
                update_quantized_range<Types, L2, Square, KeepsMax, false, UpdateRule::Adaptive>(t, range, c);
            }
            break;
        case UpdateRule::AdaptiveScaledRoot:
            if (KeepsMax && plan.variant.denominator_from_max) {
                update_quantized_range<Types, L2, Square, KeepsMax, KeepsMax, UpdateRule::AdaptiveScaledRoot>(t, range, c);
            } else {
                update_quantized_range<Types, L2, Square, KeepsMax, false, UpdateRule::AdaptiveScaledRoot>(t, range, c);
            }
            break;
        case UpdateRule::Sgd: update_quantized_range<Types, L2, Square, KeepsMax, false, UpdateRule::Sgd>(t, range, c); break;
        case UpdateRule::None: update_quantized_range<Types, L2, Square, KeepsMax, false, UpdateRule::None>(t, range, c); break;
    }
}

template <bool L2, bool Square, bool KeepsMax>
__global__ void __launch_bounds__(kThreadsPerBlock)
    quantized_step_kernel(const DeviceTensor* tensors, std::uint32_t tensor_count, const TensorStepPlan* plans,
                          const DeviceStepState* state, std::uint64_t generation) {
    // Skipped: nothing may change, the 8-bit state included. Stale: the tables are not this launch's.
    if (state->report.skipped || !layout_is_current(state, generation)) return;
    const std::uint32_t index = tensor_of_block(tensors, tensor_count, blockIdx.x);
    const DeviceTensor t = tensors[index];
    const TensorStepPlan plan = plans[index];
    const ElementRange range = block_elements(t.element_count, t.first_block, blockIdx.x);
    if (t.parameter_type == ElementType::Float32 && t.gradient_type == ElementType::Float32 && t.master == nullptr) {
        update_quantized<AllFloat32, L2, Square, KeepsMax>(t, range, plan);
    } else {
        update_quantized<TypesFromTable, L2, Square, KeepsMax>(t, range, plan);
    }
}

// ---- The gradient pass and its totals -------------------------------------------------------

__device__ __forceinline__ unsigned is_nonfinite(float value) {
    // All exponent bits set: NaN, +Inf or -Inf (an integer test, unaffected by fast-math).
    // Widening keeps exactly the non-finite 16-bit values non-finite (their exponent bits,
    // 0x7c00 for float16 and 0x7f80 for bfloat16, become 0x7f800000), so one test serves all.
    return (__float_as_uint(value) & 0x7f800000u) == 0x7f800000u ? 1u : 0u;
}

__device__ __forceinline__ GradientStatistics warp_sum(GradientStatistics value) {
    for (unsigned offset = kWarpSize / 2; offset > 0; offset /= 2) {
        value.sum_of_squares += __shfl_down_sync(0xffffffffu, value.sum_of_squares, offset);
        value.nonfinite_count += __shfl_down_sync(0xffffffffu, value.nonfinite_count, offset);
    }
    return value;
}

// Sums over the Threads threads of a block in a fixed order (warp shuffles, then the first
// warp over the warps' totals), so the same inputs give the same bits on every run. The result
// is valid in thread 0.
template <unsigned Threads>
__device__ __forceinline__ GradientStatistics block_sum(GradientStatistics value) {
    constexpr unsigned kWarps = Threads / kWarpSize;
    static_assert(Threads % kWarpSize == 0 && kWarps <= kWarpSize, "one warp adds up the warps' totals");
    __shared__ double warp_sums[kWarps];
    __shared__ std::uint64_t warp_counts[kWarps];
    const unsigned lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
    value = warp_sum(value);
    if (lane == 0) {
        warp_sums[warp] = value.sum_of_squares;
        warp_counts[warp] = value.nonfinite_count;
    }
    __syncthreads();
    if (warp == 0) {
        value = lane < kWarps ? GradientStatistics{warp_sums[lane], warp_counts[lane]} : GradientStatistics{};
        value = warp_sum(value);
    }
    return value;
}

template <class Types>
__device__ __forceinline__ void add_gradient_statistics(const DeviceTensor& t, ElementRange range,
                                                        GradientStatistics& totals) {
    for_each_group(t, range, [&](std::uint64_t i, auto width) {
        constexpr unsigned Width = decltype(width)::value;
        float g[Width];
        load_widened<Width>(t.gradients, Types::gradient_type(t), i, g);
        for (unsigned k = 0; k < Width; ++k) {
            const double x = g[k];  // the square of a float is exact in double
            totals.sum_of_squares += x * x;
            totals.nonfinite_count += is_nonfinite(g[k]);
        }
    });
}

// The fused gradient pass over a zero-gradients layout: each block's totals go to its own
// partial (no atomics), so they do not depend on the order in which blocks run.
__global__ void __launch_bounds__(kThreadsPerBlock)
    gradient_statistics_kernel(const DeviceTensor* tensors, std::uint32_t tensor_count, GradientStatistics* partials,
                               const DeviceStepState* state, std::uint64_t generation) {
    if (state != nullptr && !layout_is_current(state, generation)) return;
    const DeviceTensor t = tensors[tensor_of_block(tensors, tensor_count, blockIdx.x)];
    const ElementRange range = block_elements(t.element_count, t.first_block, blockIdx.x);
    GradientStatistics totals;
    if (t.gradient_type == ElementType::Float32) {
        add_gradient_statistics<AllFloat32>(t, range, totals);
    } else {
        add_gradient_statistics<TypesFromTable>(t, range, totals);
    }
    totals = block_sum<kThreadsPerBlock>(totals);
    if (threadIdx.x == 0) partials[blockIdx.x] = totals;
}

// The partials added up by a block of kPlanThreads threads, in a fixed order; every thread
// gets the total.
__device__ __forceinline__ GradientStatistics sum_partials(const GradientStatistics* partials, std::uint32_t count) {
    GradientStatistics mine;
    for (std::uint32_t i = threadIdx.x; i < count; i += kPlanThreads) {
        mine.sum_of_squares += partials[i].sum_of_squares;
        mine.nonfinite_count += partials[i].nonfinite_count;
    }
    mine = block_sum<kPlanThreads>(mine);
    __shared__ double total_sum;
    __shared__ std::uint64_t total_count;
    if (threadIdx.x == 0) {
        total_sum = mine.sum_of_squares;
        total_count = mine.nonfinite_count;
    }
    __syncthreads();
    return GradientStatistics{total_sum, total_count};
}

__global__ void __launch_bounds__(kPlanThreads)
    sum_statistics_kernel(const GradientStatistics* partials, std::uint32_t partial_count, GradientStatistics* total) {
    const GradientStatistics sum = sum_partials(partials, partial_count);
    if (threadIdx.x == 0) *total = sum;
}

// ---- Planning -------------------------------------------------------------------------------

// One thread per tensor: plans its step in double from the group's options and the step
// count on the device (so a replayed CUDA graph uses the current lr and t), then advances
// the count. Kept out of the element kernel so the double arithmetic costs it no registers.
// Before that, every block makes the step's gradient decision from the same partials in the
// same order, so all blocks agree without waiting for each other; block 0 records it.
__global__ void __launch_bounds__(kPlanThreads)
    plan_kernel(const DeviceTensor* tensors, std::uint32_t tensor_count, const GroupOptions* groups,
                std::int64_t* steps, TensorStepPlan* plans, const GradientStatistics* partials,
                std::uint32_t partial_count, DeviceStepState* state, std::uint64_t generation) {
    if (!layout_is_current(state, generation)) {
        // A graph captured before the layout changed: its tables, counts and partials may be
        // gone. Nothing is read; the step is reported as skipped, and why.
        if (blockIdx.x == 0 && threadIdx.x == 0) {
            StepReport stale;
            stale.skipped = true;
            stale.stale_graph = true;
            stale.step_calls = state->report.step_calls + 1;
            state->report = stale;
        }
        return;
    }
    StepOptions options = state->options;
    GradientStatistics statistics;
    if (partials != nullptr) {
        statistics = sum_partials(partials, partial_count);
    } else {
        // No gradient pass in this launch sequence: a CUDA graph captured while the options
        // needed none, replayed after they changed. There is nothing to check or clip with, so
        // the step runs unchecked and its report says so (gradients_checked = 0).
        options.skip_nonfinite = false;
        options.max_gradient_norm = 0.0;
        options.compute_gradient_norm = false;
    }
    StepReport decision = decide_gradient_scaling(options, statistics, 0);
    if (state->step_count_exhausted != 0) {
        // The guard kernel found a stepped tensor at the largest count: t + 1 does not exist,
        // so the whole step is skipped, as the CPU refuses it as a whole.
        decision.skipped = true;
        decision.step_count_exhausted = true;
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        // The only thread that touches the report: no other reads it while it changes.
        decision.step_calls = state->report.step_calls + 1;
        state->report = decision;
    }
    const std::uint32_t index = blockIdx.x * blockDim.x + threadIdx.x;
    if (decision.skipped || index >= tensor_count) return;
    const DeviceTensor& t = tensors[index];
    const std::int64_t step = steps[t.tensor_id] + 1;
    TensorStepPlan plan = plan_tensor_step(groups[t.group_id], step);
    plan.coefficients.gradient_scale = static_cast<float>(decision.gradient_scale);
    plans[index] = plan;
    steps[t.tensor_id] = step;
}

// One block: whether any stepped tensor's count is kLastStepCount, into the step state that
// the planning kernel reads next. Launched only while some count may be that large.
__global__ void __launch_bounds__(kPlanThreads)
    step_count_guard_kernel(const DeviceTensor* tensors, std::uint32_t tensor_count, const std::int64_t* steps,
                            DeviceStepState* state, std::uint64_t generation) {
    if (!layout_is_current(state, generation)) return;  // the plan reports the stale replay
    int exhausted = 0;
    for (std::uint32_t i = threadIdx.x; i < tensor_count; i += kPlanThreads) {
        if (!can_take_step(steps[tensors[i].tensor_id])) exhausted = 1;
    }
    exhausted = __syncthreads_or(exhausted);
    if (threadIdx.x == 0) state->step_count_exhausted = static_cast<std::uint32_t>(exhausted);
}

// ---- Gradients and master copies ------------------------------------------------------------

template <class Types>
__device__ __forceinline__ void zero_range(const DeviceTensor& t, ElementRange range) {
    void* const gradients = const_cast<void*>(t.gradients);
    for_each_group(t, range, [&](std::uint64_t i, auto width) {
        constexpr unsigned Width = decltype(width)::value;
        const float zeros[Width] = {};  // +0.0 narrows to all-zero bits in every element type
        store_narrowed<Width>(gradients, Types::gradient_type(t), i, zeros);
    });
}

__global__ void __launch_bounds__(kThreadsPerBlock)
    zero_kernel(const DeviceTensor* tensors, std::uint32_t tensor_count, const DeviceStepState* state,
                std::uint64_t generation) {
    if (!layout_is_current(state, generation)) return;
    const DeviceTensor t = tensors[tensor_of_block(tensors, tensor_count, blockIdx.x)];
    const ElementRange range = block_elements(t.element_count, t.first_block, blockIdx.x);
    if (t.gradient_type == ElementType::Float32) {
        zero_range<AllFloat32>(t, range);
    } else {
        zero_range<TypesFromTable>(t, range);
    }
}

// Runs once per tensor with a master copy, when it is added: plain and scalar.
__global__ void widen_kernel(float* master, const void* parameters, ElementType type, std::uint64_t count) {
    const std::uint64_t stride = std::uint64_t{gridDim.x} * blockDim.x;
    for (std::uint64_t i = std::uint64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += stride) {
        float value[1];
        load_widened<1>(parameters, type, i, value);
        master[i] = value[0];
    }
}

template <bool L2, bool Square, bool KeepsMax, bool EightBit>
void launch(std::uint64_t block_count, cudaStream_t stream, const DeviceTensor* tensors, std::uint32_t tensor_count,
            const TensorStepPlan* plans, const DeviceStepState* state, std::uint64_t generation) {
    if constexpr (EightBit) {
        quantized_step_kernel<L2, Square, KeepsMax><<<static_cast<unsigned>(block_count), kThreadsPerBlock, 0, stream>>>(
            tensors, tensor_count, plans, state, generation);
    } else {
        step_kernel<L2, Square, KeepsMax><<<static_cast<unsigned>(block_count), kThreadsPerBlock, 0, stream>>>(
            tensors, tensor_count, plans, state, generation);
    }
}

}  // namespace

cudaError_t launch_gradient_statistics(const DeviceTensor* tensors, std::uint32_t tensor_count,
                                       std::uint64_t block_count, GradientStatistics* partials,
                                       const DeviceStepState* state, std::uint64_t generation, cudaStream_t stream) {
    if (tensor_count == 0) return cudaSuccess;
    gradient_statistics_kernel<<<static_cast<unsigned>(block_count), kThreadsPerBlock, 0, stream>>>(
        tensors, tensor_count, partials, state, generation);
    return cudaGetLastError();
}

cudaError_t launch_sum_statistics(const GradientStatistics* partials, std::uint32_t partial_count,
                                  GradientStatistics* total, cudaStream_t stream) {
    sum_statistics_kernel<<<1, kPlanThreads, 0, stream>>>(partials, partial_count, total);
    return cudaGetLastError();
}

cudaError_t launch_step_count_guard(const DeviceTensor* tensors, std::uint32_t tensor_count, const std::int64_t* steps,
                                    DeviceStepState* state, std::uint64_t generation, cudaStream_t stream) {
    step_count_guard_kernel<<<1, kPlanThreads, 0, stream>>>(tensors, tensor_count, steps, state, generation);
    return cudaGetLastError();
}

cudaError_t launch_plan(const DeviceTensor* tensors, std::uint32_t tensor_count, const GroupOptions* groups,
                        std::int64_t* steps, TensorStepPlan* plans, const GradientStatistics* partials,
                        std::uint32_t partial_count, DeviceStepState* state, std::uint64_t generation,
                        cudaStream_t stream) {
    // At least one block even without tensors: the decision and step_calls happen every step.
    const unsigned blocks = tensor_count == 0 ? 1u : (tensor_count + kPlanThreads - 1) / kPlanThreads;
    plan_kernel<<<blocks, kPlanThreads, 0, stream>>>(tensors, tensor_count, groups, steps, plans, partials,
                                                     partial_count, state, generation);
    return cudaGetLastError();
}

cudaError_t launch_step(const LaunchVariant& variant, const DeviceTensor* tensors, std::uint32_t tensor_count,
                        std::uint64_t block_count, const TensorStepPlan* plans, const DeviceStepState* state,
                        std::uint64_t generation, cudaStream_t stream) {
    if (tensor_count == 0) return cudaSuccess;
    using Launch = void (*)(std::uint64_t, cudaStream_t, const DeviceTensor*, std::uint32_t, const TensorStepPlan*,
                            const DeviceStepState*, std::uint64_t);
    // Indexed by eight_bit * 8 + l2 * 4 + square * 2 + keeps_max.
    static constexpr Launch launches[16] = {
        &launch<false, false, false, false>, &launch<false, false, true, false>, &launch<false, true, false, false>,
        &launch<false, true, true, false>,   &launch<true, false, false, false>,  &launch<true, false, true, false>,
        &launch<true, true, false, false>,   &launch<true, true, true, false>,    &launch<false, false, false, true>,
        &launch<false, false, true, true>,   &launch<false, true, false, true>,   &launch<false, true, true, true>,
        &launch<true, false, false, true>,   &launch<true, false, true, true>,    &launch<true, true, false, true>,
        &launch<true, true, true, true>};
    launches[(variant.eight_bit ? 8 : 0) + (variant.l2_gradient ? 4 : 0) + (variant.square_gradient ? 2 : 0) +
             (variant.keeps_max ? 1 : 0)](block_count, stream, tensors, tensor_count, plans, state, generation);
    return cudaGetLastError();
}

cudaError_t launch_zero_gradients(const DeviceTensor* tensors, std::uint32_t tensor_count, std::uint64_t block_count,
                                  const DeviceStepState* state, std::uint64_t generation, cudaStream_t stream) {
    if (tensor_count == 0) return cudaSuccess;
    zero_kernel<<<static_cast<unsigned>(block_count), kThreadsPerBlock, 0, stream>>>(tensors, tensor_count, state,
                                                                                      generation);
    return cudaGetLastError();
}

cudaError_t launch_widen(float* master, const void* parameters, ElementType type, std::size_t count,
                         cudaStream_t stream) {
    if (count == 0) return cudaSuccess;
    constexpr unsigned kThreads = 256;
    constexpr std::uint64_t kMaxBlocks = 4096;  // enough to fill any device; the loop strides the rest
    const std::uint64_t wanted = (count + kThreads - 1) / kThreads;
    const auto blocks = static_cast<unsigned>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
    widen_kernel<<<blocks, kThreads, 0, stream>>>(master, parameters, type, count);
    return cudaGetLastError();
}

}  // namespace nab::cuda
