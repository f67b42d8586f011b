using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;
using NativeAdaBelief.Demo.Model;

namespace NativeAdaBelief.Demo.Training;

/// <summary>What a run trains: everything that must be equal for a resumed run to continue the same one.</summary>
internal sealed record TrainingPlan
{
    /// <summary>Optimizer names (adabelief, adam, sgd), in the order they are trained.</summary>
    public required List<string> Optimizers { get; init; }

    /// <summary>Learning rate per optimizer name.</summary>
    public required Dictionary<string, double> LearningRates { get; init; }

    public required int Epochs { get; init; }
    public required int BatchSize { get; init; }
    public required ulong Seed { get; init; }
    public required int TrainCount { get; init; }
    public required int TestCount { get; init; }
    public required List<int> Sizes { get; init; }

    /// <summary>
    /// The number format of the parameters and gradients (<see cref="TrainingPrecisions.CliName"/>:
    /// float32, float16, bfloat16). Checkpoints of earlier versions have none: float32.
    /// </summary>
    public string Precision { get; init; } = TrainingPrecision.Float32.CliName();

    /// <summary>The plan's <see cref="Precision"/> as the enum.</summary>
    /// <exception cref="InvalidDataException">The name is not a precision (a damaged checkpoint).</exception>
    [JsonIgnore]
    public TrainingPrecision PrecisionKind => TrainingPrecisions.Parse(Precision);

    /// <summary>
    /// How the native optimizers store m, s and s_max (<see cref="StateEncodings.CliName"/>: float32,
    /// 8bit). Checkpoints of earlier versions have none: float32.
    /// </summary>
    public string StateEncoding { get; init; } = NativeAdaBelief.StateEncoding.Float32.CliName();

    /// <summary>The plan's <see cref="StateEncoding"/> as the enum.</summary>
    /// <exception cref="InvalidDataException">The name is not an encoding (a damaged checkpoint).</exception>
    [JsonIgnore]
    public StateEncoding StateEncodingKind => StateEncodings.Parse(StateEncoding);

    /// <summary>Lists every field that differs from <paramref name="other"/> ("epochs: 3 vs 5", ...).</summary>
    public List<string> Differences(TrainingPlan other)
    {
        var list = new List<string>();
        void Compare<T>(string name, T mine, T theirs)
        {
            if (!EqualityComparer<T>.Default.Equals(mine, theirs))
            {
                list.Add($"{name}: {mine} (checkpoint) vs {theirs} (now)");
            }
        }
        Compare("optimizers", string.Join(",", Optimizers), string.Join(",", other.Optimizers));
        Compare("learning rates", string.Join(",", LearningRates.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value:R}")),
            string.Join(",", other.LearningRates.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value:R}")));
        Compare("epochs", Epochs, other.Epochs);
        Compare("batch size", BatchSize, other.BatchSize);
        Compare("seed", Seed, other.Seed);
        Compare("training images", TrainCount, other.TrainCount);
        Compare("test images", TestCount, other.TestCount);
        Compare("layer sizes", string.Join("-", Sizes), string.Join("-", other.Sizes));
        Compare("precision", Precision, other.Precision);
        Compare("state encoding", StateEncoding, other.StateEncoding);
        return list;
    }

    /// <summary>Batches per epoch (the last one may be smaller).</summary>
    [JsonIgnore]
    public int BatchesPerEpoch => (TrainCount + BatchSize - 1) / BatchSize;
}

/// <summary>One epoch's results.</summary>
internal sealed record EpochRecord
{
    /// <summary>1-based.</summary>
    public required int Epoch { get; init; }

    /// <summary>Mean training loss over the epoch's batches.</summary>
    public required double TrainLoss { get; init; }

    public required double TestLoss { get; init; }

    /// <summary>In [0, 1].</summary>
    public required double TestAccuracy { get; init; }

    /// <summary>Wall time of the epoch's training batches (forward, backward, step; not the test pass).</summary>
    public required double Seconds { get; init; }

    /// <summary>The part of <see cref="Seconds"/> spent in the optimizer's step.</summary>
    public required double StepSeconds { get; init; }

    /// <summary>float16 runs: the loss scale at the epoch's end (absent otherwise).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? LossScale { get; init; }

    /// <summary>float16 runs: the steps skipped so far, this epoch's included (absent otherwise).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? SkippedSteps { get; init; }
}

/// <summary>One optimizer's history.</summary>
internal sealed class RunRecord
{
    public required string Optimizer { get; init; }
    public required double LearningRate { get; init; }

    /// <summary>Every batch's mean loss, in order.</summary>
    public List<double> BatchLosses { get; init; } = [];

    public List<EpochRecord> Epochs { get; init; } = [];

    /// <summary>True when every epoch has run.</summary>
    public bool Finished { get; set; }

    /// <summary>SHA-256 of the final weights (set when finished): of their 16-bit bytes in float16 and bfloat16 runs.</summary>
    public string? ParameterHash { get; set; }

    /// <summary>
    /// float16 runs: the loss scaling as of the last checkpoint or the end (absent otherwise). A
    /// resumed run continues from it, so that it scales and skips as an uninterrupted run would.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public LossScaleState? LossScaling { get; set; }

    [JsonIgnore]
    public OptimizerKind Kind => OptimizerKinds.TryParse(Optimizer, out OptimizerKind kind) ? kind : throw new InvalidDataException($"Unknown optimizer '{Optimizer}'.");
}

/// <summary>Where a run stands inside one optimizer's training.</summary>
internal sealed record TrainingPosition
{
    public required string Optimizer { get; init; }

    /// <summary>0-based epoch in progress.</summary>
    public required int Epoch { get; init; }

    /// <summary>The next batch of that epoch to run.</summary>
    public required int NextBatch { get; init; }

    /// <summary>Sum of the epoch's batch losses so far.</summary>
    public required double LossSum { get; init; }

    public required double Seconds { get; init; }
    public required double StepSeconds { get; init; }
}

/// <summary>The whole demo run: its plan, every optimizer's history, and the position of the one in progress.</summary>
internal sealed class RunState
{
    public const string FormatName = "native-adabelief-demo-checkpoint";

    /// <summary>2: the plan names a precision, and a 16-bit run's model tensors are 16-bit. Version 1 (float32 only) is still read.</summary>
    public const int FormatVersion = 2;

    /// <summary>The oldest version <see cref="RunCheckpoint.Load"/> reads.</summary>
    public const int OldestReadableVersion = 1;

    public string Format { get; init; } = FormatName;
    public int Version { get; init; } = FormatVersion;
    public required TrainingPlan Plan { get; init; }
    public List<RunRecord> Runs { get; init; } = [];

    /// <summary>The optimizer in progress and where (null between optimizers and at the end).</summary>
    public TrainingPosition? Position { get; set; }
}

/// <summary>
/// A demo checkpoint: one zip file holding <c>run.json</c> (the <see cref="RunState"/>), the model's
/// tensors as raw little-endian values of the run's precision (<c>model/fc1.weight</c>, ...: float32,
/// or float16 / bfloat16 in a 16-bit run) and the optimizer's own state (<c>optimizer.safetensors</c>
/// from <see cref="AdaBeliefOptimizer.SaveCheckpoint(Stream)"/>, which holds the float32 master
/// weights of a 16-bit run, or <c>optimizer.sgd</c>). Written atomically (a temporary file renamed
/// over the old one).
/// </summary>
internal sealed class RunCheckpoint
{
    private const string StateEntry = "run.json";
    private const string ModelPrefix = "model/";
    private const string NativeOptimizerEntry = "optimizer.safetensors";
    private const string SgdOptimizerEntry = "optimizer.sgd";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private RunCheckpoint(RunState state, Dictionary<string, byte[]> model, byte[]? optimizer)
    {
        State = state;
        Model = model;
        OptimizerState = optimizer;
    }

    public RunState State { get; }

    /// <summary>Tensor name → raw bytes (only while an optimizer is in progress).</summary>
    public IReadOnlyDictionary<string, byte[]> Model { get; }

    /// <summary>The in-progress optimizer's state (null between optimizers).</summary>
    public byte[]? OptimizerState { get; }

    /// <summary>Saves <paramref name="state"/>, and the held model tensors and the optimizer when a position is set.</summary>
    public static void Save(string path, RunState state, ParameterStore? model, ITrainingOptimizer? optimizer)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            using (var zip = new ZipArchive(file, ZipArchiveMode.Create))
            {
                using (Stream entry = zip.CreateEntry(StateEntry, CompressionLevel.Fastest).Open())
                {
                    JsonSerializer.Serialize(entry, state, Json);
                }
                if (state.Position is not null && model is not null && optimizer is not null)
                {
                    for (int i = 0; i < model.Count; i++)
                    {
                        using Stream entry = zip.CreateEntry(ModelPrefix + model.Names[i], CompressionLevel.NoCompression).Open();
                        entry.Write(model.ParameterBytes(i));
                    }
                    string name = optimizer.Kind == OptimizerKind.Sgd ? SgdOptimizerEntry : NativeOptimizerEntry;
                    using (Stream entry = zip.CreateEntry(name, CompressionLevel.NoCompression).Open())
                    {
                        optimizer.SaveState(entry);
                    }
                }
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Reads a checkpoint completely into memory (so it may be overwritten while training goes on).</summary>
    /// <exception cref="InvalidDataException">It is not a demo checkpoint, or it is damaged.</exception>
    public static RunCheckpoint Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The checkpoint '{path}' does not exist.", path);
        }
        try
        {
            using ZipArchive zip = ZipFile.OpenRead(path);
            ZipArchiveEntry stateEntry = zip.GetEntry(StateEntry)
                ?? throw new InvalidDataException($"'{path}' is not a demo checkpoint (no {StateEntry}).");
            RunState state;
            using (Stream stream = stateEntry.Open())
            {
                state = JsonSerializer.Deserialize<RunState>(stream, Json)
                    ?? throw new InvalidDataException($"'{path}': {StateEntry} is empty.");
            }
            if (state.Format != RunState.FormatName || state.Version < RunState.OldestReadableVersion || state.Version > RunState.FormatVersion)
            {
                throw new InvalidDataException(
                    $"'{path}' is a '{state.Format}' version {state.Version} file; this demo reads '{RunState.FormatName}' versions "
                    + $"{RunState.OldestReadableVersion} to {RunState.FormatVersion}.");
            }
            if (!TrainingPrecisions.TryParse(state.Plan.Precision, out _))
            {
                throw new InvalidDataException($"'{path}': the run's precision '{state.Plan.Precision}' is not float32, float16 or bfloat16.");
            }
            var model = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            byte[]? optimizer = null;
            foreach (ZipArchiveEntry entry in zip.Entries)
            {
                if (entry.FullName.StartsWith(ModelPrefix, StringComparison.Ordinal))
                {
                    model[entry.FullName[ModelPrefix.Length..]] = ReadAll(entry);
                }
                else if (entry.FullName is NativeOptimizerEntry or SgdOptimizerEntry)
                {
                    optimizer = ReadAll(entry);
                }
            }
            if (state.Position is not null && (model.Count == 0 || optimizer is null))
            {
                throw new InvalidDataException($"'{path}' is damaged: it has a position but no model or optimizer state.");
            }
            return new RunCheckpoint(state, model, optimizer);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}': run.json is not valid: {e.Message}", e);
        }
    }

    /// <summary>Copies the saved weights into the held tensors of <paramref name="model"/>, checking names and lengths first.</summary>
    public void RestoreModel(ParameterStore model)
    {
        int size = model.BytesPerElement;
        for (int i = 0; i < model.Count; i++)
        {
            string name = model.Names[i];
            if (!Model.TryGetValue(name, out byte[]? bytes))
            {
                throw new InvalidDataException($"The checkpoint has no weights for {name}.");
            }
            if (bytes.Length != model.Length(i) * size)
            {
                throw new InvalidDataException(
                    $"The checkpoint's {name} has {bytes.Length / size} {model.Precision.CliName()} values; the model has {model.Length(i)}.");
            }
        }
        for (int i = 0; i < model.Count; i++)
        {
            model.LoadParameterBytes(i, Model[model.Names[i]]);
        }
    }

    /// <summary>Restores the optimizer's state.</summary>
    public void RestoreOptimizer(ITrainingOptimizer optimizer)
    {
        using var stream = new MemoryStream(OptimizerState ?? throw new InvalidDataException("The checkpoint has no optimizer state."), writable: false);
        optimizer.LoadState(stream);
    }

    private static byte[] ReadAll(ZipArchiveEntry entry)
    {
        using Stream stream = entry.Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
