using System.Runtime.CompilerServices;

namespace NativeAdaBelief.Tests.Support;

/// <summary>
/// The element types a tensor's memory may hold, seen from the tests: widening to float (exact),
/// narrowing from float (round to nearest, ties to even: .NET's <see cref="Half"/> conversion and
/// <see cref="BFloat16"/>'s, both checked against independent models in BFloat16Tests), bit
/// patterns and distances in units in the last place.
/// </summary>
internal static class SixteenBit
{
    public static float ToFloat<T>(T value) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            return Unsafe.As<T, float>(ref value);
        }
        if (typeof(T) == typeof(Half))
        {
            return (float)Unsafe.As<T, Half>(ref value);
        }
        if (typeof(T) == typeof(BFloat16))
        {
            return (float)Unsafe.As<T, BFloat16>(ref value);
        }
        throw new NotSupportedException(typeof(T).Name);
    }

    public static T FromFloat<T>(float value) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            return Unsafe.As<float, T>(ref value);
        }
        if (typeof(T) == typeof(Half))
        {
            Half h = (Half)value;
            return Unsafe.As<Half, T>(ref h);
        }
        if (typeof(T) == typeof(BFloat16))
        {
            BFloat16 b = (BFloat16)value;
            return Unsafe.As<BFloat16, T>(ref b);
        }
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>The value's bit pattern, zero-extended (16-bit types) to 32 bits.</summary>
    public static uint Bits<T>(T value) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            return BitConverter.SingleToUInt32Bits(Unsafe.As<T, float>(ref value));
        }
        return Unsafe.As<T, ushort>(ref value);
    }

    public static TensorElementType TypeOf<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? TensorElementType.Float32
        : typeof(T) == typeof(Half) ? TensorElementType.Float16
        : typeof(T) == typeof(BFloat16) ? TensorElementType.BFloat16
        : throw new NotSupportedException(typeof(T).Name);

    /// <summary>Rounds a float to the element type and widens it back (the value a 16-bit buffer stores).</summary>
    public static float Round(float value, TensorElementType type) => type switch
    {
        TensorElementType.Float16 => (float)(Half)value,
        TensorElementType.BFloat16 => (float)(BFloat16)value,
        _ => value,
    };

    /// <summary>The bit pattern of a float rounded to the element type.</summary>
    public static uint RoundedBits(float value, TensorElementType type) => type switch
    {
        TensorElementType.Float16 => BitConverter.HalfToUInt16Bits((Half)value),
        TensorElementType.BFloat16 => ((BFloat16)value).Bits,
        _ => BitConverter.SingleToUInt32Bits(value),
    };

    /// <summary>
    /// The distance in units in the last place between two finite values of one 16-bit format
    /// given as bit patterns (sign-magnitude mapped onto a line, so +0 and -0 coincide and the
    /// step across 0 counts like any other).
    /// </summary>
    public static int UlpDistance16(uint a, uint b)
    {
        static int Line(uint bits) => (bits & 0x8000) != 0 ? -(int)(bits & 0x7fff) : (int)bits;
        return Math.Abs(Line(a) - Line(b));
    }
}
