namespace NativeAdaBelief.Distributed.Tests;

/// <summary>The cut of the flat parameter space into one contiguous shard per rank.</summary>
public sealed class ShardLayoutTests
{
    private const long Chunk = AdaBeliefOptimizer.GradientChunkElements;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(16)]
    public void Shards_tile_the_model_at_chunk_boundaries_balanced_within_one_chunk(int ranks)
    {
        using var space = new ParameterSpace(TestSpaces.Mixed());
        int[] weights = TestSpaces.StateBytes(space);
        ShardLayout layout = ShardLayout.Create(space, weights, ranks);

        long total = space.Tensors.Sum(t => t.Length * weights[t.Index]);
        long next = 0, gradients = 0, blocks = 0;
        int tensor = 0;
        for (int r = 0; r < ranks; r++)
        {
            Assert.Equal(gradients, layout.GradientStarts[r]);
            Assert.Equal(blocks, layout.ParameterBlockDisplacements[r]);
            gradients += layout.GradientCounts[r];
            blocks += layout.ParameterBlockCounts[r];
            long state = 0, chunks = 0;
            foreach (ShardPiece piece in layout.Pieces[r])
            {
                // The pieces continue exactly where the previous ended, in tensor order.
                if (piece.Tensor != tensor)
                {
                    Assert.Equal(space.Tensors[tensor].Length, next);
                    Assert.Equal(tensor + 1, piece.Tensor);
                    (tensor, next) = (piece.Tensor, 0);
                }
                Assert.Equal(next, piece.Offset);
                Assert.Equal(0, piece.Offset % Chunk);
                next += piece.Length;
                state += piece.Length * weights[piece.Tensor];
                chunks += (piece.Length + Chunk - 1) / Chunk;
            }
            Assert.Equal(state, layout.StateBytes[r]);
            Assert.Equal(chunks, layout.ChunkCounts[r]);
            Assert.True(Math.Abs(state - (double)total / ranks) <= Chunk * weights.Max(),
                $"rank {r} of {ranks} keeps {state} state bytes, {total / ranks} is the even share");
        }
        Assert.Equal(space.Tensors.Count - 1, tensor);
        Assert.Equal(space.Tensors[^1].Length, next);
        Assert.Equal(space.GradientLength, gradients);
        Assert.Equal(space.ParameterBytes / ParameterSpace.Alignment, blocks);
        Assert.Equal(total, layout.StateBytes.Sum());
    }

    [Fact]
    public void More_ranks_than_chunks_leave_some_ranks_without_a_piece()
    {
        using var space = new ParameterSpace([new TensorSpec(10), new TensorSpec(20)]);
        ShardLayout layout = ShardLayout.Create(space, [8, 8], 5);
        Assert.Equal(2, layout.Pieces.Count(p => p.Length > 0));
        Assert.Equal(2, layout.Pieces.Sum(p => p.Length));
        Assert.Equal(space.GradientLength, layout.GradientCounts.Sum());
    }

    [Fact]
    public void The_layout_is_the_same_every_time() // every rank computes it on its own
    {
        using var space = new ParameterSpace(TestSpaces.Mixed());
        ShardLayout a = ShardLayout.Create(space, TestSpaces.StateBytes(space), 3);
        ShardLayout b = ShardLayout.Create(space, TestSpaces.StateBytes(space), 3);
        Assert.Equal(a.Pieces.SelectMany(p => p), b.Pieces.SelectMany(p => p));
    }
}
