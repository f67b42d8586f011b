using CsCheck;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.Parity;

/// <summary>CsCheck generators for options, tensors and whole parity scenarios.</summary>
internal static class Generators
{
    /// <summary>Sizes the spec names: 1, 3, 17, 64, SIMD tails around 8/16-lane multiples, and a few larger.</summary>
    public static readonly Gen<int> Size = Gen.Frequency((1, Gen.OneOf(1, 3, 17, 64, 65, 127, 129, 1000, 4099)), (1, Gen.Int[1, 300]));

    private static readonly Gen<double> Beta2 = Gen.Frequency((1, Gen.OneOf(0.5, 0.9, 0.99, 0.999, 0.9999)), (1, Gen.Double[0.8, 0.9999]));

    private static readonly Gen<double> Epsilon = Gen.OneOf(0.0, 1e-16, 1e-12, 1e-8);

    private static readonly Gen<double> WeightDecay = Gen.OneOf(0.0, 1e-4, 1e-2, 0.1);

    /// <summary>Any valid options (invalid combinations are mapped to valid ones).</summary>
    public static readonly Gen<AdaBeliefOptions> Options =
        Gen.Select(Gen.Enum<CompatibilityMode>(), Gen.Double[1e-4, 1e-2], Gen.Double[0.5, 0.99], Beta2, Epsilon, WeightDecay,
                Gen.Enum<WeightDecayMode>(), Gen.Enum<SecondMoment>())
            .Select(Gen.Bool, Gen.Bool, Gen.Bool, Gen.Bool, (o, amsgrad, rectify, degenerate, optimized) =>
            {
                (CompatibilityMode mode, double lr, double b1, double b2, double eps, double wd, WeightDecayMode wdMode, SecondMoment moment) = o;
                bool labml = mode == CompatibilityMode.Labml;
                return new AdaBeliefOptions
                {
                    Compatibility = mode,
                    LearningRate = lr,
                    Beta1 = b1,
                    Beta2 = b2,
                    Epsilon = eps,
                    WeightDecay = wd,
                    WeightDecayMode = wdMode,
                    SecondMoment = labml ? moment : SecondMoment.Belief,
                    AmsGrad = amsgrad,
                    Rectify = rectify,
                    DegenerateToSgd = degenerate,
                    OptimizedUpdate = !labml || optimized,
                };
            });

    public static readonly Gen<MemoryKind> Memory = Gen.Enum<MemoryKind>();

    /// <summary>1–3 groups, 1–4 tensors, 1–60 steps, with absent gradients, LR changes and mid-run option changes.</summary>
    public static readonly Gen<ParityScenario> Scenario =
        from groups in Options.Array[1, 3]
        from tensorCount in Gen.Int[1, 4]
        from tensors in Gen.Select(Gen.Int[0, groups.Length - 1], Size, Memory, (g, n, k) => new ScenarioTensor(g, n, k)).Array[tensorCount]
        from steps in Gen.Int[1, 60]
        from seed in Gen.Int
        from presence in Gen.OneOf(1.0, 0.8, 0.5)
        from lrChange in Gen.OneOf(0.0, 0.2)
        from later in Gen.Frequency((3, Gen.Const((AdaBeliefOptions[]?)null)), (1, Options.Array[groups.Length].Select(a => (AdaBeliefOptions[]?)a)))
        from threads in Gen.OneOf(0, 1, 2, 3)
        select new ParityScenario(groups, tensors, steps, seed, presence, lrChange, later, threads);
}
