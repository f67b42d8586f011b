using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace NativeAdaBelief.Demo.Model;

/// <summary>
/// The conversions a 16-bit training engine's kernels make around float32 arithmetic: widening
/// 16-bit values to float32 (exact) and narrowing float32 to 16 bits (round to nearest, ties to
/// even; overflow to infinity; NaN stays NaN), for <see cref="Half"/> and <see cref="BFloat16"/>,
/// with SIMD. Allocation-free.
/// </summary>
/// <remarks>
/// float16 goes through <see cref="TensorPrimitives.ConvertToSingle(ReadOnlySpan{Half}, Span{float})"/>
/// and <see cref="TensorPrimitives.ConvertToHalf(ReadOnlySpan{float}, Span{Half})"/>. bfloat16 has
/// no <see cref="TensorPrimitives"/> support, so it is done here on the bit patterns with
/// <see cref="Vector{T}"/>, giving exactly the bits of <see cref="BFloat16"/>'s own conversions
/// (which the tests check).
/// </remarks>
internal static class SixteenBitConversions
{
    private const ushort HalfExponentMask = 0x7c00;
    private const ushort BFloat16ExponentMask = 0x7f80;

    /// <summary>Widens <paramref name="source"/> (Half or BFloat16) into the first <c>source.Length</c> floats of <paramref name="destination"/>, exactly.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither Half nor BFloat16.</exception>
    public static void Widen<T>(ReadOnlySpan<T> source, Span<float> destination) where T : unmanaged
    {
        CheckLengths(source.Length, destination.Length);
        if (typeof(T) == typeof(Half))
        {
            TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<T, Half>(source), destination);
        }
        else if (typeof(T) == typeof(BFloat16))
        {
            WidenBFloat16(MemoryMarshal.Cast<T, ushort>(source), MemoryMarshal.Cast<float, uint>(destination));
        }
        else
        {
            throw Unsupported<T>();
        }
    }

    /// <summary>Rounds <paramref name="source"/> into the first <c>source.Length</c> elements of <paramref name="destination"/> (Half or BFloat16).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither Half nor BFloat16.</exception>
    public static void Narrow<T>(ReadOnlySpan<float> source, Span<T> destination) where T : unmanaged
    {
        CheckLengths(source.Length, destination.Length);
        if (typeof(T) == typeof(Half))
        {
            TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<T, Half>(destination));
        }
        else if (typeof(T) == typeof(BFloat16))
        {
            NarrowBFloat16(MemoryMarshal.Cast<float, uint>(source), MemoryMarshal.Cast<T, ushort>(destination));
        }
        else
        {
            throw Unsupported<T>();
        }
    }

    /// <summary>True when no element of <paramref name="values"/> (Half or BFloat16) is ±∞ or NaN.</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither Half nor BFloat16.</exception>
    public static bool AllFinite<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        // Both formats are non-finite exactly when every exponent bit is set.
        ushort mask = typeof(T) == typeof(Half) ? HalfExponentMask
            : typeof(T) == typeof(BFloat16) ? BFloat16ExponentMask
            : throw Unsupported<T>();
        ReadOnlySpan<ushort> bits = MemoryMarshal.Cast<T, ushort>(values);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var exponent = new Vector<ushort>(mask);
            int w = Vector<ushort>.Count;
            for (; i + w <= bits.Length; i += w)
            {
                if (Vector.EqualsAny(new Vector<ushort>(bits.Slice(i, w)) & exponent, exponent))
                {
                    return false;
                }
            }
        }
        for (; i < bits.Length; i++)
        {
            if ((bits[i] & mask) == mask)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>bfloat16 is the top half of a float32: widening is a 16-bit shift.</summary>
    private static void WidenBFloat16(ReadOnlySpan<ushort> source, Span<uint> destination)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int w = Vector<ushort>.Count;
            int half = Vector<uint>.Count;
            for (; i + w <= source.Length; i += w)
            {
                Vector.Widen(new Vector<ushort>(source.Slice(i, w)), out Vector<uint> low, out Vector<uint> high);
                (low << 16).CopyTo(destination.Slice(i, half));
                (high << 16).CopyTo(destination.Slice(i + half, half));
            }
        }
        for (; i < source.Length; i++)
        {
            destination[i] = (uint)source[i] << 16;
        }
    }

    /// <summary>float32 bits to bfloat16 bits, as <see cref="BFloat16"/>'s explicit conversion from float does it.</summary>
    private static void NarrowBFloat16(ReadOnlySpan<uint> source, Span<ushort> destination)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int w = Vector<uint>.Count;
            for (; i + 2 * w <= source.Length; i += 2 * w)
            {
                Vector<uint> low = RoundToBFloat16(new Vector<uint>(source.Slice(i, w)));
                Vector<uint> high = RoundToBFloat16(new Vector<uint>(source.Slice(i + w, w)));
                Vector.Narrow(low, high).CopyTo(destination.Slice(i, 2 * w));
            }
        }
        for (; i < source.Length; i++)
        {
            destination[i] = ((BFloat16)BitConverter.UInt32BitsToSingle(source[i])).Bits;
        }
    }

    /// <summary>The bfloat16 bits (in the low 16 bits of each lane) nearest to each float32 bit pattern, ties to even.</summary>
    private static Vector<uint> RoundToBFloat16(Vector<uint> bits)
    {
        // Adding 0x7fff plus the lowest kept bit rounds the dropped half to nearest, ties to even;
        // a carry out of the mantissa bumps the exponent (up to infinity), as float rounding does.
        Vector<uint> rounded = (bits + new Vector<uint>(0x7fff) + ((bits >> 16) & Vector<uint>.One)) >> 16;
        // A NaN keeps its sign and top payload bits and becomes quiet (rounding could carry it into infinity).
        Vector<uint> isNaN = Vector.GreaterThan(bits & new Vector<uint>(0x7fffffff), new Vector<uint>(0x7f800000));
        Vector<uint> quietNaN = (bits >> 16) | new Vector<uint>(0x0040);
        return Vector.ConditionalSelect(isNaN, quietNaN, rounded);
    }

    private static void CheckLengths(int source, int destination)
    {
        if (destination < source)
        {
            throw new ArgumentException($"The destination holds {destination} elements, fewer than the source's {source}.", nameof(destination));
        }
    }

    private static NotSupportedException Unsupported<T>() =>
        new($"{typeof(T).Name} is not a 16-bit format: the demo converts Half and BFloat16.");
}
