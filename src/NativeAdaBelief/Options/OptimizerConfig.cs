namespace NativeAdaBelief;

/// <summary>How an optimizer is created: where it runs and with how many threads.</summary>
public sealed record OptimizerConfig
{
    /// <summary>Where the optimizer keeps its state and runs its step. Default <see cref="DeviceType.Cpu"/>.</summary>
    public DeviceType Device { get; init; } = DeviceType.Cpu;

    /// <summary>The CUDA device ordinal; must be 0 for the CPU. Default 0.</summary>
    public int DeviceOrdinal { get; init; }

    /// <summary>
    /// Worker threads for the CPU step, including the caller's thread; 0 means one per logical
    /// core; at most <see cref="MaxThreadCount"/>. Default 0. Results are bit-identical for every
    /// thread count.
    /// </summary>
    public int ThreadCount { get; init; }

    /// <summary>The largest <see cref="ThreadCount"/> the native library accepts.</summary>
    public const int MaxThreadCount = 4096;

    /// <summary>The CPU kernel's instruction-set level. Default <see cref="NativeAdaBelief.SimdLevel.Auto"/>.</summary>
    public SimdLevel SimdLevel { get; init; } = SimdLevel.Auto;

    /// <summary>Checks the values; throws <see cref="ArgumentOutOfRangeException"/> naming the property and value.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its valid range.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Device))
        {
            throw new ArgumentOutOfRangeException(nameof(Device), Device, $"OptimizerConfig.Device = {Device} is not a defined DeviceType.");
        }
        if (DeviceOrdinal < 0 || (Device == DeviceType.Cpu && DeviceOrdinal != 0))
        {
            throw new ArgumentOutOfRangeException(nameof(DeviceOrdinal), DeviceOrdinal,
                $"OptimizerConfig.DeviceOrdinal = {DeviceOrdinal} is invalid: it must be >= 0, and 0 for the CPU.");
        }
        if (ThreadCount < 0 || ThreadCount > MaxThreadCount)
        {
            throw new ArgumentOutOfRangeException(nameof(ThreadCount), ThreadCount,
                $"OptimizerConfig.ThreadCount = {ThreadCount} is invalid: it must be between 0 (one per logical core) and {MaxThreadCount}.");
        }
        if (!Enum.IsDefined(SimdLevel))
        {
            throw new ArgumentOutOfRangeException(nameof(SimdLevel), SimdLevel, $"OptimizerConfig.SimdLevel = {SimdLevel} is not a defined SimdLevel.");
        }
    }
}
