namespace NativeAdaBelief.Distributed;

/// <summary>
/// One process on its own, without MPI: rank 0 of 1. The distributed optimizer over it keeps the
/// whole optimizer state in this process and steps like an <see cref="AdaBeliefOptimizer"/>;
/// it reads and writes the distributed checkpoints of any number of ranks, so a run saved on N
/// ranks continues here (and the other way round).
/// </summary>
public sealed unsafe class SingleProcessCommunicator : Communicator
{
    /// <inheritdoc />
    public override int Rank => 0;

    /// <inheritdoc />
    public override int Size => 1;

    /// <inheritdoc />
    public override string Description => "a single process (no MPI)";

    /// <summary>Ends this process with <paramref name="exitCode"/>.</summary>
    /// <param name="exitCode">The process's exit code.</param>
    public override void Abort(int exitCode) => Environment.Exit(exitCode);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
    }

    internal override void AllToAll(CollectiveElement element, void* send, int[] sendCounts, int[] sendDisplacements, void* receive,
        int[] receiveCounts, int[] receiveDisplacements)
    {
        ThrowIfDisposed();
        int size = CollectiveElements.Size(element);
        Copy((byte*)send + (long)sendDisplacements[0] * size, (byte*)receive + (long)receiveDisplacements[0] * size, sendCounts[0], size);
    }

    internal override void AllGatherInPlace(CollectiveElement element, void* buffer, int[] counts, int[] displacements) => ThrowIfDisposed();

    internal override void AllGather(CollectiveElement element, void* send, int count, void* receive, int[] counts, int[] displacements)
    {
        ThrowIfDisposed();
        int size = CollectiveElements.Size(element);
        Copy(send, (byte*)receive + (long)displacements[0] * size, count, size);
    }

    internal override void Gather(CollectiveElement element, void* send, int count, void* receive, int[] counts, int[] displacements,
        int root) => AllGather(element, send, count, receive, counts, displacements);

    internal override void Scatter(CollectiveElement element, void* send, int[] counts, int[] displacements, void* receive, int count,
        int root)
    {
        ThrowIfDisposed();
        int size = CollectiveElements.Size(element);
        Copy((byte*)send + (long)displacements[0] * size, receive, count, size);
    }

    internal override void Broadcast(CollectiveElement element, void* data, int count, int root) => ThrowIfDisposed();

    internal override void AllReduceSum(double* values, int count) => ThrowIfDisposed();

    /// <inheritdoc />
    protected override void BarrierCore()
    {
    }

    private static void Copy(void* source, void* destination, int count, int size)
    {
        long bytes = (long)count * size;
        if (bytes > 0 && source != destination)
        {
            Buffer.MemoryCopy(source, destination, bytes, bytes);
        }
    }
}
