using System.Globalization;

namespace NativeAdaBelief.Tests.MixedPrecision;

/// <summary>
/// <see cref="BFloat16"/>'s conversions against independent models: widening exhaustively over
/// all 65536 patterns, narrowing against "the nearest value, ties to even" decided in double
/// (exact there) over random bit patterns and the hard cases; and .NET's <see cref="Half"/>
/// conversion, which the mixed-precision tests use as their float16 rounding, against the same
/// property.
/// </summary>
public sealed class BFloat16Tests
{
    /// <summary>The value of a bfloat16 pattern by its definition (sign, 8-bit exponent with bias 127, 7-bit mantissa), in double.</summary>
    private static double DefinitionValue(ushort bits)
    {
        int sign = bits >> 15, exponent = (bits >> 7) & 0xff, mantissa = bits & 0x7f;
        double magnitude = exponent == 0
            ? mantissa * Math.Pow(2, -133)
            : exponent == 0xff ? (mantissa == 0 ? double.PositiveInfinity : double.NaN) : (1 + mantissa / 128.0) * Math.Pow(2, exponent - 127);
        return sign == 1 ? -magnitude : magnitude;
    }

    [Fact]
    public void Widening_is_exact_for_every_pattern_and_narrowing_it_back_is_the_identity()
    {
        for (int bits = 0; bits <= 0xffff; bits++)
        {
            BFloat16 value = BFloat16.FromBits((ushort)bits);
            Assert.Equal((ushort)bits, value.Bits);
            double expected = DefinitionValue((ushort)bits);
            float widened = (float)value;
            if (double.IsNaN(expected))
            {
                Assert.True(float.IsNaN(widened) && BFloat16.IsNaN(value) && !BFloat16.IsFinite(value));
                // A NaN narrows back to a quiet NaN with its sign and payload: the quiet bit set.
                Assert.Equal((ushort)(bits | 0x0040), ((BFloat16)widened).Bits);
                continue;
            }
            Assert.Equal(expected, (double)widened);
            Assert.Equal((ushort)bits, ((BFloat16)widened).Bits);
            Assert.Equal(double.IsFinite(expected), BFloat16.IsFinite(value));
            Assert.Equal(double.IsInfinity(expected), BFloat16.IsInfinity(value));
        }
    }

    /// <summary>
    /// Checks "round to nearest, ties to even" as a property: the result's distance to the input
    /// is at most each neighbour's, and on a tie the result is the even pattern. Distances are
    /// exact in double (both values are float32s of nearby magnitude). Past the largest finite
    /// value, float32 rounding goes to infinity when the input is at least halfway to the next
    /// power of two.
    /// </summary>
    private static void AssertNearestEven(float input, ushort result, Func<ushort, double> value, ushort largestFinite, string what)
    {
        if (float.IsNaN(input))
        {
            Assert.True(double.IsNaN(value(result)), $"{what}: NaN {BitConverter.SingleToUInt32Bits(input):x8} gave {result:x4}");
            return;
        }
        double x = input;
        double r = value(result);
        ushort sign = (ushort)(BitConverter.SingleToUInt32Bits(input) >> 31 << 15);
        Assert.True((result & 0x8000) == sign, $"{what}: the sign of {x:R} was lost ({result:x4})");
        double magnitude = Math.Abs(x);
        ushort mag = (ushort)(result & 0x7fff);
        double largest = value(largestFinite);
        double ulpAtTop = largest - value((ushort)(largestFinite - 1));
        if (magnitude >= largest + ulpAtTop / 2)
        {
            Assert.True(double.IsPositiveInfinity(Math.Abs(r)), $"{what}: {x:R} should overflow to infinity, gave {result:x4}");
            return;
        }
        Assert.True(double.IsFinite(r), $"{what}: {x:R} gave a non-finite {result:x4}");
        double distance = Math.Abs(magnitude - Math.Abs(r));
        foreach (int neighbour in new[] { mag - 1, mag + 1 })
        {
            if (neighbour < 0 || neighbour > largestFinite)
            {
                continue;
            }
            double other = Math.Abs(magnitude - value((ushort)neighbour));
            Assert.True(distance <= other, $"{what}: {x:R} gave {result:x4} but {neighbour:x4} is nearer");
            if (distance == other)
            {
                Assert.True((mag & 1) == 0, $"{what}: {x:R} is a tie and gave the odd {result:x4}");
            }
        }
    }

    private static readonly uint[] HardFloats =
    [
        0x00000000, 0x80000000, 0x00000001, 0x007fffff, 0x00800000, 0x0000ffff, 0x00008000, 0x00018000, 0x00028000,
        0x3f800000, 0x3f808000, 0x3f818000, 0x3f807fff, 0x3f808001, 0x3f80ffff, 0x3fffffff, 0x7f7f7fff, 0x7f7f8000,
        0x7f7fffff, 0x7f800000, 0xff800000, 0x7f800001, 0x7fc00000, 0xffc00001, 0xff812345, 0x7fbfffff, 0x477fefff,
        0x477ff000, 0x38800000, 0x387fffff, 0x33000000, 0x33000001, 0x337fffff, 0xb3800000, 0x47800000,
    ];

    [Fact]
    public void Narrowing_rounds_to_nearest_even_keeping_subnormals()
    {
        var random = new Random(16);
        var inputs = new List<uint>(HardFloats);
        for (int i = 0; i < 400_000; i++)
        {
            inputs.Add((uint)random.NextInt64(0, 1L << 32));
        }
        foreach (uint bits in inputs)
        {
            float f = BitConverter.UInt32BitsToSingle(bits);
            AssertNearestEven(f, ((BFloat16)f).Bits, DefinitionValue, BFloat16.MaxValue.Bits, "BFloat16");
        }
    }

    [Fact]
    public void Narrowing_matches_the_native_rules_on_named_cases()
    {
        (uint Float, ushort Expected)[] cases =
        [
            (0x007fffff, 0x0080), // the largest float32 subnormal rounds up to the smallest normal, not to 0
            (0x00008000, 0x0000), // a tie between 0 and the smallest subnormal: even (0)
            (0x00018000, 0x0002), // a tie between 1 and 2: even (2)
            (0x3f808000, 0x3f80), // 1 + 2^-8: a tie, even
            (0x3f818000, 0x3f82), // 1 + 3 * 2^-8: a tie, even
            (0x3f808001, 0x3f81), // just above the tie
            (0x7f7fffff, 0x7f80), // float32's largest rounds to infinity
            (0x80000000, 0x8000), // -0 keeps its sign
            (0x7fc00001, 0x7fc0), // quiet NaN: the top payload bits
            (0x7f800001, 0x7fc0), // signalling NaN becomes quiet
            (0xff812345, 0xffc1), // negative signalling NaN: sign and top payload kept, quiet bit set
        ];
        foreach ((uint f, ushort expected) in cases)
        {
            Assert.True(expected == ((BFloat16)BitConverter.UInt32BitsToSingle(f)).Bits, $"0x{f:x8} -> 0x{((BFloat16)BitConverter.UInt32BitsToSingle(f)).Bits:x4}, expected 0x{expected:x4}");
        }
    }

    [Fact]
    public void Dotnet_Half_rounds_to_nearest_even_keeping_subnormals()
    {
        // The float16 model of the tests: if .NET's conversion were not round-to-nearest-even,
        // "parameter == RNE(master)" would test the wrong thing.
        var random = new Random(17);
        var inputs = new List<uint>(HardFloats);
        for (int i = 0; i < 400_000; i++)
        {
            // Mostly the float16 range (|x| < 2^17), where the rounding is interesting.
            uint bits = random.Next(4) == 0 ? (uint)random.NextInt64(0, 1L << 32) : (uint)random.Next(0x2f000000, 0x48000000) | (uint)(random.Next(2) << 31);
            inputs.Add(bits);
        }
        static double HalfValue(ushort bits) => (double)BitConverter.UInt16BitsToHalf(bits);
        foreach (uint bits in inputs)
        {
            float f = BitConverter.UInt32BitsToSingle(bits);
            AssertNearestEven(f, BitConverter.HalfToUInt16Bits((Half)f), HalfValue, 0x7bff, "Half");
        }
    }

    [Fact]
    public void Comparisons_and_constants_follow_float()
    {
        Assert.Equal(0x3f80, BFloat16.One.Bits);
        Assert.Equal(1f, (float)BFloat16.One);
        Assert.Equal(0f, (float)BFloat16.Zero);
        Assert.Equal(BitConverter.UInt32BitsToSingle(0x7f7f0000), (float)BFloat16.MaxValue);
        Assert.Equal(-(float)BFloat16.MaxValue, (float)BFloat16.MinValue);
        Assert.Equal(BitConverter.UInt32BitsToSingle(0x00010000), (float)BFloat16.Epsilon); // 2^-133
        Assert.True(float.IsPositiveInfinity((float)BFloat16.PositiveInfinity));
        Assert.True(float.IsNegativeInfinity((float)BFloat16.NegativeInfinity));
        Assert.True(BFloat16.IsNaN(BFloat16.NaN));

        BFloat16 a = (BFloat16)1.5f, b = (BFloat16)2.5f, alsoA = BFloat16.FromBits(a.Bits), negativeZero = BFloat16.FromBits(0x8000);
        Assert.True(a < b && b > a && a <= alsoA && a >= alsoA && a == alsoA && a != b);
        Assert.True(BFloat16.Zero == negativeZero);
        Assert.True(BFloat16.Zero.Equals(negativeZero));
        Assert.False(BFloat16.NaN == BFloat16.NaN);
        Assert.True(BFloat16.NaN != BFloat16.NaN);
        Assert.True(BFloat16.NaN.Equals(BFloat16.NaN)); // as float.Equals
        Assert.Equal(BFloat16.NaN.GetHashCode(), BFloat16.FromBits(0xffc1).GetHashCode());
        Assert.True(a.CompareTo(b) < 0 && b.CompareTo(a) > 0 && a.CompareTo((object)a) == 0 && a.CompareTo(null) > 0);
        Assert.Throws<ArgumentException>(() => a.CompareTo("1.5"));
        Assert.Equal("1.5", a.ToString(null, CultureInfo.InvariantCulture));
        Assert.Equal("2.50", b.ToString("F2", CultureInfo.InvariantCulture));
        Assert.Equal(1.5, (double)a);
        Assert.Equal(((BFloat16)(float)1.00390625).Bits, ((BFloat16)1.00390625).Bits); // double goes through float
        Assert.Equal(2, System.Runtime.CompilerServices.Unsafe.SizeOf<BFloat16>());
    }
}
