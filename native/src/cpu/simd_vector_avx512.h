// Sixteen float32 lanes on AVX-512F registers, with the operators update_element uses. Included
// only by kernel_avx512.cpp (compiled with -mavx512f).
#pragma once

#include <immintrin.h>

#include <cstddef>

namespace nab::cpu {

struct Avx512Vector {
    __m512 value;
};

inline Avx512Vector operator+(Avx512Vector a, Avx512Vector b) { return {_mm512_add_ps(a.value, b.value)}; }
inline Avx512Vector operator-(Avx512Vector a, Avx512Vector b) { return {_mm512_sub_ps(a.value, b.value)}; }
inline Avx512Vector operator*(Avx512Vector a, Avx512Vector b) { return {_mm512_mul_ps(a.value, b.value)}; }
inline Avx512Vector operator/(Avx512Vector a, Avx512Vector b) { return {_mm512_div_ps(a.value, b.value)}; }
inline Avx512Vector sqrt_of(Avx512Vector a) { return {_mm512_sqrt_ps(a.value)}; }
// Same NaN rule as the scalar max_of: the second operand wins when either is NaN.
inline Avx512Vector max_of(Avx512Vector a, Avx512Vector b) { return {_mm512_max_ps(a.value, b.value)}; }

struct Avx512Lanes {
    using Vector = Avx512Vector;
    static constexpr std::size_t width = 16;
    static Vector load(const float* source) { return {_mm512_loadu_ps(source)}; }
    static void store(float* destination, Vector v) { _mm512_storeu_ps(destination, v.value); }
    static Vector broadcast(float value) { return {_mm512_set1_ps(value)}; }
};

}  // namespace nab::cpu
