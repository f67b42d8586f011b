namespace NativeAdaBelief.Tests.Reference;

/// <summary>The float64 reference's view of one tensor: parameters, state and step count.</summary>
internal sealed class ReferenceTensor
{
    public ReferenceTensor(int group, double[] parameters)
    {
        Group = group;
        Theta = parameters;
        M = new double[parameters.Length];
        S = new double[parameters.Length];
        ThetaPathMax = Array.ConvertAll(parameters, Math.Abs);
        MScale = new double[parameters.Length];
        SScale = new double[parameters.Length];
    }

    public int Group { get; }

    public double[] Theta { get; }

    public double[] M { get; }

    public double[] S { get; }

    /// <summary>s_max; null until the tensor's group has had AMSGrad on.</summary>
    public double[]? SMax { get; set; }

    /// <summary>
    /// The largest |θ| (and |Δθ| of one step) each element has had: float32 rounds θ and its
    /// update with an absolute error proportional to that magnitude, and the error stays when θ
    /// later approaches 0. The θ tolerance is relative to it.
    /// </summary>
    public double[] ThetaPathMax { get; }

    /// <summary>
    /// The magnitude of the terms m is a sum of (the same EMA over |g|): float32 rounding errors
    /// scale with it, not with m, which can cancel to ~0. The tolerance is relative to it.
    /// </summary>
    public double[] MScale { get; }

    /// <summary>The same for s: the EMA of (|g| + |m|)², the scale of the residual's rounding.</summary>
    public double[] SScale { get; }

    /// <summary>The running maximum of <see cref="SScale"/>, the scale of s_max.</summary>
    public double[]? SMaxScale { get; set; }

    public long Step { get; set; }

    public int Length => Theta.Length;
}
