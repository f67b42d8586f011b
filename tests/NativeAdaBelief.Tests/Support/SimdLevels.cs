using System.Runtime.InteropServices;

namespace NativeAdaBelief.Tests.Support;

/// <summary>
/// The SIMD levels this CPU runs, <see cref="SimdLevel.Scalar"/> first. The levels' numbers are
/// names, not a ranking: x86-64 runs Scalar and the AVX levels up to its best (in the order
/// Avx2, Avx512, Avx512Bf16: each implies those before it), arm64 Scalar and Neon. Derived from
/// <see cref="NativeAdaBeliefLibrary.BestSimdLevel"/> and the process architecture, not from what
/// the library accepts.
/// </summary>
internal static class SimdLevels
{
    public static IReadOnlyList<SimdLevel> ThisCpuRuns()
    {
        SimdLevel best = NativeAdaBeliefLibrary.BestSimdLevel;
        var levels = new List<SimdLevel> { SimdLevel.Scalar };
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
        {
            levels.Add(SimdLevel.Neon);
        }
        else
        {
            SimdLevel[] ladder = { SimdLevel.Avx2, SimdLevel.Avx512, SimdLevel.Avx512Bf16 };
            levels.AddRange(ladder.Take(Array.IndexOf(ladder, best) + 1));
        }
        return levels;
    }
}
