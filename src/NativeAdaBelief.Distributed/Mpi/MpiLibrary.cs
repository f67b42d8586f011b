using System.Runtime.InteropServices;

namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>
/// Finds and loads the system's MPI library at run time and binds the ABI it speaks: Open MPI's
/// (<c>libmpi.so.40</c>) when it exports <c>ompi_mpi_comm_world</c>, MPICH's
/// (<c>libmpich.so.12</c>, also Intel MPI and MVAPICH) when its version string says so.
/// </summary>
internal static unsafe partial class MpiLibrary
{
    /// <summary>The environment variable that names the MPI library to load (a full path or a file name).</summary>
    internal const string PathVariable = "NATIVE_ADABELIEF_MPI_LIBRARY";

    private const int RtldNow = 2;
    private const int RtldGlobal = 0x100;

    /// <summary>
    /// The libraries to try, in order. The launcher decides which MPI the processes belong to, so
    /// its environment orders the list: Open MPI's <c>mpirun</c> sets <c>OMPI_COMM_WORLD_SIZE</c>;
    /// otherwise (MPICH's Hydra sets <c>PMI_SIZE</c>, or no launcher at all) MPICH comes first.
    /// <see cref="PathVariable"/>, when set, is the only candidate.
    /// </summary>
    internal static IReadOnlyList<string> Candidates(Func<string, string?> environment)
    {
        string? named = environment(PathVariable);
        if (!string.IsNullOrWhiteSpace(named))
        {
            return [named];
        }
        string[] mpich = ["libmpich.so.12", "libmpi.so.12"];
        string[] openMpi = ["libmpi.so.40"];
        return environment("OMPI_COMM_WORLD_SIZE") is not null ? [.. openMpi, .. mpich] : [.. mpich, .. openMpi];
    }

    /// <summary>Loads the first candidate that opens and speaks a known ABI.</summary>
    /// <exception cref="MpiLibraryNotFoundException">None did: the message lists every attempt and what to install.</exception>
    internal static MpiApi Load()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException(
                "NativeAdaBelief.Distributed loads MPICH or Open MPI on Linux; this operating system is not supported yet.");
        }
        IReadOnlyList<string> candidates = Candidates(Environment.GetEnvironmentVariable);
        var attempts = new List<string>();
        foreach (string candidate in candidates)
        {
            // RTLD_GLOBAL: Open MPI loads its components as plugins that resolve libmpi's symbols
            // globally (what mpi4py does for the same reason).
            nint library = DlOpen(candidate, RtldNow | RtldGlobal);
            if (library == 0)
            {
                attempts.Add($"{candidate}: {DlError()}");
                continue;
            }
            if (NativeLibrary.TryGetExport(library, "ompi_mpi_comm_world", out _))
            {
                return new OpenMpiApi(candidate, library);
            }
            string version = MpiApi.LibraryVersion(library);
            if (version.Contains("MPICH", StringComparison.OrdinalIgnoreCase) || version.Contains("Intel", StringComparison.Ordinal)
                || version.Contains("MVAPICH", StringComparison.OrdinalIgnoreCase))
            {
                return new MpichApi(candidate, library);
            }
            attempts.Add($"{candidate}: loaded, but it is neither Open MPI nor of the MPICH family (its version: '{version}')");
        }
        throw new MpiLibraryNotFoundException(
            "No MPI library could be loaded. Tried, in order:" + Environment.NewLine
            + string.Join(Environment.NewLine, attempts.Select(a => "  " + a)) + Environment.NewLine
            + "Install MPICH (Debian: apt-get install mpich) or Open MPI (apt-get install openmpi-bin), or set "
            + $"{PathVariable} to the full path of your MPI library, and start the program with that MPI's launcher "
            + "(mpiexec -n 2 ...).",
            candidates);
    }

    private static string DlError()
    {
        byte* text = DlErrorNative();
        return text == null ? "unknown error" : Marshal.PtrToStringUTF8((nint)text) ?? "unknown error";
    }

    [LibraryImport("libc.so.6", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint DlOpen(string file, int mode);

    [LibraryImport("libc.so.6", EntryPoint = "dlerror")]
    private static partial byte* DlErrorNative();
}
