using System.Buffers.Binary;

namespace NativeAdaBelief.Distributed;

/// <summary>
/// The processes (ranks) that train one model together, and the collective operations the
/// distributed optimizer runs among them: <see cref="MpiCommunicator"/> over the system's MPI,
/// or <see cref="SingleProcessCommunicator"/> for one process without MPI.
/// </summary>
/// <remarks>
/// <para>Every rank must make the same collective calls in the same order (what MPI requires).
/// A call waits at most <see cref="Timeout"/> for the other ranks; past it, it throws
/// <see cref="CommunicatorTimeoutException"/> instead of hanging, and the communicator is
/// unusable from then on.</para>
/// <para>Use a communicator from one thread at a time.</para>
/// </remarks>
public abstract unsafe class Communicator : IDisposable
{
    /// <summary>The default <see cref="Timeout"/>: 30 minutes, as PyTorch's process groups.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    private TimeSpan _timeout = DefaultTimeout;

    /// <summary>This process's rank: 0 ≤ <see cref="Rank"/> &lt; <see cref="Size"/>.</summary>
    public abstract int Rank { get; }

    /// <summary>The number of ranks.</summary>
    public abstract int Size { get; }

    /// <summary>What this communicator runs on, for logs ("MPICH 4.0.2 via libmpich.so.12, 2 ranks").</summary>
    public abstract string Description { get; }

    /// <summary>True once <see cref="Dispose()"/> has been called.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>
    /// How long a collective operation waits for the other ranks before it fails with
    /// <see cref="CommunicatorTimeoutException"/> (a rank that died or hung). Default
    /// <see cref="DefaultTimeout"/>. It bounds one operation, which includes waiting for the
    /// slowest rank to arrive: leave room for the longest forward and backward pass.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to zero, a negative value or more than <see cref="int.MaxValue"/> milliseconds.</exception>
    public TimeSpan Timeout
    {
        get => _timeout;
        set
        {
            if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(Timeout), value,
                    $"Communicator.Timeout = {value} is invalid: it must be positive and at most {TimeSpan.FromMilliseconds(int.MaxValue)}.");
            }
            _timeout = value;
        }
    }

    /// <summary>Waits until every rank has called <see cref="Barrier"/>.</summary>
    /// <exception cref="CommunicatorException">MPI failed, or the other ranks did not arrive within <see cref="Timeout"/>.</exception>
    /// <exception cref="ObjectDisposedException">The communicator was disposed.</exception>
    public void Barrier()
    {
        ThrowIfDisposed();
        BarrierCore();
    }

    /// <summary>Replaces every element of <paramref name="values"/> by its sum over all ranks (e.g. losses for a log line).</summary>
    /// <param name="values">This rank's values; the same length on every rank.</param>
    /// <exception cref="CommunicatorException">MPI failed, or the other ranks did not arrive within <see cref="Timeout"/>.</exception>
    /// <exception cref="ObjectDisposedException">The communicator was disposed.</exception>
    public void AllReduceSum(Span<double> values)
    {
        ThrowIfDisposed();
        fixed (double* v = values)
        {
            AllReduceSum(v, values.Length);
        }
    }

    /// <summary>Copies <paramref name="data"/> of rank <paramref name="root"/> into <paramref name="data"/> of every other rank.</summary>
    /// <param name="data">The bytes (root) or where they go (others); the same length on every rank.</param>
    /// <param name="root">The rank that sends.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="root"/> is not a rank.</exception>
    /// <exception cref="CommunicatorException">MPI failed, or the other ranks did not arrive within <see cref="Timeout"/>.</exception>
    /// <exception cref="ObjectDisposedException">The communicator was disposed.</exception>
    public void Broadcast(Span<byte> data, int root)
    {
        ThrowIfDisposed();
        CheckRank(root, nameof(root));
        fixed (byte* d = data)
        {
            Broadcast(CollectiveElement.Byte, d, data.Length, root);
        }
    }

    /// <summary>
    /// Ends every rank's process with <paramref name="exitCode"/> (MPI_Abort): what to do after a
    /// <see cref="CommunicatorException"/>, when the other ranks may be stuck in a collective.
    /// A <see cref="SingleProcessCommunicator"/> ends this process.
    /// </summary>
    /// <param name="exitCode">The exit code the launcher reports.</param>
    public abstract void Abort(int exitCode);

    /// <summary>Releases the communicator (an <see cref="MpiCommunicator"/> finalizes MPI when it initialized it). Idempotent.</summary>
    public void Dispose()
    {
        if (IsDisposed)
        {
            return;
        }
        IsDisposed = true;
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what the communicator holds.</summary>
    /// <param name="disposing">True from <see cref="Dispose()"/>.</param>
    protected abstract void Dispose(bool disposing);

    /// <summary>Throws <see cref="ObjectDisposedException"/> after <see cref="Dispose()"/>.</summary>
    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    // ---- The collectives the distributed optimizer uses (counts and displacements in elements). ----

    /// <summary>
    /// Every rank sends part q of <paramref name="send"/> (sendCounts[q] elements at
    /// sendDisplacements[q]) to rank q, which receives it at receiveDisplacements[r] of its
    /// <paramref name="receive"/> (receiveCounts[r] elements from rank r).
    /// </summary>
    internal abstract void AllToAll(CollectiveElement element, void* send, int[] sendCounts, int[] sendDisplacements, void* receive,
        int[] receiveCounts, int[] receiveDisplacements);

    /// <summary>Every rank's block of <paramref name="buffer"/> (at displacements[r], counts[r] elements) to every rank, in place.</summary>
    internal abstract void AllGatherInPlace(CollectiveElement element, void* buffer, int[] counts, int[] displacements);

    /// <summary>Every rank's <paramref name="send"/> into <paramref name="receive"/> at displacements[r] on every rank.</summary>
    internal abstract void AllGather(CollectiveElement element, void* send, int count, void* receive, int[] counts, int[] displacements);

    /// <summary>Every rank's <paramref name="send"/> into <paramref name="receive"/> of rank <paramref name="root"/>.</summary>
    internal abstract void Gather(CollectiveElement element, void* send, int count, void* receive, int[] counts, int[] displacements,
        int root);

    /// <summary>Part r of <paramref name="send"/> of rank <paramref name="root"/> into <paramref name="receive"/> of rank r.</summary>
    internal abstract void Scatter(CollectiveElement element, void* send, int[] counts, int[] displacements, void* receive, int count,
        int root);

    /// <summary><paramref name="count"/> elements of rank <paramref name="root"/> to every rank.</summary>
    internal abstract void Broadcast(CollectiveElement element, void* data, int count, int root);

    /// <summary>The element-wise sum over the ranks, in place.</summary>
    internal abstract void AllReduceSum(double* values, int count);

    /// <summary>Waits for every rank.</summary>
    protected abstract void BarrierCore();

    /// <summary>
    /// Every rank's bytes, whatever their lengths (first the lengths, then the bytes): what the
    /// agreement checks exchange. Same result, in rank order, on every rank.
    /// </summary>
    internal byte[][] Exchange(ReadOnlySpan<byte> mine)
    {
        ThrowIfDisposed();
        int size = Size;
        var lengths = new int[size];
        var ones = new int[size];
        var positions = new int[size];
        for (int r = 0; r < size; r++)
        {
            ones[r] = 1;
            positions[r] = r;
        }
        int length = mine.Length;
        fixed (int* all = lengths)
        {
            AllGather(CollectiveElement.Int, &length, 1, all, ones, positions);
        }
        long total = 0;
        var displacements = new int[size];
        for (int r = 0; r < size; r++)
        {
            displacements[r] = checked((int)total);
            total += lengths[r];
        }
        var everything = new byte[checked((int)total)];
        fixed (byte* send = mine)
        fixed (byte* receive = everything)
        {
            AllGather(CollectiveElement.Byte, send, mine.Length, receive, lengths, displacements);
        }
        var result = new byte[size][];
        for (int r = 0; r < size; r++)
        {
            result[r] = everything.AsSpan(displacements[r], lengths[r]).ToArray();
        }
        return result;
    }

    /// <summary>Rank <paramref name="root"/>'s bytes on every rank (the length travels first).</summary>
    internal byte[] BroadcastBytes(byte[]? mine, int root)
    {
        Span<byte> length = stackalloc byte[4];
        if (Rank == root)
        {
            BinaryPrimitives.WriteInt32LittleEndian(length, mine!.Length);
        }
        Broadcast(length, root);
        byte[] data = Rank == root ? mine! : new byte[BinaryPrimitives.ReadInt32LittleEndian(length)];
        Broadcast(data, root);
        return data;
    }

    private void CheckRank(int rank, string paramName)
    {
        if (rank < 0 || rank >= Size)
        {
            throw new ArgumentOutOfRangeException(paramName, rank, $"{paramName} = {rank} is not a rank of this communicator (0..{Size - 1}).");
        }
    }
}
