using System.Buffers.Binary;

namespace NativeAdaBelief;

/// <summary>
/// The byte-level reading and writing a checkpoint needs: exact reads that turn a short stream
/// into "truncated", and float arrays as little-endian bytes in chunks.
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
