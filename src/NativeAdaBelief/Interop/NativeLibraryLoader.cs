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
/// <item>the full path in the environment variable <c>NATIVE_ADABELIEF_LIBRARY</c>, when set:
/// then that file only (a path that names no loadable library is an error saying so, never a
/// silent fall-back to the bundled library);</item>
/// <item><c>runtimes/&lt;rid&gt;/native/</c> in the application's directory
/// (<see cref="AppContext.BaseDirectory"/>; the NuGet package layout);</item>
/// <item>the application's directory itself;</item>
/// <item>the runtime's default probing (deps.json, the assembly's directory, <c>LD_LIBRARY_PATH</c>, <c>PATH</c>, ...).</item>
/// </list>
/// When nothing loads, a <see cref="NativeLibraryNotFoundException"/> lists every place tried,
/// why each failed, and what to do. The application's directory, not <c>Assembly.Location</c>:
/// the latter is empty in single-file and native AOT apps (and warns IL3000 when they publish).
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

        nint handle = Load(
            Environment.GetEnvironmentVariable(PathVariable),
            AppContext.BaseDirectory,
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
    /// The candidate files, in search order, in an application directory (without the runtime's
    /// default probing, which comes last; an override replaces them all).
    /// </summary>
    internal static IReadOnlyList<string> CandidatePaths(string assemblyDirectory)
    {
        var paths = new List<string>();
        foreach (string rid in RuntimeIdentifiers())
        {
            paths.Add(Path.Combine(assemblyDirectory, "runtimes", rid, "native", PlatformFileName));
        }
        paths.Add(Path.Combine(assemblyDirectory, PlatformFileName));
        return paths;
    }

    /// <summary>
    /// Loads the library from <paramref name="overridePath"/> when it is set (that file only),
    /// else from the first candidate that works, else from the runtime's default probing
    /// (<paramref name="defaultProbe"/>, which returns 0 on failure; null skips it). Throws
    /// <see cref="NativeLibraryNotFoundException"/> listing every attempt when all fail.
    /// </summary>
    internal static nint Load(string? overridePath, string assemblyDirectory, Func<string, nint>? defaultProbe,
        out string loadedFrom)
    {
        var attempts = new List<(string Where, string Why)>();
        if (!string.IsNullOrWhiteSpace(overridePath))
        {
            // The caller asked for this file: it is that one or an error, never another library.
            if (TryLoadFile(overridePath, attempts) is nint chosen)
            {
                loadedFrom = overridePath;
                return chosen;
            }
            throw new NativeLibraryNotFoundException(
                $"{PathVariable} is set to '{overridePath}', which {(File.Exists(overridePath) ? "is not a library this process can load (" + attempts[0].Why + ")" : "names no file")}. "
                + $"Point it at the library file itself ({PlatformFileName}), or unset it to use the library the package ships; nothing else was tried.",
                [overridePath]);
        }
        foreach (string path in CandidatePaths(assemblyDirectory))
        {
            if (TryLoadFile(path, attempts) is nint handle)
            {
                loadedFrom = path;
                return handle;
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

        throw new NativeLibraryNotFoundException(Describe(attempts), attempts.Select(a => a.Where).ToArray());
    }

    /// <summary>Loads <paramref name="path"/>, or records in <paramref name="attempts"/> why it could not.</summary>
    private static nint? TryLoadFile(string path, List<(string Where, string Why)> attempts)
    {
        if (!File.Exists(path))
        {
            attempts.Add((path, "no such file"));
            return null;
        }
        try
        {
            return NativeLibrary.Load(path);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            // The file is there but the loader refused it (wrong architecture, a missing
            // dependency, a too-new glibc, ...): its own words say which.
            attempts.Add((path, "found but could not be loaded: " + e.Message));
            return null;
        }
    }

    private static string Describe(List<(string Where, string Why)> attempts)
    {
        var text = new StringBuilder();
        text.Append("NativeAdaBelief could not load its native library '").Append(PlatformFileName)
            .Append("' for ").Append(RuntimeIdentifiers()[0]).AppendLine(". Tried, in order:");
        foreach ((string where, string why) in attempts)
        {
            text.Append("  - ").Append(where).Append(": ").AppendLine(why);
        }
        text.AppendLine("What to do:");
        text.AppendLine("  - using the NuGet package: make sure it has a runtimes/" + RuntimeIdentifiers()[0]
            + "/native/ folder for this platform (the package ships linux-x64, linux-arm64 and win-x64) "
            + "and that the build copied it next to your application;");
        text.AppendLine("  - building from source: run ./build.sh native, which installs the library into artifacts/install;");
        text.Append("  - or set ").Append(PathVariable).Append(" to the full path of ").Append(PlatformFileName).Append('.');
        return text.ToString();
    }
}
