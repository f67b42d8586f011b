namespace NativeAdaBelief.Tests.Support;

/// <summary>Random inputs as the spec asks for them: gradients spanning several orders of magnitude.</summary>
internal static class TestData
{
    /// <summary>Parameters uniform in [-1, 1].</summary>
    public static float[] Parameters(Random random, int length)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2.0 - 1.0);
        }
        return values;
    }

    /// <summary>Fills <paramref name="destination"/> with ±10^u, u uniform in [-4, 1]: five orders of magnitude, never 0.</summary>
    public static void Gradients(Random random, Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            double magnitude = Math.Pow(10.0, random.NextDouble() * 5.0 - 4.0);
            destination[i] = (float)(random.Next(2) == 0 ? magnitude : -magnitude);
        }
    }

    public static float[] Gradients(Random random, int length)
    {
        var values = new float[length];
        Gradients(random, values);
        return values;
    }
}
