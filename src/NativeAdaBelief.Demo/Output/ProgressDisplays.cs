using System.Globalization;
using NativeAdaBelief.Demo.Training;
using Spectre.Console;

namespace NativeAdaBelief.Demo.Output;

/// <summary>Formats the lines both displays print.</summary>
internal static class ProgressText
{
    public static string Epoch(OptimizerKind kind, EpochRecord r, int epochs) => string.Create(CultureInfo.InvariantCulture,
        $"{kind.DisplayName(),-13} epoch {r.Epoch}/{epochs}: train loss {r.TrainLoss:0.0000}, test loss {r.TestLoss:0.0000}, "
        + $"test accuracy {r.TestAccuracy * 100:0.00}%, {r.Seconds:0.0} s ({Share(r.StepSeconds, r.Seconds)} in the optimizer step)")
        + (r.LossScale is { } scale
            ? string.Create(CultureInfo.InvariantCulture, $", loss scale {scale:R}, {r.SkippedSteps} step(s) skipped so far")
            : "");

    public static string Share(double part, double whole) =>
        whole > 0 ? (part / whole).ToString("0.0%", CultureInfo.InvariantCulture) : "-";
}

/// <summary>
/// The live display for a terminal: one Spectre.Console progress bar per optimizer with epoch,
/// batch, loss and throughput; epoch summaries print above it.
/// </summary>
internal sealed class LiveProgress(ProgressContext context) : ITrainingProgress
{
    private readonly Dictionary<OptimizerKind, ProgressTask> _tasks = [];
    private int _epochs;
    private int _batches;
    private long _lastUpdate;

    public void OptimizerStarted(OptimizerKind kind, double learningRate, int epochs, int batchesPerEpoch, int epoch, int batch)
    {
        _epochs = epochs;
        _batches = batchesPerEpoch;
        ProgressTask task = context.AddTask(Markup.Escape($"{kind.DisplayName()} (lr {OptimizerKinds.FormatRate(learningRate)})"),
            maxValue: (double)epochs * batchesPerEpoch);
        task.Value = (double)epoch * batchesPerEpoch + batch;
        _tasks[kind] = task;
    }

    public void BatchCompleted(OptimizerKind kind, int epoch, int batch, double loss, double samplesPerSecond)
    {
        ProgressTask task = _tasks[kind];
        task.Value = (double)epoch * _batches + batch + 1;
        // The description is re-rendered ~10 times a second; formatting it every batch is waste.
        long now = Environment.TickCount64;
        if (now - _lastUpdate < 100 && batch + 1 < _batches)
        {
            return;
        }
        _lastUpdate = now;
        task.Description = string.Create(CultureInfo.InvariantCulture,
            $"[bold]{Markup.Escape(kind.DisplayName())}[/] epoch {epoch + 1}/{_epochs} batch {batch + 1}/{_batches} "
            + $"loss [yellow]{loss:0.0000}[/] {samplesPerSecond:N0} img/s");
    }

    public void EpochCompleted(OptimizerKind kind, EpochRecord record) =>
        AnsiConsole.MarkupLine(Markup.Escape(ProgressText.Epoch(kind, record, _epochs)));

    public void OptimizerFinished(OptimizerKind kind, RunRecord run)
    {
        ProgressTask task = _tasks[kind];
        task.Description = Markup.Escape(
            $"{kind.DisplayName()}: {run.Epochs[^1].TestAccuracy * 100:0.00}% test accuracy after {run.Epochs.Count} epochs");
        task.StopTask();
    }

    public void Note(string message) => AnsiConsole.MarkupLine("[grey]" + Markup.Escape(message) + "[/]");
}

/// <summary>
/// Plain lines for logs and CI (stdout is not a terminal): a line every tenth of an epoch and one
/// per epoch, no cursor movement.
/// </summary>
internal sealed class PlainProgress(TextWriter output) : ITrainingProgress
{
    private int _epochs;
    private int _batches;

    public void OptimizerStarted(OptimizerKind kind, double learningRate, int epochs, int batchesPerEpoch, int epoch, int batch)
    {
        _epochs = epochs;
        _batches = batchesPerEpoch;
        string from = epoch > 0 || batch > 0 ? string.Create(CultureInfo.InvariantCulture, $", from epoch {epoch + 1} batch {batch}") : "";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{kind.DisplayName()} (lr {OptimizerKinds.FormatRate(learningRate)}): {epochs} epoch(s) of {batchesPerEpoch} batches{from}"));
        output.Flush();
    }

    public void BatchCompleted(OptimizerKind kind, int epoch, int batch, double loss, double samplesPerSecond)
    {
        int every = Math.Max(1, _batches / 10);
        if ((batch + 1) % every != 0 || batch + 1 == _batches)
        {
            return;
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {kind.DisplayName()} epoch {epoch + 1}/{_epochs} batch {batch + 1}/{_batches}: loss {loss:0.0000}, {samplesPerSecond:N0} img/s"));
        output.Flush();
    }

    public void EpochCompleted(OptimizerKind kind, EpochRecord record)
    {
        output.WriteLine(ProgressText.Epoch(kind, record, _epochs));
        output.Flush();
    }

    public void OptimizerFinished(OptimizerKind kind, RunRecord run)
    {
    }

    public void Note(string message)
    {
        output.WriteLine(message);
        output.Flush();
    }
}
