using System.Globalization;
using NativeAdaBelief.Demo.Model;
using NativeAdaBelief.Demo.Training;

namespace NativeAdaBelief.Demo;

/// <summary>A command-line mistake; the message says which option and why.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The demo's command line.</summary>
internal sealed record DemoSettings
{
    public const int DefaultEpochs = 10;
    public const int DefaultBatchSize = 128;
    public const ulong DefaultSeed = 42;
    public const string DefaultOutput = "demo-output";
    public const int QuickTrainImages = 4096;
    public const int QuickTestImages = 2000;

    public IReadOnlyList<OptimizerKind> Optimizers { get; init; } = OptimizerKinds.All;
    public int Epochs { get; init; } = DefaultEpochs;
    public int BatchSize { get; init; } = DefaultBatchSize;

    /// <summary>One learning rate for every optimizer run (null: each optimizer's default).</summary>
    public double? LearningRate { get; init; }

    public int Threads { get; init; }
    public DeviceType Device { get; init; } = DeviceType.Cpu;
    public string OutputDirectory { get; init; } = DefaultOutput;
    public ulong Seed { get; init; } = DefaultSeed;
    public string? DataDirectory { get; init; }
    public bool Quick { get; init; }

    /// <summary>The number format of the model's parameters and gradients (<c>--precision</c>; default float32).</summary>
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Float32;

    /// <summary>How the native optimizers store m, s and s_max (<c>--state-encoding</c>; default float32).</summary>
    public StateEncoding StateEncoding { get; init; } = StateEncoding.Float32;

    /// <summary>
    /// <c>--compare-state-encodings</c>: run each native optimizer with float32 and with 8-bit state
    /// over <see cref="Seeds"/> seeds and report accuracy, memory and step time instead of the usual run.
    /// </summary>
    public bool CompareStateEncodings { get; init; }

    /// <summary>Seeds of <see cref="CompareStateEncodings"/> (<c>--seeds</c>; default 3): the seed, seed + 1, ...</summary>
    public int Seeds { get; init; } = 3;

    /// <summary>Use only the first N training images (null: all; --quick: <see cref="QuickTrainImages"/>).</summary>
    public int? TrainLimit { get; init; }

    public int? TestLimit { get; init; }
    public string? CheckpointPath { get; init; }
    public string? ResumePath { get; init; }
    public bool Help { get; init; }

    /// <summary>
    /// Train on every rank of an MPI job (<c>mpiexec -n 2 ... --data-parallel</c>), each rank on
    /// its part of every batch, with the optimizer state sharded across the ranks.
    /// </summary>
    public bool DataParallel { get; init; }

    /// <summary>The training options given explicitly (they must agree with a checkpoint being resumed).</summary>
    public IReadOnlySet<string> Explicit { get; init; } = new HashSet<string>();

    public static string Usage => """
        NativeAdaBelief demo: trains an MLP (784-256-128-10, ReLU, softmax cross-entropy) on Fashion-MNIST with
        AdaBelief, Adam (the same native core, squared second moment) and SGD with momentum, from the same seed,
        then prints a results table and writes PNG plots (training loss, test accuracy, optimizer paths on the
        Beale and Rosenbrock functions).

        Usage: ./build.sh demo [options]      (or: dotnet run --project src/NativeAdaBelief.Demo -c Release -- [options])

          --optimizer NAME    adabelief | adam | sgd | all (default all); a comma-separated list works too
          --epochs N          epochs per optimizer (default 10; 1 with --quick)
          --batch-size N      mini-batch size (default 128)
          --lr X              learning rate for every optimizer run (default: 0.001 AdaBelief and Adam, 0.05 SGD)
          --seed N            weight initialization and data order (default 42)
          --threads N         threads for the model and the optimizer step; 0 = all cores (default 0)
          --device cpu|cuda   where the optimizer steps (default cpu); cuda fails clearly where unavailable
          --precision P       float32 | float16 | bfloat16 (default float32): what the model's parameters and
                              gradients are held in. 16-bit: NativeBuffer<Half> / NativeBuffer<BFloat16>, float32
                              master weights in the optimizer, forward and backward in float32; float16 adds
                              dynamic loss scaling
          --state-encoding E  float32 | 8bit (default float32): how AdaBelief and Adam store their moments m and s.
                              8bit: blockwise 8-bit codes with a float32 scale per 256 elements (tensors of at
                              least 4096 elements), about a quarter of the optimizer's state memory
          --compare-state-encodings
                              instead of the usual run: AdaBelief and Adam (those of --optimizer) each with float32
                              and with 8-bit state, over --seeds seeds; a table of test accuracy (mean ± spread),
                              state memory and step time, state-encodings.md and state-encodings.png
          --seeds N           seeds of --compare-state-encodings: the seed, seed + 1, ... (default 3)
          --output DIR        folder for the plots and results (default demo-output; ./build.sh demo: artifacts/demo)
          --data DIR          folder with the Fashion-MNIST IDX files (default: $FASHION_MNIST_DIR, then
                              /usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist package)
          --quick             a slice of the data (4096 training, 2000 test images) and 1 epoch: a smoke run
          --train-images N    use only the first N training images
          --test-images N     use only the first N test images
          --checkpoint PATH   save the run (model, optimizer state, position) after every epoch and on Ctrl+C
          --resume PATH       continue a run saved with --checkpoint (it lands on the same weights as an
                              uninterrupted run); keeps saving to PATH unless --checkpoint says otherwise
          --data-parallel     train on every rank of an MPI job, started with mpiexec -n N: each rank computes
                              its part of every batch, the optimizer state is sharded across the ranks (ZeRO-1,
                              NativeAdaBelief.Distributed); AdaBelief and Adam, float32 or bfloat16; rank 0 reports
          -h, --help          this text
        """;

    /// <summary>Parses the command line.</summary>
    /// <exception cref="UsageException">An option is unknown, lacks its value, or has an invalid one.</exception>
    public static DemoSettings Parse(IReadOnlyList<string> args)
    {
        var settings = new DemoSettings();
        var given = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string? inlineValue = null;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Contains('=', StringComparison.Ordinal))
            {
                int eq = arg.IndexOf('=', StringComparison.Ordinal);
                inlineValue = arg[(eq + 1)..];
                arg = arg[..eq];
            }
            string Value()
            {
                if (inlineValue is not null)
                {
                    return inlineValue;
                }
                if (i + 1 >= args.Count || (args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2))
                {
                    throw new UsageException($"{arg} needs a value.");
                }
                return args[++i];
            }
            switch (arg)
            {
                case "-h" or "--help" or "-?":
                    settings = settings with { Help = true };
                    break;
                case "--optimizer" or "--optimizers":
                    settings = settings with { Optimizers = ParseOptimizers(Value()) };
                    given.Add("optimizer");
                    break;
                case "--epochs":
                    settings = settings with { Epochs = ParseInt(arg, Value(), 1, 10_000) };
                    given.Add("epochs");
                    break;
                case "--batch-size":
                    settings = settings with { BatchSize = ParseInt(arg, Value(), 1, 60_000) };
                    given.Add("batch-size");
                    break;
                case "--lr":
                    settings = settings with { LearningRate = ParseRate(arg, Value()) };
                    given.Add("lr");
                    break;
                case "--seed":
                    string seedText = Value();
                    if (!ulong.TryParse(seedText, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong seed))
                    {
                        throw new UsageException($"--seed {seedText}: expected a non-negative integer.");
                    }
                    settings = settings with { Seed = seed };
                    given.Add("seed");
                    break;
                case "--threads":
                    settings = settings with { Threads = ParseInt(arg, Value(), 0, 1024) };
                    break;
                case "--device":
                    string device = Value();
                    settings = settings with
                    {
                        Device = device.ToLowerInvariant() switch
                        {
                            "cpu" => DeviceType.Cpu,
                            "cuda" or "gpu" => DeviceType.Cuda,
                            _ => throw new UsageException($"--device {device}: expected cpu or cuda."),
                        },
                    };
                    break;
                case "--precision":
                    string precision = Value();
                    if (!TrainingPrecisions.TryParse(precision, out TrainingPrecision parsed))
                    {
                        throw new UsageException($"--precision {precision}: expected float32, float16 or bfloat16.");
                    }
                    settings = settings with { Precision = parsed };
                    given.Add("precision");
                    break;
                case "--compare-state-encodings":
                    settings = settings with { CompareStateEncodings = true };
                    break;
                case "--seeds":
                    settings = settings with { Seeds = ParseInt(arg, Value(), 1, 100) };
                    break;
                case "--state-encoding":
                    string encoding = Value();
                    if (!StateEncodings.TryParse(encoding, out StateEncoding parsedEncoding))
                    {
                        throw new UsageException($"--state-encoding {encoding}: expected float32 or 8bit.");
                    }
                    settings = settings with { StateEncoding = parsedEncoding };
                    given.Add("state-encoding");
                    break;
                case "--output" or "-o":
                    settings = settings with { OutputDirectory = NonEmpty(arg, Value()) };
                    break;
                case "--data":
                    settings = settings with { DataDirectory = NonEmpty(arg, Value()) };
                    break;
                case "--quick":
                    settings = settings with { Quick = true };
                    given.Add("quick");
                    break;
                case "--train-images":
                    settings = settings with { TrainLimit = ParseInt(arg, Value(), 1, int.MaxValue) };
                    given.Add("train-images");
                    break;
                case "--test-images":
                    settings = settings with { TestLimit = ParseInt(arg, Value(), 1, int.MaxValue) };
                    given.Add("test-images");
                    break;
                case "--checkpoint":
                    settings = settings with { CheckpointPath = NonEmpty(arg, Value()) };
                    break;
                case "--resume":
                    settings = settings with { ResumePath = NonEmpty(arg, Value()) };
                    break;
                case "--data-parallel":
                    settings = settings with { DataParallel = true };
                    break;
                default:
                    throw new UsageException($"Unknown option '{args[i]}'. Run with --help for the options.");
            }
        }
        if (settings.Quick)
        {
            settings = settings with
            {
                Epochs = given.Contains("epochs") ? settings.Epochs : 1,
                TrainLimit = settings.TrainLimit ?? QuickTrainImages,
                TestLimit = settings.TestLimit ?? QuickTestImages,
            };
        }
        if (settings.DataParallel)
        {
            settings = CheckDataParallel(settings, given);
        }
        if (settings.CompareStateEncodings && (settings.CheckpointPath is not null || settings.ResumePath is not null))
        {
            throw new UsageException("--compare-state-encodings runs many trainings and does not checkpoint them: leave out --checkpoint and --resume.");
        }
        if (settings.CompareStateEncodings && !settings.Optimizers.Any(k => k != OptimizerKind.Sgd))
        {
            throw new UsageException("--compare-state-encodings compares the native optimizers' state: --optimizer must name adabelief or adam.");
        }
        return settings with { Explicit = given };
    }

    /// <summary>What --data-parallel trains (the native optimizers, by default both) and refuses.</summary>
    private static DemoSettings CheckDataParallel(DemoSettings settings, HashSet<string> given)
    {
        if (!given.Contains("optimizer"))
        {
            settings = settings with { Optimizers = [OptimizerKind.AdaBelief, OptimizerKind.Adam] };
        }
        if (settings.Optimizers.Contains(OptimizerKind.Sgd))
        {
            throw new UsageException("--data-parallel shards the native optimizers' state: use --optimizer adabelief, adam or both "
                + "(SGD+momentum is the single-process C# baseline).");
        }
        if (settings.Precision == TrainingPrecision.Float16)
        {
            throw new UsageException("--data-parallel trains in float32 or bfloat16; float16 needs loss scaling, which it does not do yet.");
        }
        if (settings.CheckpointPath is not null || settings.ResumePath is not null)
        {
            throw new UsageException("--data-parallel does not save or resume demo checkpoints (the distributed optimizer's own "
                + "checkpoints are shown in the tests).");
        }
        if (settings.Device != DeviceType.Cpu)
        {
            throw new UsageException("--data-parallel steps on the CPU (over MPI); on GPUs it needs NCCL, which is planned.");
        }
        if (settings.StateEncoding != StateEncoding.Float32 || settings.CompareStateEncodings)
        {
            throw new UsageException("--data-parallel keeps float32 optimizer state; leave out --state-encoding and --compare-state-encodings.");
        }
        return settings;
    }

    /// <summary>The plan for <paramref name="trainCount"/> and <paramref name="testCount"/> images.</summary>
    public TrainingPlan ToPlan(int trainCount, int testCount, IReadOnlyList<int> sizes) => new()
    {
        Optimizers = Optimizers.Select(kind => kind.CliName()).ToList(),
        LearningRates = Optimizers.ToDictionary(kind => kind.CliName(), kind => LearningRate ?? kind.DefaultLearningRate()),
        Epochs = Epochs,
        BatchSize = BatchSize,
        Seed = Seed,
        TrainCount = trainCount,
        TestCount = testCount,
        Sizes = [.. sizes],
        Precision = Precision.CliName(),
        StateEncoding = StateEncoding.CliName(),
    };

    private static IReadOnlyList<OptimizerKind> ParseOptimizers(string text)
    {
        if (string.Equals(text, "all", StringComparison.OrdinalIgnoreCase))
        {
            return OptimizerKinds.All;
        }
        var list = new List<OptimizerKind>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!OptimizerKinds.TryParse(part, out OptimizerKind kind))
            {
                throw new UsageException($"--optimizer {text}: '{part}' is not one of adabelief, adam, sgd, all.");
            }
            if (!list.Contains(kind))
            {
                list.Add(kind);
            }
        }
        if (list.Count == 0)
        {
            throw new UsageException("--optimizer needs at least one of adabelief, adam, sgd, all.");
        }
        return list;
    }

    private static int ParseInt(string option, string text, int min, int max)
    {
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw new UsageException($"{option} {text}: expected an integer from {min} to {max}.");
        }
        return value;
    }

    private static double ParseRate(string option, string text)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value > 0) || !double.IsFinite(value))
        {
            throw new UsageException($"{option} {text}: expected a positive number (e.g. 0.001 or 1e-3).");
        }
        return value;
    }

    private static string NonEmpty(string option, string text) =>
        string.IsNullOrWhiteSpace(text) ? throw new UsageException($"{option} needs a non-empty value.") : text;
}
