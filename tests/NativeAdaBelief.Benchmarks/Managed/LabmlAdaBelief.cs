namespace NativeAdaBelief.Benchmarks.Managed;

/// <summary>
/// The hyper-parameters every implementation in this suite runs: labml AdaBelief (belief second
/// moment, rectified, SGD while r_t is intractable, optimized update, no AMSGrad) with decoupled
/// weight decay, the same values the native optimizer is given (see docs/algorithm.md).
/// </summary>
public static class BenchmarkHyperParameters
{
    public const double LearningRate = 1e-3;
    public const double Beta1 = 0.9;
    public const double Beta2 = 0.999;
    public const double Epsilon = 1e-16;
    public const double WeightDecay = 1e-2;

    /// <summary>The same settings as options of the C# API.</summary>
    public static AdaBeliefOptions Options => new()
    {
        LearningRate = LearningRate,
        Beta1 = Beta1,
        Beta2 = Beta2,
        Epsilon = Epsilon,
        WeightDecay = WeightDecay,
        WeightDecayMode = WeightDecayMode.Decoupled,
        Rectify = true,
        DegenerateToSgd = true,
        OptimizedUpdate = true,
        AmsGrad = false,
        SecondMoment = SecondMoment.Belief,
        Compatibility = CompatibilityMode.Labml,
    };
}

/// <summary>What a step does to the parameters, decided per tensor from its step count.</summary>
public enum UpdateRule
{
    /// <summary>θ ← θ − step·m / (sqrt(s + ε) + ε).</summary>
    Adaptive,

    /// <summary>θ ← θ − step·m (rectification intractable, degenerate to SGD).</summary>
    Sgd,
}

/// <summary>
/// The per-tensor scalars of one labml AdaBelief step, computed in double once per tensor and
/// step and rounded to float, as docs/algorithm.md prescribes. Every managed implementation
/// here computes them the same way; only the element loop differs.
/// </summary>
public readonly struct StepCoefficients
{
    public readonly float DecayFactor;
    public readonly float Beta1;
    public readonly float OneMinusBeta1;
    public readonly float Beta2;
    public readonly float OneMinusBeta2;
    public readonly float InnerEpsilon;
    public readonly float OuterEpsilon;
    public readonly float StepSize;
    public readonly UpdateRule Rule;

    private StepCoefficients(double decay, double stepSize, UpdateRule rule)
    {
        DecayFactor = (float)decay;
        Beta1 = (float)BenchmarkHyperParameters.Beta1;
        OneMinusBeta1 = (float)(1.0 - BenchmarkHyperParameters.Beta1);
        Beta2 = (float)BenchmarkHyperParameters.Beta2;
        OneMinusBeta2 = (float)(1.0 - BenchmarkHyperParameters.Beta2);
        InnerEpsilon = (float)BenchmarkHyperParameters.Epsilon;
        OuterEpsilon = (float)BenchmarkHyperParameters.Epsilon;
        StepSize = (float)stepSize;
        Rule = rule;
    }

    /// <summary>The coefficients of the step that takes a tensor from step t−1 to t (t ≥ 1).</summary>
    public static StepCoefficients For(long t)
    {
        const double lr = BenchmarkHyperParameters.LearningRate;
        const double beta1 = BenchmarkHyperParameters.Beta1;
        const double beta2 = BenchmarkHyperParameters.Beta2;
        double bc1 = 1.0 - Math.Pow(beta1, t);
        double bc2 = 1.0 - Math.Pow(beta2, t);
        double decay = 1.0 - lr * BenchmarkHyperParameters.WeightDecay;

        // RAdam's rectification term; both originals switch at rho_t >= 5.
        double beta2T = Math.Pow(beta2, t);
        double rhoInf = 2.0 / (1.0 - beta2) - 1.0;
        double rho = rhoInf - 2.0 * t * beta2T / (1.0 - beta2T);
        if (!(rho >= 5.0))
        {
            return new StepCoefficients(decay, lr / bc1, UpdateRule.Sgd);
        }
        double r = Math.Sqrt((rho - 4.0) / (rhoInf - 4.0) * (rho - 2.0) / rho * rhoInf / (rhoInf - 2.0));
        // Optimized update: the second bias correction goes into the step size.
        return new StepCoefficients(decay, lr * Math.Sqrt(bc2) * r / bc1, UpdateRule.Adaptive);
    }
}
