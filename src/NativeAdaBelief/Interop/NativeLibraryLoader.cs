using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;


namespace NativeAdaBelief.Interop;

/// <summary>
/// Finds and loads the native library for every <c>[LibraryImport]</c> of this assembly.
/// Registered once, from the module initializer (never from a static constructor, so a failure
/// surfaces as itself instead of a <see cref="TypeInitializationException"/>).
/// </summary>
/// <remarks>
/// Search order, first hit wins:
/// <list type="number">
/// <item>the full path in the environment variable <c>NATIVE_ADABELIEF_LIBRARY</c>, when set;</item>
/// <item><c>runtimes/&lt;rid&gt;/native/</c> next to this assembly (the NuGet package layout);</item>
/// <item>this assembly's own directory;</item>
/// <item>the runtime's default probing (deps.json, <c>LD_LIBRARY_PATH</c>, <c>PATH</c>, ...).</item>
/// </list>
/// When nothing loads, a <see cref="NativeLibraryNotFoundException"/> lists every place tried,
/// why each failed, and what to do.
/// </remarks>
internal static class NativeLibraryLoader
{
    /// <summary>The environment variable that names the library's full path.</summary>
    internal const string PathVariable = "NATIVE_ADABELIEF_LIBRARY";

    private static string? s_loadedFrom;

    /// <summary>Where the library was loaded from, once it has been (null before).</summary>
    internal static string? LoadedFrom => Volatile.Read(ref s_loadedFrom);

#pragma warning disable CA2255 // A library's module initializer is the one hook that runs before its first P/Invoke.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryLoader).Assembly, Resolve);

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != NativeMethods.LibraryName)
        {
            return 0; // not ours: let the runtime do what it always does
        }

#pragma warning disable IL3000 // Location is "" in a single-file app: then AppContext.BaseDirectory is the place.
        string location = assembly.Location;
#pragma warning restore IL3000
        nint handle = Load(
            Environment.GetEnvironmentVariable(PathVariable),
            Path.GetDirectoryName(location) is { Length: > 0 } dir ? dir : AppContext.BaseDirectory,
            name => NativeLibrary.TryLoad(name, assembly, searchPath, out nint h) ? h : 0,
            out string loadedFrom);
        Volatile.Write(ref s_loadedFrom, loadedFrom);
        return handle;
    }

    /// <summary>The file name of the library on this operating system.</summary>
    internal static string PlatformFileName =>
        OperatingSystem.IsWindows() ? "native_adabelief.dll"
        : OperatingSystem.IsMacOS() ? "libnative_adabelief.dylib"
        : "libnative_adabelief.so";

    /// <summary>
    /// The runtime identifiers whose <c>runtimes/&lt;rid&gt;/native</c> folders are searched: the
    /// portable one for this OS and architecture (e.g. <c>linux-x64</c>), then the runtime's own
    /// when it differs.
    /// </summary>
    internal static IReadOnlyList<string> RuntimeIdentifiers()
    {
        string os = OperatingSystem.IsWindows() ? "win"
            : OperatingSystem.IsMacOS() ? "osx"
            : OperatingSystem.IsFreeBSD() ? "freebsd"
            : "linux";
        string arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        var rids = new List<string> { $"{os}-{arch}" };
        string own = RuntimeInformation.RuntimeIdentifier;
        if (!string.IsNullOrEmpty(own) && !rids.Contains(own, StringComparer.OrdinalIgnoreCase))
        {
            rids.Add(own);
        }
        return rids;
    }

    /// <summary>
    /// The candidate files, in search order, for a given override and assembly directory
    /// (without the runtime's default probing, which comes last).
    /// </summary>
    internal static IReadOnlyList<string> CandidatePaths(string? overridePath, string assemblyDirectory)
    {
        var paths = new List<string>();
        if (!string.IsNullOrWhiteSpace(overridePath))
        {
            paths.Add(overridePath);
        }
        foreach (string rid in RuntimeIdentifiers())
        {
            paths.Add(Path.Combine(assemblyDirectory, "runtimes", rid, "native", PlatformFileName));
        }
        paths.Add(Path.Combine(assemblyDirectory, PlatformFileName));
        return paths;
    }

    /// <summary>
    /// Loads the library from the first candidate that works, else from the runtime's default
    /// probing (<paramref name="defaultProbe"/>, which returns 0 on failure; null skips it).
    /// Throws <see cref="NativeLibraryNotFoundException"/> listing every attempt when all fail.
    /// </summary>
    internal static nint Load(string? overridePath, string assemblyDirectory, Func<string, nint>? defaultProbe,
        out string loadedFrom)
    {
        var attempts = new List<(string Where, string Why)>();
        foreach (string path in CandidatePaths(overridePath, assemblyDirectory))
        {
            if (!File.Exists(path))
            {
                attempts.Add((path, "no such file"));
                continue;
            }
            try
            {
                nint handle = NativeLibrary.Load(path);
                loadedFrom = path;
                return handle;
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                // The file is there but the loader refused it (wrong architecture, a missing
                // dependency, a too-new glibc, ...): its own words say which.
                attempts.Add((path, "found but could not be loaded: " + e.Message));
            }
        }

        if (defaultProbe is not null)
        {
            foreach (string name in new[] { NativeMethods.LibraryName, PlatformFileName })
            {
                nint handle = defaultProbe(name);
                if (handle != 0)
                {
                    loadedFrom = $"{name} (the runtime's default probing)";
                    return handle;
                }
                attempts.Add(($"{name} (the runtime's default probing: deps.json, the application directory, "
                    + (OperatingSystem.IsWindows() ? "PATH" : "LD_LIBRARY_PATH and the system's library paths") + ")",
                    "not found or not loadable"));
            }
        }

        throw new NativeLibraryNotFoundException(Describe(overridePath, attempts), attempts.Select(a => a.Where).ToArray());
    }

    private static string Describe(string? overridePath, List<(string Where, string Why)> attempts)
    {
        var text = new StringBuilder();
        text.Append("NativeAdaBelief could not load its native library '").Append(PlatformFileName)
            .Append("' for ").Append(RuntimeIdentifiers()[0]).AppendLine(". Tried, in order:");
        foreach ((string where, string why) in attempts)
        {
            text.Append("  - ").Append(where).Append(": ").AppendLine(why);
        }
        text.AppendLine("What to do:");
        if (!string.IsNullOrWhiteSpace(overridePath))
        {
            text.Append("  - ").Append(PathVariable).Append(" is set to '").Append(overridePath)
                .AppendLine("': point it at the library file itself, or unset it.");
        }
        text.AppendLine("  - using the NuGet package: make sure it has a runtimes/" + RuntimeIdentifiers()[0]
            + "/native/ folder for this platform (the package ships linux-x64, linux-arm64 and win-x64) "
            + "and that the build copied it next to your application;");
        text.AppendLine("  - building from source: run ./build.sh native, which installs the library into artifacts/install;");
        text.Append("  - or set ").Append(PathVariable).Append(" to the full path of ").Append(PlatformFileName).Append('.');
        return text.ToString();
    }
}
