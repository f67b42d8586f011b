using NativeAdaBelief.TorchSharp.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests;

/// <summary>CUDA tensors: stepped by the CUDA backend on their device (needs a CUDA libtorch and a GPU).</summary>
public sealed class CudaTests
{
    [TorchCudaFact]
    public void Cuda_parameters_are_stepped_on_their_device_as_torch_optim_adam_steps_them()
    {
        using var scope = torch.NewDisposeScope();
        Sequential torchModel = Models.Create("mlp"), ourModel = Models.Create("mlp");
        torchModel.to(CUDA);
        ourModel.to(CUDA);
        List<Parameter> a = [.. torchModel.parameters()], b = [.. ourModel.parameters()];
        using optim.Optimizer reference = optim.Adam(a, lr: 1e-3);
        using NativeAdaBeliefOptimizer ours = NativeOptim.Adam(b, lr: 1e-3);
        Assert.Equal(NativeAdaBelief.DeviceType.Cuda, ours.Device);
        for (int step = 0; step < 20; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            torchModel.zero_grad();
            (Tensor x, Tensor y) = Models.Batch("mlp", step);
            nn.functional.mse_loss(torchModel.forward(x.to(CUDA)), y.to(CUDA)).backward();
            for (int i = 0; i < a.Count; i++)
            {
                b[i].grad = a[i].grad!.clone();
            }
            reference.step();
            ours.step();
        }
        ours.Synchronize();
        Assert.True(Models.MaxRelativeDifference(b, a) < 1e-5);
    }
}
