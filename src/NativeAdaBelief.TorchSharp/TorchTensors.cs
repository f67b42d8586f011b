using NativeAdaBelief.TorchSharp.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp;

/// <summary>
/// What the optimizer may step of a TorchSharp tensor, and its address: the one place that
/// refuses tensors the native step cannot take (an element type other than float32, float16 and
/// bfloat16; non-contiguous or sparse memory; no elements), with a message that names the tensor.
/// </summary>
internal static class TorchTensors
{
    /// <summary>The element type the native library calls <paramref name="type"/>, or null for one it cannot step.</summary>
    internal static TensorElementType? ElementTypeOf(ScalarType type) => type switch
    {
        ScalarType.Float32 => TensorElementType.Float32,
        ScalarType.Float16 => TensorElementType.Float16,
        ScalarType.BFloat16 => TensorElementType.BFloat16,
        _ => null,
    };

    /// <summary>
    /// Checks that <paramref name="tensor"/> can be stepped in place and returns its element type;
    /// <paramref name="what"/> names it in the message ("parameter 3 of group 0").
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is sparse, of another element type, not contiguous, or empty.</exception>
    internal static TensorElementType CheckSteppable(Tensor tensor, string what, string paramName)
    {
        if (tensor.is_sparse)
        {
            throw new ArgumentException($"{what} is a sparse tensor ({Describe(tensor)}): NativeAdaBelief steps dense tensors only.", paramName);
        }
        TensorElementType type = ElementTypeOf(tensor.dtype) ?? throw new ArgumentException(
            $"{what} is a {tensor.dtype} tensor ({Describe(tensor)}): NativeAdaBelief steps Float32, Float16 and BFloat16 tensors "
            + "(16-bit ones with float32 master copies); convert the module, e.g. module.to(torch.float32).", paramName);
        if (!tensor.is_contiguous())
        {
            throw new ArgumentException(
                $"{what} is not contiguous ({Describe(tensor)}, strides [{string.Join(", ", tensor.stride())}]): NativeAdaBelief steps a "
                + "tensor's memory as one block in place; make the tensor contiguous before creating the optimizer.", paramName);
        }
        if (tensor.numel() == 0)
        {
            throw new ArgumentException($"{what} has no elements ({Describe(tensor)}): leave it out of the optimizer.", paramName);
        }
        return type;
    }

    /// <summary>The address of the tensor's first element (its storage's start plus its storage offset).</summary>
    internal static nint AddressOf(Tensor tensor, string what, string paramName)
    {
        nint address = LibTorchSharp.THSTensor_data(tensor.Handle);
        if (address == 0)
        {
            string reason;
            try
            {
                torch.CheckForErrors();
                reason = "libtorch gave no address";
            }
            catch (Exception e)
            {
                reason = e.Message;
            }
            throw new ArgumentException($"{what} ({Describe(tensor)}) has no memory the optimizer can step: {reason}", paramName);
        }
        return address;
    }

    /// <summary>"Float32, shape [256, 784], on cpu".</summary>
    internal static string Describe(Tensor tensor) =>
        $"{tensor.dtype}, shape [{string.Join(", ", tensor.shape)}], on {tensor.device}";
}
