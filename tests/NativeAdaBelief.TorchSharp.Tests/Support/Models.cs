using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests.Support;

/// <summary>The real TorchSharp models the tests train, their data, and what the tests read back.</summary>
internal static class Models
{
    /// <summary>An MLP (20-32-5, ReLU) or a small CNN (conv 1→4 3×3, ReLU, max-pool, linear 36→5), seeded.</summary>
    public static Sequential Create(string kind, int seed = 1)
    {
        torch.manual_seed(seed);
        return kind switch
        {
            "mlp" => nn.Sequential(("fc1", nn.Linear(20, 32)), ("relu", nn.ReLU()), ("fc2", nn.Linear(32, 5))),
            "cnn" => nn.Sequential(("conv", nn.Conv2d(1, 4, 3)), ("relu", nn.ReLU()), ("pool", nn.MaxPool2d(2)), ("flat", nn.Flatten()),
                ("fc", nn.Linear(36, 5))),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "mlp or cnn"),
        };
    }

    /// <summary>Batch <paramref name="step"/> of a fixed random stream: inputs for <paramref name="kind"/> and regression targets.</summary>
    public static (Tensor Inputs, Tensor Targets) Batch(string kind, int step)
    {
        var generator = new Generator((ulong)(1000 + step));
        Tensor inputs = kind == "cnn" ? torch.randn([16, 1, 8, 8], generator: generator) : torch.randn([16, 20], generator: generator);
        return (inputs, torch.randn([16, 5], generator: generator));
    }

    /// <summary>Forward, MSE loss against the targets, backward; returns the loss.</summary>
    public static Tensor LossAndBackward(Sequential model, string kind, int step, ScalarType type = ScalarType.Float32)
    {
        (Tensor inputs, Tensor targets) = Batch(kind, step);
        Tensor loss = nn.functional.mse_loss(model.forward(inputs.to(type)).to(ScalarType.Float32), targets);
        loss.backward();
        return loss;
    }

    /// <summary>A tensor's values as float32 (a copy).</summary>
    public static float[] Values(Tensor tensor)
    {
        using Tensor f = tensor.detach().cpu().to(ScalarType.Float32).contiguous();
        return f.data<float>().ToArray();
    }

    /// <summary>The largest |a − b| / max(|b|, 1e-3) over every element of every parameter.</summary>
    public static double MaxRelativeDifference(IReadOnlyList<Parameter> a, IReadOnlyList<Parameter> b)
    {
        double worst = 0;
        for (int i = 0; i < a.Count; i++)
        {
            float[] x = Values(a[i]), y = Values(b[i]);
            for (int j = 0; j < x.Length; j++)
            {
                worst = Math.Max(worst, Math.Abs(x[j] - y[j]) / Math.Max(Math.Abs(y[j]), 1e-3));
            }
        }
        return worst;
    }
}
