namespace NativeAdaBelief.Interop;

/// <summary>
/// The first-use guard: every public entry point that reaches native code calls
/// <see cref="EnsureInitialized"/>, which loads the library (through
/// <see cref="NativeLibraryLoader"/>) and refuses a library whose ABI version differs from the
/// one these bindings were generated for. After the first success it costs one volatile read.
/// A failure is not cached: the next call tries again and throws again.
/// </summary>
internal static class NativeRuntime
{
    private static volatile bool s_ready;
    private static readonly Lock s_gate = new();

    /// <summary>Loads and checks the native library once; throws a clear exception if it cannot.</summary>
    internal static void EnsureInitialized()
    {
        if (!s_ready)
        {
            Initialize();
        }
    }

    private static void Initialize()
    {
        lock (s_gate)
        {
            if (s_ready)
            {
                return;
            }
            uint actual = NativeMethods.nab_get_abi_version(); // loads the library (or throws why not)
            CheckAbiVersion(actual, NativeMethods.NAB_ABI_VERSION, NativeLibraryLoader.LoadedFrom);
            s_ready = true;
        }
    }

    /// <summary>Throws when the library's ABI version is not the one the bindings expect.</summary>
    internal static void CheckAbiVersion(uint actual, uint expected, string? loadedFrom)
    {
        if (actual != expected)
        {
            throw new NativeAdaBeliefException(
                $"The native library{(loadedFrom is null ? "" : $" at '{loadedFrom}'")} implements ABI version {actual}, "
                + $"but this NativeAdaBelief assembly was built for ABI version {expected}. "
                + "The managed assembly and the native library come from different builds: use the library shipped "
                + "in the same NuGet package, or rebuild both (./build.sh native, then the .NET build), "
                + $"or point {NativeLibraryLoader.PathVariable} at the matching library.");
        }
    }
}
