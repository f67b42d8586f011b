#include "support/reference_harness.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace nabtest {

const char* quantity_name(Quantity quantity) {
    switch (quantity) {
        case Quantity::Theta: return "theta";
        case Quantity::FirstMoment: return "m";
        case Quantity::SecondMoment: return "s";
        case Quantity::MaxSecondMoment: return "s_max";
    }
    return "?";
}

WorstError worst_relative_error(Quantity quantity, const float* library,
                                const std::vector<double>& reference,
                                const std::vector<double>& magnitude) {
    const double spec_floor = quantity == Quantity::Theta          ? kThetaFloor
                              : quantity == Quantity::FirstMoment ? 0.0
                                                                   : kSecondMomentTinyFloor;
    WorstError worst;
    for (std::size_t i = 0; i < reference.size(); ++i) {
        const double lib = static_cast<double>(library[i]);
        const double ref = reference[i];
        const double floor =
            std::max({spec_floor, kMagnitudeFraction * magnitude[i], kSecondMomentTinyFloor});
        const double difference = std::fabs(lib - ref);
        double relative = difference / std::max(std::fabs(ref), floor);
        if (std::isnan(relative)) {
            relative = std::isnan(lib) && std::isnan(ref) ? 0.0 : INFINITY;
        }
        if (magnitude[i] > 0.0) {
            worst.versus_magnitude = std::max(worst.versus_magnitude, difference / magnitude[i]);
        }
        if (relative > worst.relative || i == 0) {
            worst.relative = relative;
            worst.index = i;
            worst.library = lib;
            worst.reference = ref;
            worst.floor = floor;
        }
    }
    return worst;
}

// With NAB_TEST_CALIBRATE set, prints each new largest error seen in this process, relative
// (as checked) and against the magnitude: how much room the tolerances leave.
void note_for_calibration(Quantity quantity, const WorstError& worst) {
    static const bool enabled = std::getenv("NAB_TEST_CALIBRATE") != nullptr;
    static double largest_relative[4] = {0, 0, 0, 0};
    static double largest_versus_magnitude[4] = {0, 0, 0, 0};
    if (!enabled) return;
    const auto q = static_cast<std::size_t>(quantity);
    if (worst.relative > largest_relative[q] || worst.versus_magnitude > largest_versus_magnitude[q]) {
        largest_relative[q] = std::max(largest_relative[q], worst.relative);
        largest_versus_magnitude[q] = std::max(largest_versus_magnitude[q], worst.versus_magnitude);
        std::fprintf(stderr, "CALIBRATE %s relative %.3g versus_magnitude %.3g\n",
                     quantity_name(quantity), largest_relative[q], largest_versus_magnitude[q]);
    }
}

ReferenceProblem::Tensor::Tensor(Random& random, uint32_t group_id, std::size_t count,
                                 double null_p)
    : group(group_id),
      null_probability(null_p),
      parameters(count, static_cast<std::size_t>(random.integer(0, 15))),
      gradients(count, static_cast<std::size_t>(random.integer(0, 15))),
      source(random, count) {
    parameters.assign(random_parameters(random, count));
    reference = ReferenceTensor(parameters.data(), count);
}

ReferenceProblem::ReferenceProblem(uint64_t seed, int32_t thread_count, int32_t simd_level)
    : seed_(seed), random_(seed), optimizer_(make_optimizer(thread_count, simd_level)) {}

uint32_t ReferenceProblem::add_group(const nab_group_options& options) {
    uint32_t id = 0;
    const nab_status status = nab_optimizer_add_group(optimizer_.get(), &options, &id);
    EXPECT_EQ(status, NAB_STATUS_OK) << describe(options) << ": " << nab_get_last_error();
    EXPECT_EQ(id, groups_.size());
    groups_.push_back(options);
    return id;
}

uint32_t ReferenceProblem::add_tensor(uint32_t group, std::size_t count, double null_probability) {
    auto tensor = std::make_unique<Tensor>(random_, group, count, null_probability);
    tensor->source.fill(random_, tensor->gradients.data());
    nab_tensor_desc desc{};
    desc.struct_size = sizeof desc;
    desc.group_id = group;
    desc.element_count = count;
    desc.parameters = tensor->parameters.data();
    desc.gradients = tensor->gradients.data();
    uint32_t id = 0;
    const nab_status status = nab_optimizer_add_tensor(optimizer_.get(), &desc, &id);
    EXPECT_EQ(status, NAB_STATUS_OK) << nab_get_last_error();
    EXPECT_EQ(id, tensors_.size());
    tensor->id = id;
    tensor->eight_bit = tensor_info(optimizer_.get(), id).state_encoding == NAB_STATE_ENCODING_BLOCKWISE_8BIT;
    tensor->reference.on_options_changed(groups_[group]);
    tensors_.push_back(std::move(tensor));
    return id;
}

void ReferenceProblem::set_group_options(uint32_t group, const nab_group_options& options) {
    const nab_status status = nab_optimizer_set_group_options(optimizer_.get(), group, &options);
    EXPECT_EQ(status, NAB_STATUS_OK) << describe(options) << ": " << nab_get_last_error();
    groups_[group] = options;
    for (auto& tensor : tensors_) {
        if (tensor->group == group) {
            tensor->reference.on_options_changed(options);
        }
    }
}

void ReferenceProblem::set_learning_rate(uint32_t group, double learning_rate) {
    const nab_status status =
        nab_optimizer_set_learning_rate(optimizer_.get(), group, learning_rate);
    EXPECT_EQ(status, NAB_STATUS_OK) << nab_get_last_error();
    groups_[group].learning_rate = learning_rate;
}

void ReferenceProblem::step() {
    for (auto& tensor : tensors_) {
        const bool absent = tensor->null_probability > 0.0 && random_.chance(tensor->null_probability);
        if (absent) {
            if (tensor->gradient_registered) {
                EXPECT_EQ(nab_optimizer_set_tensor_gradients(optimizer_.get(), tensor->id, nullptr),
                          NAB_STATUS_OK)
                    << nab_get_last_error();
                tensor->gradient_registered = false;
            }
        } else {
            if (!tensor->gradient_registered) {
                EXPECT_EQ(nab_optimizer_set_tensor_gradients(optimizer_.get(), tensor->id,
                                                             tensor->gradients.data()),
                          NAB_STATUS_OK)
                    << nab_get_last_error();
                tensor->gradient_registered = true;
            }
            tensor->source.fill(random_, tensor->gradients.data());
        }
    }
    for (auto& tensor : tensors_) {
        if (tensor->eight_bit) take_eight_bit_state(*tensor);
        tensor->unchanged[0] = tensor->unchanged[1] = !tensor->gradient_registered;
        tensor->unchanged[2] = !tensor->gradient_registered || groups_[tensor->group].amsgrad != 1;
    }
    std::vector<std::vector<float>> given;
    given.reserve(tensors_.size());
    for (const auto& tensor : tensors_) {
        given.push_back(tensor->gradients.copy());
    }
    const nab_status status = nab_optimizer_step(optimizer_.get());
    EXPECT_EQ(status, NAB_STATUS_OK) << nab_get_last_error();
    for (std::size_t t = 0; t < tensors_.size(); ++t) {
        // The library never writes a caller's gradient (L2 decay included).
        EXPECT_TRUE(given[t] == tensors_[t]->gradients.copy())
            << "step " << steps_ + 1 << " wrote the gradients of tensor " << t << "; "
            << seed_text(seed_);
    }
    for (auto& tensor : tensors_) {
        reference_step(groups_[tensor->group], tensor->reference,
                       tensor->gradient_registered ? tensor->gradients.data() : nullptr);
    }
    ++steps_;
}

void ReferenceProblem::refresh_encodings() {
    for (auto& tensor : tensors_) {
        tensor->eight_bit =
            tensor_info(optimizer_.get(), tensor->id).state_encoding == NAB_STATE_ENCODING_BLOCKWISE_8BIT;
        tensor->unchanged[0] = tensor->unchanged[1] = tensor->unchanged[2] = false;
    }
}

void ReferenceProblem::take_eight_bit_state(Tensor& tensor) {
    ReferenceTensor& ref = tensor.reference;
    const std::size_t count = ref.size();
    const int32_t kinds[3] = {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT};
    std::vector<double>* values[3] = {&ref.m, &ref.s, &ref.s_max};
    std::vector<double>* magnitudes[3] = {&ref.m_magnitude, &ref.s_magnitude, &ref.s_max_magnitude};
    const bool has_max = tensor_info(optimizer_.get(), tensor.id).has_max_second_moment == 1;
    for (int k = 0; k < 3; ++k) {
        if (k == 2 && !has_max) continue;
        tensor.before[k] = read_codes(optimizer_.get(), tensor.id, kinds[k], count);
        *values[k] = decode(format_of(kinds[k]), tensor.before[k]);
        magnitudes[k]->resize(count);
        for (std::size_t i = 0; i < count; ++i) (*magnitudes[k])[i] = std::fabs((*values[k])[i]);
    }
}

testing::AssertionResult ReferenceProblem::check(const std::string& stage) {
    std::ostringstream failures;
    failures.precision(9);
    bool failed = false;
    for (const auto& tensor : tensors_) {
        const ReferenceTensor& ref = tensor->reference;
        const nab_group_options& options = groups_[tensor->group];
        std::ostringstream where;
        where << "tensor " << tensor->id << " (" << ref.size() << " elements, group "
              << tensor->group << ": " << describe(options) << ")";
        const nab_tensor_info info = tensor_info(optimizer_.get(), tensor->id);
        if (info.step != ref.step) {
            failed = true;
            failures << "\n  " << where.str() << ": step " << info.step << ", reference "
                     << ref.step;
        }
        if ((info.has_max_second_moment == 1) != ref.has_s_max()) {
            failed = true;
            failures << "\n  " << where.str() << ": has_max_second_moment "
                     << info.has_max_second_moment << ", reference " << ref.has_s_max();
        }
        auto compare = [&](Quantity quantity, const float* library,
                           const std::vector<double>& reference,
                           const std::vector<double>& magnitude) {
            const WorstError worst = worst_relative_error(quantity, library, reference, magnitude);
            note_for_calibration(quantity, worst);
            if (!(worst.relative <= kRelativeTolerance)) {
                failed = true;
                failures << "\n  " << where.str() << ": " << quantity_name(quantity)
                         << " max relative error " << worst.relative << " > "
                         << kRelativeTolerance << " at index " << worst.index
                         << ": library " << worst.library << ", reference "
                         << worst.reference << " (floor " << worst.floor << ")";
            }
        };
        compare(Quantity::Theta, tensor->parameters.data(), ref.theta, ref.theta_magnitude);
        if (tensor->eight_bit) {
            const int32_t kinds[3] = {NAB_STATE_FIRST_MOMENT, NAB_STATE_SECOND_MOMENT, NAB_STATE_MAX_SECOND_MOMENT};
            const std::vector<double>* values[3] = {&ref.m, &ref.s, &ref.s_max};
            const std::vector<double>* magnitudes[3] = {&ref.m_magnitude, &ref.s_magnitude, &ref.s_max_magnitude};
            const Quantity quantities[3] = {Quantity::FirstMoment, Quantity::SecondMoment, Quantity::MaxSecondMoment};
            for (int k = 0; k < 3; ++k) {
                if (k == 2 && !(ref.has_s_max() && info.has_max_second_moment == 1)) continue;
                const CodedArray codes = read_codes(optimizer_.get(), tensor->id, kinds[k], ref.size());
                if (tensor->unchanged[k]) {
                    if (!(codes == tensor->before[k])) {
                        failed = true;
                        failures << "\n  " << where.str() << ": " << quantity_name(quantities[k])
                                 << " codes or scales changed in a step that did not update it";
                    }
                    continue;
                }
                const CodeComparison comparison = compare_codes(format_of(kinds[k]), codes, *values[k], *magnitudes[k]);
                codes_compared_ += comparison.codes;
                code_ties_ += comparison.code_ties;
                if (!comparison.failure.empty()) {
                    failed = true;
                    failures << "\n  " << where.str() << ": " << quantity_name(quantities[k]) << " "
                             << comparison.failure;
                }
            }
            if (!tensor->parameters.guards_intact() || !tensor->gradients.guards_intact()) {
                failed = true;
                failures << "\n  " << where.str() << ": memory next to the caller's buffers was written";
            }
            continue;
        }
        const std::vector<float> m = read_state(optimizer_.get(), tensor->id, NAB_STATE_FIRST_MOMENT);
        compare(Quantity::FirstMoment, m.data(), ref.m, ref.m_magnitude);
        const std::vector<float> s = read_state(optimizer_.get(), tensor->id, NAB_STATE_SECOND_MOMENT);
        compare(Quantity::SecondMoment, s.data(), ref.s, ref.s_magnitude);
        if (ref.has_s_max() && info.has_max_second_moment == 1) {
            const std::vector<float> s_max =
                read_state(optimizer_.get(), tensor->id, NAB_STATE_MAX_SECOND_MOMENT);
            compare(Quantity::MaxSecondMoment, s_max.data(), ref.s_max, ref.s_max_magnitude);
        }
        if (!tensor->parameters.guards_intact() || !tensor->gradients.guards_intact()) {
            failed = true;
            failures << "\n  " << where.str() << ": memory next to the caller's buffers was written";
        }
    }
    if (!failed) {
        return testing::AssertionSuccess();
    }
    return testing::AssertionFailure() << stage << " (after " << steps_ << " steps, "
                                       << seed_text(seed_) << "):" << failures.str();
}

}  // namespace nabtest
