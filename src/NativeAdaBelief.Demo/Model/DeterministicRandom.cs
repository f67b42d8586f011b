namespace NativeAdaBelief.Demo.Model;

/// <summary>
/// SplitMix64: a tiny, fully specified random generator. The demo uses it (not
/// <see cref="Random"/>) so that weight initialization and data order are a pure function of the
/// seed on every platform and runtime version, which is what makes a resumed run land on the same
/// weights as an uninterrupted one.
/// </summary>
internal struct DeterministicRandom
{
    private ulong _state;

    /// <summary>Creates a generator from a seed and a stream number (e.g. the epoch).</summary>
    public DeterministicRandom(ulong seed, ulong stream = 0)
    {
        _state = seed ^ (0x9E3779B97F4A7C15UL * (stream + 1));
        NextUInt64();
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform double in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A uniform integer in [0, <paramref name="bound"/>), without modulo bias.</summary>
    public int NextInt(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bound);
        ulong limit = ulong.MaxValue - (ulong.MaxValue % (ulong)bound);
        ulong value;
        do
        {
            value = NextUInt64();
        }
        while (value >= limit);
        return (int)(value % (ulong)bound);
    }

    /// <summary>A standard normal sample (Box–Muller).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fills <paramref name="order"/> with a random permutation of 0..n-1 (Fisher–Yates).</summary>
    public void Permutation(Span<int> order)
    {
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }
}
