namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>
/// Open MPI's ABI (<c>libmpi.so.40</c>): every handle is a pointer; the predefined ones are the
/// addresses of globals the library exports (<c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>).
/// </summary>
internal sealed unsafe class OpenMpiApi : MpiApi
{
    private readonly nint _commWorld, _int, _float, _double, _byte, _sum, _errorsReturn;

    private readonly delegate* unmanaged<int*, int> _initialized, _finalized;
    private readonly delegate* unmanaged<int*, byte***, int, int*, int> _initThread;
    private readonly delegate* unmanaged<int> _finalize;
    private readonly delegate* unmanaged<nint, int, int> _abort;
    private readonly delegate* unmanaged<nint, int*, int> _commRank, _commSize;
    private readonly delegate* unmanaged<nint, nint*, int> _commDup;
    private readonly delegate* unmanaged<nint*, int> _commFree, _typeCommit, _typeFree;
    private readonly delegate* unmanaged<nint, nint, int> _commSetErrhandler;
    private readonly delegate* unmanaged<int, byte*, int*, int> _errorString;
    private readonly delegate* unmanaged<int, nint, nint*, int> _typeContiguous;
    private readonly delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, nint*, int> _ialltoallv;
    private readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, nint*, int> _iallgatherv;
    private readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, int, nint, nint*, int> _igatherv;
    private readonly delegate* unmanaged<void*, int*, int*, nint, void*, int, nint, int, nint, nint*, int> _iscatterv;
    private readonly delegate* unmanaged<void*, int, nint, int, nint, nint*, int> _ibcast;
    private readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> _iallreduce;
    private readonly delegate* unmanaged<nint, nint*, int> _ibarrier;
    private readonly delegate* unmanaged<nint*, int*, void*, int> _test;

    internal OpenMpiApi(string path, nint library) : base(path, library)
    {
        _commWorld = Export("ompi_mpi_comm_world");
        _int = Export("ompi_mpi_int");
        _float = Export("ompi_mpi_float");
        _double = Export("ompi_mpi_double");
        _byte = Export("ompi_mpi_byte");
        _sum = Export("ompi_mpi_op_sum");
        _errorsReturn = Export("ompi_mpi_errors_return");
        _initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        _finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
        _initThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        _finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        _abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        _commRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        _commSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        _commDup = (delegate* unmanaged<nint, nint*, int>)Export("MPI_Comm_dup");
        _commFree = (delegate* unmanaged<nint*, int>)Export("MPI_Comm_free");
        _commSetErrhandler = (delegate* unmanaged<nint, nint, int>)Export("MPI_Comm_set_errhandler");
        _errorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
        _typeContiguous = (delegate* unmanaged<int, nint, nint*, int>)Export("MPI_Type_contiguous");
        _typeCommit = (delegate* unmanaged<nint*, int>)Export("MPI_Type_commit");
        _typeFree = (delegate* unmanaged<nint*, int>)Export("MPI_Type_free");
        _ialltoallv = (delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, nint*, int>)Export("MPI_Ialltoallv");
        _iallgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, nint*, int>)Export("MPI_Iallgatherv");
        _igatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, int, nint, nint*, int>)Export("MPI_Igatherv");
        _iscatterv = (delegate* unmanaged<void*, int*, int*, nint, void*, int, nint, int, nint, nint*, int>)Export("MPI_Iscatterv");
        _ibcast = (delegate* unmanaged<void*, int, nint, int, nint, nint*, int>)Export("MPI_Ibcast");
        _iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)Export("MPI_Iallreduce");
        _ibarrier = (delegate* unmanaged<nint, nint*, int>)Export("MPI_Ibarrier");
        _test = (delegate* unmanaged<nint*, int*, void*, int>)Export("MPI_Test");
    }

    internal override string Family => "Open MPI";
    internal override nint CommWorld => _commWorld;
    internal override nint Int => _int;
    internal override nint Float => _float;
    internal override nint Byte => _byte;
    internal override nint Double => _double;
    internal override nint Sum => _sum;
    internal override nint ErrorsReturn => _errorsReturn;
    internal override void* InPlace => (void*)1;

    internal override int Initialized(int* flag) => _initialized(flag);
    internal override int Finalized(int* flag) => _finalized(flag);
    internal override int InitThread(int required, int* provided) => _initThread(null, null, required, provided);
    internal override int Finalize() => _finalize();
    internal override int Abort(nint comm, int code) => _abort(comm, code);
    internal override int CommRank(nint comm, int* rank) => _commRank(comm, rank);
    internal override int CommSize(nint comm, int* size) => _commSize(comm, size);
    internal override int CommDup(nint comm, nint* copy) => _commDup(comm, copy);
    internal override int CommFree(nint* comm) => _commFree(comm);
    internal override int CommSetErrhandler(nint comm, nint handler) => _commSetErrhandler(comm, handler);
    internal override int ErrorString(int code, byte* text, int* length) => _errorString(code, text, length);
    internal override int TypeContiguous(int count, nint type, nint* created) => _typeContiguous(count, type, created);
    internal override int TypeCommit(nint* type) => _typeCommit(type);
    internal override int TypeFree(nint* type) => _typeFree(type);

    internal override int Ialltoallv(void* send, int* sendCounts, int* sendDisplacements, nint sendType, void* receive,
        int* receiveCounts, int* receiveDisplacements, nint receiveType, nint comm, nint* request) =>
        _ialltoallv(send, sendCounts, sendDisplacements, sendType, receive, receiveCounts, receiveDisplacements, receiveType, comm, request);

    internal override int Iallgatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements,
        nint receiveType, nint comm, nint* request) =>
        _iallgatherv(send, sendCount, sendType, receive, counts, displacements, receiveType, comm, request);

    internal override int Igatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements,
        nint receiveType, int root, nint comm, nint* request) =>
        _igatherv(send, sendCount, sendType, receive, counts, displacements, receiveType, root, comm, request);

    internal override int Iscatterv(void* send, int* counts, int* displacements, nint sendType, void* receive, int receiveCount,
        nint receiveType, int root, nint comm, nint* request) =>
        _iscatterv(send, counts, displacements, sendType, receive, receiveCount, receiveType, root, comm, request);

    internal override int Ibcast(void* buffer, int count, nint type, int root, nint comm, nint* request) =>
        _ibcast(buffer, count, type, root, comm, request);

    internal override int Iallreduce(void* send, void* receive, int count, nint type, nint op, nint comm, nint* request) =>
        _iallreduce(send, receive, count, type, op, comm, request);

    internal override int Ibarrier(nint comm, nint* request) => _ibarrier(comm, request);

    // MPI_STATUS_IGNORE is a null pointer in Open MPI.
    internal override int Test(nint* request, int* done) => _test(request, done, null);
}
