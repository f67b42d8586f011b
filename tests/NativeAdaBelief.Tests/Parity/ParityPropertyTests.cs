using CsCheck;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.Parity;

/// <summary>
/// Random scenarios (CsCheck) over options, both compatibility modes, sizes, memory kinds,
/// thread counts and step sequences: the native result must match the float64 reference
/// within the spec's tolerance.
/// </summary>
public sealed class ParityPropertyTests
{
    [Fact]
    public void Native_matches_the_float64_reference_on_random_scenarios() =>
        Generators.Scenario.Sample(ParityRunner.RunAndCompare, iter: 150, threads: 1, print: s => s.ToString());

    [Theory]
    [InlineData(CompatibilityMode.Labml)]
    [InlineData(CompatibilityMode.AdaBeliefPytorch)]
    public void Native_matches_the_reference_for_each_mode_with_default_structure(CompatibilityMode mode) =>
        Generators.Options.Where(o => o.Compatibility == mode)
            .Select(Gen.Int, (o, seed) => new ParityScenario(
                [o],
                [new ScenarioTensor(0, 1, MemoryKind.NativeBuffer), new ScenarioTensor(0, 17, MemoryKind.ManagedArray), new ScenarioTensor(0, 1031, MemoryKind.RawPointer)],
                Steps: 60, Seed: seed))
            .Sample(ParityRunner.RunAndCompare, iter: 40, threads: 1, print: s => s.ToString());

    /// <summary>The spec's large size (≥ 10⁶ elements) over ≥ 50 steps, in each mode, with the seed defaults (fresh inputs each run; the seed is in any failure's message).</summary>
    [Theory]
    [InlineData(CompatibilityMode.Labml, false)]
    [InlineData(CompatibilityMode.Labml, true)]
    [InlineData(CompatibilityMode.AdaBeliefPytorch, false)]
    [InlineData(CompatibilityMode.AdaBeliefPytorch, true)]
    public void Native_matches_the_reference_on_a_million_elements(CompatibilityMode mode, bool amsgrad) =>
        ParityRunner.RunAndCompare(new ParityScenario(
            [new AdaBeliefOptions { Compatibility = mode, AmsGrad = amsgrad, WeightDecay = 1e-2 }],
            [new ScenarioTensor(0, 1_000_003, MemoryKind.NativeBuffer)],
            Steps: 50, Seed: Random.Shared.Next()));

    /// <summary>Each named preset, through a scenario with absent gradients and LR changes.</summary>
    [Theory]
    [MemberData(nameof(Presets))]
    public void Presets_match_the_reference(string name, AdaBeliefOptions options)
    {
        _ = name;
        ParityRunner.RunAndCompare(new ParityScenario(
            [options, options with { LearningRate = 3e-3 }],
            [new ScenarioTensor(0, 257, MemoryKind.NativeBuffer), new ScenarioTensor(1, 64, MemoryKind.ManagedArray)],
            Steps: 60, Seed: Random.Shared.Next(), GradientPresence: 0.8, LearningRateChange: 0.2));
    }

    public static TheoryData<string, AdaBeliefOptions> Presets() => new()
    {
        { "default", new AdaBeliefOptions() },
        { "adam", AdaBeliefOptions.ForAdam() },
        { "adam-torch-style", AdaBeliefOptions.ForAdam() with { OptimizedUpdate = false, Epsilon = 1e-8 } },
        { "amsgrad", AdaBeliefOptions.ForAmsGrad() },
        { "radam", AdaBeliefOptions.ForRAdam() },
        { "adabelief-pytorch", AdaBeliefOptions.ForAdaBeliefPytorch() },
        { "labml-as-shipped", AdaBeliefOptions.ForLabmlAdaBeliefAsShipped() },
        { "l2", new AdaBeliefOptions { WeightDecay = 0.1, WeightDecayMode = WeightDecayMode.L2 } },
        { "absolute", new AdaBeliefOptions { WeightDecay = 0.01, WeightDecayMode = WeightDecayMode.Absolute, Compatibility = CompatibilityMode.AdaBeliefPytorch } },
    };
}
