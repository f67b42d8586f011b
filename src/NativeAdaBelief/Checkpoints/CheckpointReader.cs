using System.Buffers.Binary;
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
/// state in. Any failure before that (a bad byte, a short or replaced file, an I/O error, out of
/// memory, another thread's call, a device error) aborts the restore: the optimizer keeps
/// exactly what it had. docs/reliability.md states the mechanism.
/// </summary>
internal static class CheckpointReader
{
    private const int ChunkBytes = 1 << 20;

    internal static void Load(AdaBeliefOptimizer optimizer, string path)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(optimizer.IsDisposed, optimizer);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        Load(optimizer, file);
    }

    internal static void Load(AdaBeliefOptimizer optimizer, Stream stream, long maxHeaderBytes = CheckpointFormat.MaxHeaderBytes)
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
        for (int g = 0; g < options.Length; g++)
        {
            restore.StageGroup(g, options[g]);
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
    /// them and staging every tensor as soon as all its arrays are read; returns the hash.
    /// </summary>
    private static unsafe string StageData(Stream stream, long dataLength, CheckpointTensorPlan plan, StateRestore restore)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        // A tensor's arrays wait here until its last one is read (files this library writes keep
        // a tensor's arrays together, so one tensor's worth at a time).
        var pending = new Dictionary<int, PendingTensor>();
        var arraysLeft = new int[plan.Steps.Length];
        foreach (CheckpointSlot slot in plan.Slots)
        {
            arraysLeft[slot.Tensor]++;
        }
        long position = 0;
        foreach (CheckpointSlot slot in plan.Slots.OrderBy(s => s.Begin))
        {
            if (!pending.TryGetValue(slot.Tensor, out PendingTensor? tensor))
            {
                tensor = new PendingTensor(slot.Length);
                pending.Add(slot.Tensor, tensor);
            }
            float* destination = tensor.ArrayFor(slot.Kind);
            ReadHashed(stream, hash, destination, slot.Length);
            position = slot.End;
            if (--arraysLeft[slot.Tensor] == 0)
            {
                using (tensor)
                {
                    restore.StageTensor(slot.Tensor, plan.Steps[slot.Tensor], tensor.Length, tensor.ArrayOrNull(StateKind.FirstMoment),
                        tensor.ArrayOrNull(StateKind.SecondMoment), tensor.ArrayOrNull(StateKind.MaxSecondMoment),
                        tensor.ArrayOrNull(StateKind.MasterParameters));
                }
                pending.Remove(slot.Tensor);
            }
        }
        if (position != dataLength)
        {
            throw new InvalidDataException($"The checkpoint's data section is {dataLength} bytes but its tensors end at byte {position}.");
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Reads <paramref name="count"/> little-endian floats into <paramref name="destination"/>, adding their bytes to <paramref name="hash"/>.</summary>
    private static unsafe void ReadHashed(Stream stream, IncrementalHash hash, float* destination, long count)
    {
        long bytes = count * sizeof(float);
        for (long done = 0; done < bytes; done += ChunkBytes)
        {
            int n = (int)Math.Min(ChunkBytes, bytes - done);
            var chunk = new Span<byte>((byte*)destination + done, n);
            CheckpointStreams.ReadExactly(stream, chunk, "tensor data");
            hash.AppendData(chunk);
            if (!BitConverter.IsLittleEndian)
            {
                Span<int> words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(chunk);
                BinaryPrimitives.ReverseEndianness(words, words);
            }
        }
    }

    /// <summary>One tensor's arrays as they are read, in native memory (no managed array limit).</summary>
    internal sealed unsafe class PendingTensor(long length) : IDisposable
    {
        private readonly NativeBuffer?[] _arrays = new NativeBuffer?[4];

        internal long Length { get; } = length;

        /// <summary>Where array <paramref name="kind"/> goes (allocated on first use).</summary>
        internal float* ArrayFor(StateKind kind) => (float*)(_arrays[(int)kind] ??= new NativeBuffer(Length)).Address;

        /// <summary>Array <paramref name="kind"/>, or null when the checkpoint holds none.</summary>
        internal float* ArrayOrNull(StateKind kind) => _arrays[(int)kind] is { } buffer ? (float*)buffer.Address : null;

        public void Dispose()
        {
            foreach (NativeBuffer? buffer in _arrays)
            {
                buffer?.Dispose();
            }
        }
    }
}
