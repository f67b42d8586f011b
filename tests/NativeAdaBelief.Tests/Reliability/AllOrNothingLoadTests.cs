using System.Text.Json.Nodes;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.Reliability;

/// <summary>
/// A checkpoint load either applies exactly the bytes it verified or leaves the optimizer exactly
/// as it was, whatever goes wrong on the way: a stream that fails at any byte, bytes that change
/// while they are read, another thread's calls, values the algorithm cannot produce; and loading
/// costs memory bounded by what was read.
/// </summary>
public sealed class AllOrNothingLoadTests
{
    /// <summary>A checkpoint of a trained rig, and a second rig in another state to load it into.</summary>
    private static (byte[] File, OptimizerSnapshot Saved, TrainingRig Target) Scenario(int seed)
    {
        using var source = new TrainingRig(seed);
        source.Train(4);
        var stream = new MemoryStream();
        source.Optimizer.SaveCheckpoint(stream);
        var target = new TrainingRig(seed);
        target.Train(2);
        return (stream.ToArray(), OptimizerSnapshot.Capture(source.Optimizer), target);
    }

    /// <summary>Reads from <paramref name="data"/>, throwing an <see cref="IOException"/> at byte <paramref name="failAt"/>.</summary>
    private sealed class FailingAt(byte[] data, long failAt, bool seekable) : MemoryStream(data, writable: false)
    {
        public override bool CanSeek => seekable && base.CanSeek;

        public override long Length => seekable ? base.Length : throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (Position >= failAt && Position < base.Length)
            {
                throw new IOException($"simulated read failure at byte {Position}");
            }
            return base.Read(buffer, offset, (int)Math.Min(count, failAt - Position));
        }

        public override int Read(Span<byte> buffer)
        {
            byte[] bytes = new byte[buffer.Length];
            int n = Read(bytes, 0, bytes.Length);
            bytes.AsSpan(0, n).CopyTo(buffer);
            return n;
        }

        public override int ReadByte()
        {
            byte[] one = new byte[1];
            return Read(one, 0, 1) == 0 ? -1 : one[0];
        }
    }

    [Fact]
    public void A_read_failure_at_any_byte_leaves_the_optimizer_exactly_as_it_was()
    {
        (byte[] file, OptimizerSnapshot saved, TrainingRig target) = Scenario(seed: 3);
        using (target)
        {
            OptimizerSnapshot before = OptimizerSnapshot.Capture(target.Optimizer);
            var random = new Random(17);
            // Every byte of the length and the first part of the header, then random bytes across the data.
            IEnumerable<long> places = Enumerable.Range(0, 40).Select(i => (long)i)
                .Concat(Enumerable.Range(0, 60).Select(_ => (long)random.Next(40, file.Length)));
            foreach (long failAt in places)
            {
                foreach (bool seekable in new[] { true, false })
                {
                    var e = Record.Exception(() => target.Optimizer.LoadCheckpoint(new FailingAt(file, failAt, seekable)));
                    Assert.True(e is IOException or InvalidDataException, $"byte {failAt}, seekable {seekable}: {e}");
                    OptimizerSnapshot.Capture(target.Optimizer).AssertIdentical(before);
                }
            }
            target.Optimizer.LoadCheckpoint(new FailingAt(file, file.Length, seekable: false));
            OptimizerSnapshot.Capture(target.Optimizer).AssertIdentical(saved);
        }
    }

    /// <summary>Returns other bytes from <paramref name="changeAt"/> on: a file replaced while it is read.</summary>
    private sealed class ChangingAt(byte[] data, long changeAt) : MemoryStream(data, writable: false)
    {
        public override int Read(byte[] buffer, int offset, int count)
        {
            long start = Position;
            int n = base.Read(buffer, offset, count);
            for (int i = 0; i < n; i++)
            {
                if (start + i >= changeAt)
                {
                    buffer[offset + i] ^= 0x40;
                }
            }
            return n;
        }

        public override int Read(Span<byte> buffer)
        {
            byte[] bytes = new byte[buffer.Length];
            int n = Read(bytes, 0, bytes.Length);
            bytes.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
    }

    [Fact]
    public void Bytes_that_change_while_the_data_is_read_are_never_applied()
    {
        (byte[] file, _, TrainingRig target) = Scenario(seed: 5);
        using (target)
        {
            OptimizerSnapshot before = OptimizerSnapshot.Capture(target.Optimizer);
            long dataStart = file.Length - CheckpointSurgery.Split(file).Data.Length;
            foreach (long changeAt in new[] { dataStart, dataStart + 4, file.Length - 4, (dataStart + file.Length) / 2 })
            {
                var e = Assert.ThrowsAny<Exception>(() => target.Optimizer.LoadCheckpoint(new ChangingAt(file, changeAt)));
                Assert.True(e is InvalidDataException, e.ToString());
                OptimizerSnapshot.Capture(target.Optimizer).AssertIdentical(before);
            }
        }
    }

    [Fact]
    public void Another_threads_calls_during_loads_make_a_load_succeed_whole_or_fail_whole()
    {
        (byte[] file, OptimizerSnapshot saved, TrainingRig target) = Scenario(seed: 7);
        using (target)
        {
            OptimizerSnapshot before = OptimizerSnapshot.Capture(target.Optimizer);
            using var stop = new CancellationTokenSource();
            var reader = Task.Run(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        _ = target.Optimizer.Tensors[0].Step;
                        _ = target.Optimizer.ParamGroups[0].LearningRate;
                    }
                    catch (InvalidOperationException)
                    {
                        // BUSY: a load holds the optimizer right now.
                    }
                }
            });
            int loaded = 0, refused = 0;
            for (int i = 0; i < 30; i++)
            {
                try
                {
                    target.Optimizer.LoadCheckpoint(new MemoryStream(file));
                    loaded++;
                }
                catch (InvalidOperationException)
                {
                    refused++; // BUSY: the reader held the optimizer when the load asked for it
                }
            }
            stop.Cancel();
            reader.Wait();
            // A half-applied load would match neither state.
            (loaded > 0 ? saved : before).AssertIdentical(OptimizerSnapshot.Capture(target.Optimizer));
            Assert.Equal(30, loaded + refused);
        }
    }

    [Theory]
    [InlineData("s", float.NaN, "second moment s")]
    [InlineData("s", -1f, "second moment s")]
    [InlineData("s_max", float.NaN, "s_max")]
    [InlineData("m", float.NaN, null)]
    public void Values_the_algorithm_cannot_produce_are_refused_naming_the_tensor(string array, float value, string? named)
    {
        (byte[] file, OptimizerSnapshot saved, TrainingRig target) = Scenario(seed: 9);
        using (target)
        {
            OptimizerSnapshot before = OptimizerSnapshot.Capture(target.Optimizer);
            // Tensor 1 is in the AMSGrad group: it has every array.
            byte[] damaged = CheckpointSurgery.Edit(file, (_, _) => { }, data =>
            {
                JsonObject header = CheckpointSurgery.Split(file).Header;
                var offsets = (JsonArray)header[$"tensor.1.{array}"]!["data_offsets"]!;
                int begin = (int)offsets[0]!;
                BitConverter.TryWriteBytes(data.AsSpan(begin + 8, 4), value);
                return data;
            });
            if (named is null)
            {
                // m may be anything a gradient made it (a NaN gradient makes a NaN m): it loads.
                target.Optimizer.LoadCheckpoint(new MemoryStream(damaged));
                Assert.True(float.IsNaN(target.Optimizer.Tensors[1].ReadState(StateKind.FirstMoment)[2]));
                return;
            }
            var e = Assert.Throws<InvalidDataException>(() => target.Optimizer.LoadCheckpoint(new MemoryStream(damaged)));
            Assert.Contains("tensor 1", e.Message, StringComparison.Ordinal);
            Assert.Contains(named + "[2]", e.Message, StringComparison.Ordinal);
            OptimizerSnapshot.Capture(target.Optimizer).AssertIdentical(before);
            _ = saved;
        }
    }

    /// <summary>A forward-only stream that says its header is large and then ends.</summary>
    private sealed class ShortForwardStream(byte[] data) : MemoryStream(data, writable: false)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();
    }

    [Fact]
    public void A_declared_header_is_not_allocated_before_its_bytes_arrive()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        var lying = new byte[8 + 1000];
        BitConverter.TryWriteBytes(lying.AsSpan(0, 8), 99_000_000UL);
        lying[8] = (byte)'{';
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => optimizer.LoadCheckpoint(new ShortForwardStream(lying)));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 8_000_000, $"{allocated} bytes allocated for a header of which 1000 bytes arrived");
    }

    [Fact]
    public void A_huge_declared_shape_is_refused_before_it_is_built()
    {
        using var rig = new TrainingRig(seed: 2);
        var stream = new MemoryStream();
        rig.Optimizer.SaveCheckpoint(stream);
        // A shape of 5 million dimensions (40 MB of JSON): refused on its length, not materialized.
        string shape = "[" + string.Join(",", Enumerable.Repeat("1", 5_000_000)) + "]";
        byte[] file = CheckpointSurgery.Edit(stream.ToArray(), (header, _) => header["tensor.0.m"]!["shape"] = JsonNode.Parse(shape));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => rig.Optimizer.LoadCheckpoint(new MemoryStream(file)));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("at most 8", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 3L * file.Length, $"{allocated} bytes allocated to refuse a {file.Length}-byte file");
    }

    [Fact]
    public void An_unexpected_metadata_key_is_named_in_a_checkpoint_of_ten_thousand_tensors()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions(), new OptimizerConfig { ThreadCount = 1 });
        using var memory = new NativeBuffer(20_000);
        for (int t = 0; t < 10_000; t++)
        {
            optimizer.ParamGroups[0].AddTensor(memory.Address + t * 2 * sizeof(float), TensorElementType.Float32, 0,
                TensorElementType.Float32, 2);
        }
        var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        byte[] file = CheckpointSurgery.Edit(stream.ToArray(), (_, meta) => meta["tensor.99999.step"] = "1");
        // Found by name (one look per key), not by comparing each key with every tensor's keys.
        var e = Assert.Throws<InvalidDataException>(() => optimizer.LoadCheckpoint(new MemoryStream(file)));
        Assert.Contains("tensor.99999.step", e.Message, StringComparison.Ordinal);
    }
}
