using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Benchmarks;

/// <summary>A model, one batch for it and its loss: what one training iteration runs.</summary>
internal sealed record Workload(string Name, nn.Module<Tensor, Tensor> Model, Func<Tensor> Loss, int Rounds)
{
    /// <summary>The 10M MLP of the issue: Linear(1000, 5000), ReLU, Linear(5000, 1000), batch 64, MSE.</summary>
    public static Workload Mlp(string mode)
    {
        (int inputs, int hidden) = mode == "full" ? (1000, 5000) : (100, 500);
        torch.manual_seed(1);
        Sequential model = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, inputs));
        Tensor x = torch.randn(64, inputs), y = torch.randn(64, inputs);
        return new Workload($"MLP {inputs}-{hidden}-{inputs}", model, () => nn.functional.mse_loss(model.forward(x), y),
            mode switch { "full" => 15, "quick" => 4, _ => 1 });
    }

    /// <summary>The GPT-style model (<see cref="GptModel"/>), 2 sequences of 64 tokens, next-token cross-entropy.</summary>
    public static Workload Gpt(string mode)
    {
        (int d, int layers, int vocabulary) = mode == "full" ? (640, 16, 32_000) : (128, 2, 1_000);
        torch.manual_seed(1);
        var model = new GptModel(d, layers, vocabulary, context: 1_024);
        Tensor tokens = torch.randint(vocabulary, [2, 65], ScalarType.Int64);
        Tensor inputs = tokens[.., ..64], targets = tokens[.., 1..].reshape(-1);
        return new Workload($"GPT-style d {d}, {layers} layers, vocabulary {vocabulary:N0}", model,
            () => nn.functional.cross_entropy(model.forward(inputs).reshape(-1, vocabulary), targets),
            mode switch { "full" => 5, "quick" => 3, _ => 1 });
    }

    /// <summary>Every parameter of the model.</summary>
    public List<Parameter> Parameters => [.. Model.parameters()];
}
