using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

/// <summary>
/// Checkpoints of optimizers with 8-bit state (format version 3): the codes and scales are saved
/// as they are (U8 and F32 entries, the formats named in the metadata) and restored bit for bit;
/// they load into an optimizer with float32 state (decoded) and a float32 checkpoint loads into
/// one with 8-bit state (encoded), the optimizer keeping its own encoding; a checkpoint whose
/// codes are in a format this library does not know, or whose codes or scales are corrupted, is
/// refused, changing nothing.
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

    private static readonly StateKind[] Kinds = [StateKind.FirstMoment, StateKind.SecondMoment, StateKind.MaxSecondMoment];

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
            // Tensor 1 is in the AMSGrad group: it has s_max too.
            foreach (StateKind kind in t == 1 ? Kinds : Kinds[..2])
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

    [Fact]
    public void A_float32_checkpoint_loads_into_8_bit_state_as_each_blocks_largest_value_and_the_nearest_codes()
    {
        int seed = Random.Shared.Next();
        using TrainingRig float32 = Rig(seed, StateEncoding.Float32);
        float32.Train(5);
        byte[] file = Save(float32.Optimizer);
        Assert.Equal("2", (string)CheckpointSurgery.Split(file).Header["__metadata__"]!["format_version"]!);

        using TrainingRig eightBit = Rig(seed + 1);
        eightBit.Optimizer.LoadCheckpoint(new MemoryStream(file));
        long elements = 0, ties = 0;
        for (int t = 0; t < Sizes.Length; t++)
        {
            OptimizerTensor source = float32.Optimizer.Tensors[t], loaded = eightBit.Optimizer.Tensors[t];
            Assert.Equal(source.Step, loaded.Step);
            foreach (StateKind kind in t == 1 ? Kinds : Kinds[..2])
            {
                float[] values = source.ReadState(kind), decoded = loaded.ReadState(kind);
                if (loaded.StateEncoding == StateEncoding.Float32)
                {
                    OptimizerSnapshot.AssertBits(values, decoded, $"seed {seed}, tensor {t} {kind} (float32 state)");
                    continue;
                }
                float[] scales = loaded.ReadStateCodes(kind).Scales;
                for (int b = 0; b < scales.Length; b++)
                {
                    int begin = b * EightBitState.BlockSize, end = Math.Min(values.Length, begin + EightBitState.BlockSize);
                    float largest = 0;
                    for (int i = begin; i < end; i++)
                    {
                        largest = Math.Max(largest, Math.Abs(values[i]));
                    }
                    Assert.True(largest >= MathF.Pow(2, -126), $"seed {seed}, tensor {t} {kind} block {b}: largest {largest}");
                    Assert.Equal(largest, scales[b]);
                    for (int i = begin; i < end; i++)
                    {
                        (double nearest, bool tie) = NearestCodeValue(kind, Math.Abs((double)values[i]) / scales[b]);
                        elements++;
                        if (tie)
                        {
                            ties++;
                            continue;
                        }
                        float expected = (float)(Math.CopySign(nearest, values[i]) * scales[b]);
                        Assert.True(expected == decoded[i],
                            $"seed {seed}, tensor {t} {kind} element {i}: {values[i]:R} decoded as {decoded[i]:R}, the nearest code gives {expected:R}");
                    }
                }
            }
        }
        Assert.True(ties * 1000 <= elements, $"seed {seed}: {ties} of {elements} values lie on a boundary between two codes");
    }

    /// <summary>
    /// The value nearest to <paramref name="y"/> (|x| / scale) among the codes of
    /// <paramref name="kind"/>'s format, in float64 from docs/algorithm.md ("Code values"): m signed
    /// with magnitude a = 8e + f worth 2^(e−16)·(1 + f/8) (e ≥ 1), 2^−15·f/8 (e = 0), 1 (a = 127);
    /// s and s_max c = 8e + f worth 2^(e−32)·(1 + f/8), 1 (c = 255), no zero. Tie: the two nearest
    /// are equally near within float32 rounding of y, where the library may pick either.
    /// </summary>
    private static (double Value, bool Tie) NearestCodeValue(StateKind kind, double y)
    {
        bool signed = kind == StateKind.FirstMoment;
        int top = signed ? 127 : 255;
        double best = double.NaN, bestDistance = double.PositiveInfinity, secondDistance = double.PositiveInfinity;
        for (int c = 0; c <= top; c++)
        {
            int e = c >> 3, f = c & 7;
            double v = c == top ? 1.0
                : signed ? (e == 0 ? Math.ScaleB(f / 8.0, -15) : Math.ScaleB(1 + f / 8.0, e - 16))
                : Math.ScaleB(1 + f / 8.0, e - 32);
            double distance = Math.Abs(v - y);
            if (distance < bestDistance)
            {
                (secondDistance, bestDistance, best) = (bestDistance, distance, v);
            }
            else if (distance < secondDistance)
            {
                secondDistance = distance;
            }
        }
        return (best, secondDistance - bestDistance <= 4 * Math.ScaleB(y, -24));
    }

    [Fact]
    public void Corrupted_codes_or_scales_are_refused_and_nothing_changes()
    {
        int seed = Random.Shared.Next();
        var random = new Random(seed);
        using TrainingRig source = Rig(seed);
        source.Train(4);
        byte[] file = Save(source.Optimizer);
        using TrainingRig target = Rig(seed + 1);
        target.Train(2);
        (JsonObject header, byte[] data) = CheckpointSurgery.Split(file);
        int dataStart = file.Length - data.Length;
        long Offset(string entry) => (long)header[entry]!["data_offsets"]![0]!;

        // A code byte changed on disk: the data's checksum no longer matches.
        byte[] flipped = (byte[])file.Clone();
        flipped[dataStart + Offset("tensor.0.s.codes") + random.Next(Sizes[0])] ^= (byte)(1 << random.Next(8));
        AssertRefusedAndUnchanged(target.Optimizer, flipped, "data is corrupted");

        // Codes or scales entries of the wrong length (re-signed: only the shape is wrong).
        AssertRefusedAndUnchanged(target.Optimizer,
            CheckpointSurgery.Edit(file, (h, _) => h["tensor.0.m.codes"]!["shape"]![0] = Sizes[0] - 1), "has shape [4999]");
        AssertRefusedAndUnchanged(target.Optimizer,
            CheckpointSurgery.Edit(file, (h, _) => h["tensor.1.s.scales"]!["shape"]![0] = 16), "(4097 elements in blocks of 256)");

        // A scale no block can have (re-signed: only its value is wrong), in m, s or s_max.
        foreach ((string entry, int blocks) in (ValueTuple<string, int>[])[("tensor.0.m.scales", 20), ("tensor.0.s.scales", 20), ("tensor.1.s_max.scales", 17)])
        {
            foreach (float bad in (float[])[-MathF.Pow(2, -126 + random.Next(200)), float.PositiveInfinity, float.NegativeInfinity, MathF.Pow(2, -127 - random.Next(23))])
            {
                int block = random.Next(blocks);
                byte[] edited = CheckpointSurgery.Edit(file, (_, _) => { }, d =>
                {
                    BinaryPrimitives.WriteSingleLittleEndian(d.AsSpan((int)Offset(entry) + 4 * block), bad);
                    return d;
                });
                AssertRefusedAndUnchanged(target.Optimizer, edited, $"'{entry}' has scales[{block}] = {bad.ToString("R", CultureInfo.InvariantCulture)}");
            }
        }
    }
}
