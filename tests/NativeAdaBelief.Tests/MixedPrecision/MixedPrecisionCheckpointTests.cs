using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.MixedPrecision;

/// <summary>
/// Checkpoints of optimizers with 16-bit tensors and master copies (format version 2): the
/// element types and master copies are recorded, master copies are saved and restored, training
/// continues bit-identically after a restore, a checkpoint refuses to restore into tensors of
/// other element types or master-copy settings, and version-1 checkpoints (float32 only) still load.
/// </summary>
public sealed class MixedPrecisionCheckpointTests
{
    private static byte[] Save(AdaBeliefOptimizer optimizer)
    {
        var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    private static void AssertRefusedAndUnchanged(AdaBeliefOptimizer target, byte[] file, params string[] expectedInMessage)
    {
        OptimizerSnapshot before = OptimizerSnapshot.Capture(target);
        var e = Assert.Throws<InvalidDataException>(() => target.LoadCheckpoint(new MemoryStream(file)));
        foreach (string part in expectedInMessage)
        {
            Assert.Contains(part, e.Message, StringComparison.Ordinal);
        }
        before.AssertIdentical(OptimizerSnapshot.Capture(target));
    }

    [Fact]
    public void Save_then_load_then_train_continues_bit_identically_with_16_bit_tensors_and_master_copies()
    {
        using var original = new MixedRig(seed: 21);
        original.Train(12);
        byte[] file = Save(original.Optimizer);

        // A fresh optimizer of the same shape with a different history; the caller restores the
        // 16-bit parameters (they are the model's, not in the checkpoint), the checkpoint the rest.
        using var restored = new MixedRig(seed: 99);
        restored.Train(3);
        for (int t = 0; t < original.Storages.Count; t++)
        {
            restored.Storages[t].CopyParametersFrom(original.Storages[t]);
        }
        restored.Optimizer.LoadCheckpoint(new MemoryStream(file));
        OptimizerSnapshot.Capture(original.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(restored.Optimizer));
        Assert.Contains(restored.Optimizer.Tensors, t => t.HasMasterParameters);

        // The same gradients from here on: the interrupted run and the uninterrupted one agree to the bit.
        var random = new Random(5);
        for (int step = 0; step < 10; step++)
        {
            float[][] g = MixedRig.FillGradients(original.Storages, random);
            for (int t = 0; t < g.Length; t++)
            {
                for (int i = 0; i < g[t].Length; i++)
                {
                    restored.Storages[t].SetGradient(i, g[t][i]);
                }
            }
            original.Optimizer.Step();
            restored.Optimizer.Step();
        }
        Assert.Equal(original.ParameterBits(), restored.ParameterBits());
        OptimizerSnapshot.Capture(original.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(restored.Optimizer));
        Assert.Equal(Save(original.Optimizer), Save(restored.Optimizer));
    }

    [Fact]
    public void The_file_records_element_types_and_stores_master_copies_as_F32_arrays()
    {
        using var rig = new MixedRig(seed: 3);
        rig.Train(4);
        byte[] file = Save(rig.Optimizer);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        using JsonDocument header = JsonDocument.Parse(file.AsMemory(8, (int)n));
        JsonElement meta = header.RootElement.GetProperty("__metadata__");
        Assert.Equal("2", meta.GetProperty("format_version").GetString());
        byte[] data = file[(8 + (int)n)..];
        for (int t = 0; t < rig.Specs.Length; t++)
        {
            MixedTensorSpec spec = rig.Specs[t];
            string Name(TensorElementType type) => type switch
            {
                TensorElementType.Float16 => "F16",
                TensorElementType.BFloat16 => "BF16",
                _ => "F32",
            };
            Assert.Equal(Name(spec.ParameterType), meta.GetProperty($"tensor.{t}.parameter_dtype").GetString());
            Assert.Equal(Name(spec.GradientType), meta.GetProperty($"tensor.{t}.gradient_dtype").GetString());
            Assert.Equal(spec.MasterCopy ? "true" : "false", meta.GetProperty($"tensor.{t}.master_parameters").GetString());
            Assert.Equal(spec.MasterCopy, header.RootElement.TryGetProperty($"tensor.{t}.master", out JsonElement entry));
            if (spec.MasterCopy)
            {
                Assert.Equal("F32", entry.GetProperty("dtype").GetString());
                Assert.Equal([(long)spec.Length], entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
                long begin = entry.GetProperty("data_offsets")[0].GetInt64();
                float[] stored = new float[spec.Length];
                for (int i = 0; i < stored.Length; i++)
                {
                    stored[i] = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan((int)begin + 4 * i));
                }
                OptimizerSnapshot.AssertBits(rig.Optimizer.Tensors[t].ReadState(StateKind.MasterParameters), stored, $"tensor.{t}.master");
            }
        }
    }

    [Fact]
    public void A_checkpoint_refuses_tensors_of_other_element_types_or_master_settings_naming_both()
    {
        using var source = new MixedRig(seed: 4);
        source.Train(3);
        byte[] file = Save(source.Optimizer);
        MixedTensorSpec[] specs = MixedRig.DefaultSpecs;

        using (var other = new MixedRig([specs[0], specs[1] with { ParameterType = TensorElementType.Float16 }, specs[2], specs[3]], seed: 4))
        {
            AssertRefusedAndUnchanged(other.Optimizer, file, "Tensor 1 has BFloat16 parameters in the checkpoint but Float16 parameters in this optimizer");
        }
        using (var other = new MixedRig([specs[0], specs[1], specs[2] with { GradientType = TensorElementType.Float32 }, specs[3]], seed: 4))
        {
            AssertRefusedAndUnchanged(other.Optimizer, file, "Tensor 2 has BFloat16 gradients in the checkpoint but Float32 gradients in this optimizer");
        }
        using (var other = new MixedRig([specs[0] with { MasterCopy = false }, specs[1], specs[2], specs[3]], seed: 4))
        {
            AssertRefusedAndUnchanged(other.Optimizer, file, "Tensor 0 has a float32 master copy", "none in this optimizer");
        }
        using (var other = new MixedRig([specs[0], specs[1], specs[2] with { MasterCopy = true }, specs[3]], seed: 4))
        {
            AssertRefusedAndUnchanged(other.Optimizer, file, "Tensor 2 has no float32 master copy", "has one in this optimizer");
        }
        using (var other = new MixedRig([specs[0], specs[1], specs[2], specs[3] with { GradientType = TensorElementType.Float32 }], seed: 4))
        {
            AssertRefusedAndUnchanged(other.Optimizer, file, "Tensor 3 has Float16 gradients in the checkpoint but Float32 gradients");
        }
    }

    [Fact]
    public void Well_formed_but_inconsistent_element_type_metadata_is_refused()
    {
        using var source = new MixedRig(seed: 6);
        source.Train(2);
        byte[] file = Save(source.Optimizer);
        using var target = new MixedRig(seed: 7);
        AdaBeliefOptimizer o = target.Optimizer;
        AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m["tensor.0.parameter_dtype"] = "f16"), "'tensor.0.parameter_dtype' must be one of F32, F16 or BF16, not 'f16'");
        AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m["tensor.1.master_parameters"] = "1"), "'tensor.1.master_parameters' must be 'true' or 'false', not '1'");
        AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (_, m) => m.Remove("tensor.2.gradient_dtype")), "lacks 'tensor.2.gradient_dtype'");
        AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (h, _) => h.Remove("tensor.0.master")), "lacks the tensor 'tensor.0.master'");
        AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (h, _) => h["tensor.0.master"]!["dtype"] = "F16"), "dtype 'F16'");
        AssertRefusedAndUnchanged(o, CheckpointSurgery.Edit(file, (h, _) => h["tensor.2.master"] = h["tensor.2.m"]!.DeepClone()), "unexpected tensor 'tensor.2.master'");
    }

    /// <summary>Turns a version-2 checkpoint of float32 tensors into the version-1 file the previous release wrote.</summary>
    private static byte[] AsVersion1(byte[] file) => CheckpointSurgery.Edit(file, (_, m) =>
    {
        m["format_version"] = "1";
        foreach (string key in m.Select(p => p.Key).Where(k => k.EndsWith(".parameter_dtype", StringComparison.Ordinal)
            || k.EndsWith(".gradient_dtype", StringComparison.Ordinal) || k.EndsWith(".master_parameters", StringComparison.Ordinal)).ToList())
        {
            m.Remove(key);
        }
    });

    [Fact]
    public void Version_1_checkpoints_still_load_into_float32_tensors_and_are_refused_by_16_bit_ones()
    {
        using var source = new TrainingRig(seed: 11);
        source.Train(7);
        byte[] version1 = AsVersion1(Save(source.Optimizer));
        (JsonObject header, _) = CheckpointSurgery.Split(version1);
        Assert.Equal("1", (string)header["__metadata__"]!["format_version"]!);
        Assert.DoesNotContain(((JsonObject)header["__metadata__"]!).Select(p => p.Key), k => k.Contains("dtype", StringComparison.Ordinal));

        using var target = new TrainingRig(seed: 3);
        target.Train(2);
        target.Optimizer.LoadCheckpoint(new MemoryStream(version1));
        OptimizerSnapshot.Capture(source.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(target.Optimizer));
        // Saved again, it is the version-2 file of the same state.
        Assert.Equal(Save(source.Optimizer), Save(target.Optimizer));

        // The same shapes with a 16-bit tensor: version 1 cannot describe it.
        MixedTensorSpec[] specs =
        [
            new(0, 17, TensorElementType.Float32, TensorElementType.Float32, false, MemoryKind.NativeBuffer),
            new(1, 64, TensorElementType.BFloat16, TensorElementType.Float32, true, MemoryKind.ManagedArray),
            new(0, 5, TensorElementType.Float32, TensorElementType.Float32, false, MemoryKind.RawPointer),
        ];
        using var mixed = new MixedRig(specs, [new AdaBeliefOptions { WeightDecay = 1e-2 }, AdaBeliefOptions.ForAdaBeliefPytorch(2e-3) with { AmsGrad = true }]);
        AssertRefusedAndUnchanged(mixed.Optimizer, version1, "Tensor 1 has Float32 parameters in the checkpoint but BFloat16 parameters in this optimizer", "format version 1");

        // A version-1 file with a version-2 key is not a version-1 file.
        AssertRefusedAndUnchanged(target.Optimizer, CheckpointSurgery.Edit(version1, (_, m) => m["tensor.0.parameter_dtype"] = "F32"), "unexpected key 'tensor.0.parameter_dtype'");
    }
}
