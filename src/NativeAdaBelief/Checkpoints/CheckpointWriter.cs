using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;

namespace NativeAdaBelief;

/// <summary>
/// Writes an optimizer's whole state as a safetensors checkpoint (docs/checkpoint-format.md):
/// to a stream, or to a file atomically (a temporary file in the same folder, flushed to disk,
/// then moved over the target).
/// </summary>
internal static class CheckpointWriter
{
    /// <summary>Temporary files of an interrupted save older than this are another save's leftovers, not a save in progress.</summary>
    private static readonly TimeSpan s_staleAfter = TimeSpan.FromMinutes(1);

    internal static void Save(AdaBeliefOptimizer optimizer, string path, TrainingState? training = null) => Save(optimizer, path, wrap: null, training: training);

    /// <summary>
    /// Atomic file save: written to a temporary file beside the target, flushed to disk, then
    /// moved over the target. A symbolic link is followed (the file it points to is replaced, the
    /// link stays); a read-only target is refused. Temporary files that earlier interrupted saves
    /// of the same target left behind are removed. <paramref name="wrap"/> lets tests interpose on
    /// the temporary file's stream.
    /// </summary>
    internal static void Save(AdaBeliefOptimizer optimizer, string path, Func<Stream, Stream>? wrap,
        long maxHeaderBytes = CheckpointFormat.MaxHeaderBytes, TrainingState? training = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(optimizer.IsDisposed, optimizer);
        string target = TargetOf(path);
        string directory = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{path}' has no directory.", nameof(path));
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"Cannot save the checkpoint to '{path}': the folder '{directory}' does not exist.");
        }
        string prefix = TemporaryPrefix(target);
        RemoveStaleTemporaries(directory, prefix);
        string temp = Path.Combine(directory, $"{prefix}{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                Stream output = wrap?.Invoke(file) ?? file;
                Save(optimizer, output, maxHeaderBytes, training);
                output.Flush();
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is UnauthorizedAccessException)
            {
                throw new UnauthorizedAccessException($"Cannot save the checkpoint to '{path}': {e.Message}", e);
            }
            throw;
        }
    }

    /// <summary>The file a save to <paramref name="path"/> replaces: the path itself, or the file a symbolic link there points to.</summary>
    private static string TargetOf(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        string target = info.LinkTarget is null ? info.FullName : info.ResolveLinkTarget(returnFinalTarget: true)!.FullName;
        if (File.Exists(target) && File.GetAttributes(target).HasFlag(FileAttributes.ReadOnly))
        {
            throw new UnauthorizedAccessException(
                $"Cannot save the checkpoint to '{path}'{(target == info.FullName ? "" : $" (a link to '{target}')")}: the file is "
                + "read-only, and a save does not replace a file its owner protected. Make it writable or choose another path.");
        }
        return target;
    }

    /// <summary>
    /// The name every temporary file of a save to <paramref name="target"/> starts with: short
    /// and fixed in length (so a target name of any legal length leaves room for it), and the same
    /// for every save of that target (so leftovers are recognised as its own).
    /// </summary>
    private static string TemporaryPrefix(string target) =>
        $".nab-{Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(target))))[..16]}-";

    /// <summary>Removes this target's temporary files that an interrupted save left behind (best effort).</summary>
    private static void RemoveStaleTemporaries(string directory, string prefix)
    {
        DateTime staleBefore = DateTime.UtcNow - s_staleAfter;
        foreach (string file in Directory.EnumerateFiles(directory, prefix + "*.tmp"))
        {
            if (File.GetLastWriteTimeUtc(file) < staleBefore)
            {
                TryDelete(file);
            }
        }
    }

    private static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (IOException)
        {
            // Best effort: the file is left for a later save to remove.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    internal static unsafe void Save(AdaBeliefOptimizer optimizer, Stream stream, long maxHeaderBytes = CheckpointFormat.MaxHeaderBytes,
        TrainingState? training = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The stream is not writable.", nameof(stream));
        }
        ObjectDisposedException.ThrowIf(optimizer.IsDisposed, optimizer);

        IReadOnlyList<ParameterGroup> groups = optimizer.ParamGroups;
        IReadOnlyList<OptimizerTensor> tensors = optimizer.Tensors;

        // The oldest version that holds the state: without 8-bit state and training state the file
        // is the version-2 file; version 3 adds the encodings, 4 the training state.
        StateEncoding[] encodings = [.. tensors.Select(t => t.StateEncoding)];
        bool eightBit = encodings.Contains(StateEncoding.Blockwise8Bit);
        int version = training is not null ? CheckpointFormat.TrainingStateFormatVersion
            : eightBit ? CheckpointFormat.EightBitStateFormatVersion
            : CheckpointFormat.Float32StateFormatVersion;
        bool encodingKeys = version >= CheckpointFormat.EightBitStateFormatVersion;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [CheckpointFormat.KeyFormat] = CheckpointFormat.FormatName,
            [CheckpointFormat.KeyFormatVersion] = CheckpointFormat.Invariant(version),
            [CheckpointFormat.KeyLibraryVersion] = NativeAdaBeliefLibrary.Version,
            [CheckpointFormat.KeyGroupCount] = CheckpointFormat.Invariant(groups.Count),
            [CheckpointFormat.KeyTensorCount] = CheckpointFormat.Invariant(tensors.Count),
        };
        var modes = new List<string>();
        for (int g = 0; g < groups.Count; g++)
        {
            AdaBeliefOptions options = groups[g].Options;
            metadata[CheckpointFormat.GroupOptionsKey(g)] = CheckpointFormat.OptionsToJson(options);
            modes.Add(CheckpointFormat.CompatibilityName(options.Compatibility));
        }
        metadata[CheckpointFormat.KeyCompatibility] = string.Join(",", modes);
        if (training is not null)
        {
            CheckpointTrainingState.Write(metadata, training);
        }
        if (encodingKeys)
        {
            metadata[CheckpointFormat.KeyFirstMomentFormat] = EightBitState.FormatName(StateKind.FirstMoment);
            metadata[CheckpointFormat.KeySecondMomentFormat] = EightBitState.FormatName(StateKind.SecondMoment);
        }

        long[] steps = optimizer.ReadStepCounts(); // one native call for every tensor's count
        var slots = new List<(int Tensor, StateKind Kind, StatePart Part, long Length)>();
        long largest = 1;
        for (int t = 0; t < tensors.Count; t++)
        {
            OptimizerTensor tensor = tensors[t];
            metadata[CheckpointFormat.TensorGroupKey(t)] = CheckpointFormat.Invariant(tensor.Group.Id);
            metadata[CheckpointFormat.TensorStepKey(t)] = CheckpointFormat.Invariant(steps[t]);
            metadata[CheckpointFormat.TensorElementCountKey(t)] = CheckpointFormat.Invariant(tensor.Length);
            bool hasMaster = tensor.HasMasterParameters;
            metadata[CheckpointFormat.TensorParameterTypeKey(t)] = ElementTypes.SafetensorsName(tensor.ParameterType);
            metadata[CheckpointFormat.TensorGradientTypeKey(t)] = ElementTypes.SafetensorsName(tensor.GradientType);
            metadata[CheckpointFormat.TensorMasterParametersKey(t)] = CheckpointFormat.BooleanText(hasMaster);
            if (encodingKeys)
            {
                metadata[CheckpointFormat.TensorStateEncodingKey(t)] = CheckpointFormat.StateEncodingName(encodings[t]);
            }
            largest = Math.Max(largest, tensor.Length);
            foreach (StateKind kind in StatesOf(tensor.HasMaxSecondMoment, hasMaster))
            {
                if (encodings[t] == StateEncoding.Blockwise8Bit && kind != StateKind.MasterParameters)
                {
                    slots.Add((t, kind, StatePart.Scales, EightBitState.BlockCount(tensor.Length)));
                    slots.Add((t, kind, StatePart.Codes, tensor.Length));
                }
                else
                {
                    slots.Add((t, kind, StatePart.Values, tensor.Length));
                }
            }
        }
        // Every float32 entry first, the 8-bit codes after them: each entry stays aligned to its element size.
        long offset = 0;
        var placed = new List<CheckpointSlot>();
        foreach (var (t, kind, part, elements) in slots.Where(s => s.Part != StatePart.Codes).Concat(slots.Where(s => s.Part == StatePart.Codes)))
        {
            var slot = new CheckpointSlot(t, kind, part, offset, elements);
            placed.Add(slot);
            offset = slot.End;
        }

        using var scratch = new NativeBuffer(largest);
        var codes = new byte[eightBit ? largest : 0];
        var scales = new float[eightBit ? EightBitState.BlockCount(largest) : 0];

        // Pass 1: the data checksum, which the header (written first) must carry.
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            foreach (CheckpointSlot slot in placed)
            {
                ForEachChunk(tensors[slot.Tensor], slot, scratch, codes, scales, chunk => hash.AppendData(chunk));
            }
            metadata[CheckpointFormat.KeyDataSha256] = Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        metadata[CheckpointFormat.KeyMetadataSha256] = CheckpointFormat.MetadataSha256(metadata);

        byte[] header = WriteHeader(metadata, placed);
        if (header.Length > maxHeaderBytes)
        {
            // Refused before a byte is written: a save never writes what a load refuses.
            throw new NotSupportedException(
                $"The checkpoint of this optimizer ({tensors.Count} tensors) would need a {header.Length}-byte header, more than the "
                + $"{maxHeaderBytes} bytes that LoadCheckpoint and other safetensors readers accept; nothing was written.");
        }
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);

        // Pass 2: the data, checked against pass 1 so that a state changed in between (another
        // thread stepping) cannot produce a file whose checksum lies.
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            foreach (CheckpointSlot slot in placed)
            {
                ForEachChunk(tensors[slot.Tensor], slot, scratch, codes, scales, chunk =>
                {
                    hash.AppendData(chunk);
                    stream.Write(chunk);
                });
            }
            if (Convert.ToHexStringLower(hash.GetHashAndReset()) != metadata[CheckpointFormat.KeyDataSha256])
            {
                throw new InvalidOperationException(
                    "The optimizer's state changed while the checkpoint was being written (was it used from another thread?); the checkpoint is not valid.");
            }
        }
    }

    /// <summary>
    /// Reads one entry's data from the optimizer and hands it out as little-endian bytes in
    /// chunks: float32 values through <paramref name="values"/>, 8-bit codes and scales (as they
    /// are, not decoded) through <paramref name="codes"/> and <paramref name="scales"/>.
    /// </summary>
    private static unsafe void ForEachChunk(OptimizerTensor tensor, CheckpointSlot slot, NativeBuffer values, byte[] codes, float[] scales,
        CheckpointStreams.ChunkAction action)
    {
        if (slot.Part == StatePart.Values)
        {
            tensor.ReadState(slot.Kind, (float*)values.Address);
            CheckpointStreams.ForEachLittleEndianChunk((float*)values.Address, slot.Length, action);
            return;
        }
        long blocks = EightBitState.BlockCount(tensor.Length);
        tensor.ReadStateCodes(slot.Kind, codes.AsSpan(0, (int)tensor.Length), scales.AsSpan(0, (int)blocks));
        if (slot.Part == StatePart.Codes)
        {
            action(codes.AsSpan(0, (int)tensor.Length));
            return;
        }
        fixed (float* s = scales)
        {
            CheckpointStreams.ForEachLittleEndianChunk(s, blocks, action);
        }
    }

    /// <summary>The state arrays a tensor has, in the order a checkpoint stores them.</summary>
    internal static IEnumerable<StateKind> StatesOf(bool hasMax, bool hasMaster)
    {
        yield return StateKind.FirstMoment;
        yield return StateKind.SecondMoment;
        if (hasMax)
        {
            yield return StateKind.MaxSecondMoment;
        }
        if (hasMaster)
        {
            yield return StateKind.MasterParameters;
        }
    }

    private static byte[] WriteHeader(Dictionary<string, string> metadata, List<CheckpointSlot> slots)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartObject(CheckpointFormat.MetadataEntry);
            foreach ((string key, string value) in metadata)
            {
                w.WriteString(key, value);
            }
            w.WriteEndObject();
            foreach (CheckpointSlot slot in slots)
            {
                w.WriteStartObject(CheckpointFormat.StateName(slot));
                w.WriteString("dtype", slot.Part == StatePart.Codes ? CheckpointFormat.CodesDType : CheckpointFormat.DType);
                w.WriteStartArray("shape");
                w.WriteNumberValue(slot.Length);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(slot.Begin);
                w.WriteNumberValue(slot.End);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        // Pad with spaces so the data section starts 8-byte aligned, as safetensors writers do.
        while ((8 + buffer.Length) % 8 != 0)
        {
            buffer.WriteByte((byte)' ');
        }
        return buffer.ToArray();
    }
}
