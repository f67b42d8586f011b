using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("nab-checkpoints-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static byte[] Save(AdaBeliefOptimizer optimizer)
    {
        var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    /// <summary>A trained rig and its checkpoint.</summary>
    private static (TrainingRig Rig, byte[] File) Trained(int steps = 7)
    {
        var rig = new TrainingRig(seed: 11);
        rig.Train(steps);
        return (rig, Save(rig.Optimizer));
    }

    // ---- Round trips. ----

    [Fact]
    public void Save_then_load_then_train_continues_identically()
    {
        using var original = new TrainingRig(seed: 21);
        original.Train(12);
        byte[] file = Save(original.Optimizer);

        // A fresh optimizer of the same shape, with the same parameters but a different history.
        using var restored = new TrainingRig(seed: 99);
        restored.Train(3);
        for (int i = 0; i < original.Storages.Count; i++)
        {
            original.Storages[i].Parameters.CopyTo(restored.Storages[i].Parameters);
        }
        restored.Optimizer.LoadCheckpoint(new MemoryStream(file));
        OptimizerSnapshot.Capture(original.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(restored.Optimizer));

        // Same gradients from here on: identical training.
        using var continued = new TrainingRig(seed: 5);
        for (int step = 0; step < 10; step++)
        {
            continued.Train(1);
            for (int i = 0; i < continued.Storages.Count; i++)
            {
                continued.Storages[i].Gradients.CopyTo(original.Storages[i].Gradients);
                continued.Storages[i].Gradients.CopyTo(restored.Storages[i].Gradients);
            }
            original.Optimizer.Step();
            restored.Optimizer.Step();
        }
        Assert.Equal(original.Parameters(), restored.Parameters());
        OptimizerSnapshot.Capture(original.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(restored.Optimizer));
    }

    [Fact]
    public void A_file_round_trip_restores_options_steps_and_state()
    {
        (TrainingRig rig, _) = Trained();
        using (rig)
        {
            rig.Optimizer.ParamGroups[0].LearningRate = 0.0123;
            string path = Path.Combine(_directory, "state.safetensors");
            rig.Optimizer.SaveCheckpoint(path);
            OptimizerSnapshot expected = OptimizerSnapshot.Capture(rig.Optimizer);

            using var other = new TrainingRig(seed: 3);
            other.Optimizer.LoadCheckpoint(path);
            expected.AssertIdentical(OptimizerSnapshot.Capture(other.Optimizer));
            Assert.Equal(0.0123, other.Optimizer.ParamGroups[0].LearningRate);
            Assert.Single(Directory.GetFiles(_directory));
        }
    }

    [Fact]
    public void A_checkpoint_loads_from_a_non_seekable_stream()
    {
        (TrainingRig rig, byte[] file) = Trained();
        using (rig)
        {
            using var other = new TrainingRig(seed: 3);
            other.Optimizer.LoadCheckpoint(new ForwardOnlyStream(file));
            OptimizerSnapshot.Capture(rig.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(other.Optimizer));
        }
    }

    [Fact]
    public void The_file_is_plain_safetensors()
    {
        (TrainingRig rig, byte[] file) = Trained();
        using (rig)
        {
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
            Assert.Equal(0UL, (8 + n) % 8);
            using JsonDocument header = JsonDocument.Parse(file.AsMemory(8, (int)n));
            JsonElement meta = header.RootElement.GetProperty("__metadata__");
            Assert.All(meta.EnumerateObject(), p => Assert.Equal(JsonValueKind.String, p.Value.ValueKind));
            Assert.Equal("native-adabelief.optimizer", meta.GetProperty("format").GetString());
            Assert.Equal("2", meta.GetProperty("format_version").GetString());
            Assert.Equal("F32", meta.GetProperty("tensor.0.parameter_dtype").GetString());
            Assert.Equal("F32", meta.GetProperty("tensor.0.gradient_dtype").GetString());
            Assert.Equal("false", meta.GetProperty("tensor.0.master_parameters").GetString());
            Assert.Equal("labml,adabelief_pytorch", meta.GetProperty("compatibility").GetString());
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(file.AsSpan(8 + (int)n))), meta.GetProperty("data_sha256").GetString());
            Assert.Equal("7", meta.GetProperty("tensor.0.step").GetString());
            using JsonDocument options = JsonDocument.Parse(meta.GetProperty("group.1.options").GetString()!);
            Assert.True(options.RootElement.GetProperty("amsgrad").GetBoolean());

            // Every state array is where its data_offsets say, as little-endian F32.
            byte[] data = file[(8 + (int)n)..];
            long covered = 0;
            foreach (OptimizerTensor t in rig.Optimizer.Tensors)
            {
                foreach ((string suffix, StateKind kind) in new[] { ("m", StateKind.FirstMoment), ("s", StateKind.SecondMoment), ("s_max", StateKind.MaxSecondMoment) })
                {
                    if (!header.RootElement.TryGetProperty($"tensor.{t.Id}.{suffix}", out JsonElement entry))
                    {
                        Assert.False(kind == StateKind.MaxSecondMoment && t.HasMaxSecondMoment);
                        continue;
                    }
                    Assert.Equal("F32", entry.GetProperty("dtype").GetString());
                    Assert.Equal([t.Length], entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
                    long[] offsets = [.. entry.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64())];
                    float[] stored = new float[t.Length];
                    for (int i = 0; i < stored.Length; i++)
                    {
                        stored[i] = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan((int)offsets[0] + 4 * i));
                    }
                    OptimizerSnapshot.AssertBits(t.ReadState(kind), stored, $"tensor.{t.Id}.{suffix}");
                    covered += offsets[1] - offsets[0];
                }
            }
            Assert.Equal(data.Length, covered);
        }
    }

    // ---- Corruption: every problem is an InvalidDataException, and nothing changes. ----

    private static void AssertRefusedAndUnchanged(AdaBeliefOptimizer target, byte[] file, string? expectedInMessage = null)
    {
        OptimizerSnapshot before = OptimizerSnapshot.Capture(target);
        var e = Assert.Throws<InvalidDataException>(() => target.LoadCheckpoint(new MemoryStream(file)));
        if (expectedInMessage is not null)
        {
            Assert.Contains(expectedInMessage, e.Message, StringComparison.Ordinal);
        }
        before.AssertIdentical(OptimizerSnapshot.Capture(target));
    }

    [Fact]
    public void Every_single_bit_flip_is_detected_and_changes_nothing()
    {
        (TrainingRig rig, byte[] file) = Trained();
        using (rig)
        {
            using var target = new TrainingRig(seed: 77);
            target.Train(2);
            OptimizerSnapshot before = OptimizerSnapshot.Capture(target.Optimizer);
            var undetected = new List<string>();
            for (int bit = 0; bit < file.Length * 8; bit++)
            {
                byte[] corrupted = (byte[])file.Clone();
                corrupted[bit / 8] ^= (byte)(1 << (bit % 8));
                try
                {
                    target.Optimizer.LoadCheckpoint(new MemoryStream(corrupted));
                    undetected.Add($"byte {bit / 8} bit {bit % 8}");
                }
                catch (InvalidDataException)
                {
                }
            }
            Assert.Empty(undetected);
            before.AssertIdentical(OptimizerSnapshot.Capture(target.Optimizer));
        }
    }

    [Fact]
    public void Every_truncation_and_any_trailing_bytes_are_detected()
    {
        (TrainingRig rig, byte[] file) = Trained();
        using (rig)
        {
            using var target = new TrainingRig(seed: 77);
            OptimizerSnapshot before = OptimizerSnapshot.Capture(target.Optimizer);
            for (int length = 0; length < file.Length; length++)
            {
                Assert.Throws<InvalidDataException>(() => target.Optimizer.LoadCheckpoint(new MemoryStream(file, 0, length)));
                Assert.Throws<InvalidDataException>(() => target.Optimizer.LoadCheckpoint(new ForwardOnlyStream(file[..length])));
            }
            AssertRefusedAndUnchanged(target.Optimizer, [.. file, 0], "unexpected bytes");
            Assert.Throws<InvalidDataException>(() => target.Optimizer.LoadCheckpoint(new ForwardOnlyStream([.. file, 1, 2])));
            before.AssertIdentical(OptimizerSnapshot.Capture(target.Optimizer));
        }
    }

    [Fact]
    public void A_checkpoint_of_a_differently_built_optimizer_is_refused()
    {
        (TrainingRig rig, byte[] file) = Trained();
        using (rig)
        {
            using (var fewer = new TrainingRig(sizes: [17, 64]))
            {
                AssertRefusedAndUnchanged(fewer.Optimizer, file, "3 tensors");
            }
            using (var resized = new TrainingRig(sizes: [17, 65, 5]))
            {
                AssertRefusedAndUnchanged(resized.Optimizer, file, "Tensor 1 has 64 elements in the checkpoint but 65");
            }
            using (var oneGroup = new TrainingRig(groups: [new AdaBeliefOptions()]))
            {
                AssertRefusedAndUnchanged(oneGroup.Optimizer, file, "has 2 parameter groups but this optimizer has 1");
            }
            using (var threeGroups = new TrainingRig(groups: [new AdaBeliefOptions(), new AdaBeliefOptions(), new AdaBeliefOptions()]))
            {
                // Same tensor count and sizes, but tensor 2 now sits in group 2.
                AssertRefusedAndUnchanged(threeGroups.Optimizer, file, "has 2 parameter groups but this optimizer has 3");
            }
        }
    }

    [Fact]
    public void Well_formed_but_wrong_checkpoints_are_refused_with_what_is_wrong()
    {
        (TrainingRig rig, byte[] file) = Trained();
        using (rig)
        {
            using var target = new TrainingRig(seed: 5);
            AdaBeliefOptimizer o = target.Optimizer;

            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m["format_version"] = "5"), "format_version is '5'");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m["format"] = "something-else"), "not written by NativeAdaBelief");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) =>
                m["group.0.options"] = m["group.0.options"]!.ToString().Replace("\"learning_rate\":0.001", "\"learning_rate\":-3", StringComparison.Ordinal)), "LearningRate");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) =>
                m["group.1.options"] = m["group.1.options"]!.ToString().Replace("\"second_moment\":\"belief\"", "\"second_moment\":\"square\"", StringComparison.Ordinal)), "SecondMoment");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m["group.0.options"] = "{\"lr\":1}"), "unknown option 'lr'");
            // Found by CheckpointFuzzTests: an escape that decodes to a lone surrogate made the
            // options parser throw InvalidOperationException instead of InvalidDataException.
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m["group.0.options"] = "{\"\\ud800\":1}"), "invalid string");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) =>
                m["group.1.options"] = m["group.1.options"]!.ToString().Replace("\"adabelief_pytorch\"", "\"\\udc00\"", StringComparison.Ordinal)), "invalid string");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m["tensor.1.step"] = "-4"), "tensor.1.step");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m["tensor.2.group"] = "1"), "Tensor 2 belongs to group 1");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m["compatibility"] = "labml,labml"), "compatibility");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m.Remove("tensor.0.element_count")), "lacks 'tensor.0.element_count'");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m["extra"] = "x"), "unexpected key 'extra'");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (h, _) => h["tensor.0.m"]!["dtype"] = "F16"), "dtype 'F16'");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (h, _) => h["tensor.0.m"]!["shape"] = new JsonArray(17, 1)), "shape [17, 1]");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (h, _) => h.Remove("tensor.1.s")), "lacks the tensor 'tensor.1.s'");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (h, _) => h["tensor.9.m"] = h["tensor.0.m"]!.DeepClone()), "unexpected tensor 'tensor.9.m'");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (h, _) =>
            {
                // Point tensor.0.s at tensor.0.m's bytes: the same size, overlapping.
                h["tensor.0.s"]!["data_offsets"] = h["tensor.0.m"]!["data_offsets"]!.DeepClone();
            }), "overlaps");
            AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (h, _) => { }, data => data[..^4]), "truncated");
        }
    }

    [Fact]
    public void Files_that_are_not_our_checkpoints_are_refused()
    {
        using var target = new TrainingRig();
        AdaBeliefOptimizer o = target.Optimizer;
        AssertRefusedAndUnchanged(o, [], "truncated");
        AssertRefusedAndUnchanged(o, [1, 2, 3], "truncated");
        AssertRefusedAndUnchanged(o, [.. BitConverter.GetBytes(ulong.MaxValue), .. "{}"u8], "header length");
        AssertRefusedAndUnchanged(o, [.. BitConverter.GetBytes(2UL), .. "[]"u8], "safetensors");
        AssertRefusedAndUnchanged(o, [.. BitConverter.GetBytes(4UL), .. "{x:1"u8], "not valid JSON");
        byte[] foreign = Encoding.UTF8.GetBytes("{\"weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
        AssertRefusedAndUnchanged(o, [.. BitConverter.GetBytes((ulong)foreign.Length), .. foreign, 0, 0, 0, 0], "no '__metadata__'");
        var random = new Random(1);
        for (int i = 0; i < 50; i++)
        {
            byte[] noise = new byte[random.Next(1, 400)];
            random.NextBytes(noise);
            AssertRefusedAndUnchanged(o, noise);
        }
    }

    [Fact]
    public void A_saved_tensor_without_s_max_leaves_a_zeroed_s_max_where_one_exists()
    {
        using var source = new TrainingRig(groups: [new AdaBeliefOptions(), new AdaBeliefOptions()]);
        source.Train(4);
        byte[] file = Save(source.Optimizer);
        using var target = new TrainingRig(groups: [new AdaBeliefOptions { AmsGrad = true }, new AdaBeliefOptions()]);
        target.Train(4);
        Assert.True(target.Optimizer.Tensors[0].HasMaxSecondMoment);
        target.Optimizer.LoadCheckpoint(new MemoryStream(file));
        Assert.False(target.Optimizer.ParamGroups[0].Options.AmsGrad);
        Assert.All(target.Optimizer.Tensors[0].ReadState(StateKind.MaxSecondMoment), v => Assert.Equal(0f, v));
        OptimizerSnapshot.AssertBits(source.Optimizer.Tensors[0].ReadState(StateKind.SecondMoment), target.Optimizer.Tensors[0].ReadState(StateKind.SecondMoment), "s");
    }

    // ---- Atomic file saves. ----

    [Fact]
    public void A_failed_file_save_leaves_the_previous_file_and_no_partial_file()
    {
        (TrainingRig rig, byte[] previous) = Trained();
        using (rig)
        {
            string path = Path.Combine(_directory, "model.safetensors");
            File.WriteAllBytes(path, previous);
            rig.Train(1);
            foreach (long failAfter in new long[] { 0, 5, 100, previous.Length / 2, previous.Length - 1 })
            {
                Assert.Throws<IOException>(() => CheckpointWriter.Save(rig.Optimizer, path, s => new FailingStream(s, failAfter)));
                Assert.Equal(previous, File.ReadAllBytes(path));
                Assert.Equal([path], Directory.GetFiles(_directory));
            }
            rig.Optimizer.SaveCheckpoint(path);
            Assert.NotEqual(previous, File.ReadAllBytes(path));
            Assert.Equal(Save(rig.Optimizer), File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFiles(_directory));
        }
    }

    [Fact]
    public void Saving_over_a_directory_fails_cleanly()
    {
        using var rig = new TrainingRig();
        string path = Path.Combine(_directory, "a-directory");
        Directory.CreateDirectory(path);
        Assert.ThrowsAny<IOException>(() => rig.Optimizer.SaveCheckpoint(path));
        Assert.True(Directory.Exists(path));
        Assert.Empty(Directory.GetFiles(_directory));
    }

    /// <summary>Reads like a network stream: forward only, no length, no seeking.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Writes through to an inner stream until a byte budget runs out, then fails like a full disk.</summary>
    private sealed class FailingStream(Stream inner, long budget) : Stream
    {
        private long _left = budget;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (buffer.Length > _left)
            {
                inner.Write(buffer[..(int)_left]);
                _left = 0;
                throw new IOException("No space left on device (simulated).");
            }
            inner.Write(buffer);
            _left -= buffer.Length;
        }
    }
}
