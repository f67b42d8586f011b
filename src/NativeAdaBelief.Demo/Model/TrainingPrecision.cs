namespace NativeAdaBelief.Demo.Model;

/// <summary>The number format the model's parameters and gradients are held in (<c>--precision</c>).</summary>
internal enum TrainingPrecision
{
    /// <summary>float32 parameters and gradients in <see cref="NativeBuffer"/>s, stepped in place: the demo as it always was.</summary>
    Float32,

    /// <summary>
    /// IEEE binary16 parameters and gradients (<see cref="NativeBuffer{T}"/> of <see cref="Half"/>),
    /// float32 master weights in the optimizer, dynamic loss scaling (float16's range is too
    /// narrow for small gradients without it).
    /// </summary>
    Float16,

    /// <summary>
    /// bfloat16 parameters and gradients (<see cref="NativeBuffer{T}"/> of <see cref="BFloat16"/>),
    /// float32 master weights in the optimizer; no loss scaling (bfloat16 has float32's exponent range).
    /// </summary>
    BFloat16,
}

/// <summary>Names and properties of the <see cref="TrainingPrecision"/>s.</summary>
internal static class TrainingPrecisions
{
    /// <summary>Every precision, in the order <c>--help</c> lists them.</summary>
    public static readonly TrainingPrecision[] All = [TrainingPrecision.Float32, TrainingPrecision.Float16, TrainingPrecision.BFloat16];

    /// <summary>The command-line (and checkpoint) name: float32, float16, bfloat16.</summary>
    public static string CliName(this TrainingPrecision precision) => precision switch
    {
        TrainingPrecision.Float32 => "float32",
        TrainingPrecision.Float16 => "float16",
        TrainingPrecision.BFloat16 => "bfloat16",
        _ => throw new ArgumentOutOfRangeException(nameof(precision)),
    };

    /// <summary>Parses a command-line name (case-insensitive).</summary>
    public static bool TryParse(string text, out TrainingPrecision precision)
    {
        foreach (TrainingPrecision candidate in All)
        {
            if (string.Equals(candidate.CliName(), text, StringComparison.OrdinalIgnoreCase))
            {
                precision = candidate;
                return true;
            }
        }
        precision = default;
        return false;
    }

    /// <summary>Parses a name read from a checkpoint or results file.</summary>
    /// <exception cref="InvalidDataException">It is not one of the names.</exception>
    public static TrainingPrecision Parse(string text) => TryParse(text, out TrainingPrecision precision)
        ? precision
        : throw new InvalidDataException($"Unknown precision '{text}': expected {string.Join(", ", All.Select(p => p.CliName()))}.");

    /// <summary>True for the two 16-bit formats (the optimizer keeps float32 master weights).</summary>
    public static bool Is16Bit(this TrainingPrecision precision) => precision != TrainingPrecision.Float32;

    /// <summary>
    /// True where the loss is scaled (float16): float16's smallest normal number is 6.1e-5, below
    /// which gradients lose bits and below 6e-8 vanish, so they are computed multiplied by a large
    /// scale; bfloat16 shares float32's exponent range and needs none.
    /// </summary>
    public static bool ScalesLoss(this TrainingPrecision precision) => precision == TrainingPrecision.Float16;

    /// <summary>One line for the console header and results.md: what the precision means in this demo.</summary>
    public static string Describe(this TrainingPrecision precision) => precision switch
    {
        TrainingPrecision.Float32 => "float32 parameters and gradients (NativeBuffer), stepped in place",
        TrainingPrecision.Float16 =>
            "float16 parameters and gradients (NativeBuffer<Half>), float32 master weights in the optimizer, forward and backward "
            + "in float32, dynamic loss scaling (from 2^16, x2 after 2000 good steps, x0.5 and the step skipped on overflow)",
        TrainingPrecision.BFloat16 =>
            "bfloat16 parameters and gradients (NativeBuffer<BFloat16>), float32 master weights in the optimizer, forward and "
            + "backward in float32, no loss scaling",
        _ => throw new ArgumentOutOfRangeException(nameof(precision)),
    };
}
