// The optimizer: parameter groups, tensors with their state, and the step over all of them.
// Every public method validates its arguments first and throws nab::Error before changing
// anything; api/c_api.cpp turns that into a status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/aligned_memory.h"
#include "core/hyperparameters.h"
#include "cpu/cpu_backend.h"
#include "native_adabelief.h"

namespace nab {

class Optimizer {
public:
    // thread_count >= 0 (0 = all cores); simd_level must be supported or AUTO.
    Optimizer(int thread_count, nab_simd_level simd_level);

    void set_thread_count(int thread_count);
    int thread_count() const noexcept { return backend_.thread_count(); }
    void set_simd_level(nab_simd_level simd_level);
    nab_simd_level simd_level() const noexcept { return backend_.simd_level(); }

    std::uint32_t add_group(const GroupOptions& options);
    std::uint32_t group_count() const noexcept { return static_cast<std::uint32_t>(groups_.size()); }
    const GroupOptions& group_options(std::uint32_t group_id) const;
    void set_group_options(std::uint32_t group_id, const GroupOptions& options);
    void set_learning_rate(std::uint32_t group_id, double learning_rate);

    std::uint32_t add_tensor(std::uint32_t group_id, std::size_t element_count, float* parameters, float* gradients);
    std::uint32_t tensor_count() const noexcept { return static_cast<std::uint32_t>(tensors_.size()); }
    void describe_tensor(std::uint32_t tensor_id, nab_tensor_info* out) const;
    void set_tensor_parameters(std::uint32_t tensor_id, float* parameters);
    void set_tensor_gradients(std::uint32_t tensor_id, float* gradients);
    void set_tensor_step(std::uint32_t tensor_id, std::int64_t step);
    void read_state(std::uint32_t tensor_id, nab_state_kind kind, float* destination, std::size_t element_count) const;
    void write_state(std::uint32_t tensor_id, nab_state_kind kind, const float* source, std::size_t element_count);

    void step();
    void zero_gradients();

private:
    struct Tensor {
        std::uint32_t group_id;
        std::size_t element_count;
        float* parameters;
        float* gradients;
        AlignedFloatArray first_moment;
        AlignedFloatArray second_moment;
        AlignedFloatArray max_second_moment;
        std::int64_t step = 0;
    };

    void check_group(std::uint32_t group_id, const char* argument_name) const;
    Tensor& tensor(std::uint32_t tensor_id, const char* argument_name);
    const Tensor& tensor(std::uint32_t tensor_id, const char* argument_name) const;
    const AlignedFloatArray& state_array(const Tensor& t, nab_state_kind kind) const;

    std::vector<GroupOptions> groups_;
    std::vector<Tensor> tensors_;
    cpu::CpuBackend backend_;
    // Reused from step to step so that a training loop does not allocate.
    std::vector<cpu::StepTensor> step_tensors_;
    std::vector<std::pair<float*, std::size_t>> zero_arrays_;
};

}  // namespace nab
