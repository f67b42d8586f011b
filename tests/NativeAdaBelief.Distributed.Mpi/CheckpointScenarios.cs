using System.Globalization;

namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>
/// Save on N ranks, resume on M (and on one process without MPI), bit-identical to one process
/// that never stopped: K₁ steps of the N ranks' gradients summed in rank order times 1/N, then
/// K₂ steps of the M ranks' times 1/M, with clipping, a skipped step, and group 0's learning rate
/// lowered from step 4 on (restored from the checkpoint, not from the constructor's options).
/// </summary>
internal static class CheckpointScenarios
{
    private const ulong Seed = 77;
    private const int NaNStep = 3;
    private const int RateChange = 4;
    private const double LowerRate = 5e-4;
    private static readonly StepOptions Options = new() { SkipNonFinite = true, MaxGradientNorm = 0.05 };

    /// <summary><c>checkpoint-save --dir D --steps K₁</c>: trains, saves both kinds, writes the parameters and a corrupted copy of the per-rank set.</summary>
    internal static void Save(Communicator communicator, Args args)
    {
        string folder = args.Required("dir");
        int steps = args.Int("steps", 6);
        Precision precision = args.Enum("precision", Precision.BFloat16);
        using var space = new ParameterSpace(TestModel.Specs(precision));
        TestModel.Initialize(space, Seed);
        using var optimizer = new DistributedAdaBeliefOptimizer(communicator, space, TestModel.GroupOptions(),
            new OptimizerConfig { ThreadCount = 1 });
        optimizer.StepOptions = Options;
        for (int step = 1; step <= steps; step++)
        {
            if (step == RateChange)
            {
                optimizer.ParamGroups[0].LearningRate = LowerRate;
            }
            TestModel.WriteGradients(space, Seed, communicator.Rank, communicator.Size, step, NaNStep);
            optimizer.Step();
        }
        optimizer.SaveCheckpoint(Path.Combine(folder, "per-rank"), DistributedCheckpointKind.PerRank);
        optimizer.SaveCheckpoint(Path.Combine(folder, "per-rank"), DistributedCheckpointKind.PerRank); // a second set replaces the first
        optimizer.SaveCheckpoint(Path.Combine(folder, "gathered.safetensors"), DistributedCheckpointKind.Gathered);
        int files = Directory.GetFiles(Path.Combine(folder, "per-rank"), "shard-*").Length;
        ScenarioFailure.Require(files == communicator.Size, $"the per-rank folder holds {files} shard files after two saves, not {communicator.Size}");

        using (ReferenceRun reference = Reference(precision, [(communicator.Size, steps)]))
        {
            string difference = reference.Difference(space);
            ScenarioFailure.Require(difference.Length == 0, $"before saving, the parameters differ from the reference: {difference}");
        }
        if (communicator.Rank == 0)
        {
            using (FileStream parameters = File.Create(Path.Combine(folder, "parameters.bin")))
            {
                foreach (SpaceTensor tensor in space.Tensors)
                {
                    parameters.Write(tensor.ParameterBytes);
                }
            }
            CorruptCopy(Path.Combine(folder, "per-rank"), Path.Combine(folder, "corrupt"));
        }
        communicator.Barrier();
        Console.WriteLine($"rank {communicator.Rank}: checkpoint-save OK: {steps} steps on {communicator.Size} ranks saved per rank and gathered");
    }

    /// <summary>
    /// <c>checkpoint-resume --dir D --from per-rank|gathered --saved-ranks N --steps-before K₁ --steps K₂</c>:
    /// refuses a corrupted set on every rank without changing anything, then resumes and steps.
    /// </summary>
    internal static void Resume(Communicator communicator, Args args)
    {
        string folder = args.Required("dir");
        string from = args.Required("from");
        int savedRanks = args.Int("saved-ranks", 3), before = args.Int("steps-before", 6), steps = args.Int("steps", 4);
        Precision precision = args.Enum("precision", Precision.BFloat16);
        using var space = new ParameterSpace(TestModel.Specs(precision));
        byte[] parameters = File.ReadAllBytes(Path.Combine(folder, "parameters.bin"));
        int at = 0;
        foreach (SpaceTensor tensor in space.Tensors)
        {
            parameters.AsSpan(at, tensor.ParameterBytes.Length).CopyTo(tensor.ParameterBytes);
            at += tensor.ParameterBytes.Length;
        }
        using var optimizer = new DistributedAdaBeliefOptimizer(communicator, space, TestModel.GroupOptions(),
            new OptimizerConfig { ThreadCount = 1 });
        optimizer.StepOptions = Options;
        optimizer.LoadCheckpoint(Path.Combine(folder, from == "gathered" ? "gathered.safetensors" : "per-rank"));
        ScenarioFailure.Require(optimizer.ParamGroups[0].LearningRate == LowerRate,
            $"group 0's learning rate is {optimizer.ParamGroups[0].LearningRate} after loading, not the checkpoint's {LowerRate}");

        // A corrupted set: refused on every rank with the same message, and nothing changed.
        string state = StateText(optimizer);
        string refusal = "";
        try
        {
            optimizer.LoadCheckpoint(Path.Combine(folder, "corrupt"));
        }
        catch (InvalidDataException e)
        {
            refusal = e.Message;
        }
        ScenarioFailure.Require(refusal.Contains("corrupt", StringComparison.OrdinalIgnoreCase), $"the corrupted set was not refused as such: '{refusal}'");
        ScenarioFailure.Require(ScenarioFailure.SameOnEveryRank(communicator, refusal), "the ranks refused the corrupted set with different messages");
        ScenarioFailure.Require(StateText(optimizer) == state, "refusing the corrupted set changed this rank's state");

        for (int step = before + 1; step <= before + steps; step++)
        {
            TestModel.WriteGradients(space, Seed, communicator.Rank, communicator.Size, step, NaNStep);
            optimizer.Step();
        }
        using ReferenceRun reference = Reference(precision, [(savedRanks, before), (communicator.Size, steps)]);
        string difference = reference.Difference(space);
        ScenarioFailure.Require(difference.Length == 0, $"after resuming, the parameters differ from the uninterrupted reference: {difference}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"rank {communicator.Rank}: checkpoint-resume OK: saved on {savedRanks} ranks ({from}), resumed on {communicator.Size}, {steps} more steps bit-identical to an uninterrupted single process; a corrupted set was refused by every rank: {FirstLine(refusal)}"));
    }

    /// <summary>
    /// <c>checkpoint-plain --dir D --saved-ranks N --steps-before K₁</c> (one process, no MPI): an
    /// ordinary <see cref="AdaBeliefOptimizer"/> loads the gathered file and holds exactly the
    /// reference's state.
    /// </summary>
    internal static void Plain(Args args)
    {
        string folder = args.Required("dir");
        int savedRanks = args.Int("saved-ranks", 3), before = args.Int("steps-before", 6);
        Precision precision = args.Enum("precision", Precision.BFloat16);
        using ReferenceRun reference = Reference(precision, [(savedRanks, before)]);
        using var loaded = new ReferenceRun(precision, Seed);
        loaded.Optimizer.LoadCheckpoint(Path.Combine(folder, "gathered.safetensors"));
        ScenarioFailure.Require(StateText(loaded.Optimizer) == StateText(reference.Optimizer),
            "the gathered checkpoint does not hold the uninterrupted reference's state");
        ScenarioFailure.Require(loaded.Optimizer.ParamGroups[0].LearningRate == LowerRate, "the gathered checkpoint lost group 0's learning rate");
        Console.WriteLine($"checkpoint-plain OK: an AdaBeliefOptimizer loaded the checkpoint gathered from {savedRanks} ranks: every state array, step count and option as the reference's");
    }

    /// <summary>One process stepping the phases' averaged gradients: (ranks, steps) after one another.</summary>
    private static ReferenceRun Reference(Precision precision, (int Ranks, int Steps)[] phases)
    {
        var reference = new ReferenceRun(precision, Seed);
        int step = 0;
        foreach ((int ranks, int count) in phases)
        {
            for (int k = 0; k < count; k++)
            {
                step++;
                if (step == RateChange)
                {
                    reference.Optimizer.ParamGroups[0].LearningRate = LowerRate;
                }
                int current = step;
                reference.Step((t, i) => TestModel.Sum(Seed, ranks, current, NaNStep, t, i), Options with { InverseGradientScale = 1.0 / ranks });
            }
        }
        return reference;
    }

    /// <summary>Every state array, step count and group option of an optimizer, as text to compare.</summary>
    private static string StateText(AdaBeliefOptimizer optimizer)
    {
        var text = new System.Text.StringBuilder();
        foreach (ParameterGroup group in optimizer.ParamGroups)
        {
            text.AppendLine(group.Options.ToString());
        }
        foreach (OptimizerTensor tensor in optimizer.Tensors)
        {
            text.Append(CultureInfo.InvariantCulture, $"{tensor.Id} step {tensor.Step}:");
            foreach (StateKind kind in Enum.GetValues<StateKind>())
            {
                bool exists = kind switch
                {
                    StateKind.MaxSecondMoment => tensor.HasMaxSecondMoment,
                    StateKind.MasterParameters => tensor.HasMasterParameters,
                    _ => true,
                };
                if (exists)
                {
                    text.Append(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(
                        System.Runtime.InteropServices.MemoryMarshal.AsBytes(tensor.ReadState(kind).AsSpan())))).Append(' ');
                }
            }
            text.AppendLine();
        }
        return text.ToString();
    }

    private static string StateText(DistributedAdaBeliefOptimizer optimizer) => StateText(optimizer.Local);

    /// <summary>A copy of a per-rank set whose last shard file has one byte of its data flipped.</summary>
    private static void CorruptCopy(string source, string target)
    {
        Directory.CreateDirectory(target);
        string[] files = Directory.GetFiles(source);
        foreach (string file in files)
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        }
        string last = Directory.GetFiles(target, "shard-*").OrderBy(name => name, StringComparer.Ordinal).Last();
        byte[] bytes = File.ReadAllBytes(last);
        bytes[^5] ^= 0x10;
        File.WriteAllBytes(last, bytes);
    }

    private static string FirstLine(string text) => text.Split('\n')[0];
}
