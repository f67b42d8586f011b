#include "support/option_combinations.h"

#include <cmath>

namespace nabtest {

nab_group_options Combination::options() const {
    nab_group_options o = default_options(compatibility);
    o.weight_decay_mode = weight_decay_mode;
    o.second_moment = second_moment;
    o.amsgrad = amsgrad;
    o.rectify = rectify;
    o.degenerate_to_sgd = degenerate_to_sgd;
    o.optimized_update = optimized_update;
    return o;
}

std::string combination_name(const Combination& c) {
    std::string name = c.compatibility == NAB_COMPATIBILITY_LABML ? "Labml" : "Pytorch";
    name += c.weight_decay_mode == NAB_WEIGHT_DECAY_DECOUPLED  ? "_Decoupled"
            : c.weight_decay_mode == NAB_WEIGHT_DECAY_ABSOLUTE ? "_Absolute"
                                                               : "_L2";
    name += c.second_moment == NAB_SECOND_MOMENT_BELIEF ? "_Belief" : "_Square";
    name += c.amsgrad ? "_Amsgrad" : "_NoAmsgrad";
    name += c.rectify ? "_Rectify" : "_NoRectify";
    name += c.degenerate_to_sgd ? "_Sgd" : "_NoSgd";
    name += c.optimized_update ? "_Optimized" : "_NotOptimized";
    return name;
}

void PrintTo(const Combination& c, std::ostream* out) { *out << combination_name(c); }

std::string combination_test_name(const testing::TestParamInfo<Combination>& param_info) {
    return combination_name(param_info.param);
}

std::vector<Combination> all_combinations() {
    std::vector<Combination> out;
    for (int32_t compat : {NAB_COMPATIBILITY_LABML, NAB_COMPATIBILITY_ADABELIEF_PYTORCH}) {
        const bool labml = compat == NAB_COMPATIBILITY_LABML;
        for (int32_t wd : {NAB_WEIGHT_DECAY_DECOUPLED, NAB_WEIGHT_DECAY_ABSOLUTE, NAB_WEIGHT_DECAY_L2}) {
            for (int32_t moment : {NAB_SECOND_MOMENT_BELIEF, NAB_SECOND_MOMENT_SQUARE}) {
                if (!labml && moment == NAB_SECOND_MOMENT_SQUARE) continue;
                for (int32_t amsgrad : {0, 1}) {
                    for (int32_t rectify : {0, 1}) {
                        for (int32_t sgd : {0, 1}) {
                            for (int32_t optimized : {0, 1}) {
                                if (!labml && optimized == 0) continue;
                                out.push_back({compat, wd, moment, amsgrad, rectify, sgd, optimized});
                            }
                        }
                    }
                }
            }
        }
    }
    return out;
}

void randomize_hyperparameters(Random& random, nab_group_options& o) {
    o.learning_rate = std::pow(10.0, random.uniform(-4.0, -2.0));
    o.beta1 = random.chance(0.5) ? 0.9 : random.uniform(0.5, 0.99);
    o.beta2 = random.chance(0.5) ? 0.999 : random.uniform(0.9, 0.9999);
    const double epsilons[] = {1e-16, 1e-12, 1e-8};
    o.epsilon = epsilons[random.integer(0, 2)];
    o.weight_decay = o.weight_decay_mode == NAB_WEIGHT_DECAY_ABSOLUTE ? random.uniform(1e-3, 1e-2)
                                                                      : random.uniform(1e-2, 0.5);
}

std::vector<double> base_rates(const ReferenceProblem& problem) {
    std::vector<double> rates;
    for (uint32_t g = 0; g < problem.group_count(); ++g) {
        rates.push_back(problem.group_options(g).learning_rate);
    }
    return rates;
}

void schedule(ReferenceProblem& problem, const std::vector<double>& base) {
    for (uint32_t g = 0; g < base.size(); ++g) {
        problem.set_learning_rate(g, base[g] * problem.random().uniform(0.1, 1.0));
    }
}

}  // namespace nabtest
