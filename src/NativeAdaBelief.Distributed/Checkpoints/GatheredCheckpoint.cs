using System.Buffers.Binary;

namespace NativeAdaBelief.Distributed;

/// <summary>
/// The gathered checkpoint (<see cref="DistributedCheckpointKind.Gathered"/>): one ordinary native
/// checkpoint of the whole model, which rank 0 writes and reads through a
/// <see cref="CheckpointCarrier"/> of every tensor; the state travels tensor by tensor (a gather
/// to rank 0 when saving, a scatter from it when loading), so rank 0 holds the whole state plus
/// one tensor's array, and the other ranks their shard.
/// </summary>
internal static unsafe class GatheredCheckpoint
{
    private const int Root = 0;

    /// <summary>Gathers every piece's state into rank 0's carrier and saves it there.</summary>
    internal static void Save(DistributedAdaBeliefOptimizer optimizer, string path)
    {
        Communicator communicator = optimizer.Communicator;
        bool root = communicator.Rank == Root;
        // Every tensor's step count and whether it has s_max, from its owners, on every rank.
        long[] facts = TensorFacts(optimizer);

        AdaBeliefOptimizer? carrier = null;
        Exception? failure = null;
        if (root)
        {
            try
            {
                carrier = CheckpointCarrier.Create(optimizer, CheckpointCarrier.WholeModel(optimizer.Space),
                    [.. optimizer.ParamGroups.Select(group => group.Options)]);
            }
            catch (OutOfMemoryException e)
            {
                failure = e;
            }
        }
        RankAgreement.Agree(communicator, failure, (message, inner) =>
            new IOException($"Saving the gathered checkpoint {path} failed on {message}", inner));
        try
        {
            float[]? whole = root ? new float[LongestTensor(optimizer)] : null;
            foreach (SpaceTensor tensor in optimizer.Space.Tensors)
            {
                (int[] counts, int[] displacements, int mine) = Placement(optimizer, tensor.Index);
                foreach (StateKind kind in CheckpointCarrier.Kinds(facts[2 * tensor.Index + 1] != 0, tensor.Spec.KeepMasterCopy))
                {
                    float[] sent = mine < 0 ? [] : ReadPiece(optimizer.Local.Tensors[mine], kind);
                    fixed (float* send = sent)
                    fixed (float* receive = whole)
                    {
                        communicator.Gather(CollectiveElement.Float, send, sent.Length, receive, counts, displacements, Root);
                    }
                    carrier?.Tensors[tensor.Index].WriteState(kind, whole.AsSpan(0, checked((int)tensor.Length)));
                }
                if (carrier is not null)
                {
                    carrier.Tensors[tensor.Index].Step = facts[2 * tensor.Index];
                }
            }
            failure = null;
            if (carrier is not null)
            {
                try
                {
                    carrier.SaveCheckpoint(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    failure = e;
                }
            }
        }
        finally
        {
            carrier?.Dispose();
        }
        RankAgreement.Agree(communicator, failure, (message, inner) =>
            new IOException($"Saving the gathered checkpoint {path} failed on {message}", inner));
    }

    /// <summary>Rank 0 loads the file (every check of the native checkpoint reader) and scatters each tensor's state to its owners.</summary>
    internal static ShardStaging Load(DistributedAdaBeliefOptimizer optimizer, string path)
    {
        Communicator communicator = optimizer.Communicator;
        bool root = communicator.Rank == Root;
        AdaBeliefOptimizer? carrier = null;
        Exception? failure = null;
        ShardStaging? staging = null;
        try
        {
            staging = new ShardStaging(optimizer.OwnedPieces, optimizer.Space);
            if (root)
            {
                if (!File.Exists(path))
                {
                    throw new InvalidDataException($"{path} is neither a folder with {ShardManifest.FileName} nor a checkpoint file.");
                }
                carrier = CheckpointCarrier.Create(optimizer, CheckpointCarrier.WholeModel(optimizer.Space), groups: null);
                carrier.LoadCheckpoint(path);
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or OutOfMemoryException
            or NotSupportedException)
        {
            failure = e;
        }
        try
        {
            RankAgreement.Agree(communicator, failure, (message, inner) =>
                new InvalidDataException($"Loading the checkpoint {path} failed on {message}", inner));
            byte[] packed = communicator.BroadcastBytes(
                root ? GroupOptionsTransfer.Pack([.. carrier!.ParamGroups.Select(group => group.Options)]) : null, Root);
            staging!.Groups = GroupOptionsTransfer.Unpack(packed, optimizer.ParamGroups.Count);

            int tensorCount = optimizer.Space.Tensors.Count;
            var facts = new byte[16 * tensorCount];
            if (root)
            {
                for (int t = 0; t < tensorCount; t++)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(facts.AsSpan(16 * t), carrier!.Tensors[t].Step);
                    BinaryPrimitives.WriteInt64LittleEndian(facts.AsSpan(16 * t + 8), carrier.Tensors[t].HasMaxSecondMoment ? 1 : 0);
                }
            }
            communicator.Broadcast(facts, Root);

            float[]? whole = root ? new float[LongestTensor(optimizer)] : null;
            foreach (SpaceTensor tensor in optimizer.Space.Tensors)
            {
                (int[] counts, int[] displacements, int mine) = Placement(optimizer, tensor.Index);
                bool maxSecondMoment = BinaryPrimitives.ReadInt64LittleEndian(facts.AsSpan(16 * tensor.Index + 8)) != 0;
                foreach (StateKind kind in CheckpointCarrier.Kinds(maxSecondMoment, tensor.Spec.KeepMasterCopy))
                {
                    carrier?.Tensors[tensor.Index].ReadState(kind, whole.AsSpan(0, checked((int)tensor.Length)));
                    float[] received = mine < 0 ? [] : new float[optimizer.OwnedPieces[mine].Length];
                    fixed (float* send = whole)
                    fixed (float* receive = received)
                    {
                        communicator.Scatter(CollectiveElement.Float, send, counts, displacements, receive, received.Length, Root);
                    }
                    if (mine >= 0)
                    {
                        staging.Put(mine, kind, received, optimizer.OwnedPieces[mine].Offset);
                    }
                }
                if (mine >= 0)
                {
                    staging.PutStep(mine, BinaryPrimitives.ReadInt64LittleEndian(facts.AsSpan(16 * tensor.Index)), path);
                }
            }
            staging.CheckComplete();
            return staging;
        }
        finally
        {
            carrier?.Dispose();
        }
    }

    /// <summary>
    /// Per tensor, its step count and whether it has s_max (1 or 0), as its owners hold them: every
    /// rank sends its pieces' facts, and every rank receives all of them.
    /// </summary>
    private static long[] TensorFacts(DistributedAdaBeliefOptimizer optimizer)
    {
        IReadOnlyList<ShardPiece> pieces = optimizer.OwnedPieces;
        var mine = new byte[24 * pieces.Count];
        for (int i = 0; i < pieces.Count; i++)
        {
            OptimizerTensor piece = optimizer.Local.Tensors[i];
            BinaryPrimitives.WriteInt64LittleEndian(mine.AsSpan(24 * i), pieces[i].Tensor);
            BinaryPrimitives.WriteInt64LittleEndian(mine.AsSpan(24 * i + 8), piece.Step);
            BinaryPrimitives.WriteInt64LittleEndian(mine.AsSpan(24 * i + 16), piece.HasMaxSecondMoment ? 1 : 0);
        }
        var facts = new long[2 * optimizer.Space.Tensors.Count];
        Array.Fill(facts, -1, 0, facts.Length);
        foreach (byte[] rank in optimizer.Communicator.Exchange(mine))
        {
            for (int at = 0; at < rank.Length; at += 24)
            {
                int tensor = (int)BinaryPrimitives.ReadInt64LittleEndian(rank.AsSpan(at));
                long step = BinaryPrimitives.ReadInt64LittleEndian(rank.AsSpan(at + 8));
                if (facts[2 * tensor] >= 0 && facts[2 * tensor] != step)
                {
                    throw new InvalidOperationException(
                        $"Tensor {tensor}'s pieces have different step counts ({facts[2 * tensor]} and {step}): the ranks did not step together.");
                }
                facts[2 * tensor] = step;
                facts[2 * tensor + 1] = Math.Max(0, facts[2 * tensor + 1]) | BinaryPrimitives.ReadInt64LittleEndian(rank.AsSpan(at + 16));
            }
        }
        return facts;
    }

    /// <summary>Where each rank's piece of a tensor lies in it (counts and offsets in elements), and this rank's piece index (-1: none).</summary>
    private static (int[] Counts, int[] Displacements, int Mine) Placement(DistributedAdaBeliefOptimizer optimizer, int tensor)
    {
        ShardLayout layout = optimizer.Layout;
        var counts = new int[layout.Ranks];
        var displacements = new int[layout.Ranks];
        int mine = -1;
        for (int r = 0; r < layout.Ranks; r++)
        {
            ShardPiece[] pieces = layout.Pieces[r];
            for (int i = 0; i < pieces.Length; i++)
            {
                if (pieces[i].Tensor == tensor)
                {
                    counts[r] = checked((int)pieces[i].Length);
                    displacements[r] = checked((int)pieces[i].Offset);
                    if (r == optimizer.Communicator.Rank)
                    {
                        mine = i;
                    }
                }
            }
        }
        return (counts, displacements, mine);
    }

    /// <summary>One state array of a piece; s_max as zeros where the piece has none (as the core treats a missing one).</summary>
    private static float[] ReadPiece(OptimizerTensor piece, StateKind kind) =>
        kind == StateKind.MaxSecondMoment && !piece.HasMaxSecondMoment ? new float[piece.Length] : piece.ReadState(kind);

    private static int LongestTensor(DistributedAdaBeliefOptimizer optimizer)
    {
        long longest = optimizer.Space.Tensors.Max(tensor => tensor.Length);
        return longest <= Array.MaxLength
            ? (int)longest
            : throw new NotSupportedException($"A tensor of {longest} elements is more than a gathered checkpoint of this version moves at once.");
    }
}
