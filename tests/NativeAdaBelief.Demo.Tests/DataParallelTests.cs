using NativeAdaBelief.Demo.Data;
using NativeAdaBelief.Demo.Training;
using NativeAdaBelief.Distributed;

namespace NativeAdaBelief.Demo.Tests;

/// <summary>
/// The demo's --data-parallel mode in one process (a <see cref="SingleProcessCommunicator"/>;
/// with several ranks it runs under mpiexec in ./build.sh test): it trains exactly what the
/// ordinary run trains, and its options refuse what it does not do.
/// </summary>
public sealed class DataParallelTests
{
    private static readonly FashionMnist Data = FashionMnist.Synthetic(300, 120, seed: 4);

    private static TrainingPlan Plan(string precision) => new()
    {
        Optimizers = ["adabelief", "adam"],
        LearningRates = new Dictionary<string, double> { ["adabelief"] = 1e-3, ["adam"] = 1e-3 },
        Epochs = 1,
        BatchSize = 32,
        Seed = 9,
        TrainCount = Data.TrainCount,
        TestCount = Data.TestCount,
        Sizes = [784, 32, 16, 10],
        Precision = precision,
    };

    [Theory]
    [InlineData("float32")]
    [InlineData("bfloat16")]
    public void One_rank_trains_bit_identically_to_the_ordinary_run(string precision)
    {
        TrainingResult ordinary = Trainer.Run(Plan(precision), Data, new TrainerOptions { Threads = 1 }, NoProgress.Instance,
            CancellationToken.None);
        using var communicator = new SingleProcessCommunicator();
        TrainingResult parallel = Trainer.Run(Plan(precision), Data, new TrainerOptions { Threads = 1, Communicator = communicator },
            NoProgress.Instance, CancellationToken.None);
        foreach (string name in new[] { "adabelief", "adam" })
        {
            Assert.Equal(ordinary.State.Runs.Single(r => r.Optimizer == name).ParameterHash,
                parallel.State.Runs.Single(r => r.Optimizer == name).ParameterHash);
        }
    }

    [Fact]
    public void It_trains_the_native_optimizers_and_refuses_what_it_does_not_do()
    {
        DemoSettings settings = DemoSettings.Parse(["--data-parallel"]);
        Assert.True(settings.DataParallel);
        Assert.Equal([OptimizerKind.AdaBelief, OptimizerKind.Adam], settings.Optimizers);
        Assert.Contains("SGD+momentum is the single-process", Refusal("--data-parallel", "--optimizer", "sgd"), StringComparison.Ordinal);
        Assert.Contains("float16 needs loss scaling", Refusal("--data-parallel", "--precision", "float16"), StringComparison.Ordinal);
        Assert.Contains("does not save or resume", Refusal("--data-parallel", "--checkpoint", "x.ckpt"), StringComparison.Ordinal);
        Assert.Contains("NCCL", Refusal("--data-parallel", "--device", "cuda"), StringComparison.Ordinal);
    }

    private static string Refusal(params string[] args) => Assert.Throws<UsageException>(() => DemoSettings.Parse(args)).Message;
}
