using System.Text.Json;
using System.Text.Json.Nodes;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

/// <summary>
/// Checkpoints of optimizers with 8-bit state (format version 3): the codes and scales are saved
/// as they are (U8 and F32 entries, the formats named in the metadata) and restored bit for bit;
/// they load into an optimizer with float32 state (decoded) and a float32 checkpoint loads into
/// one with 8-bit state (encoded), the optimizer keeping its own encoding; a checkpoint whose
/// codes are in a format this library does not know is refused, changing nothing.
/// </summary>
public sealed class EightBitCheckpointTests
{
    private static readonly AdaBeliefOptions[] Groups =
    [
        new AdaBeliefOptions { StateEncoding = StateEncoding.Blockwise8Bit, WeightDecay = 1e-2 },
        AdaBeliefOptions.ForAdaBeliefPytorch(2e-3) with { AmsGrad = true, StateEncoding = StateEncoding.Blockwise8Bit },
    ];

    // 8-bit: 5000 and 4097 elements; float32 (below the threshold): 17.
    private static readonly int[] Sizes = [5000, 4097, 17];

    private static byte[] Save(AdaBeliefOptimizer optimizer)
    {
        var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    private static TrainingRig Rig(int seed, StateEncoding encoding = StateEncoding.Blockwise8Bit) =>
        new(seed, Sizes, groups: [.. Groups.Select(g => g with { StateEncoding = encoding })]);

    private static void AssertRefusedAndUnchanged(AdaBeliefOptimizer target, byte[] file, string expectedInMessage)
    {
        OptimizerSnapshot before = OptimizerSnapshot.Capture(target);
        var e = Assert.Throws<InvalidDataException>(() => target.LoadCheckpoint(new MemoryStream(file)));
        Assert.Contains(expectedInMessage, e.Message, StringComparison.Ordinal);
        before.AssertIdentical(OptimizerSnapshot.Capture(target));
    }

    [Fact]
    public void The_codes_and_scales_are_saved_as_they_are_and_restored_bit_for_bit()
    {
        using TrainingRig original = Rig(seed: 21);
        original.Train(9);
        byte[] file = Save(original.Optimizer);

        (JsonObject header, _) = CheckpointSurgery.Split(file);
        JsonObject meta = header["__metadata__"]!.AsObject();
        Assert.Equal("3", (string)meta["format_version"]!);
        Assert.Equal(EightBitState.FormatName(StateKind.FirstMoment), (string)meta["state_format.m"]!);
        Assert.Equal(EightBitState.FormatName(StateKind.SecondMoment), (string)meta["state_format.s"]!);
        Assert.Equal("blockwise_8bit", (string)meta["tensor.0.state_encoding"]!);
        Assert.Equal("float32", (string)meta["tensor.2.state_encoding"]!);
        Assert.Equal("U8", (string)header["tensor.1.s_max.codes"]!["dtype"]!);
        Assert.Equal(4097, (long)header["tensor.1.s_max.codes"]!["shape"]![0]!);
        Assert.Equal("F32", (string)header["tensor.1.s_max.scales"]!["dtype"]!);
        Assert.Equal(17, (long)header["tensor.1.s_max.scales"]!["shape"]![0]!);
        Assert.Null(header["tensor.0.m"]);
        Assert.NotNull(header["tensor.2.m"]);

        using TrainingRig restored = Rig(seed: 99);
        restored.Train(2);
        for (int t = 0; t < Sizes.Length; t++)
        {
            original.Storages[t].Parameters.CopyTo(restored.Storages[t].Parameters);
        }
        restored.Optimizer.LoadCheckpoint(new MemoryStream(file));
        for (int t = 0; t < 2; t++)
        {
            foreach (StateKind kind in (StateKind[])[StateKind.FirstMoment, StateKind.SecondMoment])
            {
                (byte[] codes, float[] scales) = original.Optimizer.Tensors[t].ReadStateCodes(kind);
                (byte[] restoredCodes, float[] restoredScales) = restored.Optimizer.Tensors[t].ReadStateCodes(kind);
                Assert.Equal(codes, restoredCodes);
                Assert.Equal(scales, restoredScales);
            }
        }
        OptimizerSnapshot.Capture(original.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(restored.Optimizer));
        Assert.Equal(file, Save(restored.Optimizer));
    }

    [Fact]
    public void An_8_bit_checkpoint_loads_into_float32_state_decoded_and_back_encoded()
    {
        using TrainingRig eightBit = Rig(seed: 3);
        eightBit.Train(6);
        byte[] file = Save(eightBit.Optimizer);

        // Into float32 state: the optimizer keeps its encoding; the values are the decoded codes.
        using TrainingRig float32 = Rig(seed: 4, StateEncoding.Float32);
        float32.Optimizer.LoadCheckpoint(new MemoryStream(file));
        Assert.All(float32.Optimizer.Tensors, t => Assert.Equal(StateEncoding.Float32, t.StateEncoding));
        Assert.All(float32.Optimizer.ParamGroups, g => Assert.Equal(StateEncoding.Float32, g.Options.StateEncoding));
        OptimizerSnapshot.Capture(eightBit.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(float32.Optimizer) with
        {
            Options = [.. float32.Optimizer.ParamGroups.Select(g => g.Options with { StateEncoding = StateEncoding.Blockwise8Bit })],
        });

        // Its (version 2) checkpoint back into 8-bit state: encoded with fresh scales, which gives
        // the same codes (each block's largest value is stored exactly, so it is the scale again).
        byte[] float32File = Save(float32.Optimizer);
        Assert.Equal("2", (string)CheckpointSurgery.Split(float32File).Header["__metadata__"]!["format_version"]!);
        using TrainingRig again = Rig(seed: 5);
        again.Optimizer.LoadCheckpoint(new MemoryStream(float32File));
        Assert.Equal(StateEncoding.Blockwise8Bit, again.Optimizer.Tensors[0].StateEncoding);
        for (int t = 0; t < 2; t++)
        {
            Assert.Equal(eightBit.Optimizer.Tensors[t].ReadStateCodes(StateKind.SecondMoment).Codes,
                again.Optimizer.Tensors[t].ReadStateCodes(StateKind.SecondMoment).Codes);
        }
    }

    [Fact]
    public void Codes_in_a_format_this_library_does_not_know_are_refused_and_nothing_changes()
    {
        using TrainingRig source = Rig(seed: 8);
        source.Train(3);
        byte[] file = Save(source.Optimizer);
        using TrainingRig target = Rig(seed: 9);
        target.Train(2);
        AssertRefusedAndUnchanged(target.Optimizer,
            CheckpointSurgery.Edit(file, (_, m) => m["state_format.s"] = "bitsandbytes.dynamic.unsigned"), "does not know");
        AssertRefusedAndUnchanged(target.Optimizer,
            CheckpointSurgery.Edit(file, (_, m) => m["tensor.0.state_encoding"] = "blockwise_4bit"), "'blockwise_4bit'");
        AssertRefusedAndUnchanged(target.Optimizer,
            CheckpointSurgery.Edit(file, (h, _) => h["tensor.0.m.codes"]!["dtype"] = "I8"), "expected 'U8'");
        // 8-bit state recorded for a tensor too small to have it.
        AssertRefusedAndUnchanged(target.Optimizer,
            CheckpointSurgery.Edit(file, (_, m) => m["tensor.2.state_encoding"] = "blockwise_8bit"), "only tensors of at least 4096");
    }
}
