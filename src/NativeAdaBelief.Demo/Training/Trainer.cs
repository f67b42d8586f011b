using System.Diagnostics;
using NativeAdaBelief.Demo.Data;
using NativeAdaBelief.Demo.Model;
using NativeAdaBelief.Distributed;

namespace NativeAdaBelief.Demo.Training;

/// <summary>Receives the trainer's progress (a live display, plain log lines, or nothing).</summary>
internal interface ITrainingProgress
{
    /// <summary>An optimizer's training starts (or resumes at <paramref name="epoch"/>, <paramref name="batch"/>).</summary>
    void OptimizerStarted(OptimizerKind kind, double learningRate, int epochs, int batchesPerEpoch, int epoch, int batch);

    /// <summary>A batch finished: its loss and the epoch's throughput so far.</summary>
    void BatchCompleted(OptimizerKind kind, int epoch, int batch, double loss, double samplesPerSecond);

    /// <summary>An epoch finished, test pass included.</summary>
    void EpochCompleted(OptimizerKind kind, EpochRecord record);

    /// <summary>An optimizer has run all its epochs.</summary>
    void OptimizerFinished(OptimizerKind kind, RunRecord run);

    /// <summary>Something worth a line (a checkpoint written, a resume).</summary>
    void Note(string message);
}

/// <summary>Ignores everything (tests).</summary>
internal sealed class NoProgress : ITrainingProgress
{
    public static readonly NoProgress Instance = new();

    public void OptimizerStarted(OptimizerKind kind, double learningRate, int epochs, int batchesPerEpoch, int epoch, int batch)
    {
    }

    public void BatchCompleted(OptimizerKind kind, int epoch, int batch, double loss, double samplesPerSecond)
    {
    }

    public void EpochCompleted(OptimizerKind kind, EpochRecord record)
    {
    }

    public void OptimizerFinished(OptimizerKind kind, RunRecord run)
    {
    }

    public void Note(string message)
    {
    }
}

/// <summary>How the trainer runs (what does not change the result).</summary>
internal sealed record TrainerOptions
{
    /// <summary>Threads for the model's matrix products and the optimizer's step (0 = all cores).</summary>
    public int Threads { get; init; }

    public DeviceType Device { get; init; } = DeviceType.Cpu;

    /// <summary>Where to save the run after every epoch and when stopped (null: no checkpoints).</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>A checkpoint to continue from (null: start fresh).</summary>
    public RunCheckpoint? Resume { get; init; }

    /// <summary>Data-parallel training (--data-parallel): the ranks, each computing its part of every batch; null: one process.</summary>
    public Communicator? Communicator { get; init; }
}

/// <summary>The outcome of <see cref="Trainer.Run"/>.</summary>
internal sealed record TrainingResult
{
    public required RunState State { get; init; }

    /// <summary>True when it was stopped (cancelled) before the plan's end.</summary>
    public required bool Interrupted { get; init; }

    /// <summary>Final weights of the optimizers that finished in this call, by name.</summary>
    public required Dictionary<string, float[]> FinalParameters { get; init; }
}

/// <summary>
/// Trains the plan's model once per optimizer, from the same seed: the same initial weights and
/// the same data order (a permutation per epoch drawn from the seed), so the optimizers are the
/// only difference. Stops between batches when cancelled, saving a checkpoint that
/// <see cref="Run"/> continues bit-identically.
/// </summary>
internal static class Trainer
{
    /// <summary>Runs (or continues) the plan on <paramref name="data"/>.</summary>
    public static TrainingResult Run(TrainingPlan plan, FashionMnist data, TrainerOptions options, ITrainingProgress progress,
        CancellationToken cancellation)
    {
        if (data.TrainCount != plan.TrainCount || data.TestCount != plan.TestCount)
        {
            throw new ArgumentException(
                $"The plan is for {plan.TrainCount} training and {plan.TestCount} test images; the data has {data.TrainCount} and {data.TestCount}.");
        }
        int threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
        RunState state;
        RunCheckpoint? resume = options.Resume;
        if (resume is not null)
        {
            List<string> differences = resume.State.Plan.Differences(plan);
            if (differences.Count > 0)
            {
                throw new ArgumentException("The checkpoint was made for another run: " + string.Join("; ", differences));
            }
            state = resume.State;
        }
        else
        {
            state = new RunState { Plan = plan };
        }

        var finals = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (string name in plan.Optimizers)
        {
            if (!OptimizerKinds.TryParse(name, out OptimizerKind kind))
            {
                throw new ArgumentException($"Unknown optimizer '{name}'.");
            }
            RunRecord? run = state.Runs.Find(r => r.Optimizer == name);
            if (run is { Finished: true })
            {
                continue;
            }
            if (run is null)
            {
                run = new RunRecord { Optimizer = name, LearningRate = plan.LearningRates[name] };
                state.Runs.Add(run);
            }

            using var model = new Mlp(plan.Sizes, plan.BatchSize, threads);
            model.Initialize(plan.Seed);
            // float32: the model's own buffers. 16-bit: the weights rounded into 16-bit buffers,
            // which the optimizer steps (with float32 master weights) and the model widens.
            using ParameterStore store = ParameterStore.For(model, plan.PrecisionKind);
            using ITrainingOptimizer optimizer = options.Communicator is { } communicator
                ? new DataParallelOptimizer(kind, run.LearningRate, store, threads, communicator)
                : OptimizerKinds.Create(kind, run.LearningRate, store, threads, options.Device, plan.StateEncodingKind);

            TrainingPosition position;
            if (state.Position is { } saved && saved.Optimizer == name && resume is not null)
            {
                resume.RestoreModel(store);
                resume.RestoreOptimizer(optimizer);
                if (run.LossScaling is { } scaling)
                {
                    optimizer.RestoreLossScaling(scaling);
                }
                else if (optimizer.LossScaling is not null)
                {
                    throw new InvalidDataException($"The checkpoint has no loss-scaling state for {name}'s {plan.Precision} run.");
                }
                position = saved;
                progress.Note($"{kind.DisplayName()}: resumed at epoch {saved.Epoch + 1}, batch {saved.NextBatch} of {plan.BatchesPerEpoch}.");
            }
            else
            {
                position = new TrainingPosition { Optimizer = name, Epoch = 0, NextBatch = 0, LossSum = 0, Seconds = 0, StepSeconds = 0 };
            }
            resume = null; // only the first optimizer in progress continues from it

            bool finished = TrainOne(plan, data, model, store, optimizer, run, state, position, options, progress, cancellation);
            if (!finished)
            {
                return new TrainingResult { State = state, Interrupted = true, FinalParameters = finals };
            }
            finals[name] = store.CopyParameters();
        }
        return new TrainingResult { State = state, Interrupted = false, FinalParameters = finals };
    }

    private static bool TrainOne(TrainingPlan plan, FashionMnist data, Mlp model, ParameterStore store, ITrainingOptimizer optimizer,
        RunRecord run, RunState state, TrainingPosition position, TrainerOptions options, ITrainingProgress progress,
        CancellationToken cancellation)
    {
        OptimizerKind kind = optimizer.Kind;
        int batches = plan.BatchesPerEpoch;
        progress.OptimizerStarted(kind, run.LearningRate, plan.Epochs, batches, position.Epoch, position.NextBatch);
        var order = new int[plan.TrainCount];
        var labels = new byte[plan.BatchSize];

        for (int epoch = position.Epoch; epoch < plan.Epochs; epoch++)
        {
            var random = new DeterministicRandom(plan.Seed, 1 + (ulong)epoch);
            random.Permutation(order);
            int firstBatch = epoch == position.Epoch ? position.NextBatch : 0;
            double lossSum = epoch == position.Epoch ? position.LossSum : 0;
            double carriedSeconds = epoch == position.Epoch ? position.Seconds : 0;
            double stepSeconds = epoch == position.Epoch ? position.StepSeconds : 0;
            var clock = Stopwatch.StartNew();
            long samples = 0;

            for (int batch = firstBatch; batch < batches; batch++)
            {
                if (cancellation.IsCancellationRequested)
                {
                    state.Position = new TrainingPosition
                    {
                        Optimizer = run.Optimizer, Epoch = epoch, NextBatch = batch, LossSum = lossSum,
                        Seconds = carriedSeconds + clock.Elapsed.TotalSeconds, StepSeconds = stepSeconds,
                    };
                    SaveCheckpoint(options, state, run, store, optimizer, progress, stopped: true);
                    return false;
                }
                int start = batch * plan.BatchSize;
                int count = Math.Min(plan.BatchSize, plan.TrainCount - start);
                // Data-parallel: this rank's part of the batch, and the factor that makes the ranks'
                // averaged gradients the gradient of the whole batch's mean loss.
                (int offset, int part, double share) = BatchPart(count, options.Communicator);
                ReadOnlySpan<int> indices = order.AsSpan(start + offset, part);
                FashionMnist.Gather(data.TrainImages, indices, model.Input(part));
                for (int i = 0; i < part; i++)
                {
                    labels[i] = data.TrainLabels[indices[i]];
                }

                // What a 16-bit engine's kernels do around float32 arithmetic (nothing in float32):
                // widen the weights, compute (the loss gradient times the loss scale in float16),
                // round the gradients into the 16-bit buffers the optimizer reads.
                store.WidenParametersIntoModel();
                double loss = model.ComputeGradients(part, labels, (float)(optimizer.LossScale * share));
                store.NarrowGradientsFromModel();
                long before = Stopwatch.GetTimestamp();
                optimizer.Step();
                stepSeconds += Stopwatch.GetElapsedTime(before).TotalSeconds;
                loss = BatchLoss(loss, part, count, options.Communicator);

                lossSum += loss;
                run.BatchLosses.Add(loss);
                samples += count;
                progress.BatchCompleted(kind, epoch, batch, loss, samples / Math.Max(1e-9, clock.Elapsed.TotalSeconds));
            }

            double seconds = carriedSeconds + clock.Elapsed.TotalSeconds;
            store.WidenParametersIntoModel(); // the weights after the epoch's last step
            (double testLoss, double accuracy) = Evaluate(model, data, plan.BatchSize);
            run.LossScaling = optimizer.LossScaling;
            var record = new EpochRecord
            {
                Epoch = epoch + 1,
                TrainLoss = lossSum / batches,
                TestLoss = testLoss,
                TestAccuracy = accuracy,
                Seconds = seconds,
                StepSeconds = stepSeconds,
                LossScale = run.LossScaling?.Scale,
                SkippedSteps = run.LossScaling?.SkippedSteps,
            };
            run.Epochs.Add(record);
            progress.EpochCompleted(kind, record);

            if (epoch + 1 < plan.Epochs)
            {
                state.Position = new TrainingPosition
                {
                    Optimizer = run.Optimizer, Epoch = epoch + 1, NextBatch = 0, LossSum = 0, Seconds = 0, StepSeconds = 0,
                };
            }
            else
            {
                run.Finished = true;
                run.ParameterHash = store.ParameterHash();
                state.Position = null;
            }
            SaveCheckpoint(options, state, run, store, optimizer, progress, stopped: false);
        }
        progress.OptimizerFinished(kind, run);
        return true;
    }

    /// <summary>
    /// This rank's part of a batch of <paramref name="count"/> (all of it in one process): where it
    /// starts, its length, and what its mean loss's gradient is multiplied by so that the ranks'
    /// average is the gradient of the batch's mean loss (ranks × part / count; 1 for equal parts).
    /// </summary>
    private static (int Offset, int Part, double Share) BatchPart(int count, Communicator? communicator)
    {
        if (communicator is null)
        {
            return (0, count, 1.0);
        }
        int ranks = communicator.Size, rank = communicator.Rank;
        int offset = (int)((long)count * rank / ranks), end = (int)((long)count * (rank + 1) / ranks);
        return (offset, end - offset, (double)ranks * (end - offset) / count);
    }

    /// <summary>The whole batch's mean loss from this rank's (one small all-reduce when data-parallel).</summary>
    private static double BatchLoss(double partLoss, int part, int count, Communicator? communicator)
    {
        if (communicator is null)
        {
            return partLoss;
        }
        Span<double> sum = [partLoss * part];
        communicator.AllReduceSum(sum);
        return sum[0] / count;
    }

    /// <summary>Mean loss and accuracy over the whole test set.</summary>
    public static (double Loss, double Accuracy) Evaluate(Mlp model, FashionMnist data, int batchSize)
    {
        double lossSum = 0;
        long correct = 0;
        var indices = new int[batchSize];
        for (int start = 0; start < data.TestCount; start += batchSize)
        {
            int count = Math.Min(batchSize, data.TestCount - start);
            for (int i = 0; i < count; i++)
            {
                indices[i] = start + i;
            }
            FashionMnist.Gather(data.TestImages, indices.AsSpan(0, count), model.Input(count));
            (double loss, int right) = model.Evaluate(count, data.TestLabels.AsSpan(start, count));
            lossSum += loss;
            correct += right;
        }
        return (lossSum / data.TestCount, (double)correct / data.TestCount);
    }

    private static void SaveCheckpoint(TrainerOptions options, RunState state, RunRecord run, ParameterStore store,
        ITrainingOptimizer optimizer, ITrainingProgress progress, bool stopped)
    {
        run.LossScaling = optimizer.LossScaling; // the scaler's state belongs with the optimizer's
        if (options.CheckpointPath is null)
        {
            return;
        }
        RunCheckpoint.Save(options.CheckpointPath, state, store, optimizer);
        if (stopped)
        {
            TrainingPosition p = state.Position!;
            progress.Note($"Stopped at {p.Optimizer} epoch {p.Epoch + 1}, batch {p.NextBatch}; checkpoint saved to {Path.GetFullPath(options.CheckpointPath)}.");
        }
    }
}
