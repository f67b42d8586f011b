using System.Diagnostics;
using NativeAdaBelief.Demo.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Sample;

/// <summary>Trains the sample's CNN with one optimizer, from the same seed, batches and order every time.</summary>
internal static class Training
{
    public const string NativeAdaBelief = "NativeAdaBelief AdaBelief (NativeOptim.AdaBelief)";
    public const string NativeAdam = "NativeAdaBelief Adam (NativeOptim.Adam)";
    public const string TorchAdam = "TorchSharp torch.optim.Adam";

    /// <summary>The runs, in order: AdaBelief, then the same Adam twice (ours and TorchSharp's: the curves agree, the step times do not).</summary>
    public static readonly string[] Optimizers = [NativeAdaBelief, NativeAdam, TorchAdam];

    /// <summary>Conv(1→16, 3×3) ReLU MaxPool, Conv(16→32, 3×3) ReLU MaxPool, Linear(1568→128) ReLU, Linear(128→10): 206,922 parameters.</summary>
    public static Sequential Model()
    {
        torch.manual_seed(42);
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10));
    }

    public static TrainingRun Run(string name, FashionMnist data, SampleSettings settings)
    {
        Sequential model = Model();
        // The one line that differs between the runs.
        using optim.Optimizer optimizer = name switch
        {
            NativeAdaBelief => global::NativeAdaBelief.TorchSharp.NativeOptim.AdaBelief(model.parameters(), lr: 1e-3),
            NativeAdam => global::NativeAdaBelief.TorchSharp.NativeOptim.Adam(model.parameters(), lr: 1e-3),
            _ => optim.Adam(model.parameters(), lr: 1e-3),
        };
        Console.WriteLine($"\n==> {name}: {model.parameters().Sum(p => p.numel()):N0} parameters");
        var losses = new List<double>();
        var accuracy = new List<double>();
        var steps = new List<double>();
        var iterations = new List<double>();
        var order = new Random(7);
        int batches = data.TrainCount / settings.BatchSize;
        var images = new float[settings.BatchSize * FashionMnist.Pixels];
        var labels = new long[settings.BatchSize];
        for (int epoch = 1; epoch <= settings.Epochs; epoch++)
        {
            int[] permutation = [.. Enumerable.Range(0, data.TrainCount).OrderBy(_ => order.Next())];
            model.train();
            for (int b = 0; b < batches; b++)
            {
                using var scope = torch.NewDisposeScope();
                ReadOnlySpan<int> indices = permutation.AsSpan(b * settings.BatchSize, settings.BatchSize);
                FashionMnist.Gather(data.TrainImages, indices, images);
                for (int i = 0; i < indices.Length; i++)
                {
                    labels[i] = data.TrainLabels[indices[i]];
                }
                var clock = Stopwatch.StartNew();
                optimizer.zero_grad();
                Tensor loss = nn.functional.cross_entropy(
                    model.forward(torch.tensor(images, [settings.BatchSize, 1, 28, 28])), torch.tensor(labels));
                loss.backward();
                double forwardBackward = clock.Elapsed.TotalMilliseconds;
                clock.Restart();
                optimizer.step();
                double step = clock.Elapsed.TotalMilliseconds;
                steps.Add(step);
                iterations.Add(forwardBackward + step);
                losses.Add(loss.item<float>());
                if ((b + 1) % Math.Max(1, batches / 10) == 0 || b + 1 == batches)
                {
                    Console.WriteLine($"  epoch {epoch} batch {b + 1,5}/{batches}: loss {losses.TakeLast(50).Average():F4}   "
                        + $"step {Median(steps.TakeLast(100)):F2} ms   iteration {Median(iterations.TakeLast(100)):F1} ms");
                }
            }
            accuracy.Add(TestAccuracy(model, data, settings.BatchSize));
            Console.WriteLine($"  epoch {epoch}: test accuracy {accuracy[^1]:P2}");
        }
        model.Dispose();
        return new TrainingRun(name, losses, accuracy, Median(steps), Median(iterations));
    }

    private static double TestAccuracy(Sequential model, FashionMnist data, int batchSize)
    {
        model.eval();
        using var noGrad = torch.no_grad();
        int correct = 0;
        var images = new float[batchSize * FashionMnist.Pixels];
        int[] indices = new int[batchSize];
        for (int start = 0; start + batchSize <= data.TestCount; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            for (int i = 0; i < batchSize; i++)
            {
                indices[i] = start + i;
            }
            FashionMnist.Gather(data.TestImages, indices, images);
            long[] predicted = model.forward(torch.tensor(images, [batchSize, 1, 28, 28])).argmax(1).data<long>().ToArray();
            correct += predicted.Where((p, i) => p == data.TestLabels[start + i]).Count();
        }
        return (double)correct / (data.TestCount / batchSize * batchSize);
    }

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length == 0 ? 0 : sorted[sorted.Length / 2];
    }
}
