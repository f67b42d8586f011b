using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Benchmarks;

/// <summary>
/// A GPT-style decoder as real TorchSharp modules, with the tensor set of the core benchmark's
/// "transformer" workload (tests/NativeAdaBelief.Benchmarks/Workloads.cs): token and position
/// embeddings, per layer two LayerNorms, q/k/v/o projections with biases and a 4·d MLP, a final
/// LayerNorm, the output head tied to the token embedding. d 640, 16 layers, vocabulary 32,000,
/// context 1,024: 260 tensors, 99.9M parameters.
/// </summary>
internal sealed class GptModel : nn.Module<Tensor, Tensor>
{
    private readonly Embedding _tokens;
    private readonly Embedding _positions;
    private readonly ModuleList<Block> _blocks;
    private readonly LayerNorm _final;

    public GptModel(int d, int layers, int vocabulary, int context) : base("gpt")
    {
        _tokens = nn.Embedding(vocabulary, d);
        _positions = nn.Embedding(context, d);
        _blocks = nn.ModuleList([.. Enumerable.Range(0, layers).Select(i => new Block(d, heads: Math.Max(1, d / 64), $"block{i}"))]);
        _final = nn.LayerNorm(d);
        RegisterComponents();
    }

    /// <summary>Logits for token ids of shape [batch, sequence].</summary>
    public override Tensor forward(Tensor tokens)
    {
        using var positions = torch.arange(tokens.shape[1], ScalarType.Int64);
        Tensor x = _tokens.forward(tokens) + _positions.forward(positions);
        foreach (Block block in _blocks)
        {
            x = block.forward(x);
        }
        return torch.matmul(_final.forward(x), _tokens.weight!.t());
    }

    /// <summary>One pre-norm decoder layer with causal self-attention.</summary>
    private sealed class Block : nn.Module<Tensor, Tensor>
    {
        private readonly LayerNorm _norm1, _norm2;
        private readonly Linear _q, _k, _v, _o, _up, _down;
        private readonly int _heads;

        public Block(int d, int heads, string name) : base(name)
        {
            _heads = heads;
            _norm1 = nn.LayerNorm(d);
            _q = nn.Linear(d, d);
            _k = nn.Linear(d, d);
            _v = nn.Linear(d, d);
            _o = nn.Linear(d, d);
            _norm2 = nn.LayerNorm(d);
            _up = nn.Linear(d, 4 * d);
            _down = nn.Linear(4 * d, d);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            long b = x.shape[0], t = x.shape[1], d = x.shape[2];
            Tensor h = _norm1.forward(x);
            Tensor Split(Linear projection) => projection.forward(h).view(b, t, _heads, d / _heads).transpose(1, 2);
            Tensor attention = nn.functional.scaled_dot_product_attention(Split(_q), Split(_k), Split(_v), is_casual: true);
            x = x + _o.forward(attention.transpose(1, 2).contiguous().view(b, t, d));
            return x + _down.forward(nn.functional.gelu(_up.forward(_norm2.forward(x))));
        }
    }
}
