using System.Numerics;

namespace NativeAdaBelief.Distributed;

/// <summary>
/// The reduce-scatter of the gradients: each rank receives the sum over every rank of its shard's
/// part of the gradient buffer. It runs as all-to-all exchanges of the shards' slices (each rank
/// sends every other rank that rank's part of its gradients) and a local sum of the received
/// slices in rank order, ((g₀ + g₁) + g₂) + …, so the sum is the one a single process adding the
/// ranks' gradients in rank order computes, bit for bit, for any number of ranks. (MPI's own
/// MPI_Reduce_scatter adds in an order it chooses, and was ten times slower on the development
/// machine with MPICH and Open MPI alike; the all-to-all moves the same bytes.) The slices are
/// exchanged in rounds through one buffer of at most <see cref="BufferBytes"/> per rank.
/// </summary>
internal sealed unsafe class GradientReduction : IDisposable
{
    /// <summary>The most memory the received slices of one round take on a rank.</summary>
    internal const long BufferBytes = 64L << 20;

    private const int BlockFloats = ParameterSpace.Alignment / sizeof(float);

    private readonly Communicator _communicator;
    private readonly ShardLayout _layout;
    private readonly NativeBuffer<float> _slices;
    private readonly long _round; // floats per rank per round; a multiple of BlockFloats
    private readonly int _rounds;
    private readonly int[] _sendCounts, _sendDisplacements, _receiveCounts, _receiveDisplacements;

    internal GradientReduction(Communicator communicator, ShardLayout layout)
    {
        _communicator = communicator;
        _layout = layout;
        int ranks = layout.Ranks;
        long largest = Math.Max(BlockFloats, layout.GradientCounts.Max());
        long fits = BufferBytes / sizeof(float) / ranks / BlockFloats * BlockFloats;
        _round = Math.Max(BlockFloats, Math.Min(largest, fits));
        _rounds = checked((int)((largest + _round - 1) / _round));
        _slices = new NativeBuffer<float>(_round * ranks);
        _sendCounts = new int[ranks];
        _sendDisplacements = new int[ranks];
        _receiveCounts = new int[ranks];
        _receiveDisplacements = new int[ranks];
    }

    /// <summary>The floats of the round buffer (the received slices of one round, every rank's).</summary>
    internal long BufferFloats => _slices.Length;

    /// <summary>Writes the sum over every rank of this rank's shard of <paramref name="gradients"/> into <paramref name="shard"/>.</summary>
    /// <param name="gradients">This rank's whole gradient buffer (the space's).</param>
    /// <param name="shard">This rank's part of the sum: <see cref="ShardLayout.GradientCounts"/>[rank] floats.</param>
    internal void Sum(float* gradients, float* shard)
    {
        int ranks = _layout.Ranks, rank = _communicator.Rank;
        for (int k = 0; k < _rounds; k++)
        {
            long first = k * _round;
            long mine = Slice(rank, first);
            for (int q = 0; q < ranks; q++)
            {
                // Counts and offsets in 64-byte blocks: every shard boundary is one.
                _sendCounts[q] = (int)(Slice(q, first) / BlockFloats);
                _sendDisplacements[q] = checked((int)((_layout.GradientStarts[q] + first) / BlockFloats));
                _receiveCounts[q] = (int)(mine / BlockFloats);
                _receiveDisplacements[q] = (int)(q * _round / BlockFloats);
            }
            _communicator.AllToAll(CollectiveElement.Block, gradients, _sendCounts, _sendDisplacements, (void*)_slices.Address,
                _receiveCounts, _receiveDisplacements);
            AddInRankOrder((float*)_slices.Address, ranks, shard + first, mine);
        }
    }

    /// <summary>Frees the round buffer.</summary>
    public void Dispose() => _slices.Dispose();

    /// <summary>The floats of rank <paramref name="rank"/>'s shard in the round starting at <paramref name="first"/>.</summary>
    private long Slice(int rank, long first) => Math.Clamp(_layout.GradientCounts[rank] - first, 0, _round);

    /// <summary>destination[i] = ((slot₀[i] + slot₁[i]) + slot₂[i]) + … (slot q at q × round), the same order in every lane.</summary>
    private void AddInRankOrder(float* slots, int ranks, float* destination, long count)
    {
        long i = 0;
        int width = Vector<float>.Count;
        for (; i + width <= count; i += width)
        {
            Vector<float> sum = Vector.Load(slots + i);
            for (int q = 1; q < ranks; q++)
            {
                sum += Vector.Load(slots + q * _round + i);
            }
            sum.Store(destination + i);
        }
        for (; i < count; i++)
        {
            float sum = slots[i];
            for (int q = 1; q < ranks; q++)
            {
                sum += slots[q * _round + i];
            }
            destination[i] = sum;
        }
    }
}
