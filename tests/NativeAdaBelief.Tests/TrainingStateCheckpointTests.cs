using System.Text.Json.Nodes;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

/// <summary>
/// A checkpoint holds the training run's optimizer side (schedules, loss scaler, global step,
/// user metadata) in the same checksummed file: a resumed run is bit-identical to the
/// uninterrupted one, and every refusal changes nothing, neither in the optimizer nor in the
/// training state.
/// </summary>
public sealed class TrainingStateCheckpointTests
{
    /// <summary>A loss-scaled, scheduled run: bfloat16 weights with a master copy and float32 biases in two groups.</summary>
    private sealed class Run : IDisposable
    {
        private readonly BFloat16[] _weights;
        private readonly BFloat16[] _weightGrads;
        private readonly float[] _bias, _biasGrads;

        public Run(int seed)
        {
            var initial = new Random(seed);
            _weights = [.. TestData.Parameters(initial, 300).Select(v => (BFloat16)v)];
            _weightGrads = new BFloat16[300];
            _bias = TestData.Parameters(initial, 20);
            _biasGrads = new float[20];
            Optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { LearningRate = 3e-3, WeightDecay = 1e-2 });
            Optimizer.AddParamGroup(AdaBeliefOptions.ForAdaBeliefPytorch(1e-3));
            Optimizer.ParamGroups[0].AddTensor<BFloat16, BFloat16>(_weights.AsMemory(), _weightGrads.AsMemory(), keepMasterCopy: true);
            Optimizer.ParamGroups[1].AddTensor(_bias, _biasGrads);
            Scheduler = new LearningRateScheduler(Optimizer, new SequentialLR([new LinearLR(0.1, 1, 4), new CosineAnnealingWarmRestarts(5, 2)], [4]));
            Plateau = new ReduceLROnPlateau(Optimizer, patience: 2);
            Scaler = new DynamicLossScaler(Optimizer, initialScale: 256, growthInterval: 3);
            Training = new TrainingState { Schedules = [Scheduler, Plateau], LossScaler = Scaler };
        }

        public AdaBeliefOptimizer Optimizer { get; }
        public LearningRateScheduler Scheduler { get; }
        public ReduceLROnPlateau Plateau { get; }
        public DynamicLossScaler Scaler { get; }
        public TrainingState Training { get; }

        /// <summary>One training step from <paramref name="random"/>: gradients (now and then an overflow), the scaled step, the schedules.</summary>
        public void Step(Random random)
        {
            for (int i = 0; i < _weightGrads.Length; i++)
            {
                _weightGrads[i] = (BFloat16)(float)(random.NextDouble() - 0.5);
            }
            TestData.Gradients(random, _biasGrads);
            if (random.Next(6) == 0)
            {
                _biasGrads[random.Next(_biasGrads.Length)] = float.PositiveInfinity;
            }
            Scaler.Step();
            Scheduler.Step();
            Plateau.Step(random.NextDouble());
            Training.GlobalStep++;
        }

        public (BFloat16[], float[]) Parameters => ([.. _weights], [.. _bias]);

        public void Dispose() => Optimizer.Dispose();
    }

    private static string TempFile() => Path.Combine(Path.GetTempPath(), $"nab-training-{Guid.NewGuid():N}.safetensors");

    [Fact]
    public void A_resumed_scheduled_loss_scaled_run_is_bit_identical()
    {
        int seed = Random.Shared.Next();
        int k = 5 + Random.Shared.Next(15);
        string path = TempFile();
        try
        {
            using var straight = new Run(seed);
            var random = new Random(seed);
            for (int i = 0; i < k; i++)
            {
                straight.Step(random);
            }
            straight.Training.UserMetadata["epoch"] = "7";
            straight.Training.UserMetadata["note with spaces, commas and ünïcode"] = "{\"json\": true}";
            straight.Optimizer.SaveCheckpoint(path, straight.Training);
            int randomState = random.Next();

            using var resumed = new Run(seed + 1);   // other weights and a fresh schedule: all of it replaced by the load
            resumed.Optimizer.LoadCheckpoint(path, resumed.Training);
            Assert.Equal(k, resumed.Training.GlobalStep);
            Assert.Equal(straight.Training.UserMetadata, resumed.Training.UserMetadata);
            Assert.Equal(straight.Scheduler.SaveState(), resumed.Scheduler.SaveState());
            Assert.Equal(straight.Plateau.SaveState(), resumed.Plateau.SaveState());
            Assert.Equal(straight.Scaler.SaveState(), resumed.Scaler.SaveState());
            OptimizerSnapshot.Capture(straight.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(resumed.Optimizer));

            // The weights are the caller's: copy them over as a model checkpoint would, then step both.
            (BFloat16[] w, float[] b) = straight.Parameters;
            resumed.Optimizer.Tensors[0].SetParameters(w.AsMemory());  // re-initialises the master copy from the bfloat16 values ...
            resumed.Optimizer.Tensors[0].WriteState(StateKind.MasterParameters, straight.Optimizer.Tensors[0].ReadState(StateKind.MasterParameters)); // ... so put back the exact one
            resumed.Optimizer.Tensors[1].SetParameters(b);
            var r1 = new Random(randomState);
            var r2 = new Random(randomState);
            for (int i = 0; i < 25; i++)
            {
                straight.Step(r1);
                resumed.Step(r2);
            }
            OptimizerSnapshot.Capture(straight.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(resumed.Optimizer));
            Assert.Equal(straight.Parameters.Item1, w);
            OptimizerSnapshot.AssertBits(straight.Parameters.Item2, b, "the float32 parameters");
            Assert.Equal(straight.Scaler.Scale, resumed.Scaler.Scale);
            Assert.Equal(straight.Scheduler.LastLearningRates, resumed.Scheduler.LastLearningRates);
            Assert.Equal(straight.Plateau.SaveState(), resumed.Plateau.SaveState());
            Assert.True(straight.Scaler.SkippedSteps > 0, "the run should have skipped steps, so the scaler's state mattered");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The optimizer and the training state, as text, for "nothing changed" checks.</summary>
    private static string Everything(Run run)
    {
        var bytes = new MemoryStream();
        run.Optimizer.SaveCheckpoint(bytes);
        return Convert.ToHexString(bytes.ToArray()) + string.Join(";", run.Scheduler.SaveState().Concat(run.Plateau.SaveState()).Concat(run.Scaler.SaveState()))
            + run.Training.GlobalStep + string.Join(";", run.Training.UserMetadata);
    }

    public static TheoryData<string> Refusals() =>
        ["no training state", "fewer schedules", "other kind", "no loss scaler given", "bad scale", "bad plateau counter", "unknown key", "bad global step"];

    [Theory]
    [MemberData(nameof(Refusals))]
    public void A_training_state_that_does_not_fit_is_refused_and_changes_nothing(string how)
    {
        using var source = new Run(1);
        var random = new Random(2);
        for (int i = 0; i < 6; i++)
        {
            source.Step(random);
        }
        var saved = new MemoryStream();
        if (how == "no training state")
        {
            source.Optimizer.SaveCheckpoint(saved);
        }
        else
        {
            source.Optimizer.SaveCheckpoint(saved, source.Training);
        }
        byte[] file = saved.ToArray();
        file = how switch
        {
            "bad scale" => CheckpointSurgery.Edit(file, (_, meta) => meta["training.loss_scaler.scale"] = "-1"),
            "bad plateau counter" => CheckpointSurgery.Edit(file, (_, meta) => meta["training.schedule.1.bad_epochs"] = "x"),
            "unknown key" => CheckpointSurgery.Edit(file, (_, meta) => meta["training.schedule.9.last_epoch"] = "1"),
            "bad global step" => CheckpointSurgery.Edit(file, (_, meta) => meta["training.global_step"] = "-3"),
            _ => file,
        };

        using var target = new Run(3);
        target.Step(new Random(4));
        target.Training.UserMetadata["mine"] = "kept";
        TrainingState training = how switch
        {
            "fewer schedules" => new TrainingState { Schedules = [target.Scheduler], LossScaler = target.Scaler },
            "other kind" => new TrainingState { Schedules = [target.Plateau, target.Scheduler], LossScaler = target.Scaler },
            "no loss scaler given" => new TrainingState { Schedules = [target.Scheduler, target.Plateau] },
            _ => target.Training,
        };
        string before = Everything(target);
        var e = Assert.Throws<InvalidDataException>(() => target.Optimizer.LoadCheckpoint(new MemoryStream(file), training));
        Assert.False(string.IsNullOrEmpty(e.Message));
        Assert.Equal(before, Everything(target));
    }

    [Fact]
    public void Files_with_a_training_state_load_without_one_and_older_files_still_load()
    {
        using var source = new Run(5);
        source.Step(new Random(6));
        var withTraining = new MemoryStream();
        source.Optimizer.SaveCheckpoint(withTraining, source.Training);
        var (_, data) = CheckpointSurgery.Split(withTraining.ToArray());
        Assert.Equal("4", CheckpointSurgery.Split(withTraining.ToArray()).Header["__metadata__"]!["format_version"]!.GetValue<string>());
        var plain = new MemoryStream();
        source.Optimizer.SaveCheckpoint(plain);
        Assert.Equal("2", CheckpointSurgery.Split(plain.ToArray()).Header["__metadata__"]!["format_version"]!.GetValue<string>());
        Assert.NotEmpty(data);

        using var target = new Run(7);
        target.Optimizer.LoadCheckpoint(new MemoryStream(withTraining.ToArray()));
        OptimizerSnapshot.Capture(source.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(target.Optimizer));
        using var other = new Run(8);
        other.Optimizer.LoadCheckpoint(new MemoryStream(plain.ToArray()));
        OptimizerSnapshot.Capture(source.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(other.Optimizer));
    }

    [Fact]
    public void Training_state_keys_are_covered_by_the_metadata_checksum()
    {
        using var source = new Run(9);
        var saved = new MemoryStream();
        source.Training.UserMetadata["k"] = "v";
        source.Optimizer.SaveCheckpoint(saved, source.Training);
        (JsonObject header, byte[] data) = CheckpointSurgery.Split(saved.ToArray());
        ((JsonObject)header["__metadata__"]!)["user.k"] = "w";
        byte[] tampered = CheckpointSurgery.Join(header, data, resign: false);
        using var target = new Run(10);
        Assert.Contains("metadata is corrupted", Assert.Throws<InvalidDataException>(() => target.Optimizer.LoadCheckpoint(new MemoryStream(tampered), target.Training)).Message);
    }
}
