// Parity with the ORIGINAL optimizers.
//
// native/tests/data/parity/ holds vectors produced by running the original Python optimizers
// (labml_nn's AdaBelief / Adam / AMSGrad / RAdam and adabelief-pytorch 0.2.1) in float64 on
// float32-exact inputs; see its README.md and tools/parity/generate_parity_vectors.py. Each
// case is replayed here through the C ABI exactly as a caller would (groups, float32 tensors,
// a learning rate per group per step, null gradients on some steps) and the final parameters,
// moments and step counts are compared with the originals.
//
// Tolerance: relative error <= 1e-5 for every element, where "relative" is against
//   theta:  max(|ref|, 1e-3, parameter_scale)  parameter_scale = the largest |theta| the
//           element had along the reference trajectory (initial value included). A float32
//           theta accumulates rounding relative to the magnitudes it passed through, not to
//           its final value: an element that walks from 0.04 to 0.0009 carries ~1e-8 of
//           absolute rounding, which is 1e-5 of 1e-3 and would fail a max(|ref|, 1e-3)
//           floor although it is exact float32 arithmetic.
//   m:      max(|ref|, first_moment_scale)     first_moment_scale = the same EMA taken over
//           |g| (g after L2 decay): what m would be without sign cancellation. m can cancel
//           to ~0 while its float32 rounding error stays proportional to the gradients that
//           went into it; a floor of 1e-3 * max|m| over the tensor is too tight for that
//           (float32 runs of the originals themselves exceed it by up to 7x).
//   s, s_max: max(|ref|, FLT_MIN)              s is an EMA of squares (plus epsilon in the
//           adabelief-pytorch mode): a sum of non-negative terms, so it never cancels and
//           its float32 relative error is a few roundings whatever its magnitude. The floor
//           only keeps 0/0 (a tensor that never had a gradient) out and excludes values
//           below float32's normal range.
//   step:   exact.
// With these floors the originals themselves, run in float32 (torch), stay below 0.16 of the
// tolerance on every case (generate_parity_vectors.py --verify).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "native_adabelief.h"
#include "support/json_lite.h"

namespace {

constexpr double kRelativeTolerance = 1e-5;
constexpr double kParameterFloor = 1e-3;

std::string data_dir() { return std::string(NAB_TEST_DATA_DIR) + "/parity"; }

struct GroupCase {
    int32_t compatibility = 0;
    double learning_rate = 0.0;
    double beta1 = 0.0;
    double beta2 = 0.0;
    double epsilon = 0.0;
    double weight_decay = 0.0;
    int32_t weight_decay_mode = 0;
    int32_t second_moment = 0;
    bool amsgrad = false;
    bool rectify = false;
    bool degenerate_to_sgd = false;
    bool optimized_update = false;
    std::vector<double> learning_rates;  // one per step, set before that step
};

struct TensorCase {
    uint32_t group = 0;
    size_t size = 0;
    std::vector<bool> has_gradient;  // one per step
    std::vector<double> initial_parameters;
    std::vector<double> gradients;  // steps x size, row-major by step (zeros where absent)
    std::vector<double> final_parameters;
    std::vector<double> final_first_moment;
    std::vector<double> final_second_moment;
    bool has_max_second_moment = false;
    std::vector<double> final_max_second_moment;
    std::vector<double> parameter_scale;
    std::vector<double> first_moment_scale;
    int64_t final_step = 0;
};

struct ParityCase {
    std::string name;
    size_t steps = 0;
    std::vector<GroupCase> groups;
    std::vector<TensorCase> tensors;
};

int32_t enum_value(const std::string& field, const std::string& text,
                   const std::vector<std::pair<std::string, int32_t>>& table) {
    for (const auto& entry : table) {
        if (entry.first == text) return entry.second;
    }
    throw std::runtime_error("unknown " + field + " \"" + text + "\"");
}

bool valid_test_name(const std::string& name) {
    if (name.empty()) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

class ParityData {
public:
    static const ParityData& instance() {
        static const ParityData data;
        return data;
    }

    const std::string& error() const { return error_; }
    const std::vector<ParityCase>& cases() const { return cases_; }

    const ParityCase* find(const std::string& name) const {
        for (const auto& c : cases_) {
            if (c.name == name) return &c;
        }
        return nullptr;
    }

    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& c : cases_) out.push_back(c.name);
        return out;
    }

private:
    ParityData() {
        try {
            load();
        } catch (const std::exception& e) {
            error_ = e.what();
            cases_.clear();
        }
    }

    void load() {
        const nab_test::json::Value index = nab_test::json::parse_file(data_dir() + "/index.json");
        if (index.at("format").as_string() != "nab-parity-vectors") throw std::runtime_error("not a parity index");
        if (index.at("version").as_int() != 1) throw std::runtime_error("unsupported parity index version");
        if (index.at("dtype").as_string() != "float64" || index.at("byte_order").as_string() != "little") {
            throw std::runtime_error("index.json: expected little-endian float64 data");
        }
        const uint16_t probe = 1;
        unsigned char first_byte = 0;
        std::memcpy(&first_byte, &probe, 1);
        if (first_byte != 1) throw std::runtime_error("this test reads little-endian data on a little-endian host only");

        const std::string bin_path = data_dir() + "/" + index.at("data_file").as_string();
        std::ifstream in(bin_path, std::ios::binary);
        if (!in) throw std::runtime_error("cannot open " + bin_path);
        const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (static_cast<int64_t>(bytes.size()) != index.at("data_bytes").as_int() || bytes.size() % 8 != 0) {
            throw std::runtime_error(bin_path + ": size " + std::to_string(bytes.size()) +
                                     " does not match data_bytes in index.json");
        }
        data_.resize(bytes.size() / 8);
        std::memcpy(data_.data(), bytes.data(), bytes.size());

        for (const auto& jc : index.at("cases").as_array()) {
            ParityCase c;
            c.name = jc.at("name").as_string();
            if (!valid_test_name(c.name)) throw std::runtime_error("invalid case name \"" + c.name + "\"");
            if (find(c.name) != nullptr) throw std::runtime_error("duplicate case name \"" + c.name + "\"");
            try {
                c.steps = to_size(jc.at("steps").as_int());
                for (const auto& jg : jc.at("groups").as_array()) c.groups.push_back(read_group(jg, c.steps));
                for (const auto& jt : jc.at("tensors").as_array()) {
                    c.tensors.push_back(read_tensor(jt, c.steps, c.groups.size()));
                }
            } catch (const std::exception& e) {
                throw std::runtime_error("case " + c.name + ": " + e.what());
            }
            cases_.push_back(std::move(c));
        }
        if (cases_.empty()) throw std::runtime_error("index.json has no cases");
    }

    static size_t to_size(int64_t v) {
        if (v < 0) throw std::runtime_error("negative count " + std::to_string(v));
        return static_cast<size_t>(v);
    }

    static bool flag(const nab_test::json::Value& v) { return v.as_bool(); }

    std::vector<double> array(const nab_test::json::Value& ref, size_t expected_count) const {
        const int64_t offset = ref.at("offset").as_int();
        const size_t count = to_size(ref.at("count").as_int());
        if (offset < 0 || offset % 8 != 0) throw std::runtime_error("misaligned array offset " + std::to_string(offset));
        const size_t first = static_cast<size_t>(offset) / 8;
        if (count != expected_count) {
            throw std::runtime_error("array has " + std::to_string(count) + " values, expected " +
                                     std::to_string(expected_count));
        }
        if (first > data_.size() || count > data_.size() - first) throw std::runtime_error("array out of range");
        return std::vector<double>(data_.begin() + static_cast<std::ptrdiff_t>(first),
                                   data_.begin() + static_cast<std::ptrdiff_t>(first + count));
    }

    GroupCase read_group(const nab_test::json::Value& j, size_t steps) const {
        GroupCase g;
        g.compatibility = enum_value("compatibility", j.at("compatibility").as_string(),
                                     {{"labml", NAB_COMPATIBILITY_LABML},
                                      {"adabelief-pytorch", NAB_COMPATIBILITY_ADABELIEF_PYTORCH}});
        g.learning_rate = j.at("learning_rate").as_number();
        g.beta1 = j.at("beta1").as_number();
        g.beta2 = j.at("beta2").as_number();
        g.epsilon = j.at("epsilon").as_number();
        g.weight_decay = j.at("weight_decay").as_number();
        g.weight_decay_mode = enum_value("weight_decay_mode", j.at("weight_decay_mode").as_string(),
                                         {{"decoupled", NAB_WEIGHT_DECAY_DECOUPLED},
                                          {"absolute", NAB_WEIGHT_DECAY_ABSOLUTE},
                                          {"l2", NAB_WEIGHT_DECAY_L2}});
        g.second_moment = enum_value("second_moment", j.at("second_moment").as_string(),
                                     {{"belief", NAB_SECOND_MOMENT_BELIEF}, {"square", NAB_SECOND_MOMENT_SQUARE}});
        g.amsgrad = flag(j.at("amsgrad"));
        g.rectify = flag(j.at("rectify"));
        g.degenerate_to_sgd = flag(j.at("degenerate_to_sgd"));
        g.optimized_update = flag(j.at("optimized_update"));
        g.learning_rates = array(j.at("learning_rates"), steps);
        return g;
    }

    TensorCase read_tensor(const nab_test::json::Value& j, size_t steps, size_t group_count) const {
        TensorCase t;
        const int64_t group = j.at("group").as_int();
        if (group < 0 || static_cast<size_t>(group) >= group_count) throw std::runtime_error("bad group index");
        t.group = static_cast<uint32_t>(group);
        t.size = to_size(j.at("size").as_int());
        if (t.size == 0) throw std::runtime_error("empty tensor");
        for (const auto& m : j.at("has_gradient").as_array()) {
            const int64_t v = m.as_int();
            if (v != 0 && v != 1) throw std::runtime_error("has_gradient must hold 0 or 1");
            t.has_gradient.push_back(v == 1);
        }
        if (t.has_gradient.size() != steps) throw std::runtime_error("has_gradient length != steps");
        t.initial_parameters = array(j.at("initial_parameters"), t.size);
        t.gradients = array(j.at("gradients"), t.size * steps);
        t.final_parameters = array(j.at("final_parameters"), t.size);
        t.final_first_moment = array(j.at("final_first_moment"), t.size);
        t.final_second_moment = array(j.at("final_second_moment"), t.size);
        t.has_max_second_moment = !j.at("final_max_second_moment").is_null();
        if (t.has_max_second_moment) t.final_max_second_moment = array(j.at("final_max_second_moment"), t.size);
        t.parameter_scale = array(j.at("parameter_scale"), t.size);
        t.first_moment_scale = array(j.at("first_moment_scale"), t.size);
        t.final_step = j.at("final_step").as_int();
        return t;
    }

    std::string error_;
    std::vector<double> data_;
    std::vector<ParityCase> cases_;
};

// float32 copy of float64 data that the generator made float32-exact; a value that does not
// survive the round trip means the data file is not what this test expects.
std::vector<float> to_float_exact(const std::vector<double>& values, const char* what) {
    std::vector<float> out(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
        out[i] = static_cast<float>(values[i]);
        if (static_cast<double>(out[i]) != values[i]) {
            throw std::runtime_error(std::string(what) + " is not float32-exact at index " + std::to_string(i));
        }
    }
    return out;
}

struct Worst {
    double ratio = 0.0;  // relative error / tolerance
    size_t index = 0;
    double native = 0.0;
    double reference = 0.0;
    double denominator = 0.0;
};

// Compares one array; floor(i) gives the element's denominator floor (see the file comment).
template <typename Floor>
Worst compare(const std::vector<float>& native, const std::vector<double>& reference, Floor floor) {
    Worst worst;
    worst.ratio = -1.0;
    for (size_t i = 0; i < reference.size(); ++i) {
        const double got = static_cast<double>(native[i]);
        const double denominator = std::max({std::fabs(reference[i]), floor(i),
                                             static_cast<double>(std::numeric_limits<float>::min())});
        double ratio = std::fabs(got - reference[i]) / denominator / kRelativeTolerance;
        if (std::isnan(ratio)) ratio = std::numeric_limits<double>::infinity();
        if (ratio > worst.ratio) {
            worst = Worst{ratio, i, got, reference[i], denominator};
        }
    }
    return worst;
}

struct OptimizerDeleter {
    void operator()(nab_optimizer* o) const { nab_optimizer_destroy(o); }
};
using OptimizerPtr = std::unique_ptr<nab_optimizer, OptimizerDeleter>;

class ParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ParityTest, MatchesOriginal) {
    const ParityData& data = ParityData::instance();
    ASSERT_TRUE(data.error().empty()) << data.error();
    const ParityCase* found = data.find(GetParam());
    ASSERT_NE(found, nullptr) << GetParam();
    const ParityCase& pc = *found;

    nab_optimizer_config config;
    ASSERT_EQ(nab_optimizer_config_init(&config), NAB_STATUS_OK) << nab_get_last_error();
    nab_optimizer* raw = nullptr;
    ASSERT_EQ(nab_optimizer_create(&config, &raw), NAB_STATUS_OK) << nab_get_last_error();
    OptimizerPtr optimizer(raw);

    for (size_t gi = 0; gi < pc.groups.size(); ++gi) {
        const GroupCase& g = pc.groups[gi];
        nab_group_options options;
        ASSERT_EQ(nab_group_options_init(&options, g.compatibility), NAB_STATUS_OK) << nab_get_last_error();
        options.learning_rate = g.learning_rate;
        options.beta1 = g.beta1;
        options.beta2 = g.beta2;
        options.epsilon = g.epsilon;
        options.weight_decay = g.weight_decay;
        options.weight_decay_mode = g.weight_decay_mode;
        options.second_moment = g.second_moment;
        options.amsgrad = g.amsgrad ? 1 : 0;
        options.rectify = g.rectify ? 1 : 0;
        options.degenerate_to_sgd = g.degenerate_to_sgd ? 1 : 0;
        options.optimized_update = g.optimized_update ? 1 : 0;
        uint32_t group_id = 0;
        ASSERT_EQ(nab_optimizer_add_group(optimizer.get(), &options, &group_id), NAB_STATUS_OK)
            << "group " << gi << ": " << nab_get_last_error();
        ASSERT_EQ(group_id, gi);
    }

    // Caller-owned buffers: parameters, the gradient buffer handed to the library, and a
    // pristine copy to check that the library never writes the gradient.
    const size_t tensor_count = pc.tensors.size();
    std::vector<std::vector<float>> parameters(tensor_count);
    std::vector<std::vector<float>> gradients(tensor_count);
    std::vector<std::vector<float>> gradient_copies(tensor_count);
    for (size_t ti = 0; ti < tensor_count; ++ti) {
        const TensorCase& t = pc.tensors[ti];
        ASSERT_NO_THROW(parameters[ti] = to_float_exact(t.initial_parameters, "initial_parameters"));
        ASSERT_NO_THROW(gradient_copies[ti] = to_float_exact(t.gradients, "gradients"));
        gradients[ti].assign(t.size, 0.0f);
        nab_tensor_desc desc;
        std::memset(&desc, 0, sizeof desc);
        desc.struct_size = sizeof desc;
        desc.group_id = t.group;
        desc.element_count = t.size;
        desc.parameters = parameters[ti].data();
        desc.gradients = nullptr;
        uint32_t tensor_id = 0;
        ASSERT_EQ(nab_optimizer_add_tensor(optimizer.get(), &desc, &tensor_id), NAB_STATUS_OK)
            << "tensor " << ti << ": " << nab_get_last_error();
        ASSERT_EQ(tensor_id, ti);
    }

    for (size_t step = 0; step < pc.steps; ++step) {
        for (size_t gi = 0; gi < pc.groups.size(); ++gi) {
            ASSERT_EQ(nab_optimizer_set_learning_rate(optimizer.get(), static_cast<uint32_t>(gi),
                                                      pc.groups[gi].learning_rates[step]),
                      NAB_STATUS_OK)
                << "step " << step << " group " << gi << ": " << nab_get_last_error();
        }
        for (size_t ti = 0; ti < tensor_count; ++ti) {
            const TensorCase& t = pc.tensors[ti];
            float* buffer = nullptr;
            if (t.has_gradient[step]) {
                std::copy_n(gradient_copies[ti].begin() + static_cast<std::ptrdiff_t>(step * t.size), t.size,
                            gradients[ti].begin());
                buffer = gradients[ti].data();
            }
            ASSERT_EQ(nab_optimizer_set_tensor_gradients(optimizer.get(), static_cast<uint32_t>(ti), buffer),
                      NAB_STATUS_OK)
                << "step " << step << " tensor " << ti << ": " << nab_get_last_error();
        }
        ASSERT_EQ(nab_optimizer_step(optimizer.get()), NAB_STATUS_OK) << "step " << step << ": " << nab_get_last_error();
        for (size_t ti = 0; ti < tensor_count; ++ti) {
            const TensorCase& t = pc.tensors[ti];
            if (!t.has_gradient[step]) continue;
            ASSERT_TRUE(std::equal(gradients[ti].begin(), gradients[ti].end(),
                                   gradient_copies[ti].begin() + static_cast<std::ptrdiff_t>(step * t.size)))
                << "step " << step << " tensor " << ti << ": the library wrote the caller's gradient buffer";
        }
    }

    double case_worst = 0.0;
    std::string case_worst_where;
    for (size_t ti = 0; ti < tensor_count; ++ti) {
        const TensorCase& t = pc.tensors[ti];
        const GroupCase& g = pc.groups[t.group];

        nab_tensor_info info;
        std::memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        ASSERT_EQ(nab_optimizer_get_tensor_info(optimizer.get(), static_cast<uint32_t>(ti), &info), NAB_STATUS_OK)
            << nab_get_last_error();
        EXPECT_EQ(info.step, t.final_step) << pc.name << " tensor " << ti << ": step count";
        EXPECT_EQ(info.group_id, t.group) << pc.name << " tensor " << ti;
        EXPECT_EQ(info.element_count, static_cast<uint64_t>(t.size)) << pc.name << " tensor " << ti;
        EXPECT_EQ(info.has_max_second_moment, g.amsgrad ? 1 : 0) << pc.name << " tensor " << ti << ": s_max presence";

        struct Check {
            const char* array;
            std::vector<float> native;
            const std::vector<double>* reference;
            Worst worst;
        };
        std::vector<Check> checks;
        checks.push_back({"theta", parameters[ti], &t.final_parameters, {}});
        const std::pair<const char*, int32_t> states[] = {
            {"m", NAB_STATE_FIRST_MOMENT},
            {"s", NAB_STATE_SECOND_MOMENT},
            {"s_max", NAB_STATE_MAX_SECOND_MOMENT},
        };
        for (const auto& state : states) {
            const std::vector<double>* reference = state.second == NAB_STATE_FIRST_MOMENT    ? &t.final_first_moment
                                                   : state.second == NAB_STATE_SECOND_MOMENT ? &t.final_second_moment
                                                                                             : &t.final_max_second_moment;
            if (state.second == NAB_STATE_MAX_SECOND_MOMENT && !(t.has_max_second_moment && info.has_max_second_moment)) {
                continue;
            }
            std::vector<float> native(t.size, std::numeric_limits<float>::quiet_NaN());
            ASSERT_EQ(nab_optimizer_read_state(optimizer.get(), static_cast<uint32_t>(ti), state.second, native.data(),
                                               static_cast<uint64_t>(t.size)),
                      NAB_STATUS_OK)
                << pc.name << " tensor " << ti << " " << state.first << ": " << nab_get_last_error();
            checks.push_back({state.first, std::move(native), reference, {}});
        }
        for (auto& check : checks) {
            const std::string name = check.array;
            if (name == "theta") {
                check.worst = compare(check.native, *check.reference,
                                      [&](size_t i) { return std::max(kParameterFloor, t.parameter_scale[i]); });
            } else if (name == "m") {
                check.worst = compare(check.native, *check.reference, [&](size_t i) { return t.first_moment_scale[i]; });
            } else {
                check.worst = compare(check.native, *check.reference, [](size_t) { return 0.0; });
            }
            std::ostringstream where;
            where.precision(9);
            where << "tensor " << ti << " (size " << t.size << ", group " << t.group << ") " << check.array << "["
                  << check.worst.index << "]: native " << check.worst.native << ", original " << check.worst.reference
                  << ", relative error " << check.worst.ratio * kRelativeTolerance << " (denominator "
                  << check.worst.denominator << ", tolerance " << kRelativeTolerance << ")";
            EXPECT_LE(check.worst.ratio, 1.0) << pc.name << ": " << where.str();
            if (check.worst.ratio > case_worst || case_worst_where.empty()) {
                case_worst = check.worst.ratio;
                case_worst_where = where.str();
            }
        }
    }
    RecordProperty("worst_error_over_tolerance", std::to_string(case_worst));
    if (HasFailure()) {
        ADD_FAILURE() << pc.name << ": worst element overall: " << case_worst_where;
    }
}

std::vector<std::string> case_names() { return ParityData::instance().names(); }

INSTANTIATE_TEST_SUITE_P(Parity, ParityTest, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

// Fails loudly when the data cannot be read (the parametrized suite would then be empty).
TEST(ParityData, IndexAndVectorsLoad) {
    const ParityData& data = ParityData::instance();
    ASSERT_TRUE(data.error().empty()) << data.error();
    EXPECT_GE(data.cases().size(), 100u);
}

}  // namespace
