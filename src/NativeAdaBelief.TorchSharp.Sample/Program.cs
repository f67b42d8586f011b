// ./build.sh torchsharp-sample [--epochs N] [--quick] [--output DIR]
// A TorchSharp CNN on Fashion-MNIST, trained from the same initial weights and batches with
// NativeAdaBelief's AdaBelief and Adam (NativeOptim: the one-line swap) and with TorchSharp's own
// torch.optim.Adam; prints progress with the time per step, writes results.md and a loss plot.
using System.Globalization;
using NativeAdaBelief.Demo.Data;
using NativeAdaBelief.TorchSharp.Sample;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
SampleSettings settings;
try
{
    settings = SampleSettings.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(SampleSettings.Usage);
    return 2;
}
if (settings.Help)
{
    Console.WriteLine(SampleSettings.Usage);
    return 0;
}

FashionMnist data;
try
{
    data = FashionMnist.Load(Environment.GetEnvironmentVariable(FashionMnist.DirectoryVariable));
}
catch (DataNotFoundException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
if (settings.Quick)
{
    data = data.Slice(2_000, 500);
}
Console.WriteLine($"Fashion-MNIST from {data.Source}: {data.TrainCount:N0} training and {data.TestCount:N0} test images; "
    + $"{settings.Epochs} epoch(s), batch {settings.BatchSize}");

var runs = new List<TrainingRun>();
foreach (string optimizer in Training.Optimizers)
{
    runs.Add(Training.Run(optimizer, data, settings));
}
Directory.CreateDirectory(settings.Output);
string plot = LossPlot.Write(runs, settings.Output);
string results = Path.Combine(settings.Output, "results.md");
File.WriteAllText(results, TrainingRun.Table(runs));
Console.WriteLine();
Console.WriteLine(TrainingRun.Table(runs));
Console.WriteLine($"wrote {plot} and {results}");
return 0;
