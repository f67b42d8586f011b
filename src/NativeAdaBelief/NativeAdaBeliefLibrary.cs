using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>Facts about the loaded native library. Each member loads and checks it on first use.</summary>
public static class NativeAdaBeliefLibrary
{
    /// <summary>The native library's version string, e.g. "0.1.0".</summary>
    public static unsafe string Version
    {
        get
        {
            NativeRuntime.EnsureInitialized();
            return System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)NativeMethods.nab_get_version_string()) ?? "";
        }
    }

    /// <summary>The ABI version this assembly was built against (the native library must report the same).</summary>
    public static uint ExpectedAbiVersion => NativeMethods.NAB_ABI_VERSION;

    /// <summary>The ABI version the loaded native library implements.</summary>
    public static uint AbiVersion
    {
        get
        {
            NativeRuntime.EnsureInitialized();
            return NativeMethods.nab_get_abi_version();
        }
    }

    /// <summary>Where the native library was loaded from (null if it has not been loaded yet).</summary>
    public static string? LoadedFrom => NativeLibraryLoader.LoadedFrom;

    /// <summary>The best SIMD level this CPU supports (never <see cref="SimdLevel.Auto"/>).</summary>
    public static unsafe SimdLevel BestSimdLevel
    {
        get
        {
            NativeRuntime.EnsureInitialized();
            int level;
            NativeStatus.Check(NativeMethods.nab_cpu_get_best_simd_level(&level));
            return (SimdLevel)level;
        }
    }

    /// <summary>
    /// Bytes of native host memory the library currently holds in state arrays, step counts and
    /// native buffers, each block counted with its 64-byte alignment header (device memory and
    /// the library's own small bookkeeping are not counted); for leak checks.
    /// </summary>
    public static unsafe long AllocatedBytes
    {
        get
        {
            NativeRuntime.EnsureInitialized();
            ulong bytes;
            NativeStatus.Check(NativeMethods.nab_get_allocated_bytes(&bytes));
            return (long)bytes;
        }
    }

    /// <summary>Loads the native library and checks its ABI version now, instead of at first use.</summary>
    /// <exception cref="NativeLibraryNotFoundException">The library could not be found or loaded.</exception>
    /// <exception cref="NativeAdaBeliefException">The library's ABI version does not match this assembly.</exception>
    public static void EnsureLoaded() => NativeRuntime.EnsureInitialized();
}
