using TorchSharp;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp;

/// <summary>
/// Which native optimizer TorchSharp tensors need: a CPU optimizer for CPU tensors, a CUDA
/// optimizer on the tensors' device for CUDA tensors. One optimizer steps one device.
/// </summary>
internal static class TorchDevices
{
    /// <summary>
    /// The configuration for tensors on <paramref name="device"/>: the device and ordinal from the
    /// tensors, threads and SIMD level from <paramref name="config"/> (null: the defaults).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="config"/> names another device than the tensors'.</exception>
    /// <exception cref="NotSupportedException">A device the native library has no backend for.</exception>
    internal static OptimizerConfig ConfigFor(Device device, OptimizerConfig? config, string paramName)
    {
        NativeAdaBelief.DeviceType native = device.type switch
        {
            global::TorchSharp.DeviceType.CPU => NativeAdaBelief.DeviceType.Cpu,
            global::TorchSharp.DeviceType.CUDA => NativeAdaBelief.DeviceType.Cuda,
            _ => throw new NotSupportedException(
                $"The parameters are on {device}: NativeAdaBelief steps tensors on the CPU and on CUDA devices."),
        };
        int ordinal = native == NativeAdaBelief.DeviceType.Cuda ? Math.Max(device.index, 0) : 0;
        if (config is not null && (config.Device != native || config.DeviceOrdinal != ordinal)
            && (config.Device != NativeAdaBelief.DeviceType.Cpu || config.DeviceOrdinal != 0))
        {
            throw new ArgumentException(
                $"config names {config.Device} device {config.DeviceOrdinal}, but the parameters are on {device}: the optimizer runs where the "
                + "parameters are (leave config.Device at its default).", paramName);
        }
        return (config ?? new OptimizerConfig()) with { Device = native, DeviceOrdinal = ordinal };
    }

    /// <summary>True when <paramref name="a"/> and <paramref name="b"/> are the same device (cuda and cuda:0 for device 0 alike).</summary>
    internal static bool Same(Device a, Device b) =>
        a.type == b.type && (a.type != global::TorchSharp.DeviceType.CUDA || Math.Max(a.index, 0) == Math.Max(b.index, 0));
}
