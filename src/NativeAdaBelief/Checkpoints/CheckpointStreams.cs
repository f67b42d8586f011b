using System.Buffers.Binary;
using System.Security.Cryptography;

namespace NativeAdaBelief;

/// <summary>
/// The byte-level reading and writing a checkpoint needs: exact reads that turn a short stream
/// into "truncated", float arrays as little-endian bytes in chunks, and the SHA-256 of a section.
/// </summary>
internal static class CheckpointStreams
{
    private const int ChunkBytes = 1 << 20;

    internal delegate void ChunkAction(ReadOnlySpan<byte> chunk);

    /// <summary>Hands <paramref name="count"/> floats at <paramref name="data"/> out as little-endian bytes, in chunks (converting in place on big-endian machines).</summary>
    internal static unsafe void ForEachLittleEndianChunk(float* data, long count, ChunkAction action)
    {
        long bytes = count * sizeof(float);
        for (long done = 0; done < bytes; done += ChunkBytes)
        {
            int n = (int)Math.Min(ChunkBytes, bytes - done);
            var chunk = new Span<byte>((byte*)data + done, n);
            if (!BitConverter.IsLittleEndian)
            {
                Span<int> words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(chunk);
                BinaryPrimitives.ReverseEndianness(words, words);
            }
            action(chunk);
        }
    }

    /// <summary>Reads <paramref name="count"/> little-endian floats into <paramref name="destination"/>.</summary>
    internal static unsafe void ReadFloats(Stream stream, float* destination, long count)
    {
        long bytes = count * sizeof(float);
        for (long done = 0; done < bytes; done += ChunkBytes)
        {
            int n = (int)Math.Min(ChunkBytes, bytes - done);
            var chunk = new Span<byte>((byte*)destination + done, n);
            ReadExactly(stream, chunk, "tensor data");
            if (!BitConverter.IsLittleEndian)
            {
                Span<int> words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(chunk);
                BinaryPrimitives.ReverseEndianness(words, words);
            }
        }
    }

    /// <summary>The SHA-256 of the next <paramref name="length"/> bytes; the stream is put back where it was.</summary>
    internal static string HashSection(Stream stream, long length)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(length, 1))];
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

    /// <summary>Copies exactly <paramref name="length"/> bytes.</summary>
    internal static void CopyExactly(Stream source, Stream destination, long length)
    {
        byte[] buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(length, 1))];
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(buffer.Length, length - done);
            ReadExactly(source, buffer.AsSpan(0, n), "tensor data");
            destination.Write(buffer, 0, n);
            done += n;
        }
    }

    /// <summary>Fills <paramref name="destination"/>, or says the checkpoint is truncated inside <paramref name="what"/>.</summary>
    internal static void ReadExactly(Stream stream, Span<byte> destination, string what)
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
