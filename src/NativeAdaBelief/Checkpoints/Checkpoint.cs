using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// Saves and loads an optimizer's whole state as a safetensors file (docs/checkpoint-format.md).
/// Loading validates everything before changing anything.
/// </summary>
internal static class Checkpoint
{
    private const int CopyChunkBytes = 1 << 20;

    /// <summary>One state array's place in the data section (every array is float32, the master copy included).</summary>
    private readonly record struct Slot(int Tensor, StateKind Kind, long Begin, long Length);

    // =====================================================================================
    // Save
    // =====================================================================================

    internal static void Save(AdaBeliefOptimizer optimizer, string path) => Save(optimizer, path, wrap: null);

    /// <summary>Atomic file save; <paramref name="wrap"/> lets tests interpose on the temporary file's stream.</summary>
    internal static void Save(AdaBeliefOptimizer optimizer, string path, Func<Stream, Stream>? wrap)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(optimizer.IsDisposed, optimizer);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no directory.", nameof(path));
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                Stream target = wrap?.Invoke(file) ?? file;
                Save(optimizer, target);
                target.Flush();
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
                // Best effort: the original failure is the one to report.
            }
            catch (UnauthorizedAccessException)
            {
            }
            throw;
        }
    }

    internal static unsafe void Save(AdaBeliefOptimizer optimizer, Stream stream)
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

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [CheckpointFormat.KeyFormat] = CheckpointFormat.FormatName,
            [CheckpointFormat.KeyFormatVersion] = CheckpointFormat.Invariant(CheckpointFormat.FormatVersion),
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

        var slots = new List<Slot>();
        long offset = 0, largest = 1;
        for (int t = 0; t < tensors.Count; t++)
        {
            OptimizerTensor tensor = tensors[t];
            metadata[CheckpointFormat.TensorGroupKey(t)] = CheckpointFormat.Invariant(tensor.Group.Id);
            metadata[CheckpointFormat.TensorStepKey(t)] = CheckpointFormat.Invariant(tensor.Step);
            metadata[CheckpointFormat.TensorElementCountKey(t)] = CheckpointFormat.Invariant(tensor.Length);
            bool hasMaster = tensor.HasMasterParameters;
            metadata[CheckpointFormat.TensorParameterTypeKey(t)] = ElementTypes.SafetensorsName(tensor.ParameterType);
            metadata[CheckpointFormat.TensorGradientTypeKey(t)] = ElementTypes.SafetensorsName(tensor.GradientType);
            metadata[CheckpointFormat.TensorMasterParametersKey(t)] = CheckpointFormat.BooleanText(hasMaster);
            largest = Math.Max(largest, tensor.Length);
            foreach (StateKind kind in StatesOf(tensor.HasMaxSecondMoment, hasMaster))
            {
                slots.Add(new Slot(t, kind, offset, tensor.Length));
                offset += tensor.Length * sizeof(float);
            }
        }

        using var scratch = new NativeBuffer(largest);
        float* data = (float*)scratch.Address;

        // Pass 1: the data checksum, which the header (written first) must carry.
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            foreach (Slot slot in slots)
            {
                tensors[slot.Tensor].ReadState(slot.Kind, data);
                ForEachLittleEndianChunk(data, slot.Length, chunk => hash.AppendData(chunk));
            }
            metadata[CheckpointFormat.KeyDataSha256] = Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        metadata[CheckpointFormat.KeyMetadataSha256] = CheckpointFormat.MetadataSha256(metadata);

        byte[] header = WriteHeader(metadata, slots);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);

        // Pass 2: the data, checked against pass 1 so that a state changed in between (another
        // thread stepping) cannot produce a file whose checksum lies.
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            foreach (Slot slot in slots)
            {
                tensors[slot.Tensor].ReadState(slot.Kind, data);
                ForEachLittleEndianChunk(data, slot.Length, chunk =>
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

    /// <summary>The state arrays a tensor has, in the order a checkpoint stores them.</summary>
    private static IEnumerable<StateKind> StatesOf(bool hasMax, bool hasMaster)
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

    private delegate void ChunkAction(ReadOnlySpan<byte> chunk);

    /// <summary>Hands <paramref name="count"/> floats at <paramref name="data"/> out as little-endian bytes, in chunks (converting in place on big-endian machines).</summary>
    private static unsafe void ForEachLittleEndianChunk(float* data, long count, ChunkAction action)
    {
        long bytes = count * sizeof(float);
        for (long done = 0; done < bytes; done += CopyChunkBytes)
        {
            int n = (int)Math.Min(CopyChunkBytes, bytes - done);
            var chunk = new Span<byte>((byte*)data + done, n);
            if (!BitConverter.IsLittleEndian)
            {
                Span<int> words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(chunk);
                BinaryPrimitives.ReverseEndianness(words, words);
            }
            action(chunk);
        }
    }

    private static byte[] WriteHeader(Dictionary<string, string> metadata, List<Slot> slots)
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
            foreach (Slot slot in slots)
            {
                w.WriteStartObject(CheckpointFormat.StateName(slot.Tensor, slot.Kind));
                w.WriteString("dtype", CheckpointFormat.DType);
                w.WriteStartArray("shape");
                w.WriteNumberValue(slot.Length);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(slot.Begin);
                w.WriteNumberValue(slot.Begin + slot.Length * sizeof(float));
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

    // =====================================================================================
    // Load
    // =====================================================================================

    internal static void Load(AdaBeliefOptimizer optimizer, string path)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(optimizer.IsDisposed, optimizer);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        Load(optimizer, file);
    }

    internal static unsafe void Load(AdaBeliefOptimizer optimizer, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            throw new ArgumentException("The stream is not readable.", nameof(stream));
        }
        ObjectDisposedException.ThrowIf(optimizer.IsDisposed, optimizer);

        // ---- 1. Header length and header. ----
        long? available = stream.CanSeek ? stream.Length - stream.Position : null;
        Span<byte> lengthBytes = stackalloc byte[8];
        ReadExactly(stream, lengthBytes, "the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength < 2 || headerLength > CheckpointFormat.MaxHeaderBytes)
        {
            throw new InvalidDataException(
                $"The checkpoint's header length is {headerLength} bytes, outside the valid range [2, {CheckpointFormat.MaxHeaderBytes}]: this is not a safetensors file, or it is corrupted.");
        }
        if (available is long total && (long)headerLength > total - 8)
        {
            throw new InvalidDataException(
                $"The checkpoint is truncated: its header should be {headerLength} bytes but only {total - 8} bytes follow the length.");
        }
        byte[] headerBytes = new byte[headerLength];
        ReadExactly(stream, headerBytes, $"the {headerLength}-byte header");
        if (headerBytes[0] != (byte)'{')
        {
            throw new InvalidDataException("The checkpoint header does not start with '{': this is not a safetensors file, or it is corrupted.");
        }
        CheckpointHeader header = CheckpointHeader.Parse(headerBytes);

        // ---- 2. Everything the header says, against this optimizer. ----
        Plan plan = Validate(optimizer, header);

        // ---- 3. The data section: its length, and its checksum. ----
        long dataStart = stream.CanSeek ? stream.Position : 0;
        Stream data = stream;
        MemoryStream? buffered = null;
        if (available is long all)
        {
            long actual = all - 8 - (long)headerLength;
            if (actual != plan.DataLength)
            {
                throw new InvalidDataException(actual < plan.DataLength
                    ? $"The checkpoint is truncated: the header describes {plan.DataLength} bytes of data but only {actual} are present."
                    : $"The checkpoint has {actual - plan.DataLength} unexpected bytes after the {plan.DataLength} bytes of data its header describes.");
            }
        }
        else
        {
            if (plan.DataLength > Array.MaxLength)
            {
                throw new NotSupportedException("Checkpoints over 2 GB must be loaded from a seekable stream or a file.");
            }
            buffered = new MemoryStream((int)plan.DataLength);
            CopyExactly(stream, buffered, plan.DataLength);
            if (stream.ReadByte() != -1)
            {
                throw new InvalidDataException($"The checkpoint has unexpected bytes after the {plan.DataLength} bytes of data its header describes.");
            }
            buffered.Position = 0;
            data = buffered;
            dataStart = 0;
        }
        using (buffered)
        {
            string dataHash = HashSection(data, plan.DataLength);
            if (dataHash != header.Metadata[CheckpointFormat.KeyDataSha256])
            {
                throw new InvalidDataException(
                    $"The checkpoint's data is corrupted: its SHA-256 is {dataHash} but the header records {header.Metadata[CheckpointFormat.KeyDataSha256]}.");
            }

            // ---- 4. Apply (nothing above changed the optimizer). ----
            using var scratch = new NativeBuffer(plan.LargestTensor);
            Apply(optimizer, plan, data, dataStart, (float*)scratch.Address);
        }
    }

    /// <summary>What a validated checkpoint will do to the optimizer.</summary>
    private sealed record Plan(
        AdaBeliefOptions[] Options,
        long[] Steps,
        Slot[] Slots,
        bool[] HasMax,
        long DataLength,
        long LargestTensor);

    private static unsafe Plan Validate(AdaBeliefOptimizer optimizer, CheckpointHeader header)
    {
        Dictionary<string, string> meta = header.Metadata;
        string Required(string key) => meta.TryGetValue(key, out string? value)
            ? value
            : throw new InvalidDataException($"The checkpoint's metadata lacks '{key}'.");

        // Identity and version first: a file of another kind gets the plainest message.
        string format = Required(CheckpointFormat.KeyFormat);
        if (format != CheckpointFormat.FormatName)
        {
            throw new InvalidDataException($"The checkpoint's format is '{format}', not '{CheckpointFormat.FormatName}': it was not written by NativeAdaBelief.");
        }
        string versionText = Required(CheckpointFormat.KeyFormatVersion);
        _ = Required(CheckpointFormat.KeyLibraryVersion); // informational, but part of the format
        int version = -1;
        for (int v = CheckpointFormat.OldestReadableFormatVersion; v <= CheckpointFormat.FormatVersion; v++)
        {
            if (versionText == CheckpointFormat.Invariant(v))
            {
                version = v;
            }
        }
        if (version < 0)
        {
            throw new InvalidDataException(
                $"The checkpoint's format_version is '{versionText}'; this library reads versions "
                + $"{CheckpointFormat.OldestReadableFormatVersion} to {CheckpointFormat.FormatVersion}.");
        }

        // The metadata checksum covers every metadata entry (data_sha256 included).
        string recorded = Required(CheckpointFormat.KeyMetadataSha256);
        string dataSha = Required(CheckpointFormat.KeyDataSha256);
        string computed = CheckpointFormat.MetadataSha256(meta);
        if (computed != recorded)
        {
            throw new InvalidDataException(
                $"The checkpoint's metadata is corrupted: its SHA-256 is {computed} but the header records {recorded}.");
        }
        if (dataSha.Length != 64 || !dataSha.All(char.IsAsciiHexDigitLower))
        {
            throw new InvalidDataException($"The checkpoint's data_sha256 '{dataSha}' is not 64 lowercase hex digits.");
        }

        IReadOnlyList<ParameterGroup> groups = optimizer.ParamGroups;
        IReadOnlyList<OptimizerTensor> tensors = optimizer.Tensors;

        long groupCount = Count(Required(CheckpointFormat.KeyGroupCount), CheckpointFormat.KeyGroupCount);
        if (groupCount != groups.Count)
        {
            throw new InvalidDataException(
                $"The checkpoint has {groupCount} parameter groups but this optimizer has {groups.Count}: it belongs to a differently built optimizer.");
        }
        long tensorCount = Count(Required(CheckpointFormat.KeyTensorCount), CheckpointFormat.KeyTensorCount);
        if (tensorCount != tensors.Count)
        {
            throw new InvalidDataException(
                $"The checkpoint has {tensorCount} tensors but this optimizer has {tensors.Count} registered: it belongs to a differently built optimizer.");
        }

        // Options of every group: parsed, validated here and by the native library.
        var options = new AdaBeliefOptions[groups.Count];
        var modes = new List<string>();
        for (int g = 0; g < groups.Count; g++)
        {
            string key = CheckpointFormat.GroupOptionsKey(g);
            options[g] = CheckpointFormat.OptionsFromJson(Required(key), $"Metadata '{key}'");
            nab_group_options native = options[g].ToNative();
            nab_status status = NativeMethods.nab_group_options_validate(&native);
            if (status != nab_status.NAB_STATUS_OK)
            {
                throw new InvalidDataException($"Metadata '{key}' holds options the native library refuses: {NativeStatus.LastError()}");
            }
            modes.Add(CheckpointFormat.CompatibilityName(options[g].Compatibility));
        }
        string compatibility = Required(CheckpointFormat.KeyCompatibility);
        if (compatibility != string.Join(",", modes))
        {
            throw new InvalidDataException(
                $"The checkpoint's compatibility '{compatibility}' disagrees with its groups' options ('{string.Join(",", modes)}').");
        }

        // Tensors: group, size and step of each, and exactly the expected safetensors entries.
        var steps = new long[tensors.Count];
        var hasMax = new bool[tensors.Count];
        var slots = new List<Slot>();
        var expectedNames = new HashSet<string>(StringComparer.Ordinal);
        long largest = 1;
        for (int t = 0; t < tensors.Count; t++)
        {
            OptimizerTensor tensor = tensors[t];
            long group = Count(Required(CheckpointFormat.TensorGroupKey(t)), CheckpointFormat.TensorGroupKey(t));
            if (group != tensor.Group.Id)
            {
                throw new InvalidDataException($"Tensor {t} belongs to group {group} in the checkpoint but to group {tensor.Group.Id} in this optimizer.");
            }
            long count = Count(Required(CheckpointFormat.TensorElementCountKey(t)), CheckpointFormat.TensorElementCountKey(t));
            if (count != tensor.Length)
            {
                throw new InvalidDataException($"Tensor {t} has {count} elements in the checkpoint but {tensor.Length} in this optimizer.");
            }
            steps[t] = Count(Required(CheckpointFormat.TensorStepKey(t)), CheckpointFormat.TensorStepKey(t));
            largest = Math.Max(largest, tensor.Length);

            // Element types and the master copy (format version 1 knew only float32 tensors).
            TensorElementType parameterType = TensorElementType.Float32, gradientType = TensorElementType.Float32;
            bool hasMaster = false;
            if (version >= 2)
            {
                parameterType = ElementType(Required(CheckpointFormat.TensorParameterTypeKey(t)), CheckpointFormat.TensorParameterTypeKey(t));
                gradientType = ElementType(Required(CheckpointFormat.TensorGradientTypeKey(t)), CheckpointFormat.TensorGradientTypeKey(t));
                hasMaster = Flag(Required(CheckpointFormat.TensorMasterParametersKey(t)), CheckpointFormat.TensorMasterParametersKey(t));
            }
            string fromVersion1 = version < 2 ? " (format version 1 holds only float32 tensors without master copies)" : "";
            TensorElementType actualParameterType = tensor.ParameterType, actualGradientType = tensor.GradientType;
            if (parameterType != actualParameterType)
            {
                throw new InvalidDataException(
                    $"Tensor {t} has {parameterType} parameters in the checkpoint but {actualParameterType} parameters in this optimizer{fromVersion1}: "
                    + "a checkpoint restores only into tensors of the same element types.");
            }
            if (gradientType != actualGradientType)
            {
                throw new InvalidDataException(
                    $"Tensor {t} has {gradientType} gradients in the checkpoint but {actualGradientType} gradients in this optimizer{fromVersion1}: "
                    + "a checkpoint restores only into tensors of the same element types.");
            }
            bool actualMaster = tensor.HasMasterParameters;
            if (hasMaster != actualMaster)
            {
                throw new InvalidDataException(
                    (hasMaster
                        ? $"Tensor {t} has a float32 master copy of its parameters in the checkpoint but none in this optimizer"
                        : $"Tensor {t} has no float32 master copy of its parameters in the checkpoint but has one in this optimizer")
                    + $"{fromVersion1}: register it with keepMasterCopy: {CheckpointFormat.BooleanText(hasMaster)}, as when the checkpoint was saved.");
            }

            foreach (StateKind kind in (StateKind[])[StateKind.FirstMoment, StateKind.SecondMoment, StateKind.MaxSecondMoment, StateKind.MasterParameters])
            {
                if (kind == StateKind.MasterParameters && !hasMaster)
                {
                    continue; // an entry there is refused below as unexpected
                }
                string name = CheckpointFormat.StateName(t, kind);
                if (!header.Entries.TryGetValue(name, out CheckpointEntry? entry))
                {
                    if (kind == StateKind.MaxSecondMoment)
                    {
                        continue; // s_max is optional
                    }
                    throw new InvalidDataException($"The checkpoint lacks the tensor '{name}'.");
                }
                expectedNames.Add(name);
                if (entry.DType != CheckpointFormat.DType)
                {
                    throw new InvalidDataException($"Tensor '{name}' has dtype '{entry.DType}'; expected '{CheckpointFormat.DType}'.");
                }
                if (entry.Shape.Length != 1 || entry.Shape[0] != tensor.Length)
                {
                    throw new InvalidDataException(
                        $"Tensor '{name}' has shape [{string.Join(", ", entry.Shape)}]; expected [{tensor.Length}] to match the registered tensor.");
                }
                if (entry.End - entry.Begin != tensor.Length * sizeof(float))
                {
                    throw new InvalidDataException(
                        $"Tensor '{name}' has data_offsets [{entry.Begin}, {entry.End}] ({entry.End - entry.Begin} bytes); {tensor.Length} F32 elements need {tensor.Length * sizeof(float)}.");
                }
                if (kind == StateKind.MaxSecondMoment)
                {
                    hasMax[t] = true;
                }
                slots.Add(new Slot(t, kind, entry.Begin, tensor.Length));
            }
        }
        foreach (string name in header.Entries.Keys)
        {
            if (!expectedNames.Contains(name))
            {
                throw new InvalidDataException($"The checkpoint has an unexpected tensor '{name}'.");
            }
        }
        if (meta.Count != ExpectedMetadataCount(version, groups.Count, tensors.Count))
        {
            string unexpected = meta.Keys.FirstOrDefault(k => !IsKnownKey(k, version, groups.Count, tensors.Count)) ?? "?";
            throw new InvalidDataException($"The checkpoint's metadata has an unexpected key '{unexpected}'.");
        }

        // The data section: the entries must tile it exactly, in any order, without gaps or overlaps.
        Slot[] byOffset = [.. slots.OrderBy(s => s.Begin)];
        long end = 0;
        foreach (Slot slot in byOffset)
        {
            if (slot.Begin != end)
            {
                string what = slot.Begin < end ? "overlaps the previous tensor" : $"leaves a gap of {slot.Begin - end} bytes";
                throw new InvalidDataException(
                    $"Tensor '{CheckpointFormat.StateName(slot.Tensor, slot.Kind)}' starts at byte {slot.Begin} of the data, which {what} (expected {end}).");
            }
            end = slot.Begin + slot.Length * sizeof(float);
        }

        return new Plan(options, steps, [.. slots], hasMax, end, largest);
    }

    private static int ExpectedMetadataCount(int version, int groups, int tensors) =>
        8 + groups + CheckpointFormat.KeysPerTensor(version) * tensors;

    private static bool IsKnownKey(string key, int version, int groups, int tensors)
    {
        if (key is CheckpointFormat.KeyFormat or CheckpointFormat.KeyFormatVersion or CheckpointFormat.KeyLibraryVersion
            or CheckpointFormat.KeyGroupCount or CheckpointFormat.KeyTensorCount or CheckpointFormat.KeyCompatibility
            or CheckpointFormat.KeyDataSha256 or CheckpointFormat.KeyMetadataSha256)
        {
            return true;
        }
        for (int g = 0; g < groups; g++)
        {
            if (key == CheckpointFormat.GroupOptionsKey(g))
            {
                return true;
            }
        }
        for (int t = 0; t < tensors; t++)
        {
            if (key == CheckpointFormat.TensorGroupKey(t) || key == CheckpointFormat.TensorStepKey(t) || key == CheckpointFormat.TensorElementCountKey(t))
            {
                return true;
            }
            if (version >= 2
                && (key == CheckpointFormat.TensorParameterTypeKey(t) || key == CheckpointFormat.TensorGradientTypeKey(t)
                    || key == CheckpointFormat.TensorMasterParametersKey(t)))
            {
                return true;
            }
        }
        return false;
    }

    private static TensorElementType ElementType(string text, string key) =>
        ElementTypes.TryParseSafetensorsName(text, out TensorElementType type)
            ? type
            : throw new InvalidDataException($"Metadata '{key}' must be one of F32, F16 or BF16, not '{text}'.");

    private static bool Flag(string text, string key) => text switch
    {
        "true" => true,
        "false" => false,
        _ => throw new InvalidDataException($"Metadata '{key}' must be 'true' or 'false', not '{text}'."),
    };

    private static long Count(string text, string key) =>
        CheckpointFormat.TryParseCount(text, out long value)
            ? value
            : throw new InvalidDataException($"Metadata '{key}' must be a non-negative decimal integer, not '{text}'.");

    private static unsafe void Apply(AdaBeliefOptimizer optimizer, Plan plan, Stream data, long dataStart, float* scratch)
    {
        IReadOnlyList<ParameterGroup> groups = optimizer.ParamGroups;
        IReadOnlyList<OptimizerTensor> tensors = optimizer.Tensors;
        for (int g = 0; g < groups.Count; g++)
        {
            groups[g].Options = plan.Options[g];
        }
        foreach (Slot slot in plan.Slots)
        {
            data.Position = dataStart + slot.Begin;
            ReadFloats(data, scratch, slot.Length);
            tensors[slot.Tensor].WriteState(slot.Kind, scratch);
        }
        for (int t = 0; t < tensors.Count; t++)
        {
            OptimizerTensor tensor = tensors[t];
            if (!plan.HasMax[t] && tensor.HasMaxSecondMoment)
            {
                // The saved tensor had no s_max: a zeroed one behaves exactly like none (the
                // native library would create it zeroed when AMSGrad is turned on).
                ZeroFill(scratch, tensor.Length);
                tensor.WriteState(StateKind.MaxSecondMoment, scratch);
            }
            tensor.Step = plan.Steps[t];
        }
    }

    private static unsafe void ZeroFill(float* data, long count)
    {
        long bytes = count * sizeof(float);
        for (long done = 0; done < bytes; done += int.MaxValue)
        {
            new Span<byte>((byte*)data + done, (int)Math.Min(int.MaxValue, bytes - done)).Clear();
        }
    }

    private static unsafe void ReadFloats(Stream stream, float* destination, long count)
    {
        long bytes = count * sizeof(float);
        for (long done = 0; done < bytes; done += CopyChunkBytes)
        {
            int n = (int)Math.Min(CopyChunkBytes, bytes - done);
            var chunk = new Span<byte>((byte*)destination + done, n);
            ReadExactly(stream, chunk, "tensor data");
            if (!BitConverter.IsLittleEndian)
            {
                Span<int> words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(chunk);
                BinaryPrimitives.ReverseEndianness(words, words);
            }
        }
    }

    private static string HashSection(Stream stream, long length)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[(int)Math.Min(CopyChunkBytes, Math.Max(length, 1))];
        long position = stream.Position;
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(buffer.Length, length - done);
            ReadExactly(stream, buffer.AsSpan(0, n), "tensor data");
            hash.AppendData(buffer, 0, n);
            done += n;
        }
        stream.Position = position;
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void CopyExactly(Stream source, Stream destination, long length)
    {
        byte[] buffer = new byte[(int)Math.Min(CopyChunkBytes, Math.Max(length, 1))];
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(buffer.Length, length - done);
            ReadExactly(source, buffer.AsSpan(0, n), "tensor data");
            destination.Write(buffer, 0, n);
            done += n;
        }
    }

    private static void ReadExactly(Stream stream, Span<byte> destination, string what)
    {
        try
        {
            stream.ReadExactly(destination);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"The checkpoint is truncated: it ends inside {what}.", e);
        }
    }
}
