using NativeAdaBelief.TorchSharp.Interop;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests.Support;

/// <summary>Where a tensor's first element is (what the optimizer registers).</summary>
internal static class TensorAddresses
{
    public static nint Address(this Tensor tensor) => LibTorchSharp.THSTensor_data(tensor.Handle);
}
