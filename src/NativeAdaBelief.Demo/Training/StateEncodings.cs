namespace NativeAdaBelief.Demo.Training;

/// <summary>Command-line and checkpoint names of the native optimizers' <see cref="StateEncoding"/>s (<c>--state-encoding</c>).</summary>
internal static class StateEncodings
{
    /// <summary>Every encoding, in the order <c>--help</c> lists them.</summary>
    public static readonly StateEncoding[] All = [StateEncoding.Float32, StateEncoding.Blockwise8Bit];

    /// <summary>The command-line (and checkpoint) name: float32, 8bit.</summary>
    public static string CliName(this StateEncoding encoding) => encoding switch
    {
        StateEncoding.Float32 => "float32",
        StateEncoding.Blockwise8Bit => "8bit",
        _ => throw new ArgumentOutOfRangeException(nameof(encoding)),
    };

    /// <summary>The name tables and plots show: "float32 state", "8-bit state".</summary>
    public static string DisplayName(this StateEncoding encoding) => encoding switch
    {
        StateEncoding.Float32 => "float32 state",
        StateEncoding.Blockwise8Bit => "8-bit state",
        _ => throw new ArgumentOutOfRangeException(nameof(encoding)),
    };

    /// <summary>Parses a command-line name (case-insensitive).</summary>
    public static bool TryParse(string text, out StateEncoding encoding)
    {
        foreach (StateEncoding candidate in All)
        {
            if (string.Equals(candidate.CliName(), text, StringComparison.OrdinalIgnoreCase))
            {
                encoding = candidate;
                return true;
            }
        }
        encoding = default;
        return false;
    }

    /// <summary>Parses a name read from a checkpoint or results file.</summary>
    /// <exception cref="InvalidDataException">It is not one of the names.</exception>
    public static StateEncoding Parse(string text) => TryParse(text, out StateEncoding encoding)
        ? encoding
        : throw new InvalidDataException($"Unknown state encoding '{text}': expected {string.Join(", ", All.Select(e => e.CliName()))}.");
}
