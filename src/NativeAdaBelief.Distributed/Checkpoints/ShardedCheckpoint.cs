using System.Text;

namespace NativeAdaBelief.Distributed;

/// <summary>
/// The per-rank checkpoint (<see cref="DistributedCheckpointKind.PerRank"/>): a folder with one
/// native checkpoint per rank of its shard (one tensor per owned piece) and rank 0's
/// <see cref="ShardManifest"/>. Loading re-shards: each rank reads the saved shards that overlap
/// its own pieces, through a <see cref="CheckpointCarrier"/> shaped like each saved shard.
/// </summary>
internal static class ShardedCheckpoint
{
    /// <summary>Every rank writes its shard; then rank 0 writes the manifest and removes earlier sets' shard files.</summary>
    internal static void Save(DistributedAdaBeliefOptimizer optimizer, string folder)
    {
        Communicator communicator = optimizer.Communicator;
        int rank = communicator.Rank;
        string id = Encoding.ASCII.GetString(communicator.BroadcastBytes(
            rank == 0 ? Encoding.ASCII.GetBytes(Guid.NewGuid().ToString("N")) : null, root: 0));
        string mine = Path.Combine(folder, ShardManifest.ShardFileName(id, rank, communicator.Size));

        Exception? failure = null;
        try
        {
            Directory.CreateDirectory(folder);
            optimizer.Local.SaveCheckpoint(mine);
        }
        catch (Exception e) when (IsFileFailure(e))
        {
            failure = e;
        }
        RankAgreement.Agree(communicator, failure, (message, inner) =>
        {
            DeleteQuietly(mine);
            return new IOException($"Saving the per-rank checkpoint into {folder} failed on {message}", inner);
        });

        failure = null;
        if (rank == 0)
        {
            try
            {
                ShardManifest.Describe(optimizer, id).Write(folder);
                RemoveEarlierSets(folder, id);
            }
            catch (Exception e) when (IsFileFailure(e))
            {
                failure = e;
            }
        }
        RankAgreement.Agree(communicator, failure, (message, inner) =>
        {
            DeleteQuietly(mine);
            return new IOException($"Writing {ShardManifest.FileName} into {folder} failed on {message}", inner);
        });
    }

    /// <summary>Reads and checks this rank's new pieces from the saved shards that overlap them; every rank agrees on the outcome.</summary>
    internal static ShardStaging Load(DistributedAdaBeliefOptimizer optimizer, string folder)
    {
        Communicator communicator = optimizer.Communicator;
        IReadOnlyList<ShardPiece> pieces = optimizer.OwnedPieces;
        ShardStaging? staging = null;
        Exception? failure = null;
        try
        {
            ShardManifest manifest = ShardManifest.Read(folder);
            manifest.CheckModel(optimizer.Space, optimizer.ParamGroups.Count);
            staging = new ShardStaging(pieces, optimizer.Space);
            for (int saved = 0; saved < manifest.Shards.Count; saved++)
            {
                ReadOverlaps(optimizer, folder, manifest.Shards[saved], staging);
            }
            staging.CheckComplete();
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException || IsFileFailure(e))
        {
            failure = e;
        }
        RankAgreement.Agree(communicator, failure, (message, inner) =>
            new InvalidDataException($"Loading the per-rank checkpoint {folder} failed on {message}", inner));
        ShareGroupOptions(optimizer, staging!);
        return staging!;
    }

    /// <summary>
    /// The group options of the lowest rank that read a saved shard (a rank whose own shard is
    /// empty reads none), on every rank.
    /// </summary>
    private static void ShareGroupOptions(DistributedAdaBeliefOptimizer optimizer, ShardStaging staging)
    {
        Communicator communicator = optimizer.Communicator;
        bool[] known = RankAgreement.Flags(communicator, staging.Groups is not null);
        int source = Array.IndexOf(known, true);
        if (source < 0)
        {
            throw new InvalidDataException("No rank read a saved shard, so the checkpoint's group options are unknown.");
        }
        byte[] packed = communicator.BroadcastBytes(communicator.Rank == source ? GroupOptionsTransfer.Pack(staging.Groups!) : null, source);
        staging.Groups = GroupOptionsTransfer.Unpack(packed, optimizer.ParamGroups.Count);
    }

    /// <summary>Loads one saved shard, when it overlaps this rank's pieces, and stages the overlapping state.</summary>
    private static void ReadOverlaps(DistributedAdaBeliefOptimizer optimizer, string folder, ManifestShard saved, ShardStaging staging)
    {
        IReadOnlyList<ShardPiece> pieces = staging.Pieces;
        var overlaps = new List<(int Saved, int Mine, long Begin, long End)>();
        for (int s = 0; s < saved.Pieces.Length; s++)
        {
            for (int m = 0; m < pieces.Count; m++)
            {
                ShardPiece a = saved.Pieces[s], b = pieces[m];
                long begin = Math.Max(a.Offset, b.Offset), end = Math.Min(a.Offset + a.Length, b.Offset + b.Length);
                if (a.Tensor == b.Tensor && begin < end)
                {
                    overlaps.Add((s, m, begin, end));
                }
            }
        }
        if (overlaps.Count == 0)
        {
            return;
        }
        using AdaBeliefOptimizer carrier = CheckpointCarrier.Create(optimizer, saved.Pieces, groups: null);
        string path = Path.Combine(folder, saved.File);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path}, named by the manifest, is missing.");
        }
        carrier.LoadCheckpoint(path);
        staging.Groups ??= [.. carrier.ParamGroups.Select(group => group.Options)];
        foreach ((int s, int m, long begin, long end) in overlaps)
        {
            OptimizerTensor source = carrier.Tensors[s];
            ShardPiece piece = saved.Pieces[s];
            bool master = optimizer.Space.Tensors[piece.Tensor].Spec.KeepMasterCopy;
            foreach (StateKind kind in CheckpointCarrier.Kinds(source.HasMaxSecondMoment, master))
            {
                float[] values = source.ReadState(kind);
                staging.Put(m, kind, values.AsSpan(checked((int)(begin - piece.Offset)), checked((int)(end - begin))), begin);
            }
            staging.PutStep(m, source.Step, saved.File);
        }
    }

    /// <summary>Shard files of other sets in <paramref name="folder"/> (an earlier save's, or a crashed one's).</summary>
    private static void RemoveEarlierSets(string folder, string id)
    {
        string current = $"shard-{id}-";
        foreach (string file in Directory.EnumerateFiles(folder, "shard-*-rank-*-of-*.safetensors"))
        {
            if (!Path.GetFileName(file).StartsWith(current, StringComparison.Ordinal))
            {
                File.Delete(file);
            }
        }
    }

    private static bool IsFileFailure(Exception e) => e is IOException or UnauthorizedAccessException;

    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (IsFileFailure(e))
        {
            // The failure being reported is the one that matters; a leftover file of an
            // incomplete set is removed by the next successful save.
        }
    }
}
