using System.IO.Compression;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Runtime.Intrinsics.X86;
using NativeAdaBelief.Demo.Data;
using NativeAdaBelief.Demo.Model;
using NativeAdaBelief.Demo.Output;
using NativeAdaBelief.Demo.Training;
using Spectre.Console;

namespace NativeAdaBelief.Demo.Tests;

public sealed class PrecisionSettingsTests
{
    [Theory]
    [InlineData("float32", "float32")]
    [InlineData("float16", "float16")]
    [InlineData("bfloat16", "bfloat16")]
    [InlineData("BFloat16", "bfloat16")]
    public void Precision_parses(string name, string canonical)
    {
        TrainingPrecision expected = TrainingPrecisions.Parse(canonical);
        DemoSettings settings = DemoSettings.Parse(["--precision", name]);
        Assert.Equal(expected, settings.Precision);
        Assert.Contains("precision", settings.Explicit);
        Assert.Equal(expected.CliName(), settings.ToPlan(100, 10, [784, 10]).Precision);
        Assert.Equal(expected, DemoSettings.Parse([$"--precision={name}"]).Precision);
    }

    [Fact]
    public void Float32_is_the_default()
    {
        DemoSettings settings = DemoSettings.Parse([]);
        Assert.Equal(TrainingPrecision.Float32, settings.Precision);
        Assert.DoesNotContain("precision", settings.Explicit);
        Assert.Equal("float32", settings.ToPlan(100, 10, [784, 10]).Precision);
    }

    [Theory]
    [InlineData("fp8")]
    [InlineData("half")]
    [InlineData("")]
    public void An_unknown_precision_is_refused_naming_the_choices(string name)
    {
        var error = Assert.Throws<UsageException>(() => DemoSettings.Parse(["--precision", name]));
        Assert.Equal($"--precision {name}: expected float32, float16 or bfloat16.", error.Message);
    }

    [Fact]
    public void A_missing_precision_value_is_refused()
    {
        var error = Assert.Throws<UsageException>(() => DemoSettings.Parse(["--precision"]));
        Assert.Equal("--precision needs a value.", error.Message);
    }

    [Fact]
    public void Resume_refuses_another_precision_than_the_checkpoints()
    {
        TrainingPlan saved = DemoSettings.Parse(["--precision", "float16"]).ToPlan(100, 10, [784, 10]);
        DemoSettings plain = DemoSettings.Parse(["--resume", "x"]);
        Assert.Same(saved, DemoApp.PlanForResume(saved, plain.ToPlan(100, 10, [784, 10]), plain.Explicit));

        DemoSettings other = DemoSettings.Parse(["--resume", "x", "--precision", "bfloat16"]);
        var error = Assert.Throws<UsageException>(() => DemoApp.PlanForResume(saved, other.ToPlan(100, 10, [784, 10]), other.Explicit));
        Assert.Contains("--precision (the checkpoint has float16)", error.Message);
        Assert.Contains("precision: float16 (checkpoint) vs bfloat16 (now)", saved.Differences(saved with { Precision = "bfloat16" }).Single());
    }
}

public sealed class SixteenBitConversionTests
{
    /// <summary>Random float32 bit patterns (every kind: normal, subnormal, zero, ±∞, NaN payloads) and the edge cases.</summary>
    private static float[] Floats(int count, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = BitConverter.UInt32BitsToSingle((uint)random.NextUInt64());
        }
        float[] edges =
        [
            0f, -0f, 1f, -1f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, float.PositiveInfinity,
            float.NegativeInfinity, float.NaN, BitConverter.UInt32BitsToSingle(0x7f800001), BitConverter.UInt32BitsToSingle(0xffffffff),
            BitConverter.UInt32BitsToSingle(0x007fffff), BitConverter.UInt32BitsToSingle(0x3f808000), BitConverter.UInt32BitsToSingle(0x3f818000),
            BitConverter.UInt32BitsToSingle(0x7f7fffff), 65504f, 65520f, 65519.99f, 6.1e-5f, 5.96e-8f, 2.98e-8f, 1e-8f,
        ];
        edges.CopyTo(values, 0);
        edges.CopyTo(values, count - edges.Length - 3); // also in the scalar tail
        return values;
    }

    [Fact]
    public void BFloat16_narrowing_gives_the_bits_of_BFloat16s_own_conversion()
    {
        float[] values = Floats(1_000_003, 1); // odd length: vector body and scalar tail
        var narrowed = new BFloat16[values.Length];
        SixteenBitConversions.Narrow<BFloat16>(values, narrowed);
        for (int i = 0; i < values.Length; i++)
        {
            ushort expected = ((BFloat16)values[i]).Bits;
            Assert.True(expected == narrowed[i].Bits,
                $"0x{BitConverter.SingleToUInt32Bits(values[i]):x8}: 0x{narrowed[i].Bits:x4}, expected 0x{expected:x4}");
        }
    }

    [Fact]
    public void BFloat16_widening_is_exact_for_every_value()
    {
        BFloat16[] all = Enumerable.Range(0, 65536).Select(bits => BFloat16.FromBits((ushort)bits)).ToArray();
        var widened = new float[all.Length];
        SixteenBitConversions.Widen<BFloat16>(all, widened);
        for (int i = 0; i < all.Length; i++)
        {
            Assert.Equal((uint)i << 16, BitConverter.SingleToUInt32Bits(widened[i]));
        }
        var back = new BFloat16[all.Length];
        SixteenBitConversions.Narrow<BFloat16>(widened, back);
        // A round trip changes no bit, except that a signaling NaN comes back quiet.
        Assert.Equal(all.Select(b => BFloat16.IsNaN(b) ? (ushort)(b.Bits | 0x0040) : b.Bits), back.Select(b => b.Bits));
    }

    [Fact]
    public void Half_conversions_match_the_casts()
    {
        float[] values = Floats(200_003, 2);
        var narrowed = new Half[values.Length];
        SixteenBitConversions.Narrow<Half>(values, narrowed);
        for (int i = 0; i < values.Length; i++)
        {
            var expected = (Half)values[i];
            Assert.True(Half.IsNaN(expected) ? Half.IsNaN(narrowed[i]) : BitConverter.HalfToUInt16Bits(expected) == BitConverter.HalfToUInt16Bits(narrowed[i]),
                $"{values[i]:R}: {narrowed[i]}, expected {expected}");
        }
        Half[] all = Enumerable.Range(0, 65536).Select(bits => BitConverter.UInt16BitsToHalf((ushort)bits)).ToArray();
        var widened = new float[all.Length];
        SixteenBitConversions.Widen<Half>(all, widened);
        for (int i = 0; i < all.Length; i++)
        {
            float expected = (float)all[i];
            Assert.True(float.IsNaN(expected) ? float.IsNaN(widened[i]) : expected.Equals(widened[i]) && float.IsNegative(expected) == float.IsNegative(widened[i]),
                $"0x{i:x4}: {widened[i]:R}, expected {expected:R}");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(1000)] // in the scalar tail
    public void AllFinite_finds_an_overflow_anywhere(int position)
    {
        var halves = Enumerable.Repeat(Half.MaxValue, 1001).ToArray();
        var bfloats = Enumerable.Repeat(BFloat16.MaxValue, 1001).ToArray();
        Assert.True(SixteenBitConversions.AllFinite<Half>(halves));
        Assert.True(SixteenBitConversions.AllFinite<BFloat16>(bfloats));
        halves[position] = Half.NegativeInfinity;
        bfloats[position] = BFloat16.NaN;
        Assert.False(SixteenBitConversions.AllFinite<Half>(halves));
        Assert.False(SixteenBitConversions.AllFinite<BFloat16>(bfloats));
    }

    [Fact]
    public void Only_the_16_bit_types_are_converted()
    {
        Assert.Throws<NotSupportedException>(() => SixteenBitConversions.Widen<short>(new short[2], new float[2]));
        Assert.Throws<ArgumentException>(() => SixteenBitConversions.Narrow<Half>(new float[3], new Half[2]));
    }
}

public sealed class LossScalerTests
{
    private const int Length = 8;
    private const int Steps = 24;
    private const int GrowthInterval = 3; // short, so that the scale grows several times within the test
    private static readonly HashSet<int> OverflowSteps = [1, 9, 10, 17];

    /// <summary>Writes step <paramref name="step"/>'s (scaled) float16 gradients: ±∞ on the overflow steps.</summary>
    private static void Gradients(int step, Span<Half> gradients, double scale)
    {
        for (int i = 0; i < gradients.Length; i++)
        {
            gradients[i] = OverflowSteps.Contains(step) && i == 3
                ? Half.PositiveInfinity
                : (Half)(scale * 1e-6 * (i + 1) * (step % 2 == 0 ? 1 : -1)); // tiny: below float16's range without the scale
        }
    }

    private static (AdaBeliefOptimizer Optimizer, NativeBuffer<Half> Parameters, NativeBuffer<Half> Gradients) Optimizer(ReadOnlySpan<Half> start)
    {
        var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { LearningRate = 1e-2, Rectify = false });
        var parameters = NativeBuffer<Half>.FromSpan(start);
        var gradients = new NativeBuffer<Half>(start.Length);
        optimizer.ParamGroups[0].AddTensor(parameters, gradients, keepMasterCopy: true);
        return (optimizer, parameters, gradients);
    }

    private static Half[] Start() => Enumerable.Range(0, Length).Select(i => (Half)(0.1 * (i + 1))).ToArray();

    // With overflows at steps 1, 9, 10 and 17 and growth after 3 good steps, the good-step count
    // after each step runs 1 0 1 2 0 1 2 0 1 0 0 1 2 0 1 2 0 0 ...
    [Theory]
    [InlineData(2, 0)]  // just after the first skip: nothing to carry over
    [InlineData(7, 2)]  // the next step grows the scale
    [InlineData(9, 1)]  // the next step is skipped
    [InlineData(15, 1)] // after several skips and growths
    public void A_resumed_scaler_scales_and_skips_as_the_uninterrupted_one(int stopAfter, int goodStepsAtStop)
    {
        // Uninterrupted.
        var expected = new List<(double Scale, long Skipped, ushort[] Parameters)>();
        var (optimizer, parameters, gradients) = Optimizer(Start());
        using (optimizer)
        using (parameters)
        using (gradients)
        {
            var scaler = new ResumableLossScaler(optimizer, LossScaleState.Initial, GrowthInterval);
            for (int step = 0; step < Steps; step++)
            {
                Gradients(step, gradients.Span, scaler.Scale);
                scaler.Step();
                expected.Add((scaler.Scale, scaler.State.SkippedSteps, parameters.Span.ToArray().Select(BitConverter.HalfToUInt16Bits).ToArray()));
            }
            Assert.Equal(OverflowSteps.Count, scaler.State.SkippedSteps);
        }

        // Stopped after stopAfter steps, saved, continued in fresh objects.
        byte[] checkpoint;
        Half[] saved;
        LossScaleState state;
        (optimizer, parameters, gradients) = Optimizer(Start());
        using (optimizer)
        using (parameters)
        using (gradients)
        {
            var scaler = new ResumableLossScaler(optimizer, LossScaleState.Initial, GrowthInterval);
            for (int step = 0; step < stopAfter; step++)
            {
                Gradients(step, gradients.Span, scaler.Scale);
                scaler.Step();
            }
            state = scaler.State;
            Assert.Equal(goodStepsAtStop, state.GoodSteps);
            using var stream = new MemoryStream();
            optimizer.SaveCheckpoint(stream);
            checkpoint = stream.ToArray();
            saved = parameters.Span.ToArray();
        }
        (optimizer, parameters, gradients) = Optimizer(saved);
        using (optimizer)
        using (parameters)
        using (gradients)
        {
            optimizer.LoadCheckpoint(new MemoryStream(checkpoint));
            var scaler = new ResumableLossScaler(optimizer, state, GrowthInterval);
            for (int step = stopAfter; step < Steps; step++)
            {
                Gradients(step, gradients.Span, scaler.Scale);
                scaler.Step();
                Assert.Equal(expected[step].Scale, scaler.Scale);
                Assert.Equal(expected[step].Skipped, scaler.State.SkippedSteps);
                Assert.Equal(expected[step].Parameters, parameters.Span.ToArray().Select(BitConverter.HalfToUInt16Bits));
            }
        }
    }

    [Fact]
    public void The_managed_scaler_follows_DynamicLossScaler()
    {
        var (optimizer, parameters, gradients) = Optimizer(Start());
        using (optimizer)
        using (parameters)
        using (gradients)
        {
            var library = new DynamicLossScaler(optimizer, LossScalingPolicy.InitialScale, LossScalingPolicy.GrowthFactor,
                LossScalingPolicy.BackoffFactor, GrowthInterval);
            var managed = new ManagedLossScaler(LossScaleState.Initial, GrowthInterval);
            for (int step = 0; step < Steps; step++)
            {
                Gradients(step, gradients.Span, library.Scale);
                StepReport report = library.Step();
                managed.Update(skipped: !SixteenBitConversions.AllFinite<Half>(gradients.Span));
                Assert.Equal(report.Skipped, OverflowSteps.Contains(step));
                Assert.Equal(library.Scale, managed.Scale);
                Assert.Equal(library.GoodSteps, managed.GoodSteps);
            }
            Assert.Equal(library.SkippedSteps, managed.SkippedSteps);
        }
    }

    [Fact]
    public void A_damaged_state_is_refused()
    {
        Assert.Throws<InvalidDataException>(() => new ManagedLossScaler(LossScaleState.Initial with { GoodSteps = GrowthInterval }, GrowthInterval));
        Assert.Throws<InvalidDataException>(() => new ManagedLossScaler(LossScaleState.Initial with { Scale = 0.1 }));   // not a float32 value
        Assert.Throws<InvalidDataException>(() => new ManagedLossScaler(LossScaleState.Initial with { Scale = double.PositiveInfinity }));
    }
}

public sealed class SixteenBitTrainingTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("nab-demo-16bit-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static TrainingPlan Plan(TrainingPrecision precision, int trainCount, int testCount, int batchSize, int epochs,
        IReadOnlyList<int> sizes, params string[] optimizers) => new()
    {
        Optimizers = [.. optimizers],
        LearningRates = optimizers.ToDictionary(name => name, name =>
        {
            OptimizerKinds.TryParse(name, out OptimizerKind kind);
            return kind.DefaultLearningRate();
        }),
        Epochs = epochs,
        BatchSize = batchSize,
        Seed = 17,
        TrainCount = trainCount,
        TestCount = testCount,
        Sizes = [.. sizes],
        Precision = precision.CliName(),
    };

    private static TrainingResult Run(TrainingPlan plan, FashionMnist data, int threads = 2) =>
        Trainer.Run(plan, data, new TrainerOptions { Threads = threads }, NoProgress.Instance, CancellationToken.None);

    /// <summary>
    /// The demo's model (784-256-128-10) for one epoch of 32 batches of 32 images. On the first
    /// 1024 training and 1000 test images of Fashion-MNIST (where Debian's package or
    /// $FASHION_MNIST_DIR has it, as in CI) it measured, for AdaBelief / Adam / SGD:
    /// float32 test loss 0.767 / 0.784 / 0.893, accuracy 72.2% / 70.2% / 68.1%;
    /// float16 0.768 / 0.762 / 1.020, 73.0% / 73.2% / 68.0% (1, 1 and 2 steps skipped: a batch of
    /// 32 overflows float16 at the first scale, 65536);
    /// bfloat16 0.763 / 0.766 / 0.909, 72.0% / 71.2% / 68.3%;
    /// the first batch's loss is 2.73. Without the data it runs on the synthetic set, which every
    /// precision learns completely (test loss under 0.1, 100%). The thresholds leave a wide
    /// margin: a test loss under half the first batch's (the epoch's mean training loss under 0.65 of it), an accuracy over 55% (chance is 10%),
    /// and within 6 points of float32's.
    /// </summary>
    [Theory]
    [InlineData("float16")]
    [InlineData("bfloat16")]
    public void A_16_bit_run_learns_as_the_float32_run_does(string precisionName)
    {
        TrainingPrecision precision = TrainingPrecisions.Parse(precisionName);
        FashionMnist data = RealOrSynthetic(1024, 1000);
        TrainingResult float32 = Run(Plan(TrainingPrecision.Float32, 1024, 1000, 32, 1, Mlp.FashionSizes, "adabelief", "adam", "sgd"), data);
        TrainingResult sixteen = Run(Plan(precision, 1024, 1000, 32, 1, Mlp.FashionSizes, "adabelief", "adam", "sgd"), data);
        for (int i = 0; i < 3; i++)
        {
            RunRecord reference = float32.State.Runs[i], run = sixteen.State.Runs[i];
            EpochRecord last = run.Epochs[^1];
            string what = $"{precision} {run.Optimizer}: first batch loss {run.BatchLosses[0]:0.0000}, test loss {last.TestLoss:0.0000}, "
                + $"accuracy {last.TestAccuracy:P1} (float32 {reference.Epochs[^1].TestAccuracy:P1})";
            Assert.True(last.TestLoss < 0.5 * run.BatchLosses[0], what);
            Assert.True(last.TrainLoss < 0.65 * run.BatchLosses[0], what);
            Assert.True(last.TestAccuracy > 0.55, what);
            Assert.True(Math.Abs(last.TestAccuracy - reference.Epochs[^1].TestAccuracy) <= 0.06, what);
            Assert.NotEqual(reference.ParameterHash, run.ParameterHash); // it really ran in 16 bits
            if (precision == TrainingPrecision.Float16)
            {
                LossScaleState scaling = Assert.IsType<LossScaleState>(run.LossScaling);
                Assert.Equal(scaling.Scale, last.LossScale);
                Assert.Equal(scaling.SkippedSteps, last.SkippedSteps);
                // Each skip halves the scale from 2^16; no growth within 32 steps.
                Assert.Equal(LossScalingPolicy.InitialScale / Math.Pow(2, scaling.SkippedSteps), scaling.Scale);
            }
            else
            {
                Assert.Null(run.LossScaling);
                Assert.Null(last.LossScale);
            }
        }
    }

    private static FashionMnist RealOrSynthetic(int trainCount, int testCount)
    {
        try
        {
            return FashionMnist.Load().Slice(trainCount, testCount);
        }
        catch (DataNotFoundException)
        {
            return FashionMnist.Synthetic(trainCount, testCount, seed: 4);
        }
    }

    [Theory]
    [InlineData("float16", "adabelief")]
    [InlineData("float16", "adam")]
    [InlineData("bfloat16", "adabelief")]
    [InlineData("bfloat16", "adam")]
    public void The_native_optimizer_steps_16_bit_buffers_with_float32_master_weights(string precisionName, string optimizerName)
    {
        TrainingPrecision precision = TrainingPrecisions.Parse(precisionName);
        Assert.True(OptimizerKinds.TryParse(optimizerName, out OptimizerKind kind));
        using var model = new Mlp([784, 16, 10], 8, 1);
        model.Initialize(3);
        using ParameterStore store = ParameterStore.For(model, precision);
        using ITrainingOptimizer optimizer = OptimizerKinds.Create(kind, 1e-3, store, threads: 1, DeviceType.Cpu);
        AdaBeliefOptimizer native = Assert.IsType<NativeTrainingOptimizer>(optimizer).Optimizer;
        TensorElementType type = precision == TrainingPrecision.Float16 ? TensorElementType.Float16 : TensorElementType.BFloat16;
        Assert.Equal(4, native.Tensors.Count);
        Assert.All(native.Tensors, tensor =>
        {
            Assert.Equal(type, tensor.ParameterType);
            Assert.Equal(type, tensor.GradientType);
            Assert.True(tensor.HasMasterParameters);
        });
        // The master copy starts as the 16-bit weights, widened: what the model computes with.
        store.WidenParametersIntoModel();
        Assert.Equal(model.Tensors[0].Parameters.Span.ToArray(), native.Tensors[0].ReadState(StateKind.MasterParameters));
        Assert.Equal(precision == TrainingPrecision.Float16 ? LossScalingPolicy.InitialScale : 1.0, optimizer.LossScale);
    }

    /// <summary>
    /// What the 16-bit mode adds to a batch (the conversions and the step with its loss scaling)
    /// allocates nothing on the managed heap. (The model's forward and backward are not measured:
    /// their matrix products allocate a closure per call, in float32 as well.)
    /// </summary>
    [Theory]
    [InlineData("float32")]
    [InlineData("float16")]
    [InlineData("bfloat16")]
    public void The_conversions_and_the_step_allocate_nothing(string precisionName)
    {
        TrainingPrecision precision = TrainingPrecisions.Parse(precisionName);
        FashionMnist data = FashionMnist.Synthetic(64, 1, seed: 5);
        byte[] labels = data.TrainLabels[..32];
        int[] indices = Enumerable.Range(0, 32).ToArray();
        using var model = new Mlp([784, 64, 10], 32, threads: 1);
        model.Initialize(1);
        using ParameterStore store = ParameterStore.For(model, precision);
        foreach (OptimizerKind kind in OptimizerKinds.All)
        {
            using ITrainingOptimizer optimizer = OptimizerKinds.Create(kind, kind.DefaultLearningRate(), store, threads: 1, DeviceType.Cpu);
            long allocated = 0;
            for (int batch = 0; batch < 6; batch++)
            {
                FashionMnist.Gather(data.TrainImages, indices, model.Input(32));
                long before = GC.GetAllocatedBytesForCurrentThread();
                store.WidenParametersIntoModel();
                double lossScale = optimizer.LossScale;
                long between = GC.GetAllocatedBytesForCurrentThread();
                model.ComputeGradients(32, labels, (float)lossScale);
                long after = GC.GetAllocatedBytesForCurrentThread();
                store.NarrowGradientsFromModel();
                optimizer.Step();
                if (batch > 0) // the first batch warms up (JIT, first use)
                {
                    allocated += between - before + GC.GetAllocatedBytesForCurrentThread() - after;
                }
            }
            Assert.True(allocated == 0, $"{precision} {kind}: {allocated} bytes in 5 batches");
        }
    }

    // A narrow model on the synthetic set: 2 epochs of 10 batches (the last one short).
    private static readonly FashionMnist Small = FashionMnist.Synthetic(300, 120, seed: 4);

    private static TrainingPlan SmallPlan(TrainingPrecision precision, string optimizer) =>
        Plan(precision, Small.TrainCount, Small.TestCount, 32, 2, [784, 32, 16, 10], optimizer);

    [Theory]
    [InlineData("float16", "adabelief", 3)]
    [InlineData("float16", "adam", 10)]
    [InlineData("float16", "sgd", 14)]
    [InlineData("bfloat16", "adabelief", 14)]
    [InlineData("bfloat16", "adam", 3)]
    [InlineData("bfloat16", "sgd", 10)]
    public void Stopping_and_resuming_a_16_bit_run_gives_the_uninterrupted_weights(string precisionName, string optimizer, int batches)
    {
        TrainingPrecision precision = TrainingPrecisions.Parse(precisionName);
        TrainingPlan plan = SmallPlan(precision, optimizer);
        TrainingResult straight = Run(plan, Small);

        string checkpoint = Path.Combine(_directory, "run.ckpt");
        using (var stop = new CancellationTokenSource())
        {
            TrainingResult first = Trainer.Run(plan, Small, new TrainerOptions { Threads = 2, CheckpointPath = checkpoint },
                new StopAfter(stop, batches), stop.Token);
            Assert.True(first.Interrupted);
        }
        RunCheckpoint loaded = RunCheckpoint.Load(checkpoint);
        Assert.Equal(precision.CliName(), loaded.State.Plan.Precision);
        Assert.All(loaded.Model.Values, bytes => Assert.Equal(0, bytes.Length % 2));
        Assert.Equal(32 * 16 * sizeof(ushort), loaded.Model["fc2.weight"].Length); // the 16-bit weights, as the model holds them
        Assert.Equal(precision == TrainingPrecision.Float16, loaded.State.Runs[0].LossScaling is not null);
        TrainingResult resumed = Trainer.Run(plan, Small, new TrainerOptions { Threads = 1, CheckpointPath = checkpoint, Resume = loaded },
            NoProgress.Instance, CancellationToken.None);

        RunRecord expected = straight.State.Runs[0], actual = resumed.State.Runs[0];
        Assert.True(actual.Finished);
        Assert.Equal(expected.ParameterHash, actual.ParameterHash);
        Assert.Equal(expected.BatchLosses, actual.BatchLosses);
        Assert.Equal(expected.LossScaling, actual.LossScaling);
        Assert.Equal(straight.FinalParameters[optimizer], resumed.FinalParameters[optimizer]);
    }

    [Fact]
    public void A_checkpoint_of_another_precision_is_refused()
    {
        string checkpoint = Path.Combine(_directory, "f16.ckpt");
        TrainingPlan plan = SmallPlan(TrainingPrecision.Float16, "adam");
        using (var stop = new CancellationTokenSource())
        {
            Trainer.Run(plan, Small, new TrainerOptions { CheckpointPath = checkpoint }, new StopAfter(stop, 3), stop.Token);
        }
        RunCheckpoint loaded = RunCheckpoint.Load(checkpoint);
        var error = Assert.Throws<ArgumentException>(() => Trainer.Run(plan with { Precision = "bfloat16" }, Small,
            new TrainerOptions { Resume = loaded }, NoProgress.Instance, CancellationToken.None));
        Assert.Contains("precision: float16 (checkpoint) vs bfloat16 (now)", error.Message);
    }

    [Fact]
    public void A_checkpoint_of_the_earlier_format_resumes_as_float32()
    {
        TrainingPlan plan = SmallPlan(TrainingPrecision.Float32, "adabelief");
        TrainingResult straight = Run(plan, Small);
        string checkpoint = Path.Combine(_directory, "v1.ckpt");
        using (var stop = new CancellationTokenSource())
        {
            Trainer.Run(plan, Small, new TrainerOptions { CheckpointPath = checkpoint }, new StopAfter(stop, 5), stop.Token);
        }
        // What the demo wrote before --precision: version 1, no precision in the plan.
        using (ZipArchive zip = ZipFile.Open(checkpoint, ZipArchiveMode.Update))
        {
            ZipArchiveEntry entry = zip.GetEntry("run.json")!;
            JsonNode json;
            using (Stream stream = entry.Open())
            {
                json = JsonNode.Parse(stream)!;
            }
            json["version"] = 1;
            Assert.True(json["plan"]!.AsObject().Remove("precision"));
            entry.Delete();
            using Stream output = zip.CreateEntry("run.json").Open();
            JsonSerializer.Serialize(output, json);
        }
        RunCheckpoint loaded = RunCheckpoint.Load(checkpoint);
        Assert.Equal(1, loaded.State.Version);
        Assert.Equal("float32", loaded.State.Plan.Precision);
        TrainingResult resumed = Trainer.Run(plan, Small, new TrainerOptions { Resume = loaded }, NoProgress.Instance, CancellationToken.None);
        Assert.Equal(straight.State.Runs[0].ParameterHash, resumed.State.Runs[0].ParameterHash);
    }

    /// <summary>
    /// The float32 path is the demo's original one, bit for bit: these final-weight hashes (and
    /// last batch losses) were recorded with the demo as it was before --precision existed, on
    /// this plan. The managed matrix products use FMA where the CPU has it and the vector width
    /// of <see cref="Vector{T}"/>, so the exact bits hold on x64 CPUs with FMA and 256-bit vectors
    /// (where they were recorded); elsewhere the run is only checked to be float32 and finished.
    /// </summary>
    [Fact]
    public void The_float32_path_is_unchanged()
    {
        FashionMnist data = FashionMnist.Synthetic(300, 120, seed: 4);
        TrainingPlan plan = Plan(TrainingPrecision.Float32, 300, 120, 32, 2, [784, 32, 16, 10], "adabelief", "adam", "sgd");
        TrainingResult result = Run(plan, data);
        Assert.All(result.State.Runs, run => Assert.Null(run.LossScaling));
        if (!(Fma.IsSupported && Vector<float>.Count == 8))
        {
            Assert.All(result.State.Runs, run => Assert.True(run.Finished));
            return;
        }
        (string Hash, double LastLoss)[] recorded =
        [
            ("dcfbb2ced65f15641ab90df3525976f5db572a12db32dcc8737a877ac13c0a9b", 0.4337228349444768),
            ("4dae5468541a246f9569cb75bb85f3de80e66773d68399c9c68b973b5b03b460", 0.6957023282153587),
            ("894a2135600adc6951cff0e8fb17606dbab0adffb4f3d574038d069435b4445d", 0.008289293146342918),
        ];
        for (int i = 0; i < recorded.Length; i++)
        {
            Assert.Equal(recorded[i].Hash, result.State.Runs[i].ParameterHash);
            Assert.Equal(recorded[i].LastLoss, result.State.Runs[i].BatchLosses[^1]);
        }
    }
}

public sealed class PrecisionProgramTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("nab-demo-precision-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static (int Code, string Output, string Errors) Run(params string[] args)
    {
        TextWriter output = Console.Out, error = Console.Error;
        var outputs = new StringWriter();
        var errors = new StringWriter();
        Console.SetOut(outputs);
        Console.SetError(errors);
        try
        {
            return (DemoApp.Run(args), outputs.ToString(), errors.ToString());
        }
        finally
        {
            Console.SetOut(output);
            Console.SetError(error);
        }
    }

    [Fact]
    public void A_float16_run_reports_its_precision_and_loss_scaling_and_resumes_only_as_float16()
    {
        string data = Directory.CreateDirectory(Path.Combine(_directory, "data")).FullName;
        FashionMnistTests.WriteDataSet(data, FashionMnist.Synthetic(256, 100, seed: 2));
        string output = Path.Combine(_directory, "out");
        string checkpoint = Path.Combine(_directory, "run.ckpt");
        (int code, string console, string errors) = Run("--data", data, "--quick", "--batch-size", "64", "--precision", "float16",
            "--output", output, "--checkpoint", checkpoint);
        Assert.True(code == DemoApp.ExitOk, errors);
        Assert.Contains("Precision: float16 parameters and gradients (NativeBuffer<Half>), float32 master weights", console);
        string results = File.ReadAllText(Path.Combine(output, "results.md"));
        Assert.Contains("Precision: float16", results);
        Assert.Contains("| optimizer | lr | epochs | test acc | train loss | test loss | s/epoch | step share | skipped | loss scale |", results);
        Assert.Matches(@"\| AdaBelief \| 0\.001 \| 1 \| [0-9.]+% \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+% \| 0 \| 65536 \|", results);
        Assert.Contains("| SGD+momentum |", results);

        // Resuming takes the checkpoint's precision; another one is refused, naming it.
        (code, _, errors) = Run("--data", data, "--resume", checkpoint, "--output", output + "2");
        Assert.True(code == DemoApp.ExitOk, errors);
        static IEnumerable<string> TableLines(string text) => text.Split('\n').Where(line => line.StartsWith("| ", StringComparison.Ordinal));
        Assert.Equal(TableLines(results), TableLines(File.ReadAllText(Path.Combine(output + "2", "results.md"))));
        (code, _, errors) = Run("--data", data, "--resume", checkpoint, "--precision", "bfloat16", "--output", output + "3");
        Assert.Equal(DemoApp.ExitUsage, code);
        Assert.Contains("--precision (the checkpoint has float16)", errors);
    }

    [Fact]
    public void A_float32_run_has_the_original_table()
    {
        string data = Directory.CreateDirectory(Path.Combine(_directory, "data")).FullName;
        FashionMnistTests.WriteDataSet(data, FashionMnist.Synthetic(256, 100, seed: 2));
        string output = Path.Combine(_directory, "out");
        (int code, _, string errors) = Run("--data", data, "--quick", "--optimizer", "adabelief", "--output", output);
        Assert.True(code == DemoApp.ExitOk, errors);
        string results = File.ReadAllText(Path.Combine(output, "results.md"));
        Assert.Contains("| optimizer | lr | epochs | test acc | train loss | test loss | s/epoch | step share |\n", results.ReplaceLineEndings("\n"));
        Assert.Contains("Precision: float32", results);
        Assert.DoesNotContain("lossScal", File.ReadAllText(Path.Combine(output, "results.json")));
    }
}

public sealed class PrecisionReportTests
{
    private static string Render(IReadOnlyList<ResultRow> rows, TrainingPrecision precision)
    {
        var text = new StringWriter();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(text),
        });
        console.Profile.Width = 200;
        console.Write(Report.ConsoleTable(rows, precision));
        return text.ToString();
    }

    [Fact]
    public void The_table_names_the_precision_and_shows_float16s_loss_scaling()
    {
        var float32 = new ResultRow("AdaBelief", "0.001", 10, 0.8891, 0.1983, 0.3353, 2.18, 0.049);
        string plain = Render([float32], TrainingPrecision.Float32);
        Assert.Contains("Fashion-MNIST, MLP 784-256-128-10, float32", plain);
        Assert.DoesNotContain("skipped", plain);
        Assert.Contains("| AdaBelief | 0.001 | 10 | 88.91% | 0.1983 | 0.3353 | 2.18 | 4.9% |", Report.MarkdownTable([float32]));

        ResultRow float16 = float32 with { SkippedSteps = 3, LossScale = 32768 };
        string scaled = Render([float16], TrainingPrecision.Float16);
        Assert.Contains("Fashion-MNIST, MLP 784-256-128-10, float16", scaled);
        Assert.Contains("loss scale", scaled);
        Assert.Contains("32768", scaled);
        Assert.Contains("| AdaBelief | 0.001 | 10 | 88.91% | 0.1983 | 0.3353 | 2.18 | 4.9% | 3 | 32768 |", Report.MarkdownTable([float16]));
    }
}
