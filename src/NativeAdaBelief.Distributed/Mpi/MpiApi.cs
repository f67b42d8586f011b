namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>
/// The MPI functions and handles this library uses, over one loaded MPI library. MPI's C ABI is
/// not standard: MPICH and its derivatives (Intel MPI, MVAPICH) make handles integers, Open MPI
/// makes them addresses of exported globals. Each subclass binds the functions with its own
/// handle type; callers hold every handle as an <see cref="nint"/> (an MPICH handle widened).
/// Every function returns MPI's error code (0 = MPI_SUCCESS).
/// </summary>
internal abstract unsafe class MpiApi
{
    /// <summary>MPI_THREAD_SERIALIZED (2 in both ABIs): any thread may call, one at a time.</summary>
    internal const int ThreadSerialized = 2;

    /// <summary>MPI_SUCCESS.</summary>
    internal const int Success = 0;

    protected MpiApi(string path, nint library)
    {
        Path = path;
        Library = library;
    }

    /// <summary>Where the library was loaded from.</summary>
    internal string Path { get; }

    /// <summary>The dlopen handle.</summary>
    internal nint Library { get; }

    /// <summary>"MPICH" (and its ABI family) or "Open MPI".</summary>
    internal abstract string Family { get; }

    internal abstract nint CommWorld { get; }
    internal abstract nint Int { get; }
    internal abstract nint Float { get; }
    internal abstract nint Byte { get; }
    internal abstract nint Double { get; }
    internal abstract nint Sum { get; }
    internal abstract nint ErrorsReturn { get; }

    /// <summary>MPI_IN_PLACE.</summary>
    internal abstract void* InPlace { get; }

    internal abstract int Initialized(int* flag);
    internal abstract int Finalized(int* flag);
    internal abstract int InitThread(int required, int* provided);
    internal abstract int Finalize();
    internal abstract int Abort(nint comm, int code);
    internal abstract int CommRank(nint comm, int* rank);
    internal abstract int CommSize(nint comm, int* size);
    internal abstract int CommDup(nint comm, nint* copy);
    internal abstract int CommFree(nint* comm);
    internal abstract int CommSetErrhandler(nint comm, nint handler);
    internal abstract int ErrorString(int code, byte* text, int* length);
    internal abstract int TypeContiguous(int count, nint type, nint* created);
    internal abstract int TypeCommit(nint* type);
    internal abstract int TypeFree(nint* type);
    internal abstract int Ialltoallv(void* send, int* sendCounts, int* sendDisplacements, nint sendType, void* receive, int* receiveCounts,
        int* receiveDisplacements, nint receiveType, nint comm, nint* request);
    internal abstract int Iallgatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements,
        nint receiveType, nint comm, nint* request);
    internal abstract int Igatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements,
        nint receiveType, int root, nint comm, nint* request);
    internal abstract int Iscatterv(void* send, int* counts, int* displacements, nint sendType, void* receive, int receiveCount,
        nint receiveType, int root, nint comm, nint* request);
    internal abstract int Ibcast(void* buffer, int count, nint type, int root, nint comm, nint* request);
    internal abstract int Iallreduce(void* send, void* receive, int count, nint type, nint op, nint comm, nint* request);
    internal abstract int Ibarrier(nint comm, nint* request);

    /// <summary>MPI_Test with MPI_STATUS_IGNORE: sets <paramref name="done"/> to 1 when the request completed.</summary>
    internal abstract int Test(nint* request, int* done);

    /// <summary>MPI_Get_library_version (no handles, so both ABIs bind it alike).</summary>
    internal static string LibraryVersion(nint library)
    {
        if (!System.Runtime.InteropServices.NativeLibrary.TryGetExport(library, "MPI_Get_library_version", out nint address))
        {
            return "";
        }
        var get = (delegate* unmanaged<byte*, int*, int>)address;
        byte* text = stackalloc byte[8192]; // MPI_MAX_LIBRARY_VERSION_STRING is 8192 in MPICH, 256 in Open MPI
        int length = 0;
        return get(text, &length) == Success ? new string((sbyte*)text, 0, Math.Clamp(length, 0, 8192)).Trim('\0', ' ', '\n') : "";
    }

    /// <summary>The address of an exported function or global, or a <see cref="EntryPointNotFoundException"/> naming it.</summary>
    protected nint Export(string name) =>
        System.Runtime.InteropServices.NativeLibrary.TryGetExport(Library, name, out nint address)
            ? address
            : throw new EntryPointNotFoundException($"{Path} does not export {name}: it is not an MPI-3 library of the {Family} family.");
}
