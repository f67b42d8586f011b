using System.Diagnostics;
using System.Globalization;
using NativeAdaBelief.Distributed.Mpi;

namespace NativeAdaBelief.Distributed;

/// <summary>
/// The ranks of an MPI job (<c>MPI_COMM_WORLD</c>), over the system's MPI library loaded at run
/// time: MPICH (<c>libmpich.so.12</c>, also Intel MPI and MVAPICH) or Open MPI
/// (<c>libmpi.so.40</c>). Start the program with that MPI's launcher:
/// <c>mpiexec -n 2 dotnet Trainer.dll</c>.
/// </summary>
/// <remarks>
/// <para><see cref="Initialize"/> initializes MPI (unless the process already did) and works on
/// a duplicate of <c>MPI_COMM_WORLD</c> whose errors are returned, not fatal: a failed MPI call
/// throws <see cref="CommunicatorException"/> with MPI's message. Every collective is started
/// non-blocking and polled, so that a rank that died makes the others throw
/// <see cref="CommunicatorTimeoutException"/> after <see cref="Communicator.Timeout"/> instead of
/// hanging. After any such failure the communicator refuses further calls.</para>
/// <para><see cref="Communicator.Dispose()"/> finalizes MPI when this communicator initialized
/// it and it is the last one alive (MPI cannot be initialized again in the same process).</para>
/// </remarks>
public sealed unsafe class MpiCommunicator : Communicator
{
    private static readonly Lock Sync = new();
    private static MpiApi? s_api;
    private static int s_alive;
    private static bool s_initializedHere;

    private readonly MpiApi _api;
    private readonly int _rank, _size;
    private readonly nint _comm, _blockType;
    private string? _failure;

    private MpiCommunicator(MpiApi api, nint comm, nint blockType, int rank, int size, string version)
    {
        _api = api;
        _comm = comm;
        _blockType = blockType;
        _rank = rank;
        _size = size;
        Description = string.Create(CultureInfo.InvariantCulture,
            $"{(version.Length == 0 ? api.Family : FirstLine(version))} via {api.Path}, {size} rank(s)");
    }

    /// <summary>
    /// Loads the MPI library (see <see cref="MpiCommunicator"/>; the environment variable
    /// <c>NATIVE_ADABELIEF_MPI_LIBRARY</c> names another), initializes MPI with
    /// <c>MPI_THREAD_SERIALIZED</c> unless the process already did, and returns the communicator
    /// of every rank of the job.
    /// </summary>
    /// <returns>The job's communicator; dispose it at the end of the program.</returns>
    /// <exception cref="MpiLibraryNotFoundException">No MPI library could be loaded (the message lists what was tried).</exception>
    /// <exception cref="CommunicatorException">MPI failed to initialize, was already finalized in this process, or sees
    /// one process where the launcher started several (a library of another MPI than the launcher's).</exception>
    public static MpiCommunicator Initialize()
    {
        lock (Sync)
        {
            s_api ??= MpiLibrary.Load();
            MpiApi api = s_api;
            int flag = 0;
            Check(api, api.Finalized(&flag), "MPI_Finalized", -1);
            if (flag != 0)
            {
                throw new CommunicatorException(
                    "MPI was already finalized in this process (an MpiCommunicator was disposed): MPI cannot be initialized twice. "
                    + "Keep one communicator for the whole program.");
            }
            Check(api, api.Initialized(&flag), "MPI_Initialized", -1);
            if (flag == 0)
            {
                int provided = 0;
                Check(api, api.InitThread(MpiApi.ThreadSerialized, &provided), "MPI_Init_thread", -1);
                s_initializedHere = true;
            }
            nint comm = 0, blockType = 0;
            int rank = 0, size = 0;
            Check(api, api.CommDup(api.CommWorld, &comm), "MPI_Comm_dup", -1);
            Check(api, api.CommSetErrhandler(comm, api.ErrorsReturn), "MPI_Comm_set_errhandler", -1);
            Check(api, api.CommRank(comm, &rank), "MPI_Comm_rank", -1);
            Check(api, api.CommSize(comm, &size), "MPI_Comm_size", rank);
            Check(api, api.TypeContiguous(CollectiveElements.Size(CollectiveElement.Block), api.Byte, &blockType), "MPI_Type_contiguous", rank);
            Check(api, api.TypeCommit(&blockType), "MPI_Type_commit", rank);
            s_alive++;
            var communicator = new MpiCommunicator(api, comm, blockType, rank, size, MpiApi.LibraryVersion(api.Library));
            try
            {
                communicator.CheckLauncher();
            }
            catch
            {
                communicator.Dispose();
                throw;
            }
            return communicator;
        }
    }

    /// <inheritdoc />
    public override int Rank => _rank;

    /// <inheritdoc />
    public override int Size => _size;

    /// <inheritdoc />
    public override string Description { get; }

    /// <summary>The MPI family whose ABI is in use: "MPICH" or "Open MPI".</summary>
    public string Implementation => _api.Family;

    /// <inheritdoc />
    public override void Abort(int exitCode)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        _api.Abort(_api.CommWorld, exitCode);
        Environment.Exit(exitCode); // in case the MPI returns from MPI_Abort
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        lock (Sync)
        {
            s_alive--;
            // After a failure another rank may be gone: freeing the communicator or finalizing
            // could wait for it forever, so a failed communicator is only let go of.
            if (_failure is null)
            {
                nint blockType = _blockType, comm = _comm;
                _api.TypeFree(&blockType);
                _api.CommFree(&comm);
                if (s_alive == 0 && s_initializedHere)
                {
                    _api.Finalize();
                    s_initializedHere = false;
                }
            }
        }
    }

    /// <summary>A job started by a launcher for several processes must see them all.</summary>
    private void CheckLauncher()
    {
        string? launched = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") ?? Environment.GetEnvironmentVariable("PMI_SIZE");
        if (_size == 1 && int.TryParse(launched, NumberStyles.Integer, CultureInfo.InvariantCulture, out int expected) && expected > 1)
        {
            throw new CommunicatorException(
                $"The launcher started {expected} processes, but {_api.Path} ({_api.Family}) sees only this one: the MPI library "
                + "does not belong to the launcher's MPI (MPICH's mpiexec with Open MPI's library, or the other way round). Start the "
                + $"program with the launcher of the library, or set {MpiLibrary.PathVariable} to the launcher's library.");
        }
    }

    // ---- Collectives: started non-blocking, then polled until done or the timeout. ----

    internal override void AllToAll(CollectiveElement element, void* send, int[] sendCounts, int[] sendDisplacements, void* receive,
        int[] receiveCounts, int[] receiveDisplacements)
    {
        Usable();
        nint request = 0;
        fixed (int* sc = sendCounts)
        fixed (int* sd = sendDisplacements)
        fixed (int* rc = receiveCounts)
        fixed (int* rd = receiveDisplacements)
        {
            Started(_api.Ialltoallv(send, sc, sd, Type(element), receive, rc, rd, Type(element), _comm, &request), "MPI_Ialltoallv");
            Wait(request, "MPI_Ialltoallv (the gradients' exchange)");
        }
    }

    internal override void AllGatherInPlace(CollectiveElement element, void* buffer, int[] counts, int[] displacements)
    {
        Usable();
        nint request = 0;
        fixed (int* c = counts)
        fixed (int* d = displacements)
        {
            Started(_api.Iallgatherv(_api.InPlace, 0, Type(element), buffer, c, d, Type(element), _comm, &request), "MPI_Iallgatherv");
            Wait(request, "MPI_Iallgatherv (the parameters)");
        }
    }

    internal override void AllGather(CollectiveElement element, void* send, int count, void* receive, int[] counts, int[] displacements)
    {
        Usable();
        nint request = 0;
        fixed (int* c = counts)
        fixed (int* d = displacements)
        {
            Started(_api.Iallgatherv(send, count, Type(element), receive, c, d, Type(element), _comm, &request), "MPI_Iallgatherv");
            Wait(request, "MPI_Iallgatherv");
        }
    }

    internal override void Gather(CollectiveElement element, void* send, int count, void* receive, int[] counts, int[] displacements,
        int root)
    {
        Usable();
        nint request = 0;
        fixed (int* c = counts)
        fixed (int* d = displacements)
        {
            Started(_api.Igatherv(send, count, Type(element), receive, c, d, Type(element), root, _comm, &request), "MPI_Igatherv");
            Wait(request, "MPI_Igatherv");
        }
    }

    internal override void Scatter(CollectiveElement element, void* send, int[] counts, int[] displacements, void* receive, int count,
        int root)
    {
        Usable();
        nint request = 0;
        fixed (int* c = counts)
        fixed (int* d = displacements)
        {
            Started(_api.Iscatterv(send, c, d, Type(element), receive, count, Type(element), root, _comm, &request), "MPI_Iscatterv");
            Wait(request, "MPI_Iscatterv");
        }
    }

    internal override void Broadcast(CollectiveElement element, void* data, int count, int root)
    {
        Usable();
        nint request = 0;
        Started(_api.Ibcast(data, count, Type(element), root, _comm, &request), "MPI_Ibcast");
        Wait(request, "MPI_Ibcast");
    }

    internal override void AllReduceSum(double* values, int count)
    {
        Usable();
        nint request = 0;
        Started(_api.Iallreduce(_api.InPlace, values, count, _api.Double, _api.Sum, _comm, &request), "MPI_Iallreduce");
        Wait(request, "MPI_Iallreduce");
    }

    /// <inheritdoc />
    protected override void BarrierCore()
    {
        Usable();
        nint request = 0;
        Started(_api.Ibarrier(_comm, &request), "MPI_Ibarrier");
        Wait(request, "MPI_Ibarrier");
    }

    private nint Type(CollectiveElement element) => element switch
    {
        CollectiveElement.Byte => _api.Byte,
        CollectiveElement.Int => _api.Int,
        CollectiveElement.Float => _api.Float,
        CollectiveElement.Double => _api.Double,
        _ => _blockType,
    };

    /// <summary>Refuses calls after a dispose or a failure.</summary>
    private void Usable()
    {
        ThrowIfDisposed();
        if (_failure is not null)
        {
            throw new CommunicatorException($"This communicator failed earlier and cannot be used any more: {_failure}");
        }
    }

    private void Started(int code, string function)
    {
        if (code != MpiApi.Success)
        {
            throw Failed(new CommunicatorException(ErrorText(_api, code, function, _rank)));
        }
    }

    /// <summary>
    /// Polls <paramref name="request"/> until it completes: spinning briefly (the latency of a
    /// small collective), then yielding the core between polls (ranks may share cores), and
    /// failing once <see cref="Communicator.Timeout"/> has passed.
    /// </summary>
    private void Wait(nint request, string operation)
    {
        long start = Stopwatch.GetTimestamp();
        for (long polls = 0; ; polls++)
        {
            int done = 0;
            int code = _api.Test(&request, &done);
            if (code != MpiApi.Success)
            {
                throw Failed(new CommunicatorException(ErrorText(_api, code, operation, _rank)));
            }
            if (done != 0)
            {
                return;
            }
            if (polls % 1000 == 999)
            {
                Thread.Yield();
            }
            if ((polls & 255) == 255 && Stopwatch.GetElapsedTime(start) > Timeout)
            {
                throw Failed(new CommunicatorTimeoutException(
                    $"{operation} did not complete within {Timeout.ToString("c", CultureInfo.InvariantCulture)} (Communicator.Timeout) "
                    + $"on rank {_rank} of {_size}: another rank has probably died, hung, or is not making the same call. This "
                    + "communicator cannot be used any more; end the process (Communicator.Abort ends every rank)."));
            }
        }
    }

    private CommunicatorException Failed(CommunicatorException exception)
    {
        _failure ??= exception.Message;
        return exception;
    }

    private static void Check(MpiApi api, int code, string function, int rank)
    {
        if (code != MpiApi.Success)
        {
            throw new CommunicatorException(ErrorText(api, code, function, rank));
        }
    }

    private static string ErrorText(MpiApi api, int code, string function, int rank)
    {
        byte* text = stackalloc byte[1024]; // MPI_MAX_ERROR_STRING: 512 in MPICH, 256 in Open MPI
        int length = 0;
        string message = api.ErrorString(code, text, &length) == MpiApi.Success
            ? new string((sbyte*)text, 0, Math.Clamp(length, 0, 1024))
            : "no message";
        string where = rank >= 0 ? $" on rank {rank}" : "";
        return $"{function} failed{where} with MPI error {code}: {message.Trim()} ({api.Family} via {api.Path})";
    }

    /// <summary>
    /// The version string's first line up to its first comma, as one would write it: "MPICH
    /// Version:\t4.0.2" becomes "MPICH 4.0.2", "Open MPI v4.1.4, package: ..." "Open MPI v4.1.4".
    /// </summary>
    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\n', '\r', ',']);
        string line = (end < 0 ? text : text[..end]).Replace("Version:", "", StringComparison.Ordinal);
        return string.Join(' ', line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
    }
}
