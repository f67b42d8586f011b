// Prints the SIMD levels this machine runs, by the library's own rule (cpu/cpu_features.cpp), as
// a CMake list: what NAB_SIMD_LEVELS=host compiles (native/src/CMakeLists.txt runs it at
// configure time). build.sh runs it under valgrind too: the levels valgrind's virtual CPU runs.
#define NAB_KERNELS_AVX2
#define NAB_KERNELS_AVX512
#define NAB_KERNELS_AVX512_BF16
#define NAB_KERNELS_NEON
#include "cpu/cpu_features.cpp"

#include <cstdio>

int main() {
    const struct {
        nab_simd_level level;
        const char* name;
    } levels[] = {{NAB_SIMD_AVX2, "avx2"}, {NAB_SIMD_AVX512, "avx512"}, {NAB_SIMD_AVX512_BF16, "avx512_bf16"},
                  {NAB_SIMD_NEON, "neon"}};
    const char* separator = "";
    for (const auto& entry : levels) {
        if (!nab::cpu::simd_level_supported(entry.level)) continue;
        std::printf("%s%s", separator, entry.name);
        separator = ";";
    }
    return 0;
}
