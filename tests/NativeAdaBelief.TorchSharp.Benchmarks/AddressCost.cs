using System.Diagnostics;
using NativeAdaBelief.TorchSharp;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Benchmarks;

/// <summary>
/// What finding the gradients costs per step: re-reading every parameter's and gradient's address
/// when nothing moved, and when every gradient is new memory (TorchSharp's module.zero_grad()
/// sets them to None, so the next backward allocates them anew): then each new gradient is checked
/// and all are registered in one native call, beside what one call per tensor would cost.
/// </summary>
internal static class AddressCost
{
    /// <summary>Microseconds per step for all of the model's tensors.</summary>
    internal sealed record Result(string Workload, int Tensors, double UnchangedMicros, double ReallocatedMicros, double OneCallMicros,
        double OneCallPerTensorMicros);

    public static Result Measure(Workload workload, int repeats)
    {
        List<Parameter> parameters = workload.Parameters;
        using NativeAdaBeliefOptimizer optimizer = NativeOptim.Adam(parameters);
        using (var scope = torch.NewDisposeScope())
        {
            optimizer.zero_grad();
            workload.Loss().backward();
        }
        // Two sets of gradient memory to alternate between, as reallocation does.
        Tensor[][] sets = [[.. parameters.Select(p => p.grad!.clone())], [.. parameters.Select(p => p.grad!.clone())]];
        optimizer.SyncAddresses();

        var clock = Stopwatch.StartNew();
        for (int r = 0; r < repeats; r++)
        {
            optimizer.SyncAddresses();
        }
        double unchanged = clock.Elapsed.TotalMicroseconds / repeats;

        double reallocated = 0;
        for (int r = 0; r < repeats; r++)
        {
            for (int i = 0; i < parameters.Count; i++)
            {
                parameters[i].grad = sets[r % 2][i];
            }
            clock.Restart();
            optimizer.SyncAddresses();
            reallocated += clock.Elapsed.TotalMicroseconds;
        }

        nint[][] addresses = [.. sets.Select(set => set.Select(g => Interop.LibTorchSharp.THSTensor_data(g.Handle)).ToArray())];
        clock.Restart();
        for (int r = 0; r < repeats; r++)
        {
            optimizer.Core.SetGradients(addresses[r % 2]);
        }
        double oneCall = clock.Elapsed.TotalMicroseconds / repeats;
        clock.Restart();
        for (int r = 0; r < repeats; r++)
        {
            for (int i = 0; i < parameters.Count; i++)
            {
                optimizer.Core.Tensors[i].SetGradients(addresses[r % 2][i], TensorElementType.Float32);
            }
        }
        double perTensor = clock.Elapsed.TotalMicroseconds / repeats;
        optimizer.SyncAddresses(); // back to the gradients TorchSharp holds
        foreach (Tensor g in sets.SelectMany(s => s))
        {
            g.Dispose();
        }
        Console.WriteLine($"  gradient addresses of {parameters.Count} tensors: {unchanged:F1} µs unchanged, {reallocated / repeats:F1} µs all new "
            + $"(checked, then one native call of {oneCall:F1} µs), {perTensor:F1} µs for one native call per tensor");
        return new Result(workload.Name, parameters.Count, unchanged, reallocated / repeats, oneCall, perTensor);
    }
}
