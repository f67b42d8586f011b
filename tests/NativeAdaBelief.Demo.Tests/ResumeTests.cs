using NativeAdaBelief.Demo.Data;
using NativeAdaBelief.Demo.Training;

namespace NativeAdaBelief.Demo.Tests;

/// <summary>Cancels the run after a given number of batches (counted across optimizers), or at an epoch's end.</summary>
internal sealed class StopAfter(CancellationTokenSource stop, int batches, bool atEpochEnd = false) : ITrainingProgress
{
    private int _seen;

    public void OptimizerStarted(OptimizerKind kind, double learningRate, int epochs, int batchesPerEpoch, int epoch, int batch)
    {
    }

    public void BatchCompleted(OptimizerKind kind, int epoch, int batch, double loss, double samplesPerSecond)
    {
        if (++_seen == batches && !atEpochEnd)
        {
            stop.Cancel();
        }
    }

    public void EpochCompleted(OptimizerKind kind, EpochRecord record)
    {
        if (atEpochEnd && _seen >= batches)
        {
            stop.Cancel();
        }
    }

    public void OptimizerFinished(OptimizerKind kind, RunRecord run)
    {
    }

    public void Note(string message)
    {
    }
}

public sealed class ResumeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("nab-demo-resume-").FullName;

    // A small slice: 2 epochs of 10 batches (the last one short) per optimizer, a narrow model.
    private static readonly FashionMnist Data = FashionMnist.Synthetic(300, 120, seed: 4);

    private static TrainingPlan Plan(params string[] optimizers) => new()
    {
        Optimizers = [.. optimizers],
        LearningRates = optimizers.ToDictionary(name => name, name =>
        {
            OptimizerKinds.TryParse(name, out OptimizerKind kind);
            return kind.DefaultLearningRate();
        }),
        Epochs = 2,
        BatchSize = 32,
        Seed = 17,
        TrainCount = Data.TrainCount,
        TestCount = Data.TestCount,
        Sizes = [784, 32, 16, 10],
    };

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static TrainingResult Straight(TrainingPlan plan, int threads = 2) =>
        Trainer.Run(plan, Data, new TrainerOptions { Threads = threads }, NoProgress.Instance, CancellationToken.None);

    /// <summary>Stops after <paramref name="batches"/>, then resumes from the checkpoint (in fresh objects) to the end.</summary>
    private TrainingResult StopAndResume(TrainingPlan plan, int batches, bool atEpochEnd)
    {
        string checkpoint = Path.Combine(_directory, "run.ckpt");
        using (var stop = new CancellationTokenSource())
        {
            TrainingResult first = Trainer.Run(plan, Data, new TrainerOptions { Threads = 2, CheckpointPath = checkpoint },
                new StopAfter(stop, batches, atEpochEnd), stop.Token);
            Assert.True(first.Interrupted);
        }
        RunCheckpoint loaded = RunCheckpoint.Load(checkpoint);
        Assert.NotNull(loaded.State.Position);
        TrainingResult second = Trainer.Run(plan, Data, new TrainerOptions { Threads = 1, CheckpointPath = checkpoint, Resume = loaded },
            NoProgress.Instance, CancellationToken.None);
        Assert.False(second.Interrupted);
        Assert.Null(RunCheckpoint.Load(checkpoint).State.Position); // finished: nothing left in progress
        return second;
    }

    private static void AssertSameRun(TrainingResult expected, TrainingResult actual, params string[] resumedOptimizers)
    {
        Assert.Equal(expected.State.Runs.Count, actual.State.Runs.Count);
        for (int i = 0; i < expected.State.Runs.Count; i++)
        {
            RunRecord e = expected.State.Runs[i], a = actual.State.Runs[i];
            Assert.Equal(e.Optimizer, a.Optimizer);
            Assert.True(a.Finished);
            Assert.Equal(e.ParameterHash, a.ParameterHash);
            Assert.Equal(e.BatchLosses, a.BatchLosses); // bit-identical losses, batch by batch
            Assert.Equal(e.Epochs.Select(r => (r.TrainLoss, r.TestLoss, r.TestAccuracy)), a.Epochs.Select(r => (r.TrainLoss, r.TestLoss, r.TestAccuracy)));
        }
        foreach (string name in resumedOptimizers)
        {
            Assert.Equal(expected.FinalParameters[name], actual.FinalParameters[name]); // every weight, bit for bit
        }
    }

    [Theory]
    [InlineData("adabelief")]
    [InlineData("adam")]
    [InlineData("sgd")]
    public void One_epoch_then_resume_for_the_second_gives_the_uninterrupted_weights(string optimizer)
    {
        TrainingPlan plan = Plan(optimizer);
        TrainingResult straight = Straight(plan);
        TrainingResult resumed = StopAndResume(plan, batches: plan.BatchesPerEpoch, atEpochEnd: true);
        AssertSameRun(straight, resumed, optimizer);
    }

    [Theory]
    [InlineData("adabelief", 3)]
    [InlineData("adam", 14)]
    [InlineData("sgd", 7)]
    public void Stopping_mid_epoch_and_resuming_gives_the_uninterrupted_weights(string optimizer, int batches)
    {
        TrainingPlan plan = Plan(optimizer);
        TrainingResult straight = Straight(plan);
        TrainingResult resumed = StopAndResume(plan, batches, atEpochEnd: false);
        AssertSameRun(straight, resumed, optimizer);
    }

    [Fact]
    public void Stopping_during_the_second_optimizer_keeps_the_first_and_finishes_the_rest()
    {
        TrainingPlan plan = Plan("adabelief", "adam", "sgd");
        TrainingResult straight = Straight(plan);
        // adabelief has 20 batches; stop 5 batches into adam.
        TrainingResult resumed = StopAndResume(plan, batches: 2 * plan.BatchesPerEpoch + 5, atEpochEnd: false);
        AssertSameRun(straight, resumed, "adam", "sgd");
        Assert.DoesNotContain("adabelief", resumed.FinalParameters.Keys); // it had finished before the stop
    }

    [Fact]
    public void The_thread_count_does_not_change_the_result()
    {
        TrainingPlan plan = Plan("adabelief", "sgd");
        AssertSameRun(Straight(plan, threads: 1), Straight(plan, threads: 2), "adabelief", "sgd");
    }

    [Fact]
    public void Resuming_with_another_plan_is_refused()
    {
        string checkpoint = Path.Combine(_directory, "other.ckpt");
        TrainingPlan plan = Plan("adam");
        using (var stop = new CancellationTokenSource())
        {
            Trainer.Run(plan, Data, new TrainerOptions { CheckpointPath = checkpoint }, new StopAfter(stop, 3), stop.Token);
        }
        RunCheckpoint loaded = RunCheckpoint.Load(checkpoint);
        var error = Assert.Throws<ArgumentException>(() => Trainer.Run(plan with { BatchSize = 16 }, Data,
            new TrainerOptions { Resume = loaded }, NoProgress.Instance, CancellationToken.None));
        Assert.Contains("batch size", error.Message);
    }

    [Fact]
    public void A_damaged_checkpoint_is_refused_clearly()
    {
        string path = Path.Combine(_directory, "bad.ckpt");
        File.WriteAllText(path, "not a zip");
        Assert.ThrowsAny<InvalidDataException>(() => RunCheckpoint.Load(path));
        Assert.Throws<FileNotFoundException>(() => RunCheckpoint.Load(Path.Combine(_directory, "missing.ckpt")));
    }

    [Fact]
    public void Training_learns_the_synthetic_classes()
    {
        TrainingResult result = Straight(Plan("adabelief", "adam", "sgd"));
        foreach (RunRecord run in result.State.Runs)
        {
            Assert.True(run.Epochs[^1].TestAccuracy > 0.8, $"{run.Optimizer}: {run.Epochs[^1].TestAccuracy:P1}");
            Assert.True(run.Epochs[^1].TrainLoss < run.BatchLosses[0]);
            Assert.InRange(run.Epochs[^1].StepSeconds, 0, run.Epochs[^1].Seconds);
        }
    }
}
