using NativeAdaBelief.Demo.Data;
using NativeAdaBelief.Demo.Output;
using NativeAdaBelief.Demo.Paths;
using NativeAdaBelief.Demo.Training;

namespace NativeAdaBelief.Demo.Tests;

public sealed class FashionMnistTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("nab-demo-data-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Writes a small data set in the Debian package's layout (gzip-compressed IDX files).</summary>
    internal static void WriteDataSet(string folder, FashionMnist data, bool compressed = true)
    {
        string suffix = compressed ? ".gz" : "";
        FashionMnist.WriteIdx(Path.Combine(folder, "train-images-idx3-ubyte" + suffix), data.TrainImages, data.TrainCount, 28, 28);
        FashionMnist.WriteIdx(Path.Combine(folder, "train-labels-idx1-ubyte" + suffix), data.TrainLabels, data.TrainCount);
        FashionMnist.WriteIdx(Path.Combine(folder, "t10k-images-idx3-ubyte" + suffix), data.TestImages, data.TestCount, 28, 28);
        FashionMnist.WriteIdx(Path.Combine(folder, "t10k-labels-idx1-ubyte" + suffix), data.TestLabels, data.TestCount);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Loads_idx_files_compressed_or_not(bool compressed)
    {
        FashionMnist original = FashionMnist.Synthetic(50, 20, seed: 1);
        WriteDataSet(_directory, original, compressed);
        FashionMnist loaded = FashionMnist.Load(_directory);
        Assert.Equal(original.TrainImages, loaded.TrainImages);
        Assert.Equal(original.TrainLabels, loaded.TrainLabels);
        Assert.Equal(original.TestImages, loaded.TestImages);
        Assert.Equal(original.TestLabels, loaded.TestLabels);
        Assert.Equal(Path.GetFullPath(_directory), loaded.Source);

        FashionMnist slice = loaded.Slice(10, 5);
        Assert.Equal(10, slice.TrainCount);
        Assert.Equal(original.TrainLabels.Take(10), slice.TrainLabels);
    }

    [Fact]
    public void Missing_data_says_where_it_looked_and_how_to_get_it()
    {
        var error = Assert.Throws<DataNotFoundException>(() => FashionMnist.Load(_directory));
        Assert.Contains(Path.Combine(_directory, "train-images-idx3-ubyte.gz"), error.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", error.Message);
        Assert.Contains("--data", error.Message);
    }

    [Fact]
    public void A_file_of_the_wrong_kind_is_refused()
    {
        string path = Path.Combine(_directory, "labels");
        File.WriteAllBytes(path, [0, 0, 0x0D, 1, 0, 0, 0, 1, 0]);
        var error = Assert.Throws<InvalidDataException>(() => FashionMnist.ReadIdx(path, 1));
        Assert.Contains("not an IDX file", error.Message);

        FashionMnist.WriteIdx(path, [1, 2, 3], 5); // promises 5 labels, holds 3
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => FashionMnist.ReadIdx(path, 1)).Message);
    }

    [Fact]
    public void Gather_normalizes_pixels()
    {
        var images = new byte[2 * FashionMnist.Pixels];
        images[FashionMnist.Pixels] = 255;
        var destination = new float[2 * FashionMnist.Pixels];
        FashionMnist.Gather(images, [1, 0], destination);
        Assert.Equal((1f - 0.2860f) / 0.3530f, destination[0], 5);
        Assert.Equal(-0.2860f / 0.3530f, destination[1], 5);
        Assert.Equal(-0.2860f / 0.3530f, destination[FashionMnist.Pixels], 5);
    }
}

public sealed class SettingsTests
{
    [Fact]
    public void Defaults()
    {
        DemoSettings settings = DemoSettings.Parse([]);
        Assert.Equal(OptimizerKinds.All, settings.Optimizers);
        Assert.Equal(DemoSettings.DefaultEpochs, settings.Epochs);
        Assert.Equal(128, settings.BatchSize);
        Assert.Null(settings.LearningRate);
        Assert.Equal(DeviceType.Cpu, settings.Device);
        Assert.Null(settings.TrainLimit);
    }

    [Fact]
    public void Every_option_parses()
    {
        DemoSettings settings = DemoSettings.Parse(
        [
            "--optimizer", "adam,sgd", "--epochs", "3", "--batch-size=64", "--lr", "2e-3", "--threads", "1", "--device", "cuda",
            "--output", "out", "--seed", "7", "--data", "d", "--train-images", "100", "--test-images", "50",
            "--checkpoint", "c.ckpt", "--resume", "r.ckpt", "--state-encoding", "8bit", "--seeds", "5",
        ]);
        Assert.Equal([OptimizerKind.Adam, OptimizerKind.Sgd], settings.Optimizers);
        Assert.Equal(3, settings.Epochs);
        Assert.Equal(64, settings.BatchSize);
        Assert.Equal(2e-3, settings.LearningRate);
        Assert.Equal(1, settings.Threads);
        Assert.Equal(DeviceType.Cuda, settings.Device);
        Assert.Equal("out", settings.OutputDirectory);
        Assert.Equal(7UL, settings.Seed);
        Assert.Equal("d", settings.DataDirectory);
        Assert.Equal(100, settings.TrainLimit);
        Assert.Equal(50, settings.TestLimit);
        Assert.Equal("c.ckpt", settings.CheckpointPath);
        Assert.Equal("r.ckpt", settings.ResumePath);
        Assert.Equal(StateEncoding.Blockwise8Bit, settings.StateEncoding);
        Assert.Equal(5, settings.Seeds);
        Assert.False(settings.CompareStateEncodings);
        Assert.True(DemoSettings.Parse(["--compare-state-encodings"]).CompareStateEncodings);
        Assert.Contains("epochs", settings.Explicit);
        Assert.DoesNotContain("quick", settings.Explicit);
    }

    [Fact]
    public void Quick_means_a_slice_and_one_epoch_unless_told_otherwise()
    {
        DemoSettings quick = DemoSettings.Parse(["--quick"]);
        Assert.Equal(1, quick.Epochs);
        Assert.Equal(DemoSettings.QuickTrainImages, quick.TrainLimit);
        Assert.Equal(DemoSettings.QuickTestImages, quick.TestLimit);
        Assert.Equal(2, DemoSettings.Parse(["--epochs", "2", "--quick"]).Epochs);
    }

    [Theory]
    [InlineData("--epochs", "0")]
    [InlineData("--epochs", "many")]
    [InlineData("--lr", "-1")]
    [InlineData("--optimizer", "lion")]
    [InlineData("--device", "tpu")]
    [InlineData("--state-encoding", "4bit")]
    [InlineData("--seeds", "0")]
    [InlineData("--compare-state-encodings", "--optimizer", "sgd")]
    [InlineData("--compare-state-encodings", "--checkpoint", "c.ckpt")]
    [InlineData("--bogus")]
    [InlineData("--output")]
    public void Mistakes_are_named(params string[] args)
    {
        var error = Assert.Throws<UsageException>(() => DemoSettings.Parse(args));
        Assert.Contains(args[0], error.Message);
    }

    [Fact]
    public void The_plan_uses_each_optimizers_default_rate_unless_lr_is_given()
    {
        TrainingPlan plan = DemoSettings.Parse([]).ToPlan(100, 10, [784, 10]);
        Assert.Equal(1e-3, plan.LearningRates["adabelief"]);
        Assert.Equal(0.05, plan.LearningRates["sgd"]);
        TrainingPlan one = DemoSettings.Parse(["--lr", "0.01"]).ToPlan(100, 10, [784, 10]);
        Assert.All(one.LearningRates.Values, rate => Assert.Equal(0.01, rate));
    }

    [Fact]
    public void Resume_takes_the_checkpoints_plan_and_refuses_contradicting_options()
    {
        TrainingPlan saved = DemoSettings.Parse(["--epochs", "4"]).ToPlan(100, 10, [784, 10]);
        DemoSettings plain = DemoSettings.Parse(["--resume", "x"]);
        Assert.Same(saved, DemoApp.PlanForResume(saved, plain.ToPlan(100, 10, [784, 10]), plain.Explicit));

        DemoSettings contradicting = DemoSettings.Parse(["--resume", "x", "--epochs", "5", "--seed", "42"]);
        var error = Assert.Throws<UsageException>(() =>
            DemoApp.PlanForResume(saved, contradicting.ToPlan(100, 10, [784, 10]), contradicting.Explicit));
        Assert.Contains("--epochs (the checkpoint has 4)", error.Message);
        Assert.DoesNotContain("--seed", error.Message); // the same as the checkpoint's

        DemoSettings eightBit = DemoSettings.Parse(["--resume", "x", "--state-encoding", "8bit"]);
        var encoding = Assert.Throws<UsageException>(() =>
            DemoApp.PlanForResume(saved, eightBit.ToPlan(100, 10, [784, 10]), eightBit.Explicit));
        Assert.Contains("--state-encoding (the checkpoint has float32)", encoding.Message);
    }
}

public sealed class PathAndPlotTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("nab-demo-plots-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(1.0, 1.5)]   // Beale
    [InlineData(-1.5, 2.0)]  // Rosenbrock
    public void Test_function_gradients_match_finite_differences(double x, double y)
    {
        foreach (TestFunction function in TestFunction.All)
        {
            (double dx, double dy) = function.Gradient(x, y);
            const double H = 1e-6;
            double nx = (function.Value(x + H, y) - function.Value(x - H, y)) / (2 * H);
            double ny = (function.Value(x, y + H) - function.Value(x, y - H)) / (2 * H);
            Assert.Equal(nx, dx, 3);
            Assert.Equal(ny, dy, 3);
            Assert.Equal(0, function.Value(function.Minimum.X, function.Minimum.Y), 12);
        }
    }

    [Fact]
    public void Every_optimizer_descends_both_functions()
    {
        foreach (TestFunction function in TestFunction.All)
        {
            double start = function.Value(function.Start.X, function.Start.Y);
            IReadOnlyList<OptimizerPath> paths = PathRunner.Run(function, OptimizerKinds.All);
            Assert.Equal(3, paths.Count);
            foreach (OptimizerPath path in paths)
            {
                Assert.Equal(function.Steps + 1, path.Xs.Length);
                Assert.True(double.IsFinite(path.FinalValue) && path.FinalValue < start / 100,
                    $"{function.Name}/{path.Kind}: {start} -> {path.FinalValue}");
            }
        }
    }

    private static void AssertPng(string path)
    {
        Assert.True(File.Exists(path), path);
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 5_000, $"{path}: {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
    }

    [Fact]
    public void Plots_render_headless_to_png()
    {
        var run = new RunRecord { Optimizer = "adabelief", LearningRate = 1e-3, BatchLosses = [2.3, 1.5, 1.0, 0.8, 0.7, 0.6] };
        run.Epochs.Add(new EpochRecord { Epoch = 1, TrainLoss = 1.6, TestLoss = 0.9, TestAccuracy = 0.7, Seconds = 1, StepSeconds = 0.1 });
        run.Epochs.Add(new EpochRecord { Epoch = 2, TrainLoss = 0.7, TestLoss = 0.6, TestAccuracy = 0.8, Seconds = 1, StepSeconds = 0.1 });
        AssertPng(Plots.TrainingLoss([run], batchesPerEpoch: 3, _directory));
        AssertPng(Plots.TestAccuracy([run], _directory));
        TestFunction beale = TestFunction.Beale;
        AssertPng(Plots.OptimizerPaths(beale, PathRunner.Run(beale, OptimizerKinds.All), _directory));
    }
}

public sealed class ProgramTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("nab-demo-program-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static (int Code, string Errors) Run(params string[] args)
    {
        TextWriter original = Console.Error;
        var errors = new StringWriter();
        Console.SetError(errors);
        try
        {
            return (DemoApp.Run(args), errors.ToString());
        }
        finally
        {
            Console.SetError(original);
        }
    }

    [Fact]
    public void The_whole_program_trains_and_writes_its_files()
    {
        string data = Directory.CreateDirectory(Path.Combine(_directory, "data")).FullName;
        FashionMnistTests.WriteDataSet(data, FashionMnist.Synthetic(256, 100, seed: 2));
        string output = Path.Combine(_directory, "out");
        (int code, string errors) = Run("--data", data, "--quick", "--batch-size", "64", "--output", output,
            "--checkpoint", Path.Combine(_directory, "run.ckpt"));
        Assert.True(code == DemoApp.ExitOk, errors);
        foreach (string name in new[] { "training-loss.png", "test-accuracy.png", "paths-beale.png", "paths-rosenbrock.png", "results.md", "results.json" })
        {
            Assert.True(File.Exists(Path.Combine(output, name)), name);
        }
        string results = File.ReadAllText(Path.Combine(output, "results.md"));
        Assert.Contains("| AdaBelief |", results);
        Assert.Contains("| SGD+momentum |", results);

        // Resuming a finished run has nothing left to train, and reports the same table.
        (code, errors) = Run("--data", data, "--resume", Path.Combine(_directory, "run.ckpt"), "--output", output + "2");
        Assert.True(code == DemoApp.ExitOk, errors);
        static IEnumerable<string> TableLines(string text) => text.Split('\n').Where(line => line.StartsWith("| ", StringComparison.Ordinal));
        Assert.Equal(TableLines(results), TableLines(File.ReadAllText(Path.Combine(output + "2", "results.md"))));
    }

    [Fact]
    public void Comparing_state_encodings_trains_each_native_optimizer_both_ways_and_reports_memory()
    {
        string data = Directory.CreateDirectory(Path.Combine(_directory, "data")).FullName;
        FashionMnistTests.WriteDataSet(data, FashionMnist.Synthetic(256, 100, seed: 2));
        string output = Path.Combine(_directory, "encodings");
        (int code, string errors) = Run("--data", data, "--quick", "--batch-size", "64", "--optimizer", "adabelief,adam,sgd",
            "--compare-state-encodings", "--seeds", "2", "--output", output);
        Assert.True(code == DemoApp.ExitOk, errors);
        Assert.True(File.Exists(Path.Combine(output, "state-encodings.png")));
        string report = File.ReadAllText(Path.Combine(output, "state-encodings.md"));
        foreach (string row in new[] { "| AdaBelief, float32 state |", "| AdaBelief, 8-bit state |", "| Adam, float32 state |", "| Adam, 8-bit state |" })
        {
            Assert.Contains(row, report);
        }
        Assert.DoesNotContain("| SGD", report);

        // The 8-bit state of the model (its two large weight matrices in 8 bits) is measured at
        // under a third of the float32 state.
        long float32 = EncodingComparison.StateBytes(OptimizerKind.AdaBelief, StateEncoding.Float32, [784, 256, 128, 10]);
        long eightBit = EncodingComparison.StateBytes(OptimizerKind.AdaBelief, StateEncoding.Blockwise8Bit, [784, 256, 128, 10]);
        Assert.InRange(float32, 8L * 235_146, 8L * 235_146 + 4096);
        Assert.True(eightBit * 3 < float32, $"{eightBit} bytes of 8-bit state against {float32} of float32");
    }

    [Fact]
    public void Missing_data_fails_clearly()
    {
        (int code, string errors) = Run("--data", Path.Combine(_directory, "nowhere"), "--output", _directory);
        Assert.Equal(DemoApp.ExitNoData, code);
        Assert.Contains(Path.Combine(_directory, "nowhere", "train-images-idx3-ubyte.gz"), errors);
    }

    [Fact]
    public void Cuda_trains_where_there_is_a_device_and_fails_clearly_where_there_is_none()
    {
        if (!CudaDevice.IsAvailable)
        {
            (int code, string errors) = Run("--device", "cuda", "--output", _directory);
            Assert.Equal(DemoApp.ExitNoDevice, code);
            Assert.Contains("--device cuda: no CUDA device is available", errors);
            return;
        }
        string data = Directory.CreateDirectory(Path.Combine(_directory, "data")).FullName;
        FashionMnistTests.WriteDataSet(data, FashionMnist.Synthetic(256, 100, seed: 2));
        (int gpu, string gpuErrors) = Run("--device", "cuda", "--data", data, "--quick", "--optimizer", "adabelief,adam",
            "--output", Path.Combine(_directory, "cuda"));
        Assert.True(gpu == DemoApp.ExitOk, gpuErrors);
        Assert.Contains("| AdaBelief |", File.ReadAllText(Path.Combine(_directory, "cuda", "results.md")));
    }

    [Fact]
    public void A_bad_option_is_a_usage_error()
    {
        (int code, string errors) = Run("--epochs", "zero");
        Assert.Equal(DemoApp.ExitUsage, code);
        Assert.Contains("--epochs zero", errors);
    }
}
