// Every valid combination of a group's switches (both compatibility modes), random
// hyper-parameters around the usual values and a learning-rate scheduler: what the reference
// tests of the float32 and the 8-bit state run through.
#ifndef NAB_TESTS_SUPPORT_OPTION_COMBINATIONS_H
#define NAB_TESTS_SUPPORT_OPTION_COMBINATIONS_H

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "native_adabelief.h"
#include "support/reference_harness.h"
#include "support/test_support.h"

namespace nabtest {

struct Combination {
    int32_t compatibility;
    int32_t weight_decay_mode;
    int32_t second_moment;
    int32_t amsgrad;
    int32_t rectify;
    int32_t degenerate_to_sgd;
    int32_t optimized_update;

    nab_group_options options() const;
};

std::string combination_name(const Combination& c);

// How gtest prints a parameter (test names in ctest, failure messages).
void PrintTo(const Combination& c, std::ostream* out);
std::string combination_test_name(const testing::TestParamInfo<Combination>& param_info);

// Every valid combination. adabelief-pytorch mode has no square second moment and no
// non-optimized update (both are errors there, see abi_errors_test.cpp).
std::vector<Combination> all_combinations();

// Random hyper-parameters around the usual values; weight decay always on, sized so that each
// mode's decay is visible over 60 steps without collapsing the parameters.
void randomize_hyperparameters(Random& random, nab_group_options& o);

// A learning-rate scheduler: every step each group gets a new rate in [0.1, 1] x its base rate.
std::vector<double> base_rates(const ReferenceProblem& problem);
void schedule(ReferenceProblem& problem, const std::vector<double>& base);

}  // namespace nabtest

#endif  // NAB_TESTS_SUPPORT_OPTION_COMBINATIONS_H
