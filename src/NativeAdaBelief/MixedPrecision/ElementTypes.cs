using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// The mapping between the managed element types a buffer may hold (<see cref="float"/>,
/// <see cref="Half"/>, <see cref="BFloat16"/>), <see cref="TensorElementType"/> and the native
/// <c>nab_dtype</c>, with the checks every typed entry point shares.
/// </summary>
internal static class ElementTypes
{
    /// <summary>The element type of <typeparamref name="T"/>, or <see cref="NotSupportedException"/> for any other type.</summary>
    internal static TensorElementType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            return TensorElementType.Float32;
        }
        if (typeof(T) == typeof(Half))
        {
            return TensorElementType.Float16;
        }
        if (typeof(T) == typeof(BFloat16))
        {
            return TensorElementType.BFloat16;
        }
        throw new NotSupportedException(
            $"{typeof(T).FullName} is not a tensor element type: parameters and gradients hold float (Float32), "
            + "System.Half (Float16) or NativeAdaBelief.BFloat16 (BFloat16).");
    }

    /// <summary>Bytes per element.</summary>
    internal static int Size(TensorElementType type) => type == TensorElementType.Float32 ? sizeof(float) : sizeof(ushort);

    /// <summary>True for the two 16-bit types.</summary>
    internal static bool Is16Bit(TensorElementType type) => type is TensorElementType.Float16 or TensorElementType.BFloat16;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="type"/> is a defined value.</summary>
    internal static void CheckDefined(TensorElementType type, string paramName)
    {
        if (!Enum.IsDefined(type))
        {
            throw new ArgumentOutOfRangeException(paramName, type, $"{paramName} = {type} is not a defined TensorElementType.");
        }
    }

    /// <summary>The native <c>nab_dtype</c> value.</summary>
    internal static int ToNative(TensorElementType type) => type switch
    {
        TensorElementType.Float32 => (int)nab_dtype.NAB_DTYPE_FLOAT32,
        TensorElementType.Float16 => (int)nab_dtype.NAB_DTYPE_FLOAT16,
        TensorElementType.BFloat16 => (int)nab_dtype.NAB_DTYPE_BFLOAT16,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>A native <c>nab_dtype</c> value as the managed enum.</summary>
    internal static TensorElementType FromNative(int dtype) => dtype switch
    {
        (int)nab_dtype.NAB_DTYPE_FLOAT32 => TensorElementType.Float32,
        (int)nab_dtype.NAB_DTYPE_FLOAT16 => TensorElementType.Float16,
        (int)nab_dtype.NAB_DTYPE_BFLOAT16 => TensorElementType.BFloat16,
        _ => throw new NativeAdaBeliefException($"The native library reported an unknown element type {dtype}."),
    };

    /// <summary>The safetensors dtype name: F32, F16, BF16.</summary>
    internal static string SafetensorsName(TensorElementType type) => type switch
    {
        TensorElementType.Float32 => "F32",
        TensorElementType.Float16 => "F16",
        TensorElementType.BFloat16 => "BF16",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>Parses a safetensors dtype name written by <see cref="SafetensorsName"/> (exactly, case-sensitive).</summary>
    internal static bool TryParseSafetensorsName(string? text, out TensorElementType type)
    {
        switch (text)
        {
            case "F32":
                type = TensorElementType.Float32;
                return true;
            case "F16":
                type = TensorElementType.Float16;
                return true;
            case "BF16":
                type = TensorElementType.BFloat16;
                return true;
            default:
                type = default;
                return false;
        }
    }
}
