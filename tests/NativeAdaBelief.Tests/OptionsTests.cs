using CsCheck;
using NativeAdaBelief.Interop;
using NativeAdaBelief.Tests.Parity;

namespace NativeAdaBelief.Tests;

public sealed class OptionsTests
{
    [Fact]
    public void Defaults_are_the_spec_seed_defaults()
    {
        var o = new AdaBeliefOptions();
        Assert.Equal(CompatibilityMode.Labml, o.Compatibility);
        Assert.Equal(1e-3, o.LearningRate);
        Assert.Equal(0.9, o.Beta1);
        Assert.Equal(0.999, o.Beta2);
        Assert.Equal(1e-16, o.Epsilon);
        Assert.Equal(0.0, o.WeightDecay);
        Assert.Equal(WeightDecayMode.Decoupled, o.WeightDecayMode);
        Assert.Equal(SecondMoment.Belief, o.SecondMoment);
        Assert.False(o.AmsGrad);
        Assert.True(o.Rectify);
        Assert.True(o.DegenerateToSgd);
        Assert.True(o.OptimizedUpdate);
        Assert.Equal(StateEncoding.Float32, o.StateEncoding);
        o.Validate();
    }

    [Theory]
    [InlineData(CompatibilityMode.Labml)]
    [InlineData(CompatibilityMode.AdaBeliefPytorch)]
    public unsafe void Managed_defaults_agree_with_the_native_defaults(CompatibilityMode mode)
    {
        NativeAdaBeliefLibrary.EnsureLoaded();
        nab_group_options native;
        NativeStatus.Check(NativeMethods.nab_group_options_init(&native, (int)mode));
        Assert.Equal((uint)sizeof(nab_group_options), native.struct_size);
        Assert.Equal(new AdaBeliefOptions { Compatibility = mode }, AdaBeliefOptions.FromNative(native));
    }

    public static TheoryData<string, AdaBeliefOptions, string> InvalidOptions() => new()
    {
        { "LearningRate", new AdaBeliefOptions { LearningRate = -0.5 }, "-0.5" },
        { "LearningRate", new AdaBeliefOptions { LearningRate = double.NaN }, "NaN" },
        { "LearningRate", new AdaBeliefOptions { LearningRate = double.PositiveInfinity }, "Infinity" },
        { "Beta1", new AdaBeliefOptions { Beta1 = 1.0 }, "1" },
        { "Beta1", new AdaBeliefOptions { Beta1 = -0.1 }, "-0.1" },
        { "Beta2", new AdaBeliefOptions { Beta2 = 1.5 }, "1.5" },
        { "Epsilon", new AdaBeliefOptions { Epsilon = -1e-8 }, "-1E-08" },
        { "Epsilon", new AdaBeliefOptions { Epsilon = double.NaN }, "NaN" },
        { "WeightDecay", new AdaBeliefOptions { WeightDecay = -1 }, "-1" },
        { "WeightDecayMode", new AdaBeliefOptions { WeightDecayMode = (WeightDecayMode)7 }, "7" },
        { "SecondMoment", new AdaBeliefOptions { SecondMoment = (SecondMoment)9 }, "9" },
        { "Compatibility", new AdaBeliefOptions { Compatibility = (CompatibilityMode)5 }, "5" },
        { "SecondMoment", new AdaBeliefOptions { Compatibility = CompatibilityMode.AdaBeliefPytorch, SecondMoment = SecondMoment.Square }, "Square" },
        { "OptimizedUpdate", new AdaBeliefOptions { Compatibility = CompatibilityMode.AdaBeliefPytorch, OptimizedUpdate = false }, "False" },
        { "StateEncoding", new AdaBeliefOptions { StateEncoding = (StateEncoding)2 }, "2" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Validate_names_the_property_and_the_value(string property, AdaBeliefOptions options, string value)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(property, e.ParamName);
        Assert.Contains(property, e.Message, StringComparison.Ordinal);
        Assert.Contains(value, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_are_refused_before_anything_native_changes(string property, AdaBeliefOptions options, string value)
    {
        _ = value;
        using var optimizer = new AdaBeliefOptimizer();
        ParameterGroup group = optimizer.AddParamGroup(new AdaBeliefOptions());
        Assert.Equal(property, Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.AddParamGroup(options)).ParamName);
        Assert.Single(optimizer.ParamGroups);
        Assert.Equal(property, Assert.Throws<ArgumentOutOfRangeException>(() => group.Options = options).ParamName);
        Assert.Equal(new AdaBeliefOptions(), group.Options);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaBeliefOptimizer(options));
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.NegativeInfinity)]
    public void An_invalid_learning_rate_is_refused_and_changes_nothing(double lr)
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { LearningRate = 0.01 });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.ParamGroups[0].LearningRate = lr);
        Assert.Equal("LearningRate", e.ParamName);
        Assert.Equal(0.01, optimizer.ParamGroups[0].LearningRate);
    }

    [Fact]
    public void Options_round_trip_through_the_native_group() =>
        Generators.Options.Sample(options =>
        {
            using var optimizer = new AdaBeliefOptimizer(options);
            Assert.Equal(options, optimizer.ParamGroups[0].Options);
            var other = options with { LearningRate = options.LearningRate * 2, AmsGrad = !options.AmsGrad };
            optimizer.ParamGroups[0].Options = other;
            Assert.Equal(other, optimizer.ParamGroups[0].Options);
            optimizer.ParamGroups[0].LearningRate = 0.25;
            Assert.Equal(other with { LearningRate = 0.25 }, optimizer.ParamGroups[0].Options);
        }, iter: 100, threads: 1);

    /// <summary>The managed check and the native check agree on every value, valid or not.</summary>
    [Fact]
    public unsafe void Managed_validation_agrees_with_native_validation()
    {
        NativeAdaBeliefLibrary.EnsureLoaded();
        Gen<double> anyDouble = Gen.OneOf<double>(-1, -1e-300, 0, 1e-16, 0.5, 0.999, 1, 1.5, double.NaN, double.PositiveInfinity, double.NegativeInfinity);
        Gen.Select(Gen.Int[-1, 2], anyDouble, anyDouble, anyDouble, anyDouble, anyDouble, Gen.Int[-1, 3], Gen.Int[-1, 2])
            .Select(Gen.Bool, Gen.Bool, (t, amsgrad, optimized) => new AdaBeliefOptions
            {
                Compatibility = (CompatibilityMode)t.Item1,
                LearningRate = t.Item2,
                Beta1 = t.Item3,
                Beta2 = t.Item4,
                Epsilon = t.Item5,
                WeightDecay = t.Item6,
                WeightDecayMode = (WeightDecayMode)t.Item7,
                SecondMoment = (SecondMoment)t.Item8,
                AmsGrad = amsgrad,
                OptimizedUpdate = optimized,
            })
            .Sample(options =>
            {
                bool managedValid = true;
                try
                {
                    options.Validate();
                }
                catch (ArgumentOutOfRangeException)
                {
                    managedValid = false;
                }
                nab_group_options native = options.ToNative();
                bool nativeValid = NativeMethods.nab_group_options_validate(&native) == nab_status.NAB_STATUS_OK;
                Assert.True(managedValid == nativeValid,
                    $"managed says {(managedValid ? "valid" : "invalid")}, native says {(nativeValid ? "valid" : "invalid: " + NativeStatus.LastError())} for {options}");
            }, iter: 500, threads: 1);
    }

    [Fact]
    public void Presets_are_valid_and_mean_what_they_say()
    {
        foreach (AdaBeliefOptions o in new[]
                 {
                     AdaBeliefOptions.ForAdam(), AdaBeliefOptions.ForAmsGrad(), AdaBeliefOptions.ForRAdam(),
                     AdaBeliefOptions.ForAdaBeliefPytorch(), AdaBeliefOptions.ForLabmlAdaBeliefAsShipped(),
                 })
        {
            o.Validate();
        }
        Assert.Equal(SecondMoment.Square, AdaBeliefOptions.ForAdam().SecondMoment);
        Assert.False(AdaBeliefOptions.ForAdam().Rectify);
        Assert.True(AdaBeliefOptions.ForAmsGrad().AmsGrad);
        Assert.True(AdaBeliefOptions.ForRAdam().Rectify);
        Assert.Equal(CompatibilityMode.AdaBeliefPytorch, AdaBeliefOptions.ForAdaBeliefPytorch().Compatibility);
        AdaBeliefOptions shipped = AdaBeliefOptions.ForLabmlAdaBeliefAsShipped();
        Assert.True(shipped.AmsGrad);
        Assert.False(shipped.DegenerateToSgd);
        Assert.False(shipped.OptimizedUpdate);
        Assert.Equal(0.05, AdaBeliefOptions.ForAdam(0.05).LearningRate);
    }

    [Fact]
    public void Config_validation_names_the_property()
    {
        Assert.Equal("ThreadCount", Assert.Throws<ArgumentOutOfRangeException>(() => new OptimizerConfig { ThreadCount = -1 }.Validate()).ParamName);
        Assert.Equal("DeviceOrdinal", Assert.Throws<ArgumentOutOfRangeException>(() => new OptimizerConfig { DeviceOrdinal = 1 }.Validate()).ParamName);
        Assert.Equal("SimdLevel", Assert.Throws<ArgumentOutOfRangeException>(() => new OptimizerConfig { SimdLevel = (SimdLevel)42 }.Validate()).ParamName);
        Assert.Equal("Device", Assert.Throws<ArgumentOutOfRangeException>(() => new OptimizerConfig { Device = (DeviceType)42 }.Validate()).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaBeliefOptimizer(new OptimizerConfig { ThreadCount = -3 }));
    }
}
