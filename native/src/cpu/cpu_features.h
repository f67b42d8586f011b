// Which SIMD levels this CPU (and its OS) can run, decided once at run time.
#pragma once

#include "native_adabelief.h"

namespace nab::cpu {

// True when this build has the level's kernels (NAB_SIMD_LEVELS, native/src/CMakeLists.txt;
// NAB_SIMD_SCALAR always).
bool simd_level_compiled(nab_simd_level level) noexcept;

// True when this build has the level's kernels and the CPU and OS support the level
// (NAB_SIMD_SCALAR always).
bool simd_level_supported(nab_simd_level level) noexcept;

// The level AUTO resolves to: AVX-512 with BF16, else AVX-512, else AVX2 on x86-64; NEON on
// arm64; else SCALAR.
nab_simd_level best_simd_level() noexcept;

const char* simd_level_name(nab_simd_level level) noexcept;

}  // namespace nab::cpu
