// The table that maps a runtime KernelVariant to the compiled template instance of a kernel
// family (the float32 range kernel of kernel_body.h, the 8-bit one of quantized_kernel_body.h),
// shared by every SIMD level.
#pragma once

#include <type_traits>

#include "core/update_math.h"

namespace nab::cpu {

// `Instance<L2, Square, KeepsMax, FromMax, Rule>::function` is the compiled kernel of one
// combination of the template switches; walks them one by one until a concrete instance is
// reached. Only the combinations that can occur are instantiated: reading s_max requires
// keeping it.
template <template <bool, bool, bool, bool, UpdateRule> class Instance, bool... Chosen>
constexpr auto select_by_rule(const KernelVariant& v) {
    switch (v.rule) {
        case UpdateRule::Adaptive: return Instance<Chosen..., UpdateRule::Adaptive>::function;
        case UpdateRule::AdaptiveScaledRoot: return Instance<Chosen..., UpdateRule::AdaptiveScaledRoot>::function;
        case UpdateRule::Sgd: return Instance<Chosen..., UpdateRule::Sgd>::function;
        case UpdateRule::None: break;
    }
    return Instance<Chosen..., UpdateRule::None>::function;
}

template <template <bool, bool, bool, bool, UpdateRule> class Instance>
constexpr auto select_variant(const KernelVariant& v) {
    auto with_max = [&v](auto l2, auto square) {
        constexpr bool L2 = decltype(l2)::value, Square = decltype(square)::value;
        if (!v.keeps_max) return select_by_rule<Instance, L2, Square, false, false>(v);
        if (!v.denominator_from_max) return select_by_rule<Instance, L2, Square, true, false>(v);
        return select_by_rule<Instance, L2, Square, true, true>(v);
    };
    using Yes = std::true_type;
    using No = std::false_type;
    if (v.l2_gradient) return v.square_gradient ? with_max(Yes{}, Yes{}) : with_max(Yes{}, No{});
    return v.square_gradient ? with_max(No{}, Yes{}) : with_max(No{}, No{});
}

}  // namespace nab::cpu
