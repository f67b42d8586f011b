namespace NativeAdaBelief.Distributed;

/// <summary>One rank's shard file and the pieces it holds, in the file's tensor order.</summary>
internal sealed record ManifestShard(string File, ShardPiece[] Pieces);
