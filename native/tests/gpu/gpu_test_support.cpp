#include "gpu/gpu_test_support.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>

namespace nab::gpu_test {

void check(nab_status status, const std::string& what) {
    if (status != NAB_STATUS_OK) throw std::runtime_error(what + ": " + nab_get_last_error());
}

Problem random_problem(std::vector<nab_group_options> groups, std::vector<TensorSpec> tensors, int steps,
                       std::uint64_t seed, bool some_null_gradients) {
    std::mt19937_64 random(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> exponent(-3.0f, 1.0f);
    Problem p{std::move(groups), std::move(tensors), {}, {}};
    for (const TensorSpec& t : p.tensors) {
        std::vector<float> values(t.element_count);
        for (float& v : values) v = normal(random);
        p.initial_parameters.push_back(std::move(values));
    }
    for (int step = 0; step < steps; ++step) {
        std::vector<std::vector<float>> step_gradients;
        for (std::size_t t = 0; t < p.tensors.size(); ++t) {
            std::vector<float> g;
            if (!(some_null_gradients && (step + t) % 3 == 2)) {
                g.resize(p.tensors[t].element_count);
                for (float& v : g) v = normal(random) * std::pow(10.0f, exponent(random));
            }
            step_gradients.push_back(std::move(g));
        }
        p.gradients.push_back(std::move(step_gradients));
    }
    return p;
}

namespace {

struct Optimizer {
    nab_optimizer* handle = nullptr;
    ~Optimizer() { nab_optimizer_destroy(handle); }
};

// Memory the tensors live in: host vectors for the CPU, device buffers for CUDA. Each
// tensor's parameter and gradient arrays start `misalignment` floats into their allocation.
class Storage {
public:
    Storage(bool on_device, const Problem& problem) : on_device_(on_device) {
        for (const TensorSpec& t : problem.tensors) {
            parameters_.push_back(allocate(t.element_count + t.misalignment));
            gradients_.push_back(allocate(t.element_count + t.misalignment));
        }
    }
    ~Storage() {
        for (float* data : owned_) {
            if (on_device_) {
                nab_cuda_buffer_free(data);
            } else {
                nab_buffer_free(data);
            }
        }
    }
    float* parameters(std::size_t t, const TensorSpec& spec) { return parameters_[t] + spec.misalignment; }
    float* gradients(std::size_t t, const TensorSpec& spec) { return gradients_[t] + spec.misalignment; }
    void upload(float* destination, const std::vector<float>& values) {
        if (on_device_) {
            check(nab_cuda_copy_to_device(destination, values.data(), values.size()), "nab_cuda_copy_to_device");
        } else {
            std::copy(values.begin(), values.end(), destination);
        }
    }
    std::vector<float> download(const float* source, std::size_t count) {
        std::vector<float> values(count);
        if (on_device_) {
            check(nab_cuda_copy_to_host(values.data(), source, count), "nab_cuda_copy_to_host");
        } else {
            std::copy(source, source + count, values.begin());
        }
        return values;
    }

private:
    float* allocate(std::size_t count) {
        float* data = nullptr;
        if (on_device_) {
            check(nab_cuda_buffer_allocate(0, count, &data), "nab_cuda_buffer_allocate");
        } else {
            check(nab_buffer_allocate(count, &data), "nab_buffer_allocate");
        }
        owned_.push_back(data);
        return data;
    }
    bool on_device_;
    std::vector<float*> owned_, parameters_, gradients_;
};

Result run(const Problem& problem, bool on_device) {
    nab_optimizer_config config;
    check(nab_optimizer_config_init(&config), "config");
    config.device_type = on_device ? NAB_DEVICE_CUDA : NAB_DEVICE_CPU;
    Optimizer optimizer;
    check(nab_optimizer_create(&config, &optimizer.handle), "nab_optimizer_create");
    for (const nab_group_options& g : problem.groups) {
        std::uint32_t id = 0;
        check(nab_optimizer_add_group(optimizer.handle, &g, &id), "nab_optimizer_add_group");
    }
    Storage storage(on_device, problem);
    for (std::size_t t = 0; t < problem.tensors.size(); ++t) {
        const TensorSpec& spec = problem.tensors[t];
        storage.upload(storage.parameters(t, spec), problem.initial_parameters[t]);
        nab_tensor_desc desc{sizeof desc, spec.group, spec.element_count, storage.parameters(t, spec), nullptr};
        std::uint32_t id = 0;
        check(nab_optimizer_add_tensor(optimizer.handle, &desc, &id), "nab_optimizer_add_tensor");
    }
    for (const auto& step_gradients : problem.gradients) {
        for (std::size_t t = 0; t < problem.tensors.size(); ++t) {
            const TensorSpec& spec = problem.tensors[t];
            float* g = nullptr;
            if (!step_gradients[t].empty()) {
                g = storage.gradients(t, spec);
                storage.upload(g, step_gradients[t]);
            }
            check(nab_optimizer_set_tensor_gradients(optimizer.handle, static_cast<std::uint32_t>(t), g),
                  "nab_optimizer_set_tensor_gradients");
        }
        check(nab_optimizer_step(optimizer.handle), "nab_optimizer_step");
    }
    check(nab_optimizer_synchronize(optimizer.handle), "nab_optimizer_synchronize");
    Result result;
    for (std::size_t t = 0; t < problem.tensors.size(); ++t) {
        const TensorSpec& spec = problem.tensors[t];
        const auto id = static_cast<std::uint32_t>(t);
        result.parameters.push_back(storage.download(storage.parameters(t, spec), spec.element_count));
        nab_tensor_info info{};
        info.struct_size = sizeof info;
        check(nab_optimizer_get_tensor_info(optimizer.handle, id, &info), "nab_optimizer_get_tensor_info");
        result.steps.push_back(info.step);
        auto read = [&](nab_state_kind kind) {
            std::vector<float> values(spec.element_count);
            check(nab_optimizer_read_state(optimizer.handle, id, kind, values.data(), values.size()),
                  "nab_optimizer_read_state");
            return values;
        };
        result.first_moment.push_back(read(NAB_STATE_FIRST_MOMENT));
        result.second_moment.push_back(read(NAB_STATE_SECOND_MOMENT));
        result.max_second_moment.push_back(info.has_max_second_moment ? read(NAB_STATE_MAX_SECOND_MOMENT)
                                                                      : std::vector<float>{});
    }
    return result;
}

std::string compare_arrays(const char* name, const std::vector<std::vector<float>>& cpu,
                           const std::vector<std::vector<float>>& cuda, double rel_tolerance, double floor) {
    for (std::size_t t = 0; t < cpu.size(); ++t) {
        if (cpu[t].size() != cuda[t].size()) return std::string(name) + ": sizes differ for tensor " + std::to_string(t);
        for (std::size_t i = 0; i < cpu[t].size(); ++i) {
            const double expected = cpu[t][i], actual = cuda[t][i];
            const double error = std::fabs(actual - expected) / std::max(std::fabs(expected), floor);
            if (!(error <= rel_tolerance)) {
                std::ostringstream out;
                out.precision(9);
                out << name << " of tensor " << t << " element " << i << ": cpu " << expected << ", cuda " << actual
                    << " (relative error " << error << ")";
                return out.str();
            }
        }
    }
    return "";
}

}  // namespace

Result run_on_cpu(const Problem& problem) { return run(problem, false); }
Result run_on_cuda(const Problem& problem) { return run(problem, true); }

std::string compare(const Result& cpu, const Result& cuda, double rel_tolerance) {
    if (cpu.steps != cuda.steps) return "step counts differ";
    for (const std::string& error :
         {compare_arrays("parameters", cpu.parameters, cuda.parameters, rel_tolerance, 1e-3),
          compare_arrays("m", cpu.first_moment, cuda.first_moment, rel_tolerance, 1e-30),
          compare_arrays("s", cpu.second_moment, cuda.second_moment, rel_tolerance, 1e-30),
          compare_arrays("s_max", cpu.max_second_moment, cuda.max_second_moment, rel_tolerance, 1e-30)}) {
        if (!error.empty()) return error;
    }
    return "";
}

}  // namespace nab::gpu_test
