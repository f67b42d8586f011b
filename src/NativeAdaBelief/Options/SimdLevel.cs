namespace NativeAdaBelief;

/// <summary>The instruction-set level of the CPU kernel. Results are bit-identical for every level.</summary>
public enum SimdLevel
{
    /// <summary>The best level this CPU supports (the default). Never reported back: reading gives the resolved level.</summary>
    Auto = 0,

    /// <summary>Portable scalar code; runs on any CPU.</summary>
    Scalar = 1,

    /// <summary>The 256-bit AVX2 kernel.</summary>
    Avx2 = 2,

    /// <summary>The 512-bit AVX-512F kernel.</summary>
    Avx512 = 3,
}
