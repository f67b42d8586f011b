#include "support/test_support.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace nabtest {

uint64_t fresh_seed() {
    if (const char* fixed = std::getenv("NAB_TEST_SEED"); fixed != nullptr && *fixed != '\0') {
        return std::strtoull(fixed, nullptr, 10);
    }
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ static_cast<uint64_t>(device());
}

std::string seed_text(uint64_t seed) {
    return "seed=" + std::to_string(seed) + " (replay with NAB_TEST_SEED=" +
           std::to_string(seed) + ")";
}

std::vector<float> random_parameters(Random& random, std::size_t count) {
    std::vector<float> values(count);
    for (float& v : values) {
        v = static_cast<float>(random.normal());
    }
    return values;
}

GradientSource::GradientSource(Random& random, std::size_t count) : scale_(count) {
    for (double& s : scale_) {
        s = std::pow(10.0, random.uniform(-3.0, 1.0));
    }
    if (count > kTableThreshold) {
        table_.resize(kTableSize);
        for (double& z : table_) z = random.normal();
    }
}

void GradientSource::fill(Random& random, float* gradients) const {
    if (table_.empty()) {
        for (std::size_t i = 0; i < scale_.size(); ++i) {
            gradients[i] = static_cast<float>(scale_[i] * random.normal());
        }
        return;
    }
    const std::size_t mask = kTableSize - 1;
    const auto start = static_cast<std::size_t>(random.integer(0, static_cast<int64_t>(mask)));
    const auto stride = static_cast<std::size_t>(random.integer(0, static_cast<int64_t>(mask))) | 1u;
    for (std::size_t i = 0; i < scale_.size(); ++i) {
        gradients[i] = static_cast<float>(scale_[i] * table_[(start + i * stride) & mask]);
    }
}

void OptimizerDeleter::operator()(nab_optimizer* optimizer) const {
    const nab_status status = nab_optimizer_destroy(optimizer);
    EXPECT_EQ(status, NAB_STATUS_OK) << "nab_optimizer_destroy: " << nab_get_last_error();
}

OptimizerPtr make_optimizer(int32_t thread_count, int32_t simd_level) {
    nab_optimizer_config config;
    EXPECT_EQ(nab_optimizer_config_init(&config), NAB_STATUS_OK) << nab_get_last_error();
    config.thread_count = thread_count;
    config.simd_level = simd_level;
    nab_optimizer* raw = nullptr;
    const nab_status status = nab_optimizer_create(&config, &raw);
    EXPECT_EQ(status, NAB_STATUS_OK) << "nab_optimizer_create(threads=" << thread_count
                                     << ", simd=" << simd_level << "): " << nab_get_last_error();
    return OptimizerPtr(status == NAB_STATUS_OK ? raw : nullptr);
}

std::vector<int32_t> named_simd_levels() {
    return {NAB_SIMD_SCALAR, NAB_SIMD_AVX2, NAB_SIMD_AVX512, NAB_SIMD_NEON, NAB_SIMD_AVX512_BF16};
}

std::vector<int32_t> supported_simd_levels() {
    int32_t best = -1;
    EXPECT_EQ(nab_cpu_get_best_simd_level(&best), NAB_STATUS_OK) << nab_get_last_error();
    std::vector<int32_t> levels = {NAB_SIMD_SCALAR};
#if defined(__aarch64__) || defined(_M_ARM64)
    EXPECT_EQ(best, NAB_SIMD_NEON) << "every arm64 CPU has NEON";
    levels.push_back(NAB_SIMD_NEON);
#else
    // Each AVX level implies the ones before it: the CPU runs them up to its best.
    const std::vector<int32_t> x86_levels = {NAB_SIMD_AVX2, NAB_SIMD_AVX512, NAB_SIMD_AVX512_BF16};
    const auto best_level = std::find(x86_levels.begin(), x86_levels.end(), best);
    EXPECT_TRUE(best == NAB_SIMD_SCALAR || best_level != x86_levels.end()) << best;
    if (best_level != x86_levels.end()) levels.insert(levels.end(), x86_levels.begin(), best_level + 1);
#endif
    return levels;
}

const char* simd_level_text(int32_t level) {
    switch (level) {
        case NAB_SIMD_AUTO: return "AUTO";
        case NAB_SIMD_SCALAR: return "SCALAR";
        case NAB_SIMD_AVX2: return "AVX2";
        case NAB_SIMD_AVX512: return "AVX512";
        case NAB_SIMD_NEON: return "NEON";
        case NAB_SIMD_AVX512_BF16: return "AVX512_BF16";
        default: return "?";
    }
}

OffsetBuffer::OffsetBuffer(std::size_t count, std::size_t offset_floats)
    : count_(count) {
    // vector<float>'s storage is at least 16-byte aligned; find the first 64-byte aligned
    // float after the front guard, then add the requested offset.
    storage_.assign(count + offset_floats + 2 * kGuard + 16, 0.0f);
    const auto base = reinterpret_cast<std::uintptr_t>(storage_.data() + kGuard);
    const std::size_t to_aligned = ((64 - base % 64) % 64) / sizeof(float);
    start_ = kGuard + to_aligned + offset_floats;
    for (std::size_t i = 0; i < storage_.size(); ++i) {
        if (i < start_ || i >= start_ + count_) {
            storage_[i] = -7777.25f;
        }
    }
}

void OffsetBuffer::assign(const std::vector<float>& values) {
    std::copy(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(count_), data());
}

bool OffsetBuffer::guards_intact() const {
    for (std::size_t i = 0; i < storage_.size(); ++i) {
        if ((i < start_ || i >= start_ + count_) && storage_[i] != -7777.25f) {
            return false;
        }
    }
    return true;
}

nab_group_options default_options(int32_t compatibility) {
    nab_group_options options;
    std::memset(&options, 0, sizeof options);
    const nab_status status = nab_group_options_init(&options, compatibility);
    EXPECT_EQ(status, NAB_STATUS_OK) << nab_get_last_error();
    return options;
}

std::string describe(const nab_group_options& o) {
    std::ostringstream out;
    out.precision(17);
    out << (o.compatibility == NAB_COMPATIBILITY_LABML ? "labml" : "adabelief-pytorch")
        << " lr=" << o.learning_rate << " beta1=" << o.beta1 << " beta2=" << o.beta2
        << " eps=" << o.epsilon << " wd=" << o.weight_decay << " wd_mode="
        << (o.weight_decay_mode == NAB_WEIGHT_DECAY_DECOUPLED  ? "decoupled"
            : o.weight_decay_mode == NAB_WEIGHT_DECAY_ABSOLUTE ? "absolute"
                                                               : "L2")
        << " second_moment=" << (o.second_moment == NAB_SECOND_MOMENT_BELIEF ? "belief" : "square")
        << " amsgrad=" << o.amsgrad << " rectify=" << o.rectify
        << " degenerate_to_sgd=" << o.degenerate_to_sgd
        << " optimized_update=" << o.optimized_update
        << (o.state_encoding == NAB_STATE_ENCODING_BLOCKWISE_8BIT ? " state_encoding=8-bit" : "");
    return out.str();
}

bool same_options(const nab_group_options& a, const nab_group_options& b) {
    auto same_double = [](double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; };
    return a.struct_size == b.struct_size && a.compatibility == b.compatibility &&
           same_double(a.learning_rate, b.learning_rate) && same_double(a.beta1, b.beta1) &&
           same_double(a.beta2, b.beta2) && same_double(a.epsilon, b.epsilon) &&
           same_double(a.weight_decay, b.weight_decay) &&
           a.weight_decay_mode == b.weight_decay_mode && a.second_moment == b.second_moment &&
           a.amsgrad == b.amsgrad && a.rectify == b.rectify &&
           a.degenerate_to_sgd == b.degenerate_to_sgd &&
           a.optimized_update == b.optimized_update && a.state_encoding == b.state_encoding;
}

nab_tensor_info tensor_info(nab_optimizer* optimizer, uint32_t tensor_id) {
    nab_tensor_info info;
    std::memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    const nab_status status = nab_optimizer_get_tensor_info(optimizer, tensor_id, &info);
    EXPECT_EQ(status, NAB_STATUS_OK) << "get_tensor_info(" << tensor_id
                                     << "): " << nab_get_last_error();
    return info;
}

std::vector<float> read_state(nab_optimizer* optimizer, uint32_t tensor_id, int32_t kind) {
    const nab_tensor_info info = tensor_info(optimizer, tensor_id);
    std::vector<float> values(static_cast<std::size_t>(info.element_count));
    const nab_status status = nab_optimizer_read_state(optimizer, tensor_id, kind, values.data(),
                                                       info.element_count);
    EXPECT_EQ(status, NAB_STATUS_OK) << "read_state(tensor " << tensor_id << ", kind " << kind
                                     << "): " << nab_get_last_error();
    return values;
}

Snapshot take_snapshot(nab_optimizer* optimizer, const std::vector<const float*>& parameters,
                       const std::vector<const float*>& gradients) {
    Snapshot snap;
    EXPECT_EQ(nab_get_allocated_bytes(&snap.allocated_bytes), NAB_STATUS_OK);
    if (optimizer == nullptr) {
        return snap;
    }
    EXPECT_EQ(nab_optimizer_get_thread_count(optimizer, &snap.thread_count), NAB_STATUS_OK);
    EXPECT_EQ(nab_optimizer_get_simd_level(optimizer, &snap.simd_level), NAB_STATUS_OK);
    uint32_t group_count = 0;
    EXPECT_EQ(nab_optimizer_get_group_count(optimizer, &group_count), NAB_STATUS_OK);
    for (uint32_t g = 0; g < group_count; ++g) {
        nab_group_options options;
        std::memset(&options, 0, sizeof options);
        options.struct_size = sizeof options;
        EXPECT_EQ(nab_optimizer_get_group_options(optimizer, g, &options), NAB_STATUS_OK);
        snap.groups.push_back(options);
    }
    uint32_t tensor_count = 0;
    EXPECT_EQ(nab_optimizer_get_tensor_count(optimizer, &tensor_count), NAB_STATUS_OK);
    for (uint32_t t = 0; t < tensor_count; ++t) {
        Snapshot::Tensor tensor;
        tensor.info = tensor_info(optimizer, t);
        tensor.m = read_state(optimizer, t, NAB_STATE_FIRST_MOMENT);
        tensor.s = read_state(optimizer, t, NAB_STATE_SECOND_MOMENT);
        if (tensor.info.has_max_second_moment == 1) {
            tensor.s_max = read_state(optimizer, t, NAB_STATE_MAX_SECOND_MOMENT);
        }
        const auto n = static_cast<std::size_t>(tensor.info.element_count);
        if (t < parameters.size() && parameters[t] != nullptr) {
            tensor.parameters.assign(parameters[t], parameters[t] + n);
        }
        if (t < gradients.size() && gradients[t] != nullptr) {
            tensor.gradients.assign(gradients[t], gradients[t] + n);
        }
        snap.tensors.push_back(std::move(tensor));
    }
    return snap;
}

namespace {
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() &&
           (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}
}  // namespace

std::string snapshot_difference(const Snapshot& before, const Snapshot& after) {
    if (before.allocated_bytes != after.allocated_bytes) {
        return "allocated bytes " + std::to_string(before.allocated_bytes) + " -> " +
               std::to_string(after.allocated_bytes);
    }
    if (before.thread_count != after.thread_count) return "thread count changed";
    if (before.simd_level != after.simd_level) return "simd level changed";
    if (before.groups.size() != after.groups.size()) return "group count changed";
    for (std::size_t g = 0; g < before.groups.size(); ++g) {
        if (!same_options(before.groups[g], after.groups[g])) {
            return "options of group " + std::to_string(g) + " changed: " +
                   describe(before.groups[g]) + " -> " + describe(after.groups[g]);
        }
    }
    if (before.tensors.size() != after.tensors.size()) return "tensor count changed";
    for (std::size_t t = 0; t < before.tensors.size(); ++t) {
        const auto& a = before.tensors[t];
        const auto& b = after.tensors[t];
        const std::string which = "tensor " + std::to_string(t) + ": ";
        if (a.info.group_id != b.info.group_id) return which + "group id changed";
        if (a.info.element_count != b.info.element_count) return which + "element count changed";
        if (a.info.step != b.info.step) return which + "step changed";
        if (a.info.has_max_second_moment != b.info.has_max_second_moment)
            return which + "has_max_second_moment changed";
        if (a.info.has_gradients != b.info.has_gradients) return which + "has_gradients changed";
        if (!same_bits(a.m, b.m)) return which + "m changed";
        if (!same_bits(a.s, b.s)) return which + "s changed";
        if (!same_bits(a.s_max, b.s_max)) return which + "s_max changed";
        if (!same_bits(a.parameters, b.parameters)) return which + "parameters changed";
        if (!same_bits(a.gradients, b.gradients)) return which + "gradients changed";
    }
    return {};
}

bool contains_text(const std::string& haystack, const std::string& needle) {
    auto lower = [](std::string text) {
        std::transform(text.begin(), text.end(), text.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return text;
    };
    return lower(haystack).find(lower(needle)) != std::string::npos;
}

}  // namespace nabtest
