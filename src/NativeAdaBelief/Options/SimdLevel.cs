namespace NativeAdaBelief;

/// <summary>
/// The instruction-set level of the CPU kernel. Results are bit-identical for every level. The
/// values are names, not a ranking: an x86-64 CPU runs <see cref="Scalar"/> and the AVX levels it
/// has, an arm64 CPU <see cref="Scalar"/> and <see cref="Neon"/>.
/// </summary>
public enum SimdLevel
{
    /// <summary>The best level this CPU supports (the default). Never reported back: reading gives the resolved level.</summary>
    Auto = 0,

    /// <summary>Portable scalar code; runs on any CPU.</summary>
    Scalar = 1,

    /// <summary>The 256-bit AVX2 kernel (x86-64).</summary>
    Avx2 = 2,

    /// <summary>The 512-bit AVX-512F kernel (x86-64).</summary>
    Avx512 = 3,

    /// <summary>The 128-bit NEON (Advanced SIMD) kernel (arm64, where every CPU has it).</summary>
    Neon = 4,

    /// <summary>
    /// The AVX-512F kernel narrowing bfloat16 with AVX-512 BF16's conversion instruction (x86-64
    /// CPUs with AVX512_BF16: Intel Cooper Lake and Sapphire Rapids on, AMD Zen 4 on);
    /// bit-identical to <see cref="Avx512"/>, faster where parameters are bfloat16.
    /// </summary>
    Avx512Bf16 = 5,
}
