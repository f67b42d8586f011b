#include "gpu/gpu_test_support.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace nab::gpu_test {

void check(nab_status status, const std::string& what) {
    if (status != NAB_STATUS_OK) throw std::runtime_error(what + ": " + nab_get_last_error());
}

std::size_t element_size(nab_dtype dtype) { return dtype == NAB_DTYPE_FLOAT32 ? 4 : 2; }

nab_tensor_desc tensor_desc(std::uint32_t group, std::uint64_t element_count, void* parameters, void* gradients,
                            nab_dtype parameter_dtype, nab_dtype gradient_dtype, bool master) {
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.group_id = group;
    desc.element_count = element_count;
    desc.parameters = parameters;
    desc.gradients = gradients;
    desc.parameter_dtype = parameter_dtype;
    desc.gradient_dtype = gradient_dtype;
    desc.master_parameters = master ? 1 : 0;
    return desc;
}

std::uint16_t random_sixteen_bit(std::mt19937_64& random, nab_dtype dtype, unsigned lowest_exponent,
                                 unsigned highest_exponent) {
    const unsigned fraction_bits = dtype == NAB_DTYPE_FLOAT16 ? 10 : 7;
    std::uniform_int_distribution<unsigned> exponent(lowest_exponent, highest_exponent);
    const unsigned sign = static_cast<unsigned>(random() & 1u);
    const unsigned fraction = static_cast<unsigned>(random()) & ((1u << fraction_bits) - 1u);
    return static_cast<std::uint16_t>((sign << 15) | (exponent(random) << fraction_bits) | fraction);
}

void put_nonfinite(Bytes& values, nab_dtype dtype, std::size_t index, NonFinite kind) {
    const bool nan = kind == NonFinite::Nan, negative = kind == NonFinite::NegativeInfinity;
    if (dtype == NAB_DTYPE_FLOAT32) {
        const std::uint32_t bits = (negative ? 0x80000000u : 0u) | (nan ? 0x7fc00000u : 0x7f800000u);
        std::memcpy(values.data() + 4 * index, &bits, sizeof bits);
        return;
    }
    const std::uint16_t exponent_bits = dtype == NAB_DTYPE_FLOAT16 ? 0x7c00 : 0x7f80;
    const std::uint16_t quiet_bit = dtype == NAB_DTYPE_FLOAT16 ? 0x0200 : 0x0040;
    const auto bits = static_cast<std::uint16_t>((negative ? 0x8000u : 0u) | exponent_bits | (nan ? quiet_bit : 0u));
    std::memcpy(values.data() + 2 * index, &bits, sizeof bits);
}

namespace {

enum class Role { Parameter, Gradient };

Bytes random_values(std::mt19937_64& random, nab_dtype dtype, std::size_t count, Role role) {
    Bytes bytes(count * element_size(dtype));
    if (dtype == NAB_DTYPE_FLOAT32) {
        std::normal_distribution<float> normal(0.0f, 1.0f);
        std::uniform_real_distribution<float> exponent(-3.0f, 1.0f);
        for (std::size_t i = 0; i < count; ++i) {
            const float value =
                role == Role::Parameter ? normal(random) : normal(random) * std::pow(10.0f, exponent(random));
            std::memcpy(bytes.data() + 4 * i, &value, sizeof value);
        }
        return bytes;
    }
    // Biased exponent fields: parameters in [1/4, 4); gradients from the subnormals (float16)
    // or 2^-20 (bfloat16) up to 8.
    const unsigned bias = dtype == NAB_DTYPE_FLOAT16 ? 15 : 127;
    const unsigned lowest = role == Role::Parameter ? bias - 2 : dtype == NAB_DTYPE_FLOAT16 ? 0 : bias - 20;
    const unsigned highest = role == Role::Parameter ? bias + 1 : bias + 2;
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint16_t bits = random_sixteen_bit(random, dtype, lowest, highest);
        std::memcpy(bytes.data() + 2 * i, &bits, sizeof bits);
    }
    return bytes;
}

}  // namespace

Problem random_problem(std::vector<nab_group_options> groups, std::vector<TensorSpec> tensors, int steps,
                       std::uint64_t seed, bool some_null_gradients) {
    std::mt19937_64 random(seed);
    Problem p{std::move(groups), std::move(tensors), {}, {}, {}};
    check(nab_step_options_init(&p.step_options), "nab_step_options_init");
    for (const TensorSpec& t : p.tensors) {
        p.initial_parameters.push_back(random_values(random, t.parameter_dtype, t.element_count, Role::Parameter));
    }
    for (int step = 0; step < steps; ++step) {
        std::vector<Bytes> step_gradients;
        for (std::size_t t = 0; t < p.tensors.size(); ++t) {
            const TensorSpec& spec = p.tensors[t];
            const bool null_gradient = some_null_gradients && (step + t) % 3 == 2;
            step_gradients.push_back(null_gradient ? Bytes{}
                                                   : random_values(random, spec.gradient_dtype, spec.element_count,
                                                                   Role::Gradient));
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

// Memory the tensors live in: native buffers for the CPU, device buffers for CUDA. Each
// tensor's parameter and gradient arrays start `misalignment` elements into their allocation.
class Storage {
public:
    Storage(bool on_device, const Problem& problem) : on_device_(on_device) {
        for (const TensorSpec& t : problem.tensors) {
            parameters_.push_back(allocate(t.parameter_dtype, t.element_count + t.misalignment) +
                                  t.misalignment * element_size(t.parameter_dtype));
            gradients_.push_back(allocate(t.gradient_dtype, t.element_count + t.misalignment) +
                                 t.misalignment * element_size(t.gradient_dtype));
        }
    }
    ~Storage() {
        for (void* data : owned_) {
            if (on_device_) {
                nab_cuda_buffer_free(data);
            } else {
                nab_buffer_free(data);
            }
        }
    }
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* parameters(std::size_t t) const { return parameters_[t]; }
    void* gradients(std::size_t t) const { return gradients_[t]; }
    void upload(void* destination, const Bytes& values) {
        if (on_device_) {
            check(nab_cuda_copy_to_device(destination, values.data(), values.size()),
                  "nab_cuda_copy_to_device");
        } else {
            std::memcpy(destination, values.data(), values.size());
        }
    }
    Bytes download(const void* source, std::size_t byte_count) {
        Bytes values(byte_count);
        if (on_device_) {
            check(nab_cuda_copy_to_host(values.data(), source, byte_count), "nab_cuda_copy_to_host");
        } else {
            std::memcpy(values.data(), source, byte_count);
        }
        return values;
    }

private:
    std::uint8_t* allocate(nab_dtype dtype, std::size_t count) {
        void* data = nullptr;
        if (on_device_) {
            check(nab_cuda_buffer_allocate(0, dtype, count, &data), "nab_cuda_buffer_allocate");
        } else {
            check(nab_buffer_allocate(dtype, count, &data), "nab_buffer_allocate");
        }
        owned_.push_back(data);
        return static_cast<std::uint8_t*>(data);
    }
    bool on_device_;
    std::vector<void*> owned_;
    std::vector<std::uint8_t*> parameters_, gradients_;
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
    check(nab_optimizer_set_step_options(optimizer.handle, &problem.step_options), "nab_optimizer_set_step_options");
    Storage storage(on_device, problem);
    for (std::size_t t = 0; t < problem.tensors.size(); ++t) {
        const TensorSpec& spec = problem.tensors[t];
        storage.upload(storage.parameters(t), problem.initial_parameters[t]);
        const nab_tensor_desc desc = tensor_desc(spec.group, spec.element_count, storage.parameters(t), nullptr,
                                                 spec.parameter_dtype, spec.gradient_dtype, spec.master);
        std::uint32_t id = 0;
        check(nab_optimizer_add_tensor(optimizer.handle, &desc, &id), "nab_optimizer_add_tensor");
    }
    Result result;
    for (const auto& step_gradients : problem.gradients) {
        for (std::size_t t = 0; t < problem.tensors.size(); ++t) {
            void* g = nullptr;
            if (!step_gradients[t].empty()) {
                g = storage.gradients(t);
                storage.upload(g, step_gradients[t]);
            }
            check(nab_optimizer_set_tensor_gradients(optimizer.handle, static_cast<std::uint32_t>(t), g),
                  "nab_optimizer_set_tensor_gradients");
        }
        check(nab_optimizer_step(optimizer.handle), "nab_optimizer_step");
        nab_step_report report{};
        report.struct_size = sizeof report;
        check(nab_optimizer_get_last_step_report(optimizer.handle, &report), "nab_optimizer_get_last_step_report");
        result.reports.push_back(report);
    }
    check(nab_optimizer_synchronize(optimizer.handle), "nab_optimizer_synchronize");
    for (std::size_t t = 0; t < problem.tensors.size(); ++t) {
        const TensorSpec& spec = problem.tensors[t];
        const auto id = static_cast<std::uint32_t>(t);
        result.parameter_dtypes.push_back(spec.parameter_dtype);
        result.parameters.push_back(
            storage.download(storage.parameters(t), spec.element_count * element_size(spec.parameter_dtype)));
        nab_tensor_info info{};
        info.struct_size = sizeof info;
        check(nab_optimizer_get_tensor_info(optimizer.handle, id, &info), "nab_optimizer_get_tensor_info");
        result.steps.push_back(info.step);
        auto read = [&](nab_state_kind kind, bool exists) {
            std::vector<float> values(exists ? spec.element_count : 0);
            if (exists) {
                check(nab_optimizer_read_state(optimizer.handle, id, kind, values.data(), values.size()),
                      "nab_optimizer_read_state");
            }
            return values;
        };
        result.first_moment.push_back(read(NAB_STATE_FIRST_MOMENT, true));
        result.second_moment.push_back(read(NAB_STATE_SECOND_MOMENT, true));
        result.max_second_moment.push_back(read(NAB_STATE_MAX_SECOND_MOMENT, info.has_max_second_moment != 0));
        result.master.push_back(read(NAB_STATE_MASTER_PARAMETERS, info.has_master_parameters != 0));
        Bytes codes;
        if (info.state_encoding == NAB_STATE_ENCODING_BLOCKWISE_8BIT) {
            for (nab_state_kind kind : {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT}) {
                if (kind == NAB_STATE_MAX_SECOND_MOMENT && info.has_max_second_moment == 0) continue;
                const std::size_t count = spec.element_count, blocks = (count + NAB_BLOCKWISE_8BIT_BLOCK_SIZE - 1) /
                                                                           NAB_BLOCKWISE_8BIT_BLOCK_SIZE;
                Bytes array(count);
                std::vector<float> scales(blocks);
                check(nab_optimizer_read_state_codes(optimizer.handle, id, kind, array.data(), count, scales.data(), blocks),
                      "nab_optimizer_read_state_codes");
                codes.insert(codes.end(), array.begin(), array.end());
                const auto* scale_bytes = reinterpret_cast<const std::uint8_t*>(scales.data());
                codes.insert(codes.end(), scale_bytes, scale_bytes + blocks * sizeof(float));
            }
        }
        result.codes.push_back(std::move(codes));
    }
    return result;
}

std::string compare_floats(const std::string& name, std::size_t tensor, const float* cpu, const float* cuda,
                           std::size_t count, double rel_tolerance, double floor) {
    for (std::size_t i = 0; i < count; ++i) {
        const double expected = cpu[i], actual = cuda[i];
        const double error = std::fabs(actual - expected) / std::max(std::fabs(expected), floor);
        const bool same = rel_tolerance == 0.0 ? std::memcmp(cpu + i, cuda + i, sizeof(float)) == 0
                                               : error <= rel_tolerance;
        if (!same) {
            std::ostringstream out;
            out.precision(9);
            out << name << " of tensor " << tensor << " element " << i << ": cpu " << expected << ", cuda " << actual
                << " (relative error " << error << ")";
            return out.str();
        }
    }
    return "";
}

std::string compare_arrays(const char* name, const std::vector<std::vector<float>>& cpu,
                           const std::vector<std::vector<float>>& cuda, double rel_tolerance, double floor) {
    for (std::size_t t = 0; t < cpu.size(); ++t) {
        if (cpu[t].size() != cuda[t].size()) return std::string(name) + ": sizes differ for tensor " + std::to_string(t);
        const std::string error =
            compare_floats(name, t, cpu[t].data(), cuda[t].data(), cpu[t].size(), rel_tolerance, floor);
        if (!error.empty()) return error;
    }
    return "";
}

std::vector<float> as_floats(const Bytes& bytes) {
    std::vector<float> values(bytes.size() / sizeof(float));
    std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
    return values;
}

bool close(double a, double b, double rel_tolerance) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    return a == b || std::fabs(a - b) <= rel_tolerance * std::max(std::fabs(a), std::fabs(b));
}

std::string compare_reports(const std::vector<nab_step_report>& cpu, const std::vector<nab_step_report>& cuda) {
    if (cpu.size() != cuda.size()) return "report counts differ";
    for (std::size_t s = 0; s < cpu.size(); ++s) {
        const nab_step_report &a = cpu[s], &b = cuda[s];
        std::ostringstream out;
        out.precision(17);
        out << "report of step " << s << ": cpu {checked " << a.gradients_checked << ", skipped " << a.skipped
            << ", nonfinite " << a.nonfinite_count << ", norm " << a.gradient_norm << ", scale " << a.gradient_scale
            << ", calls " << a.step_calls << "}, cuda {checked " << b.gradients_checked << ", skipped " << b.skipped
            << ", nonfinite " << b.nonfinite_count << ", norm " << b.gradient_norm << ", scale " << b.gradient_scale
            << ", calls " << b.step_calls << "}";
        if (a.gradients_checked != b.gradients_checked || a.skipped != b.skipped ||
            a.nonfinite_count != b.nonfinite_count || a.step_calls != b.step_calls ||
            !close(a.gradient_norm, b.gradient_norm, 1e-12) || !close(a.gradient_scale, b.gradient_scale, 1e-12)) {
            return out.str();
        }
    }
    return "";
}

}  // namespace

Result run_on_cpu(const Problem& problem) { return run(problem, false); }
Result run_on_cuda(const Problem& problem) { return run(problem, true); }

std::string compare(const Result& cpu, const Result& cuda, double rel_tolerance) {
    if (cpu.steps != cuda.steps) return "step counts differ";
    std::string error = compare_reports(cpu.reports, cuda.reports);
    if (!error.empty()) return error;
    for (std::size_t t = 0; t < cpu.parameters.size(); ++t) {
        const Bytes &a = cpu.parameters[t], &b = cuda.parameters[t];
        if (a.size() != b.size()) return "parameter sizes differ for tensor " + std::to_string(t);
        if (cpu.parameter_dtypes[t] != NAB_DTYPE_FLOAT32) {
            const auto mismatch = std::mismatch(a.begin(), a.end(), b.begin());
            if (mismatch.first != a.end()) {
                return "16-bit parameters of tensor " + std::to_string(t) + " differ at element " +
                       std::to_string((mismatch.first - a.begin()) / 2);
            }
        } else {
            const std::vector<float> cpu_values = as_floats(a), cuda_values = as_floats(b);
            error = compare_floats("parameters", t, cpu_values.data(), cuda_values.data(), cpu_values.size(),
                                   rel_tolerance, 1e-3);
            if (!error.empty()) return error;
        }
    }
    for (std::size_t t = 0; t < cpu.codes.size(); ++t) {
        if (cpu.codes[t] != cuda.codes[t]) return "8-bit codes or scales of tensor " + std::to_string(t) + " differ";
    }
    for (const std::string& array_error :
         {compare_arrays("m", cpu.first_moment, cuda.first_moment, rel_tolerance, 1e-30),
          compare_arrays("s", cpu.second_moment, cuda.second_moment, rel_tolerance, 1e-30),
          compare_arrays("s_max", cpu.max_second_moment, cuda.max_second_moment, rel_tolerance, 1e-30),
          compare_arrays("master", cpu.master, cuda.master, rel_tolerance, 1e-3)}) {
        if (!array_error.empty()) return array_error;
    }
    return "";
}

}  // namespace nab::gpu_test
