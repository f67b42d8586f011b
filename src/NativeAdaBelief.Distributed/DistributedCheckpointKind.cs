namespace NativeAdaBelief.Distributed;

/// <summary>How <see cref="DistributedAdaBeliefOptimizer.SaveCheckpoint"/> writes the state of every rank.</summary>
public enum DistributedCheckpointKind
{
    /// <summary>
    /// A folder: each rank writes its shard as a native checkpoint, rank 0 the manifest
    /// <c>distributed.json</c> (see docs/distributed.md). Every rank writes at once, and no rank
    /// holds more than its shard.
    /// </summary>
    PerRank,

    /// <summary>
    /// One file written by rank 0: an ordinary checkpoint of the whole model, which one process
    /// reads without MPI (<see cref="AdaBeliefOptimizer.LoadCheckpoint(string)"/>). Rank 0 holds
    /// the whole state while it saves.
    /// </summary>
    Gathered,
}
