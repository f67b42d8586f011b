using NativeAdaBelief.TorchSharp.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests;

/// <summary>Which tensors the optimizer takes, where their memory is, and what it refuses (clearly, before registering anything).</summary>
public sealed class RegistrationTests
{
    [TorchFact]
    public void A_view_is_stepped_at_its_storage_offset_and_nothing_beside_it_changes()
    {
        using var scope = torch.NewDisposeScope();
        Tensor storage = torch.arange(0, 10, ScalarType.Float32);
        var parameter = new Parameter(storage[TensorIndex.Slice(3, 8)]);
        Assert.Equal(3, parameter.storage_offset());
        // The address the optimizer registers is the storage's start (the public Storage API) plus 3 floats.
        Assert.Equal(storage.storage<float>().data_ptr() + 3 * sizeof(float), parameter.Address());
        parameter.grad = torch.ones(5);
        using NativeAdaBeliefOptimizer optimizer = NativeOptim.Adam([parameter], lr: 0.5);
        optimizer.step();
        float[] after = Models.Values(storage);
        Assert.Equal([0f, 1f, 2f], after[..3]);
        Assert.Equal([8f, 9f], after[8..]);
        Assert.All(after[3..8].Select((v, i) => v - (3 + i)), d => Assert.Equal(-0.5f, d, 1e-5f)); // Adam's first step: −lr·sign(g)
    }

    [TorchFact]
    public void Parameter_groups_keep_their_own_options_and_the_defaults_fill_the_rest()
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Models.Create("mlp");
        List<Parameter> p = [.. model.parameters()];
        using var optimizer = new NativeAdaBeliefOptimizer(
            [new AdaBeliefParamGroup([p[0], p[2]], new AdaBeliefOptions { LearningRate = 1e-2, WeightDecay = 0.1 }),
             new AdaBeliefParamGroup([p[1], p[3]])],
            defaults: AdaBeliefOptions.ForAdaBeliefPytorch(3e-3));
        var groups = optimizer.ParamGroups.Cast<AdaBeliefParamGroup>().ToList();
        Assert.Equal(0.1, groups[0].Options.AdaBelief.WeightDecay);
        Assert.Equal(1e-2, groups[0].LearningRate);
        Assert.Equal(AdaBeliefOptions.ForAdaBeliefPytorch(3e-3), groups[1].Options.AdaBelief);
        Assert.Equal([p[0], p[2], p[1], p[3]], optimizer.parameters()); // group by group
        Assert.Equal([p[0].numel(), p[2].numel(), p[1].numel(), p[3].numel()], optimizer.Core.Tensors.Select(t => t.Length));
    }

    [TorchFact]
    public void Parameters_it_cannot_step_are_refused_with_their_name_and_why()
    {
        using var scope = torch.NewDisposeScope();
        var good = new Parameter(torch.randn(4));
        var wide = new Parameter(torch.randn(3, ScalarType.Float64));
        var transposed = new Parameter(torch.randn(4, 3).t());

        var type = Assert.Throws<ArgumentException>(() => NativeOptim.Adam([good, wide]));
        Assert.Contains("parameter 1 of group 0 is a Float64 tensor", type.Message, StringComparison.Ordinal);
        var layout = Assert.Throws<ArgumentException>(() => NativeOptim.Adam([transposed]));
        Assert.Contains("parameter 0 of group 0 is not contiguous", layout.Message, StringComparison.Ordinal);
        Assert.Contains("strides [1, 3]", layout.Message, StringComparison.Ordinal);
        var twice = Assert.Throws<ArgumentException>(() => NativeOptim.Adam([good, good]));
        Assert.Contains("appears more than once", twice.Message, StringComparison.Ordinal);
        var none = Assert.Throws<ArgumentException>(() => NativeOptim.Adam([]));
        Assert.Contains("no parameters", none.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => NativeOptim.Adam([good], lr: -1));

        using NativeAdaBeliefOptimizer optimizer = NativeOptim.Adam([good]);
        var foreign = Assert.Throws<ArgumentException>(() => optimizer.add_param_group(new Adam.ParamGroup([wide])));
        Assert.Contains("add an AdaBeliefParamGroup", foreign.Message, StringComparison.Ordinal);
        var late = Assert.Throws<ArgumentException>(() => optimizer.add_param_group(new AdaBeliefParamGroup([new Parameter(torch.randn(2)), wide])));
        Assert.Contains("parameter 1 of group 1 is a Float64 tensor", late.Message, StringComparison.Ordinal);
        Assert.Single(optimizer.ParamGroups); // nothing of the refused group was registered
        Assert.Single(optimizer.Core.Tensors);
    }

    [TorchFact]
    public void A_learning_rate_the_native_library_refuses_stops_the_step_naming_the_group()
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Models.Create("mlp");
        using NativeAdaBeliefOptimizer optimizer = NativeOptim.Adam(model.parameters());
        Models.LossAndBackward(model, "mlp", 0);
        optimizer.ParamGroups.Single().LearningRate = double.NaN;
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.step());
        Assert.Contains("ParamGroups[0]", refused.ParamName, StringComparison.Ordinal);
        Assert.All(optimizer.Core.Tensors, t => Assert.Equal(0, t.Step));
    }

    [TorchFact]
    public void Cuda_tensors_get_a_cuda_optimizer_on_their_device_and_cpu_tensors_a_cpu_one()
    {
        OptimizerConfig cuda = TorchDevices.ConfigFor(new Device(global::TorchSharp.DeviceType.CUDA, 1), new OptimizerConfig { ThreadCount = 3 }, "config");
        Assert.Equal(NativeAdaBelief.DeviceType.Cuda, cuda.Device);
        Assert.Equal(1, cuda.DeviceOrdinal);
        OptimizerConfig cpu = TorchDevices.ConfigFor(new Device(global::TorchSharp.DeviceType.CPU), null, "config");
        Assert.Equal(NativeAdaBelief.DeviceType.Cpu, cpu.Device);
        var mismatch = Assert.Throws<ArgumentException>(() => TorchDevices.ConfigFor(new Device(global::TorchSharp.DeviceType.CPU),
            new OptimizerConfig { Device = NativeAdaBelief.DeviceType.Cuda }, "config"));
        Assert.Contains("the parameters are on cpu", mismatch.Message, StringComparison.Ordinal);
        Assert.True(TorchDevices.Same(new Device("cuda"), new Device("cuda:0")));
        Assert.False(TorchDevices.Same(new Device("cuda:0"), new Device("cuda:1")));
    }
}
