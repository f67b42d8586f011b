using NativeAdaBelief.Interop;

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
    /// thread count. After each pass of a step, idle workers spin up to 100 microseconds for the
    /// next one before they sleep (waking a sleeping thread costs about as much).
    /// </summary>
    public int ThreadCount { get; init; }

    /// <summary>The largest <see cref="ThreadCount"/> the native library accepts (its <c>NAB_MAX_THREAD_COUNT</c>).</summary>
    public const int MaxThreadCount = (int)NativeMethods.NAB_MAX_THREAD_COUNT;

    /// <summary>The CPU kernel's instruction-set level. Default <see cref="NativeAdaBelief.SimdLevel.Auto"/>.</summary>
    public SimdLevel SimdLevel { get; init; } = SimdLevel.Auto;

    /// <summary>
    /// Checks the values with the native library's rules (whether this machine has the SIMD level
    /// or device is checked when the optimizer is created); throws
    /// <see cref="ArgumentOutOfRangeException"/> naming the property and value.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its valid range.</exception>
    /// <exception cref="NativeLibraryNotFoundException">The native library could not be loaded.</exception>
    public unsafe void Validate()
    {
        NativeRuntime.EnsureInitialized();
        nab_optimizer_config native = ToNative();
        NativeValidation.Check(NativeMethods.nab_optimizer_config_validate(&native), nameof(OptimizerConfig), name => name switch
        {
            "device_type" => (nameof(Device), Device),
            "device_ordinal" => (nameof(DeviceOrdinal), DeviceOrdinal),
            "thread_count" => (nameof(ThreadCount), ThreadCount),
            "simd_level" => (nameof(SimdLevel), SimdLevel),
            _ => null,
        });
    }

    /// <summary>The native struct (struct_size set).</summary>
    internal unsafe nab_optimizer_config ToNative() => new()
    {
        struct_size = (uint)sizeof(nab_optimizer_config),
        device_type = (int)Device,
        device_ordinal = DeviceOrdinal,
        thread_count = ThreadCount,
        simd_level = (int)SimdLevel,
    };
}
