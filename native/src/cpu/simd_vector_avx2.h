// Eight float32 lanes on AVX2 registers, with the operators update_element uses. Included
// only by kernel_avx2.cpp (compiled with -mavx2).
#pragma once

#include <immintrin.h>

#include <cstddef>

namespace nab::cpu {

struct Avx2Vector {
    __m256 value;
};

inline Avx2Vector operator+(Avx2Vector a, Avx2Vector b) { return {_mm256_add_ps(a.value, b.value)}; }
inline Avx2Vector operator-(Avx2Vector a, Avx2Vector b) { return {_mm256_sub_ps(a.value, b.value)}; }
inline Avx2Vector operator*(Avx2Vector a, Avx2Vector b) { return {_mm256_mul_ps(a.value, b.value)}; }
inline Avx2Vector operator/(Avx2Vector a, Avx2Vector b) { return {_mm256_div_ps(a.value, b.value)}; }
inline Avx2Vector sqrt_of(Avx2Vector a) { return {_mm256_sqrt_ps(a.value)}; }
// Same NaN rule as the scalar max_of: the second operand wins when either is NaN.
inline Avx2Vector max_of(Avx2Vector a, Avx2Vector b) { return {_mm256_max_ps(a.value, b.value)}; }

struct Avx2Lanes {
    using Vector = Avx2Vector;
    static constexpr std::size_t width = 8;
    static Vector load(const float* source) { return {_mm256_loadu_ps(source)}; }
    static void store(float* destination, Vector v) { _mm256_storeu_ps(destination, v.value); }
    static Vector broadcast(float value) { return {_mm256_set1_ps(value)}; }
};

}  // namespace nab::cpu
