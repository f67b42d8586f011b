using System.Globalization;
using System.Runtime.InteropServices;

namespace NativeAdaBelief;

/// <summary>
/// A bfloat16 value: the upper 16 bits of an IEEE-754 float32 (1 sign bit, 8 exponent bits,
/// 7 mantissa bits), so it has float32's range with about 3 significant decimal digits. The
/// element type of <see cref="TensorElementType.BFloat16"/> buffers, bit-compatible with
/// PyTorch's <c>torch.bfloat16</c>.
/// </summary>
/// <remarks>
/// <para>Conversions are exactly the native library's: widening to <see cref="float"/> is exact;
/// narrowing from <see cref="float"/> rounds to nearest, ties to even, keeps subnormals (no
/// flush to zero), overflows to infinity, and turns a NaN into a quiet NaN that keeps its sign
/// and the top bits of its payload.</para>
/// <para>Equality follows <see cref="float"/>: <c>==</c> is IEEE (NaN differs from everything,
/// +0 equals -0); <see cref="Equals(BFloat16)"/> treats every NaN as equal to every NaN, as
/// <see cref="float.Equals(float)"/> does. Compare <see cref="Bits"/> for bit identity.</para>
/// </remarks>
[StructLayout(LayoutKind.Sequential, Size = 2)]
public readonly struct BFloat16 : IEquatable<BFloat16>, IComparable<BFloat16>, IComparable, IFormattable
{
    private readonly ushort _bits;

    private BFloat16(ushort bits) => _bits = bits;

    /// <summary>The value with the given bit pattern.</summary>
    /// <param name="bits">Sign, exponent and mantissa, as stored in memory.</param>
    /// <returns>The value.</returns>
    public static BFloat16 FromBits(ushort bits) => new(bits);

    /// <summary>The bit pattern (sign, exponent and mantissa), as stored in memory.</summary>
    public ushort Bits => _bits;

    /// <summary>Positive zero.</summary>
    public static BFloat16 Zero => new(0x0000);

    /// <summary>One.</summary>
    public static BFloat16 One => new(0x3f80);

    /// <summary>The largest finite value, about 3.39e38.</summary>
    public static BFloat16 MaxValue => new(0x7f7f);

    /// <summary>The most negative finite value, about -3.39e38.</summary>
    public static BFloat16 MinValue => new(0xff7f);

    /// <summary>The smallest positive value (a subnormal, 2^-133, about 9.2e-41).</summary>
    public static BFloat16 Epsilon => new(0x0001);

    /// <summary>Positive infinity.</summary>
    public static BFloat16 PositiveInfinity => new(0x7f80);

    /// <summary>Negative infinity.</summary>
    public static BFloat16 NegativeInfinity => new(0xff80);

    /// <summary>A quiet NaN (the one float32 <see cref="float.NaN"/> narrows to).</summary>
    public static BFloat16 NaN => (BFloat16)float.NaN;

    /// <summary>True for a NaN.</summary>
    /// <param name="value">The value to test.</param>
    /// <returns>Whether it is a NaN.</returns>
    public static bool IsNaN(BFloat16 value) => (value._bits & 0x7fff) > 0x7f80;

    /// <summary>True for a finite value (neither infinite nor NaN).</summary>
    /// <param name="value">The value to test.</param>
    /// <returns>Whether it is finite.</returns>
    public static bool IsFinite(BFloat16 value) => (value._bits & 0x7f80) != 0x7f80;

    /// <summary>True for +∞ or -∞.</summary>
    /// <param name="value">The value to test.</param>
    /// <returns>Whether it is infinite.</returns>
    public static bool IsInfinity(BFloat16 value) => (value._bits & 0x7fff) == 0x7f80;

    /// <summary>
    /// Rounds a float to the nearest bfloat16, ties to even (subnormals kept; values beyond the
    /// largest finite bfloat16 round to infinity as float32 rounding would; a NaN stays a NaN).
    /// </summary>
    /// <param name="value">The float.</param>
    public static explicit operator BFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7fffffffu) > 0x7f800000u)
        {
            // NaN: keep the sign and the top payload bits, and make it quiet.
            return new BFloat16((ushort)((bits >> 16) | 0x0040u));
        }
        // Adding 0x7fff plus the lowest kept bit rounds the dropped half to nearest, ties to
        // even; a carry out of the mantissa bumps the exponent (up to infinity), as it should.
        return new BFloat16((ushort)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16));
    }

    /// <summary>Rounds a double to bfloat16 through float (two roundings: use the float conversion where that matters).</summary>
    /// <param name="value">The double.</param>
    public static explicit operator BFloat16(double value) => (BFloat16)(float)value;

    /// <summary>Widens to float, exactly.</summary>
    /// <param name="value">The bfloat16.</param>
    public static explicit operator float(BFloat16 value) => BitConverter.UInt32BitsToSingle((uint)value._bits << 16);

    /// <summary>Widens to double, exactly.</summary>
    /// <param name="value">The bfloat16.</param>
    public static explicit operator double(BFloat16 value) => (float)value;

    /// <summary>IEEE equality: false when either is NaN; +0 equals -0.</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    /// <returns>Whether they are numerically equal.</returns>
    public static bool operator ==(BFloat16 left, BFloat16 right) => (float)left == (float)right;

    /// <summary>IEEE inequality: true when either is NaN.</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    /// <returns>Whether they are not numerically equal.</returns>
    public static bool operator !=(BFloat16 left, BFloat16 right) => (float)left != (float)right;

    /// <summary>IEEE less-than (false when either is NaN).</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    /// <returns>Whether <paramref name="left"/> is less than <paramref name="right"/>.</returns>
    public static bool operator <(BFloat16 left, BFloat16 right) => (float)left < (float)right;

    /// <summary>IEEE greater-than (false when either is NaN).</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    /// <returns>Whether <paramref name="left"/> is greater than <paramref name="right"/>.</returns>
    public static bool operator >(BFloat16 left, BFloat16 right) => (float)left > (float)right;

    /// <summary>IEEE less-than-or-equal (false when either is NaN).</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    /// <returns>Whether <paramref name="left"/> is at most <paramref name="right"/>.</returns>
    public static bool operator <=(BFloat16 left, BFloat16 right) => (float)left <= (float)right;

    /// <summary>IEEE greater-than-or-equal (false when either is NaN).</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    /// <returns>Whether <paramref name="left"/> is at least <paramref name="right"/>.</returns>
    public static bool operator >=(BFloat16 left, BFloat16 right) => (float)left >= (float)right;

    /// <summary>Equality as <see cref="float.Equals(float)"/>: NaN equals NaN, +0 equals -0.</summary>
    /// <param name="other">The other value.</param>
    /// <returns>Whether they are equal.</returns>
    public bool Equals(BFloat16 other) => ((float)this).Equals((float)other);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => ((float)this).GetHashCode();

    /// <summary>Orders as <see cref="float.CompareTo(float)"/> (NaN first).</summary>
    /// <param name="other">The other value.</param>
    /// <returns>Negative, zero or positive.</returns>
    public int CompareTo(BFloat16 other) => ((float)this).CompareTo((float)other);

    /// <inheritdoc />
    public int CompareTo(object? obj) => obj switch
    {
        null => 1,
        BFloat16 other => CompareTo(other),
        _ => throw new ArgumentException("The object is not a BFloat16.", nameof(obj)),
    };

    /// <summary>The value as its float would print (shortest round-trip form, current culture).</summary>
    /// <returns>The text.</returns>
    public override string ToString() => ((float)this).ToString(CultureInfo.CurrentCulture);

    /// <summary>Formats the value as its float would be formatted.</summary>
    /// <param name="format">A numeric format string, or null.</param>
    /// <param name="formatProvider">Culture-specific formatting, or null for the current culture.</param>
    /// <returns>The text.</returns>
    public string ToString(string? format, IFormatProvider? formatProvider) => ((float)this).ToString(format, formatProvider);
}
