using System.Buffers.Binary;

namespace NativeAdaBelief;

/// <summary>
/// Loads a checkpoint written by <see cref="CheckpointWriter"/> into an optimizer with the same
/// groups and tensors: reads and checks the header (<see cref="CheckpointIdentity"/>,
/// <see cref="CheckpointGroups"/>, <see cref="CheckpointTensors"/>, <see cref="CheckpointLayout"/>),
/// checks the data's checksum, and only then changes the optimizer.
/// </summary>
internal static class CheckpointReader
{
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
        CheckpointStreams.ReadExactly(stream, lengthBytes, "the 8-byte header length");
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
        CheckpointStreams.ReadExactly(stream, headerBytes, $"the {headerLength}-byte header");
        if (headerBytes[0] != (byte)'{')
        {
            throw new InvalidDataException("The checkpoint header does not start with '{': this is not a safetensors file, or it is corrupted.");
        }
        CheckpointHeader header = CheckpointHeader.Parse(headerBytes);

        // ---- 2. Everything the header says, against this optimizer. ----
        var meta = new CheckpointMetadata(header.Metadata);
        int version = CheckpointIdentity.Check(meta);
        AdaBeliefOptions[] options = CheckpointGroups.Read(meta, optimizer);
        CheckpointTensorPlan plan = CheckpointTensors.Read(meta, header, version, optimizer);
        long dataLength = CheckpointLayout.Check(meta, header, version, options.Length, plan);

        // ---- 3. The data section: its length, and its checksum. ----
        long dataStart = stream.CanSeek ? stream.Position : 0;
        Stream data = stream;
        MemoryStream? buffered = null;
        if (available is long all)
        {
            long actual = all - 8 - (long)headerLength;
            if (actual != dataLength)
            {
                throw new InvalidDataException(actual < dataLength
                    ? $"The checkpoint is truncated: the header describes {dataLength} bytes of data but only {actual} are present."
                    : $"The checkpoint has {actual - dataLength} unexpected bytes after the {dataLength} bytes of data its header describes.");
            }
        }
        else
        {
            if (dataLength > Array.MaxLength)
            {
                throw new NotSupportedException("Checkpoints over 2 GB must be loaded from a seekable stream or a file.");
            }
            buffered = new MemoryStream((int)dataLength);
            CheckpointStreams.CopyExactly(stream, buffered, dataLength);
            if (stream.ReadByte() != -1)
            {
                throw new InvalidDataException($"The checkpoint has unexpected bytes after the {dataLength} bytes of data its header describes.");
            }
            buffered.Position = 0;
            data = buffered;
            dataStart = 0;
        }
        using (buffered)
        {
            string dataHash = CheckpointStreams.HashSection(data, dataLength);
            if (dataHash != header.Metadata[CheckpointFormat.KeyDataSha256])
            {
                throw new InvalidDataException(
                    $"The checkpoint's data is corrupted: its SHA-256 is {dataHash} but the header records {header.Metadata[CheckpointFormat.KeyDataSha256]}.");
            }

            // ---- 4. Apply (nothing above changed the optimizer). ----
            using var scratch = new NativeBuffer(plan.LargestTensor);
            Apply(optimizer, options, plan, data, dataStart, (float*)scratch.Address);
        }
    }

    private static unsafe void Apply(AdaBeliefOptimizer optimizer, AdaBeliefOptions[] options, CheckpointTensorPlan plan, Stream data, long dataStart, float* scratch)
    {
        IReadOnlyList<ParameterGroup> groups = optimizer.ParamGroups;
        IReadOnlyList<OptimizerTensor> tensors = optimizer.Tensors;
        for (int g = 0; g < groups.Count; g++)
        {
            // How the state is stored is this optimizer's choice, not the checkpoint's: the
            // checkpoint's state is converted into it below.
            groups[g].Options = options[g] with { StateEncoding = groups[g].Options.StateEncoding };
        }
        foreach (CheckpointSlot slot in plan.Slots.Where(s => s.Part == StatePart.Values))
        {
            data.Position = dataStart + slot.Begin;
            CheckpointStreams.ReadFloats(data, scratch, slot.Length);
            tensors[slot.Tensor].WriteState(slot.Kind, scratch);
        }
        ApplyCodes(tensors, plan, data, dataStart, scratch);
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

    /// <summary>
    /// 8-bit state (format version 3): written as it is into a tensor with 8-bit state, decoded
    /// into float32 values for a tensor with float32 state.
    /// </summary>
    private static unsafe void ApplyCodes(IReadOnlyList<OptimizerTensor> tensors, CheckpointTensorPlan plan, Stream data, long dataStart, float* scratch)
    {
        foreach (CheckpointSlot codesSlot in plan.Slots.Where(s => s.Part == StatePart.Codes))
        {
            CheckpointSlot scalesSlot = plan.Slots.Single(s => s.Tensor == codesSlot.Tensor && s.Kind == codesSlot.Kind && s.Part == StatePart.Scales);
            OptimizerTensor tensor = tensors[codesSlot.Tensor];
            var codes = new byte[codesSlot.Length];
            var scales = new float[scalesSlot.Length];
            data.Position = dataStart + codesSlot.Begin;
            CheckpointStreams.ReadExactly(data, codes, "tensor data");
            data.Position = dataStart + scalesSlot.Begin;
            fixed (float* s = scales)
            {
                CheckpointStreams.ReadFloats(data, s, scales.Length);
            }
            if (tensor.StateEncoding == StateEncoding.Blockwise8Bit)
            {
                tensor.WriteStateCodes(codesSlot.Kind, codes, scales);
            }
            else
            {
                EightBitState.Decode(codesSlot.Kind, codes, scales, new Span<float>(scratch, checked((int)tensor.Length)));
                tensor.WriteState(codesSlot.Kind, scratch);
            }
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
}
