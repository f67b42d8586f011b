using NativeAdaBelief.TorchSharp.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests;

/// <summary>
/// Blockwise 8-bit optimizer state through the TorchSharp optimizer: it trains, it is the core
/// library's own 8-bit optimizer bit for bit on the same gradients, and it survives state_dict
/// round trips with the same codes and scales.
/// </summary>
public sealed class EightBitStateTests
{
    /// <summary>Linear(64, 128), ReLU, Linear(128, 64): two 8192-element weights (8-bit) and two small biases (float32).</summary>
    private static Sequential Model(int seed = 1)
    {
        torch.manual_seed(seed);
        return nn.Sequential(("fc1", nn.Linear(64, 128)), ("relu", nn.ReLU()), ("fc2", nn.Linear(128, 64)));
    }

    /// <summary>Forward and backward of batch <paramref name="step"/> of a fixed stream (a regression to a fixed linear map).</summary>
    private static Tensor LossAndBackward(Sequential model, int step)
    {
        var generator = new Generator((ulong)(7000 + step));
        Tensor inputs = torch.randn([32, 64], generator: generator);
        Tensor targets = inputs.flip(1) * 0.5;
        Tensor loss = nn.functional.mse_loss(model.forward(inputs), targets);
        loss.backward();
        return loss;
    }

    private static NativeAdaBeliefOptimizer Create(string kind, IEnumerable<Parameter> parameters) => kind switch
    {
        "adabelief" => NativeOptim.AdaBelief(parameters, lr: 1e-2, weight_decay: 1e-2, state_encoding: StateEncoding.Blockwise8Bit),
        "adam" => NativeOptim.Adam(parameters, lr: 1e-2, weight_decay: 1e-3, amsgrad: true, state_encoding: StateEncoding.Blockwise8Bit),
        "adamw" => NativeOptim.AdamW(parameters, lr: 1e-2, state_encoding: StateEncoding.Blockwise8Bit),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "adabelief, adam or adamw"),
    };

    [TorchTheory]
    [InlineData("adabelief")]
    [InlineData("adam")]
    [InlineData("adamw")]
    public void The_large_tensors_keep_8_bit_state_and_the_model_trains(string kind)
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Model();
        using NativeAdaBeliefOptimizer optimizer = Create(kind, model.parameters());
        Assert.Equal(StateEncoding.Blockwise8Bit, Options(optimizer, 0).AdaBelief.StateEncoding);
        Assert.Equal([StateEncoding.Blockwise8Bit, StateEncoding.Float32, StateEncoding.Blockwise8Bit, StateEncoding.Float32],
            optimizer.Core.Tensors.Select(t => t.StateEncoding));
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            optimizer.zero_grad();
            double loss = LossAndBackward(model, step).item<float>();
            optimizer.step();
            (first, last) = step == 0 ? (loss, loss) : (first, loss);
        }
        Assert.True(last < 0.5 * first, $"{kind} with 8-bit state: the loss went from {first} to {last}");
        var entry = Assert.IsType<AdaBeliefParameterState>(optimizer.state_dict().State[0]);
        Assert.Equal(StateEncoding.Blockwise8Bit, entry.StateEncoding);
        Assert.NotEqual(0f, entry.Read(StateKind.SecondMoment).abs().max().item<float>());
    }

    [TorchTheory]
    [InlineData("adabelief")]
    [InlineData("adam")]
    [InlineData("adamw")]
    public void Steps_are_the_core_8_bit_optimizer_s_bit_for_bit_on_the_same_gradients(string kind)
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Model();
        List<Parameter> parameters = [.. model.parameters()];
        using NativeAdaBeliefOptimizer ours = Create(kind, parameters);

        // The core API with its own copies of the parameters and the same options, fed the same gradients.
        using var core = new AdaBeliefOptimizer(Options(ours, 0).AdaBelief);
        var values = parameters.Select(p => new NativeBuffer<float>(p.numel())).ToList();
        var gradients = parameters.Select(p => new NativeBuffer<float>(p.numel())).ToList();
        for (int i = 0; i < parameters.Count; i++)
        {
            Models.Values(parameters[i]).CopyTo(values[i].Span);
            core.ParamGroups[0].AddTensor(values[i], gradients[i]);
        }
        for (int step = 0; step < 25; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            ours.zero_grad();
            LossAndBackward(model, step);
            for (int i = 0; i < parameters.Count; i++)
            {
                Models.Values(parameters[i].grad!).CopyTo(gradients[i].Span);
            }
            core.Step();
            ours.step();
        }
        for (int i = 0; i < parameters.Count; i++)
        {
            Assert.Equal(values[i].Span.ToArray(), Models.Values(parameters[i]));
            OptimizerTensor a = core.Tensors[i], b = ours.Core.Tensors[i];
            Assert.Equal(a.StateEncoding, b.StateEncoding);
            Assert.Equal(25, b.Step);
            foreach (StateKind state in States(a))
            {
                if (a.StateEncoding == StateEncoding.Blockwise8Bit)
                {
                    (byte[] codes, float[] scales) = a.ReadStateCodes(state);
                    (byte[] ourCodes, float[] ourScales) = b.ReadStateCodes(state);
                    Assert.Equal(codes, ourCodes);
                    Assert.Equal(scales, ourScales);
                }
                Assert.Equal(a.ReadState(state), b.ReadState(state));
            }
        }
        values.Concat(gradients).ToList().ForEach(b => b.Dispose());
    }

    [TorchTheory]
    [InlineData("file")]
    [InlineData("dictionary")]
    public void A_state_dict_round_trip_keeps_the_codes_and_scales_and_training_continues_exactly(string how)
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Model();
        List<Parameter> p = [.. model.parameters()];
        // Per group: the weights in 8 bits (with AMSGrad, so s_max too), the biases in float32.
        using var optimizer = new NativeAdaBeliefOptimizer(
        [
            new AdaBeliefParamGroup([p[0], p[2]], new AdaBeliefOptions
                { LearningRate = 1e-2, AmsGrad = true, StateEncoding = StateEncoding.Blockwise8Bit }),
            new AdaBeliefParamGroup([p[1], p[3]], new AdaBeliefOptions { LearningRate = 1e-2 }),
        ]);
        for (int step = 0; step < 5; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            optimizer.zero_grad();
            LossAndBackward(model, step);
            optimizer.step();
        }
        Sequential copy = Model(seed: 9);
        copy.load_state_dict(model.state_dict());
        // Made with float32 state and other options: the load makes the first group's state 8-bit again.
        List<Parameter> q = [.. copy.parameters()];
        using var regrouped = new NativeAdaBeliefOptimizer(
        [
            new AdaBeliefParamGroup([q[0], q[2]], new AdaBeliefOptions { LearningRate = 0.5 }),
            new AdaBeliefParamGroup([q[1], q[3]], new AdaBeliefOptions { LearningRate = 0.5 }),
        ]);
        if (how == "file")
        {
            string path = Path.Combine(Path.GetTempPath(), $"nab-ts-8bit-{Guid.NewGuid():N}.bin");
            try
            {
                optimizer.save_state_dict(path);
                regrouped.load_state_dict(path);
            }
            finally
            {
                File.Delete(path);
            }
        }
        else
        {
            regrouped.load_state_dict(optimizer.state_dict());
        }
        Assert.Equal(StateEncoding.Blockwise8Bit, Options(regrouped, 0).AdaBelief.StateEncoding);
        Assert.Equal(StateEncoding.Float32, Options(regrouped, 1).AdaBelief.StateEncoding);
        AssertSameState(optimizer, regrouped);
        for (int step = 5; step < 10; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            foreach ((Sequential m, NativeAdaBeliefOptimizer o) in new[] { (model, optimizer), (copy, regrouped) })
            {
                o.zero_grad();
                LossAndBackward(m, step);
                o.step();
            }
        }
        Assert.Equal(model.parameters().Select(Models.Values), copy.parameters().Select(Models.Values));
        AssertSameState(optimizer, regrouped);
    }

    [TorchFact]
    public void Changing_a_group_s_encoding_converts_its_state_before_the_next_step()
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Model();
        using NativeAdaBeliefOptimizer optimizer = Create("adamw", model.parameters());
        for (int step = 0; step < 3; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            optimizer.zero_grad();
            LossAndBackward(model, step);
            optimizer.step();
        }
        float[] decoded = optimizer.Core.Tensors[0].ReadState(StateKind.SecondMoment);
        AdaBeliefGroupOptions options = Options(optimizer, 0);
        options.AdaBelief = options.AdaBelief with { StateEncoding = StateEncoding.Float32 };
        Assert.Equal(StateEncoding.Blockwise8Bit, optimizer.Core.Tensors[0].StateEncoding); // handed over with the next step
        optimizer.zero_grad();
        var entry = Assert.IsType<AdaBeliefParameterState>(optimizer.state_dict().State[0]); // state_dict() hands it over too
        Assert.Equal(StateEncoding.Float32, entry.StateEncoding);
        Assert.Equal(decoded, optimizer.Core.Tensors[0].ReadState(StateKind.SecondMoment));
        Assert.Equal(3, entry.Step);
    }

    private static AdaBeliefGroupOptions Options(NativeAdaBeliefOptimizer optimizer, int group) =>
        optimizer.ParamGroups.Cast<AdaBeliefParamGroup>().ElementAt(group).Options;

    /// <summary>The arrays a tensor's state has (s_max only where AMSGrad made one).</summary>
    private static IEnumerable<StateKind> States(OptimizerTensor t) =>
        t.HasMaxSecondMoment ? [StateKind.FirstMoment, StateKind.SecondMoment, StateKind.MaxSecondMoment] : [StateKind.FirstMoment, StateKind.SecondMoment];

    private static void AssertSameState(NativeAdaBeliefOptimizer expected, NativeAdaBeliefOptimizer actual)
    {
        Assert.Equal(expected.Core.Tensors.Count, actual.Core.Tensors.Count);
        Assert.Contains(expected.Core.Tensors, t => t.StateEncoding == StateEncoding.Blockwise8Bit && t.HasMaxSecondMoment);
        for (int i = 0; i < expected.Core.Tensors.Count; i++)
        {
            OptimizerTensor a = expected.Core.Tensors[i], b = actual.Core.Tensors[i];
            Assert.Equal(a.Step, b.Step);
            Assert.Equal(a.StateEncoding, b.StateEncoding);
            Assert.Equal(a.HasMaxSecondMoment, b.HasMaxSecondMoment);
            foreach (StateKind state in States(a))
            {
                if (a.StateEncoding == StateEncoding.Blockwise8Bit)
                {
                    (byte[] codes, float[] scales) = a.ReadStateCodes(state);
                    (byte[] actualCodes, float[] actualScales) = b.ReadStateCodes(state);
                    Assert.Equal(codes, actualCodes);
                    Assert.Equal(scales, actualScales);
                }
                Assert.Equal(a.ReadState(state), b.ReadState(state));
            }
        }
    }
}
