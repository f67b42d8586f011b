namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>
/// The MPICH ABI (MPICH, Intel MPI, MVAPICH; <c>libmpich.so.12</c>): every handle is an
/// <see cref="int"/> constant from MPICH's <c>mpi.h</c>, requests included.
/// </summary>
internal sealed unsafe class MpichApi : MpiApi
{
    // From MPICH's mpi.h (stable across MPICH 3 and 4 and the derivatives sharing its ABI).
    private const int CommWorldHandle = 0x44000000;
    private const int IntHandle = 0x4c000405;
    private const int FloatHandle = 0x4c00040a;
    private const int DoubleHandle = 0x4c00080b;
    private const int ByteHandle = 0x4c00010d;
    private const int SumHandle = 0x58000003;
    private const int ErrorsReturnHandle = 0x54000001;
    private static readonly void* StatusIgnore = (void*)1;

    private readonly delegate* unmanaged<int*, int> _initialized, _finalized;
    private readonly delegate* unmanaged<int*, byte***, int, int*, int> _initThread;
    private readonly delegate* unmanaged<int> _finalize;
    private readonly delegate* unmanaged<int, int, int> _abort;
    private readonly delegate* unmanaged<int, int*, int> _commRank, _commSize, _commDup;
    private readonly delegate* unmanaged<int*, int> _commFree, _typeCommit, _typeFree;
    private readonly delegate* unmanaged<int, int, int> _commSetErrhandler;
    private readonly delegate* unmanaged<int, byte*, int*, int> _errorString;
    private readonly delegate* unmanaged<int, int, int*, int> _typeContiguous;
    private readonly delegate* unmanaged<void*, int*, int*, int, void*, int*, int*, int, int, int*, int> _ialltoallv;
    private readonly delegate* unmanaged<void*, int, int, void*, int*, int*, int, int, int*, int> _iallgatherv;
    private readonly delegate* unmanaged<void*, int, int, void*, int*, int*, int, int, int, int*, int> _igatherv;
    private readonly delegate* unmanaged<void*, int*, int*, int, void*, int, int, int, int, int*, int> _iscatterv;
    private readonly delegate* unmanaged<void*, int, int, int, int, int*, int> _ibcast;
    private readonly delegate* unmanaged<void*, void*, int, int, int, int, int*, int> _iallreduce;
    private readonly delegate* unmanaged<int, int*, int> _ibarrier;
    private readonly delegate* unmanaged<int*, int*, void*, int> _test;

    internal MpichApi(string path, nint library) : base(path, library)
    {
        _initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        _finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
        _initThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        _finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        _abort = (delegate* unmanaged<int, int, int>)Export("MPI_Abort");
        _commRank = (delegate* unmanaged<int, int*, int>)Export("MPI_Comm_rank");
        _commSize = (delegate* unmanaged<int, int*, int>)Export("MPI_Comm_size");
        _commDup = (delegate* unmanaged<int, int*, int>)Export("MPI_Comm_dup");
        _commFree = (delegate* unmanaged<int*, int>)Export("MPI_Comm_free");
        _commSetErrhandler = (delegate* unmanaged<int, int, int>)Export("MPI_Comm_set_errhandler");
        _errorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
        _typeContiguous = (delegate* unmanaged<int, int, int*, int>)Export("MPI_Type_contiguous");
        _typeCommit = (delegate* unmanaged<int*, int>)Export("MPI_Type_commit");
        _typeFree = (delegate* unmanaged<int*, int>)Export("MPI_Type_free");
        _ialltoallv = (delegate* unmanaged<void*, int*, int*, int, void*, int*, int*, int, int, int*, int>)Export("MPI_Ialltoallv");
        _iallgatherv = (delegate* unmanaged<void*, int, int, void*, int*, int*, int, int, int*, int>)Export("MPI_Iallgatherv");
        _igatherv = (delegate* unmanaged<void*, int, int, void*, int*, int*, int, int, int, int*, int>)Export("MPI_Igatherv");
        _iscatterv = (delegate* unmanaged<void*, int*, int*, int, void*, int, int, int, int, int*, int>)Export("MPI_Iscatterv");
        _ibcast = (delegate* unmanaged<void*, int, int, int, int, int*, int>)Export("MPI_Ibcast");
        _iallreduce = (delegate* unmanaged<void*, void*, int, int, int, int, int*, int>)Export("MPI_Iallreduce");
        _ibarrier = (delegate* unmanaged<int, int*, int>)Export("MPI_Ibarrier");
        _test = (delegate* unmanaged<int*, int*, void*, int>)Export("MPI_Test");
    }

    internal override string Family => "MPICH";
    internal override nint CommWorld => CommWorldHandle;
    internal override nint Int => IntHandle;
    internal override nint Float => FloatHandle;
    internal override nint Byte => ByteHandle;
    internal override nint Double => DoubleHandle;
    internal override nint Sum => SumHandle;
    internal override nint ErrorsReturn => ErrorsReturnHandle;
    internal override void* InPlace => (void*)-1;

    internal override int Initialized(int* flag) => _initialized(flag);
    internal override int Finalized(int* flag) => _finalized(flag);
    internal override int InitThread(int required, int* provided) => _initThread(null, null, required, provided);
    internal override int Finalize() => _finalize();
    internal override int Abort(nint comm, int code) => _abort((int)comm, code);
    internal override int CommRank(nint comm, int* rank) => _commRank((int)comm, rank);
    internal override int CommSize(nint comm, int* size) => _commSize((int)comm, size);

    internal override int CommDup(nint comm, nint* copy)
    {
        int handle = 0;
        int code = _commDup((int)comm, &handle);
        *copy = handle;
        return code;
    }

    internal override int CommFree(nint* comm) => WithHandle(comm, _commFree);
    internal override int CommSetErrhandler(nint comm, nint handler) => _commSetErrhandler((int)comm, (int)handler);
    internal override int ErrorString(int code, byte* text, int* length) => _errorString(code, text, length);

    internal override int TypeContiguous(int count, nint type, nint* created)
    {
        int handle = 0;
        int code = _typeContiguous(count, (int)type, &handle);
        *created = handle;
        return code;
    }

    internal override int TypeCommit(nint* type) => WithHandle(type, _typeCommit);
    internal override int TypeFree(nint* type) => WithHandle(type, _typeFree);

    internal override int Ialltoallv(void* send, int* sendCounts, int* sendDisplacements, nint sendType, void* receive,
        int* receiveCounts, int* receiveDisplacements, nint receiveType, nint comm, nint* request) =>
        Started(request, _ialltoallv(send, sendCounts, sendDisplacements, (int)sendType, receive, receiveCounts, receiveDisplacements,
            (int)receiveType, (int)comm, (int*)request));

    internal override int Iallgatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements,
        nint receiveType, nint comm, nint* request) =>
        Started(request, _iallgatherv(send, sendCount, (int)sendType, receive, counts, displacements, (int)receiveType, (int)comm,
            (int*)request));

    internal override int Igatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements,
        nint receiveType, int root, nint comm, nint* request) =>
        Started(request, _igatherv(send, sendCount, (int)sendType, receive, counts, displacements, (int)receiveType, root, (int)comm,
            (int*)request));

    internal override int Iscatterv(void* send, int* counts, int* displacements, nint sendType, void* receive, int receiveCount,
        nint receiveType, int root, nint comm, nint* request) =>
        Started(request, _iscatterv(send, counts, displacements, (int)sendType, receive, receiveCount, (int)receiveType, root,
            (int)comm, (int*)request));

    internal override int Ibcast(void* buffer, int count, nint type, int root, nint comm, nint* request) =>
        Started(request, _ibcast(buffer, count, (int)type, root, (int)comm, (int*)request));

    internal override int Iallreduce(void* send, void* receive, int count, nint type, nint op, nint comm, nint* request) =>
        Started(request, _iallreduce(send, receive, count, (int)type, (int)op, (int)comm, (int*)request));

    internal override int Ibarrier(nint comm, nint* request) => Started(request, _ibarrier((int)comm, (int*)request));

    internal override int Test(nint* request, int* done)
    {
        int handle = (int)*request;
        int code = _test(&handle, done, StatusIgnore);
        *request = handle;
        return code;
    }

    /// <summary>
    /// A request MPICH wrote into the low four bytes of <paramref name="request"/> (little-endian),
    /// widened: the caller zeroed the slot, so only the sign needs fixing.
    /// </summary>
    private static int Started(nint* request, int code)
    {
        *request = *(int*)request;
        return code;
    }

    /// <summary>Calls a function that takes a handle by address and may rewrite it.</summary>
    private static int WithHandle(nint* slot, delegate* unmanaged<int*, int> function)
    {
        int handle = (int)*slot;
        int code = function(&handle);
        *slot = handle;
        return code;
    }
}
