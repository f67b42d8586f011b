using System.Globalization;
using System.Text.Json;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

/// <summary>
/// Every PyTorch schedule against torch.optim.lr_scheduler's own values (Data/torch_lr_schedules.json,
/// made by tools/schedules/generate_schedule_vectors.py with Debian's python3-torch), per group with
/// three base rates, step by step: the schedule's closed form and a scheduler driving a real
/// optimizer. Then labml's schedules, argument errors, and saved state.
/// </summary>
public sealed class SchedulerTests
{
    // PyTorch's step() updates the rate recursively, we compute it in closed form: the two agree to
    // rounding, which this bound is generous to (measured: a few ulps; see docs/schedules.md).
    private const double RelativeTolerance = 1e-12;

    private static readonly JsonElement Cases = LoadCases();

    private static JsonElement LoadCases()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Data", "torch_lr_schedules.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.GetProperty("cases").Clone();
    }

    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Cases.GetArrayLength(); i++)
        {
            data.Add(i);
        }
        return data;
    }

    private static double[] Doubles(JsonElement e) => [.. e.EnumerateArray().Select(x => x.GetDouble())];

    private static double Number(JsonElement args, string name, double fallback) =>
        args.TryGetProperty(name, out JsonElement v) ? v.GetDouble() : fallback;

    private static long Integer(JsonElement args, string name, long fallback) =>
        args.TryGetProperty(name, out JsonElement v) ? v.GetInt64() : fallback;

    /// <summary>The schedule a case describes, with our defaults where the case relies on PyTorch's.</summary>
    private static LearningRateSchedule Build(string name, JsonElement a) => name switch
    {
        "StepLR" => new StepLR(Integer(a, "stepSize", 0), Number(a, "gamma", 0.1)),
        "MultiStepLR" => new MultiStepLR([.. a.GetProperty("milestones").EnumerateArray().Select(x => x.GetInt64())], Number(a, "gamma", 0.1)),
        "ExponentialLR" => new ExponentialLR(Number(a, "gamma", 0)),
        "PolynomialLR" => a.TryGetProperty("totalIters", out _) ? new PolynomialLR(Integer(a, "totalIters", 0), Number(a, "power", 1)) : new PolynomialLR(),
        "LinearLR" => a.TryGetProperty("totalIters", out _)
            ? new LinearLR(Number(a, "startFactor", 0), Number(a, "endFactor", 0), Integer(a, "totalIters", 0))
            : new LinearLR(),
        "ConstantLR" => a.TryGetProperty("totalIters", out _) ? new ConstantLR(Number(a, "factor", 0), Integer(a, "totalIters", 0)) : new ConstantLR(),
        "CosineAnnealingLR" => a.TryGetProperty("etaMin", out _) ? new CosineAnnealingLR(Integer(a, "tMax", 0), Number(a, "etaMin", 0)) : new CosineAnnealingLR(Integer(a, "tMax", 0)),
        "CosineAnnealingWarmRestarts" => new CosineAnnealingWarmRestarts(Integer(a, "t0", 0), Integer(a, "tMult", 1), Number(a, "etaMin", 0)),
        "CyclicLR" => new CyclicLR(Doubles(a.GetProperty("baseLr")), Doubles(a.GetProperty("maxLr")), Number(a, "stepSizeUp", 2000),
            a.TryGetProperty("stepSizeDown", out JsonElement down) ? down.GetDouble() : null,
            a.TryGetProperty("mode", out JsonElement mode) ? mode.GetString() switch { "triangular2" => CyclicMode.Triangular2, "exp_range" => CyclicMode.ExpRange, _ => CyclicMode.Triangular } : CyclicMode.Triangular,
            Number(a, "gamma", 1.0), baseMomentum: a.TryGetProperty("baseMomentum", out JsonElement bm) ? [bm.GetDouble()] : null,
            maxMomentum: a.TryGetProperty("maxMomentum", out JsonElement mm) ? [mm.GetDouble()] : null),
        "OneCycleLR" => new OneCycleLR(Doubles(a.GetProperty("maxLr")), Integer(a, "totalSteps", 0), Number(a, "pctStart", 0.3),
            a.TryGetProperty("annealStrategy", out JsonElement s) && s.GetString() == "linear" ? AnnealStrategy.Linear : AnnealStrategy.Cos,
            divFactor: Number(a, "divFactor", 25), finalDivFactor: Number(a, "finalDivFactor", 1e4),
            threePhase: a.TryGetProperty("threePhase", out JsonElement t) && t.GetBoolean()),
        "LambdaLR" => a.GetProperty("lambda").GetString() == "per-group"
            ? new LambdaLR([e => Math.Pow(0.95, e), e => 1.0 / (1.0 + 0.1 * e), e => Math.Min(1.0, (e + 1) / 5.0)])
            : new LambdaLR(e => 1.0 / (1.0 + 0.1 * e)),
        "SequentialLR" => a.GetProperty("case").GetString() == "linear-then-cosine"
            ? new SequentialLR([new LinearLR(startFactor: 0.1, totalIters: 5), new CosineAnnealingLR(20)], [5])
            : new SequentialLR([new ConstantLR(0.5, 2), new ExponentialLR(0.9), new StepLR(4, 0.5)], [3, 10]),
        "ChainedScheduler" => a.GetProperty("case").GetString() == "constant-exponential"
            ? new ChainedScheduler(new ConstantLR(0.5, 4), new ExponentialLR(0.9))
            : new ChainedScheduler(new LinearLR(startFactor: 0.2, totalIters: 6), new StepLR(5, 0.1), new MultiStepLR([8, 12], 0.5)),
        _ => throw new InvalidOperationException($"no builder for {name}"),
    };

    private static void AssertClose(double expected, double actual, string where)
    {
        double bound = RelativeTolerance * Math.Abs(expected) + 1e-300;
        Assert.True(Math.Abs(expected - actual) <= bound, $"{where}: torch {expected:R}, ours {actual:R}");
    }

    private static AdaBeliefOptimizer ThreeGroups(double[] rates)
    {
        var optimizer = new AdaBeliefOptimizer();
        foreach (double rate in rates)
        {
            optimizer.AddParamGroup(new AdaBeliefOptions { LearningRate = rate });
        }
        return optimizer;
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void Each_schedule_equals_torch_step_by_step_for_every_group(int index)
    {
        JsonElement c = Cases[index];
        string name = c.GetProperty("name").GetString()!;
        double[] baseRates = Doubles(c.GetProperty("base_rates"));
        JsonElement[] epochs = [.. c.GetProperty("epochs").EnumerateArray()];
        if (name == "ReduceLROnPlateau")
        {
            PlateauMatchesTorch(c, baseRates, epochs);
            return;
        }
        LearningRateSchedule schedule = Build(name, c.GetProperty("args"));
        // The schedule's closed form, every epoch and group.
        for (int e = 0; e < epochs.Length; e++)
        {
            double[] lr = Doubles(epochs[e].GetProperty("lr"));
            for (int g = 0; g < lr.Length; g++)
            {
                AssertClose(lr[g], schedule.LearningRateAt(e, g, baseRates[g]), $"{name} #{index} epoch {e} group {g}");
                if (epochs[e].TryGetProperty("beta1", out JsonElement b))
                {
                    AssertClose(Doubles(b)[g], schedule.Beta1At(e, g)!.Value, $"{name} #{index} beta1 epoch {e} group {g}");
                }
            }
        }
        // A scheduler driving a real optimizer's groups, Step() after each optimizer step, up to the
        // last epoch whose rates the optimizer accepts (PyTorch lets OneCycleLR's linear three-phase
        // cycle end below 0 after the last step; the native library refuses a negative rate).
        using AdaBeliefOptimizer optimizer = ThreeGroups(baseRates);
        var scheduler = new LearningRateScheduler(optimizer, schedule);
        Assert.Equal(baseRates, scheduler.BaseLearningRates);
        for (int e = 0; e < epochs.Length; e++)
        {
            double[] lr = Doubles(epochs[e].GetProperty("lr"));
            if (lr.Any(r => r < 0))
            {
                double[] before = [.. optimizer.ParamGroups.Select(g => g.LearningRate)];
                Assert.Throws<ArgumentOutOfRangeException>(scheduler.Step);
                Assert.Equal(before, optimizer.ParamGroups.Select(g => g.LearningRate));
                Assert.Equal(e - 1, scheduler.LastEpoch);
                break;
            }
            if (e > 0)
            {
                scheduler.Step();
            }
            Assert.Equal(e, scheduler.LastEpoch);
            for (int g = 0; g < lr.Length; g++)
            {
                AssertClose(lr[g], optimizer.ParamGroups[g].LearningRate, $"{name} #{index} scheduler epoch {e} group {g}");
                Assert.Equal(optimizer.ParamGroups[g].LearningRate, scheduler.LastLearningRates[g]);
                if (epochs[e].TryGetProperty("beta1", out JsonElement b))
                {
                    AssertClose(Doubles(b)[g], optimizer.ParamGroups[g].Options.Beta1, $"{name} #{index} optimizer beta1 epoch {e} group {g}");
                }
            }
        }
    }

    private static void PlateauMatchesTorch(JsonElement c, double[] baseRates, JsonElement[] epochs)
    {
        JsonElement a = c.GetProperty("args");
        double[] metrics = Doubles(c.GetProperty("metrics"));
        using AdaBeliefOptimizer optimizer = ThreeGroups(baseRates);
        var plateau = new ReduceLROnPlateau(optimizer,
            a.TryGetProperty("mode", out JsonElement m) && m.GetString() == "max" ? PlateauMode.Max : PlateauMode.Min,
            Number(a, "factor", 0.1), (int)Integer(a, "patience", 10), Number(a, "threshold", 1e-4),
            a.TryGetProperty("thresholdMode", out JsonElement tm) && tm.GetString() == "abs" ? ThresholdMode.Absolute : ThresholdMode.Relative,
            (int)Integer(a, "cooldown", 0), a.TryGetProperty("minLr", out JsonElement min) ? Doubles(min) : null, Number(a, "eps", 1e-8));
        int reductions = 0;
        for (int e = 1; e < epochs.Length; e++)
        {
            double before = optimizer.ParamGroups[0].LearningRate;
            plateau.Step(metrics[e - 1]);
            reductions += optimizer.ParamGroups[0].LearningRate != before ? 1 : 0;
            double[] lr = Doubles(epochs[e].GetProperty("lr"));
            for (int g = 0; g < lr.Length; g++)
            {
                // The same multiplications in the same order: exact.
                Assert.Equal(lr[g], optimizer.ParamGroups[g].LearningRate);
            }
        }
        Assert.True(reductions >= 2, "the metric sequence should trigger several reductions");
    }

    [Fact]
    public void The_vectors_cover_every_schedule_the_issue_names()
    {
        string[] names = [.. Cases.EnumerateArray().Select(c => c.GetProperty("name").GetString()!).Distinct()];
        Assert.Equal(
            new[] { "ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "ExponentialLR", "LambdaLR",
                "LinearLR", "MultiStepLR", "OneCycleLR", "PolynomialLR", "ReduceLROnPlateau", "SequentialLR", "StepLR" },
            names.Order());
    }

    [Fact]
    public void Each_group_keeps_its_own_base_rate()
    {
        using AdaBeliefOptimizer optimizer = ThreeGroups([1e-2, 1e-3]);
        var schedule = new WarmupCosineDecaySchedule(warmupSteps: 5, totalSteps: 50);
        var scheduler = new LearningRateScheduler(optimizer, schedule);
        for (int i = 0; i < 20; i++)
        {
            scheduler.Step();
        }
        Assert.Equal(schedule.LearningRateAt(20, 0, 1e-2), optimizer.ParamGroups[0].LearningRate);
        Assert.Equal(schedule.LearningRateAt(20, 1, 1e-3), optimizer.ParamGroups[1].LearningRate);
        Assert.NotEqual(optimizer.ParamGroups[0].LearningRate, optimizer.ParamGroups[1].LearningRate);
    }

    [Fact]
    public void Linear_warmup_follows_labml_exactly()
    {
        var s = new LinearWarmupSchedule(warmupSteps: 100);
        // Epoch e is labml's step t = e + 1.
        Assert.Equal(1e-8 + 1 * 1e-3 / 100, s.LearningRateAt(0, 0, 1e-3));
        Assert.Equal(1e-8 + 50 * 1e-3 / 100, s.LearningRateAt(49, 0, 1e-3));
        Assert.Equal(1e-8 + 99 * 2e-3 / 100, s.LearningRateAt(98, 0, 2e-3));
        Assert.Equal(1e-3, s.LearningRateAt(99, 0, 1e-3));
        Assert.Equal(1e-3, s.LearningRateAt(10_000, 0, 1e-3));
        Assert.Equal(2e-3, new LinearWarmupSchedule(0).LearningRateAt(0, 0, 2e-3));
    }

    [Fact]
    public void Warmup_cosine_decay_follows_labml_exactly_with_its_10_percent_floor()
    {
        var s = new WarmupCosineDecaySchedule(warmupSteps: 100, totalSteps: 1100);
        double At(long t) => s.LearningRateAt(t - 1, 0, 1e-3);
        Assert.Equal(1e-8 + 10 * 1e-3 / 100, At(10));
        Assert.Equal(1e-3 * Math.Max(0.1, 0.5 * (1.0 + Math.Cos(Math.PI * 0.0))), At(100));
        Assert.Equal(1e-3 * Math.Max(0.1, 0.5 * (1.0 + Math.Cos(Math.PI * (250.0 / 1000)))), At(350));
        Assert.Equal(1e-3 * 0.1, At(1000)); // floored at 10%
        Assert.Equal(1e-3 * 0.1, At(1100));
        Assert.Equal(0.0, new WarmupCosineDecaySchedule(0, 10, minimumFactor: 0).LearningRateAt(9, 0, 1.0), 15);
        for (long t = 1; t <= 3000; t += 7)
        {
            Assert.InRange(At(t), 1e-8, 1e-3 + 1e-8);
        }
    }

    public static TheoryData<string, string, Func<object>> BadArguments() => new()
    {
        { "StepLR", "stepSize", () => new StepLR(0) },
        { "StepLR", "gamma", () => new StepLR(3, double.NaN) },
        { "MultiStepLR", "milestones[1]", () => new MultiStepLR([3, -1]) },
        { "ExponentialLR", "gamma", () => new ExponentialLR(-0.5) },
        { "PolynomialLR", "totalIters", () => new PolynomialLR(0) },
        { "PolynomialLR", "power", () => new PolynomialLR(5, double.PositiveInfinity) },
        { "LinearLR", "startFactor", () => new LinearLR(0) },
        { "LinearLR", "endFactor", () => new LinearLR(0.5, 1.5) },
        { "LinearLR", "totalIters", () => new LinearLR(0.5, 1, -3) },
        { "ConstantLR", "factor", () => new ConstantLR(2) },
        { "ConstantLR", "totalIters", () => new ConstantLR(0.5, 0) },
        { "CosineAnnealingLR", "tMax", () => new CosineAnnealingLR(0) },
        { "CosineAnnealingLR", "etaMin", () => new CosineAnnealingLR(10, -1e-3) },
        { "CosineAnnealingWarmRestarts", "t0", () => new CosineAnnealingWarmRestarts(-2) },
        { "CosineAnnealingWarmRestarts", "tMult", () => new CosineAnnealingWarmRestarts(2, 0) },
        { "CyclicLR", "stepSizeUp", () => new CyclicLR([1e-3], [1e-2], stepSizeUp: 0) },
        { "CyclicLR", "stepSizeDown", () => new CyclicLR([1e-3], [1e-2], stepSizeUp: 3, stepSizeDown: -1) },
        { "CyclicLR", "maxLr[0]", () => new CyclicLR([1e-3], [double.NaN]) },
        { "CyclicLR", "baseMomentum[0]", () => new CyclicLR([1e-3], [1e-2], baseMomentum: [1.0]) },
        { "OneCycleLR", "totalSteps", () => new OneCycleLR([1e-2], 0) },
        { "OneCycleLR", "pctStart", () => new OneCycleLR([1e-2], 100, pctStart: 1.5) },
        { "OneCycleLR", "pctStart", () => new OneCycleLR([1e-2], 10, pctStart: 0.05) },
        { "OneCycleLR", "divFactor", () => new OneCycleLR([1e-2], 10, divFactor: 0) },
        { "SequentialLR", "milestones[1]", () => new SequentialLR([new StepLR(2), new StepLR(2), new StepLR(2)], [5, 5]) },
        { "LinearWarmupSchedule", "warmupSteps", () => new LinearWarmupSchedule(-1) },
        { "WarmupCosineDecaySchedule", "warmupSteps", () => new WarmupCosineDecaySchedule(200, 100) },
        { "WarmupCosineDecaySchedule", "totalSteps", () => new WarmupCosineDecaySchedule(0, -5) },
        { "WarmupCosineDecaySchedule", "minimumFactor", () => new WarmupCosineDecaySchedule(10, 100, 1.5) },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public void Invalid_arguments_are_refused_naming_the_schedule_and_the_argument(string schedule, string argument, Func<object> create)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(create);
        Assert.Equal(argument, e.ParamName);
        Assert.StartsWith($"{schedule}: {argument} = ", e.Message);
    }

    [Fact]
    public void Plateau_arguments_and_per_group_lists_are_checked()
    {
        using AdaBeliefOptimizer optimizer = ThreeGroups([0.1, 0.01, 0.001]);
        Assert.Equal("factor", Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLROnPlateau(optimizer, factor: 1.0)).ParamName);
        Assert.Equal("patience", Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLROnPlateau(optimizer, patience: -1)).ParamName);
        Assert.Contains("ReduceLROnPlateau", Assert.Throws<ArgumentException>(() => new ReduceLROnPlateau(optimizer, minLr: [0, 0])).Message);
        var two = new CyclicLR([1e-3, 1e-4], [1e-2]);
        var e = Assert.Throws<ArgumentException>(() => new LearningRateScheduler(optimizer, two));
        Assert.Contains("CyclicLR: baseLr has 2 values, but the optimizer has 3 groups", e.Message);
        Assert.Throws<ArgumentException>(() => new LearningRateScheduler(optimizer, new SequentialLR([new StepLR(2), new LambdaLR([_ => 1.0, _ => 1.0])], [4])));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepLR(2).FactorAt(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OneCycleLR([1e-2], 10).LearningRateAt(11, 0, 0));
    }

    [Fact]
    public void A_group_added_after_the_scheduler_is_refused_by_its_next_step()
    {
        using AdaBeliefOptimizer optimizer = ThreeGroups([0.1]);
        var scheduler = new LearningRateScheduler(optimizer, new ExponentialLR(0.5));
        optimizer.AddParamGroup(new AdaBeliefOptions());
        Assert.Contains("create the scheduler after the last group", Assert.Throws<InvalidOperationException>(scheduler.Step).Message);
        Assert.Equal(0, scheduler.LastEpoch);
    }

    public static TheoryData<string> StatefulRuns() => ["OneCycleLR", "CosineAnnealingWarmRestarts", "SequentialLR", "ReduceLROnPlateau", "DynamicLossScaler"];

    /// <summary>Saved after k steps and restored into a fresh optimizer and scheduler, the run continues exactly as the uninterrupted one.</summary>
    [Theory]
    [MemberData(nameof(StatefulRuns))]
    public void Saved_state_resumes_exactly(string kind)
    {
        var random = new Random();
        int k = random.Next(1, 30);
        double[] rates = [random.NextDouble() * 0.1, random.NextDouble() * 0.01];
        double[] metrics = [.. Enumerable.Range(0, 80).Select(_ => random.NextDouble())];
        (AdaBeliefOptimizer Optimizer, ISchedulerState State, Action<int> Step) Make()
        {
            AdaBeliefOptimizer optimizer = ThreeGroups(rates);
            switch (kind)
            {
                case "ReduceLROnPlateau":
                    var plateau = new ReduceLROnPlateau(optimizer, patience: 1, cooldown: 2);
                    return (optimizer, plateau, i => plateau.Step(metrics[i]));
                case "DynamicLossScaler":
                    float[] w = [1f, 2f], g = [0f, 0f];
                    optimizer.ParamGroups[0].AddTensor(w, g);
                    var scaler = new DynamicLossScaler(optimizer, initialScale: 1024, growthInterval: 3);
                    return (optimizer, scaler, i =>
                    {
                        g[0] = metrics[i] < 0.2 ? float.PositiveInfinity : (float)metrics[i];
                        scaler.Step();
                    });
                default:
                    LearningRateSchedule schedule = kind switch
                    {
                        "OneCycleLR" => new OneCycleLR([0.05, 0.01], 80),
                        "CosineAnnealingWarmRestarts" => new CosineAnnealingWarmRestarts(3, 2, 1e-5),
                        _ => new SequentialLR([new LinearLR(0.1, 1, 5), new CosineAnnealingLR(30)], [5]),
                    };
                    var scheduler = new LearningRateScheduler(optimizer, schedule);
                    return (optimizer, scheduler, _ => scheduler.Step());
            }
        }
        var straight = Make();
        var resumed = Make();
        using (straight.Optimizer)
        using (resumed.Optimizer)
        {
            for (int i = 0; i < k; i++)
            {
                straight.Step(i);
            }
            // The state passes through text, as a checkpoint holds it; rates are the optimizer's own state.
            IReadOnlyDictionary<string, string> saved = straight.State.SaveState();
            var copy = saved.ToDictionary(p => p.Key, p => new string(p.Value.AsSpan()));
            resumed.State.RestoreState(copy);
            for (int g = 0; g < rates.Length; g++)
            {
                resumed.Optimizer.ParamGroups[g].Options = straight.Optimizer.ParamGroups[g].Options;
            }
            Assert.Equal(saved, resumed.State.SaveState());
            for (int i = k; i < 70; i++)
            {
                straight.Step(i);
                resumed.Step(i);
                for (int g = 0; g < rates.Length; g++)
                {
                    Assert.Equal(straight.Optimizer.ParamGroups[g].Options, resumed.Optimizer.ParamGroups[g].Options);
                }
                Assert.Equal(straight.State.SaveState(), resumed.State.SaveState());
            }
        }
    }

    [Fact]
    public void A_state_of_another_kind_or_with_bad_values_is_refused_and_changes_nothing()
    {
        using AdaBeliefOptimizer optimizer = ThreeGroups([0.1, 0.01]);
        var scheduler = new LearningRateScheduler(optimizer, new StepLR(3));
        scheduler.Step();
        IReadOnlyDictionary<string, string> before = scheduler.SaveState();
        var plateau = new ReduceLROnPlateau(optimizer);
        Assert.Contains("is of 'ReduceLROnPlateau'", Assert.Throws<InvalidDataException>(() => scheduler.StageRestore(plateau.SaveState())).Message);
        var bad = before.ToDictionary(p => p.Key, p => p.Value);
        bad["last_epoch"] = "-4";
        Assert.Contains("last_epoch", Assert.Throws<InvalidDataException>(() => scheduler.StageRestore(bad)).Message);
        bad = before.ToDictionary(p => p.Key, p => p.Value);
        bad["base_learning_rates"] = "0.1";
        Assert.Contains("holds 1 values, but the optimizer has 2 groups", Assert.Throws<InvalidDataException>(() => scheduler.StageRestore(bad)).Message);
        bad.Remove("base_learning_rates");
        Assert.Contains("no 'base_learning_rates'", Assert.Throws<InvalidDataException>(() => scheduler.StageRestore(bad)).Message);
        Assert.Equal(before, scheduler.SaveState());
        var oneCycle = new LearningRateScheduler(optimizer, new OneCycleLR([0.1], 10));
        var past = oneCycle.SaveState().ToDictionary(p => p.Key, p => p.Value);
        past["last_epoch"] = 11.ToString(CultureInfo.InvariantCulture);
        Assert.Contains("not an epoch of the schedule", Assert.Throws<InvalidDataException>(() => oneCycle.StageRestore(past)).Message);
    }

    [Fact]
    public void A_scheduled_run_matches_the_reference_with_the_same_learning_rates()
    {
        var options = new AdaBeliefOptions { LearningRate = 1e-2 };
        var reference = new Reference.ReferenceAdaBelief();
        reference.AddGroup(options);
        float[] initial = TestData.Parameters(new Random(3), 50);
        float[] parameters = [.. initial], gradients = new float[50];
        reference.AddTensor(0, initial);
        using var optimizer = new AdaBeliefOptimizer(options);
        optimizer.ParamGroups[0].AddTensor(parameters, gradients);
        var scheduler = new LearningRateScheduler(optimizer, new WarmupCosineDecaySchedule(warmupSteps: 5, totalSteps: 30));
        var random = new Random(4);
        for (long t = 1; t <= 30; t++)
        {
            reference.SetLearningRate(0, scheduler.LastLearningRates[0]);
            TestData.Gradients(random, gradients);
            optimizer.Step();
            reference.Step([gradients]);
            scheduler.Step();
        }
        Tolerance.AssertParameters("theta", parameters, reference.Tensors[0].Theta, reference.Tensors[0].ThetaPathMax);
    }
}
