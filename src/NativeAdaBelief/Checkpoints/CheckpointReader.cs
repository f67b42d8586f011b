using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// Loads a checkpoint written by <see cref="CheckpointWriter"/> into an optimizer with the same
/// groups and tensors, all or nothing: it reads and checks the header
/// (<see cref="CheckpointIdentity"/>, <see cref="CheckpointGroups"/>, <see cref="CheckpointTensors"/>,
/// <see cref="CheckpointLayout"/>), then reads the data section once, in file order, hashing it
/// and staging each tensor's arrays into the native library's restore
/// (<c>nab_optimizer_restore_tensor</c>, which checks their values); only when every byte has
/// been read and the hash is the one the header records does it commit, which swaps the staged
/// state in, then commits the staged <see cref="TrainingState"/> (which only assigns, and sets
/// the loss scaler's step options). Any failure before that (a bad byte, a short or replaced file, an I/O error, out of
/// memory, another thread's call, a device error) aborts the restore: the optimizer keeps
/// exactly what it had. docs/reliability.md states the mechanism.
/// </summary>
internal static class CheckpointReader
{
    private const int ChunkBytes = 1 << 20;

    internal static void Load(AdaBeliefOptimizer optimizer, string path, TrainingState? training = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(optimizer.IsDisposed, optimizer);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        Load(optimizer, file, training: training);
    }

    internal static void Load(AdaBeliefOptimizer optimizer, Stream stream, long maxHeaderBytes = CheckpointFormat.MaxHeaderBytes,
        TrainingState? training = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            throw new ArgumentException("The stream is not readable.", nameof(stream));
        }
        ObjectDisposedException.ThrowIf(optimizer.IsDisposed, optimizer);

        // ---- 1. The header, read no further than its declared length. ----
        CheckpointHeader header = ReadHeader(stream, maxHeaderBytes);

        // ---- 2. Everything the header says, against this optimizer. ----
        var meta = new CheckpointMetadata(header.Metadata);
        int version = CheckpointIdentity.Check(meta);
        AdaBeliefOptions[] options = CheckpointGroups.Read(meta, optimizer);
        CheckpointTensorPlan plan = CheckpointTensors.Read(meta, header, version, optimizer);
        long dataLength = CheckpointLayout.Check(meta, header, version, options.Length, plan);
        // The training state is staged (checked, nothing changed) with the header; committed after the optimizer's state.
        Action? commitTraining = training is null ? null : CheckpointTrainingState.Stage(meta, version, training);

        // ---- 3. The data, staged as it is read; committed only once all of it is verified. ----
        if (stream.CanSeek && stream.Length - stream.Position != dataLength)
        {
            long actual = stream.Length - stream.Position;
            throw new InvalidDataException(actual < dataLength
                ? $"The checkpoint is truncated: the header describes {dataLength} bytes of data but only {actual} are present."
                : $"The checkpoint has {actual - dataLength} unexpected bytes after the {dataLength} bytes of data its header describes.");
        }
        using var restore = new StateRestore(optimizer,
            (message, _) => new InvalidDataException($"The checkpoint holds a state the optimizer refuses: {message}"));
        IReadOnlyList<ParameterGroup> groups = optimizer.ParamGroups;
        for (int g = 0; g < options.Length; g++)
        {
            // How the state is stored is this optimizer's choice, not the checkpoint's: the
            // checkpoint's state is converted into it (8-bit state quantized from float32 values,
            // or float32 values decoded from 8-bit codes).
            restore.StageGroup(g, options[g] with { StateEncoding = groups[g].Options.StateEncoding });
        }
        string hash = StageData(stream, dataLength, plan, restore);
        if (hash != meta.Required(CheckpointFormat.KeyDataSha256))
        {
            throw new InvalidDataException(
                $"The checkpoint's data is corrupted: its SHA-256 is {hash} but the header records {meta.Required(CheckpointFormat.KeyDataSha256)}.");
        }
        if (stream.ReadByte() != -1)
        {
            throw new InvalidDataException($"The checkpoint has unexpected bytes after the {dataLength} bytes of data its header describes.");
        }
        restore.Commit();
        commitTraining?.Invoke();
    }

    /// <summary>The length-prefixed JSON header, parsed; memory grows only with the bytes actually read.</summary>
    private static CheckpointHeader ReadHeader(Stream stream, long maxHeaderBytes)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        CheckpointStreams.ReadExactly(stream, lengthBytes, "the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength < 2 || headerLength > (ulong)maxHeaderBytes)
        {
            throw new InvalidDataException(
                $"The checkpoint's header length is {headerLength} bytes, outside the valid range [2, {maxHeaderBytes}]: this is not a safetensors file, or it is corrupted.");
        }
        if (stream.CanSeek && (long)headerLength > stream.Length - stream.Position)
        {
            throw new InvalidDataException(
                $"The checkpoint is truncated: its header should be {headerLength} bytes but only {stream.Length - stream.Position} bytes follow the length.");
        }
        // A seekable stream has shown that the bytes are there; one that only says how long its
        // header is must not make us allocate that much before they arrive: it grows as they do.
        var header = new MemoryStream((int)(stream.CanSeek ? (long)headerLength : Math.Min((long)headerLength, ChunkBytes)));
        byte[] chunk = new byte[(int)Math.Min((long)headerLength, ChunkBytes)];
        for (long done = 0; done < (long)headerLength;)
        {
            int n = (int)Math.Min(chunk.Length, (long)headerLength - done);
            CheckpointStreams.ReadExactly(stream, chunk.AsSpan(0, n), $"the {headerLength}-byte header");
            header.Write(chunk, 0, n);
            done += n;
        }
        ReadOnlyMemory<byte> bytes = header.GetBuffer().AsMemory(0, (int)header.Length);
        if (bytes.Span[0] != (byte)'{')
        {
            throw new InvalidDataException("The checkpoint header does not start with '{': this is not a safetensors file, or it is corrupted.");
        }
        return CheckpointHeader.Parse(bytes);
    }

    /// <summary>
    /// Reads the <paramref name="dataLength"/> bytes of the data section in file order, hashing
    /// them and staging every tensor as soon as all its entries are read; returns the hash. A
    /// tensor's 8-bit entries (codes and block scales, format version 3) are decoded into float32
    /// values exactly as the optimizer decodes them, and staged as values.
    /// </summary>
    private static unsafe string StageData(Stream stream, long dataLength, CheckpointTensorPlan plan, StateRestore restore)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        // A tensor's entries wait here until its last one is read (files this library writes keep
        // a tensor's entries together, so one tensor's worth at a time).
        var pending = new Dictionary<int, PendingTensor>();
        var entriesLeft = new int[plan.Steps.Length];
        var lengths = new long[plan.Steps.Length];
        foreach (CheckpointSlot slot in plan.Slots)
        {
            entriesLeft[slot.Tensor]++;
            if (slot.Part != StatePart.Scales)
            {
                lengths[slot.Tensor] = slot.Length;
            }
        }
        long position = 0;
        try
        {
            foreach (CheckpointSlot slot in plan.Slots.OrderBy(s => s.Begin))
            {
                if (!pending.TryGetValue(slot.Tensor, out PendingTensor? tensor))
                {
                    tensor = new PendingTensor(lengths[slot.Tensor]);
                    pending.Add(slot.Tensor, tensor);
                }
                ReadHashed(stream, hash, tensor.EntryFor(slot), slot.Length * slot.ElementBytes);
                position = slot.End;
                if (--entriesLeft[slot.Tensor] == 0)
                {
                    pending.Remove(slot.Tensor);
                    using (tensor)
                    {
                        tensor.DecodeCodes(slot.Tensor);
                        restore.StageTensor(slot.Tensor, plan.Steps[slot.Tensor], tensor.Length, tensor.ArrayOrNull(StateKind.FirstMoment),
                            tensor.ArrayOrNull(StateKind.SecondMoment), tensor.ArrayOrNull(StateKind.MaxSecondMoment),
                            tensor.ArrayOrNull(StateKind.MasterParameters), plan.Encodings[slot.Tensor]);
                    }
                }
            }
        }
        finally
        {
            foreach (PendingTensor tensor in pending.Values)
            {
                tensor.Dispose();
            }
        }
        if (position != dataLength)
        {
            throw new InvalidDataException($"The checkpoint's data section is {dataLength} bytes but its tensors end at byte {position}.");
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Reads <paramref name="bytes"/> bytes into <paramref name="destination"/>, adding them to
    /// <paramref name="hash"/>; 4-byte entries (float32 values and scales) are little-endian.
    /// </summary>
    private static unsafe void ReadHashed(Stream stream, IncrementalHash hash, PendingEntry destination, long bytes)
    {
        for (long done = 0; done < bytes; done += ChunkBytes)
        {
            int n = (int)Math.Min(ChunkBytes, bytes - done);
            var chunk = new Span<byte>(destination.Address + done, n);
            CheckpointStreams.ReadExactly(stream, chunk, "tensor data");
            hash.AppendData(chunk);
            if (!BitConverter.IsLittleEndian && destination.ElementBytes == sizeof(float))
            {
                Span<int> words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(chunk);
                BinaryPrimitives.ReverseEndianness(words, words);
            }
        }
    }

    /// <summary>Where one checkpoint entry's bytes go.</summary>
    internal readonly unsafe struct PendingEntry(byte* address, int elementBytes)
    {
        /// <summary>The first byte.</summary>
        internal byte* Address { get; } = address;

        /// <summary>Bytes per element: 4 for float32 values and scales, 1 for codes.</summary>
        internal int ElementBytes { get; } = elementBytes;
    }

    /// <summary>
    /// One tensor's entries as they are read, in native memory (no managed array limit): float32
    /// arrays (m, s, s_max, the master copy) and, for 8-bit entries, their codes and block scales
    /// until <see cref="DecodeCodes"/> turns them into float32 arrays.
    /// </summary>
    internal sealed unsafe class PendingTensor(long length) : IDisposable
    {
        private readonly NativeBuffer?[] _arrays = new NativeBuffer?[4];
        private readonly byte*[] _codes = new byte*[4];
        private readonly NativeBuffer?[] _scales = new NativeBuffer?[4];

        // float32 bits of 2^-126 (the smallest normal number) and of +infinity.
        private const uint SmallestScaleBits = 0x0080_0000, InfinityBits = 0x7f80_0000;

        internal long Length { get; } = length;

        private long BlockCount => EightBitState.BlockCount(Length);

        /// <summary>Where <paramref name="slot"/>'s bytes go (allocated on first use).</summary>
        internal PendingEntry EntryFor(CheckpointSlot slot)
        {
            int kind = (int)slot.Kind;
            return slot.Part switch
            {
                StatePart.Values => new((byte*)(_arrays[kind] ??= new NativeBuffer(Length)).Address, sizeof(float)),
                StatePart.Scales => new((byte*)(_scales[kind] ??= new NativeBuffer(Math.Max(1, BlockCount))).Address, sizeof(float)),
                _ => new(_codes[kind] != null ? _codes[kind] : _codes[kind] = (byte*)NativeMemory.AllocZeroed((nuint)Length), 1),
            };
        }

        /// <summary>
        /// Decodes every array read as codes and scales into float32 values, after checking that
        /// every scale is one a block can have (0, NaN, or finite and at least 2^-126, as
        /// <c>nab_optimizer_write_state_codes</c> requires): a negative, infinite or subnormal scale
        /// is damage the checksum did not catch, and would decode to values no step stores.
        /// </summary>
        /// <param name="tensor">The tensor's index, for the message.</param>
        /// <exception cref="InvalidDataException">A scale no block can have.</exception>
        internal void DecodeCodes(int tensor)
        {
            for (int kind = 0; kind < _codes.Length; kind++)
            {
                if (_codes[kind] == null || _scales[kind] is not { } scales)
                {
                    continue;
                }
                var blockScales = new ReadOnlySpan<float>((float*)scales.Address, checked((int)BlockCount));
                for (int b = 0; b < blockScales.Length; b++)
                {
                    uint bits = BitConverter.SingleToUInt32Bits(blockScales[b]);
                    if (!float.IsNaN(blockScales[b]) && bits != 0 && (bits < SmallestScaleBits || bits >= InfinityBits))
                    {
                        throw new InvalidDataException(
                            $"The checkpoint's '{CheckpointFormat.StateName(tensor, (StateKind)kind, StatePart.Scales)}' has scales[{b}] = "
                            + $"{blockScales[b].ToString("R", CultureInfo.InvariantCulture)}: a block's scale is 0, NaN, or finite and at least 2^-126.");
                    }
                }
                float* values = (float*)(_arrays[kind] ??= new NativeBuffer(Length)).Address;
                EightBitState.Decode((StateKind)kind, new ReadOnlySpan<byte>(_codes[kind], checked((int)Length)), blockScales,
                    new Span<float>(values, checked((int)Length)));
            }
        }

        /// <summary>Array <paramref name="kind"/>, or null when the checkpoint holds none.</summary>
        internal float* ArrayOrNull(StateKind kind) => _arrays[(int)kind] is { } buffer ? (float*)buffer.Address : null;

        public void Dispose()
        {
            for (int kind = 0; kind < _arrays.Length; kind++)
            {
                _arrays[kind]?.Dispose();
                _scales[kind]?.Dispose();
                NativeMemory.Free(_codes[kind]);
                _codes[kind] = null;
            }
        }
    }
}
