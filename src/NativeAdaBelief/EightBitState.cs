using System.Runtime.InteropServices;
using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// Facts and tools of the <see cref="StateEncoding.Blockwise8Bit"/> state encoding: its block
/// size and threshold, the names of its formats, and the decoding of raw codes and scales (as
/// <see cref="OptimizerTensor.ReadStateCodes(StateKind, Span{byte}, Span{float})"/> gives them) into
/// float32 values without an optimizer. The formats themselves are the native library's
/// (<c>docs/algorithm.md</c>, "8-bit state").
/// </summary>
public static class EightBitState
{
    /// <summary>Elements per block: each block of m, s and s_max has one float32 scale (256).</summary>
    public const int BlockSize = (int)NativeMethods.NAB_BLOCKWISE_8BIT_BLOCK_SIZE;

    /// <summary>The fewest elements a tensor needs for its state to be stored in 8 bits (4096); smaller tensors keep float32.</summary>
    public const int MinElements = (int)NativeMethods.NAB_BLOCKWISE_8BIT_MIN_ELEMENTS;

    /// <summary>The number of blocks (scales) of an 8-bit state array of <paramref name="length"/> elements.</summary>
    /// <param name="length">Elements; at least 0.</param>
    /// <returns><paramref name="length"/> / <see cref="BlockSize"/>, rounded up.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    public static long BlockCount(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return (length + BlockSize - 1) / BlockSize;
    }

    /// <summary>
    /// The name of the 8-bit format <paramref name="kind"/> uses (m has one, s and s_max share
    /// another), as checkpoints record it; a library that changes a format changes its name.
    /// </summary>
    /// <param name="kind"><see cref="StateKind.FirstMoment"/>, <see cref="StateKind.SecondMoment"/> or <see cref="StateKind.MaxSecondMoment"/>.</param>
    /// <returns>The format's name.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> has no 8-bit format (the master copy, or not a defined kind).</exception>
    public static unsafe string FormatName(StateKind kind)
    {
        NativeRuntime.EnsureInitialized();
        byte* name = NativeMethods.nab_state_format_name((int)StateEncoding.Blockwise8Bit, (int)kind);
        if (name == null)
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, $"StateKind = {kind} has no 8-bit format: only m, s and s_max are stored in 8 bits.");
        }
        return Marshal.PtrToStringUTF8((nint)name)!;
    }

    /// <summary>
    /// Decodes raw 8-bit state into float32 values exactly as the optimizer does (each code's value
    /// times its block's scale, rounded to float32).
    /// </summary>
    /// <param name="kind">Which array the codes are (its format): m, s or s_max.</param>
    /// <param name="codes">One code per element.</param>
    /// <param name="scales">One scale per block: <see cref="BlockCount"/>(<paramref name="codes"/>.Length) of them.</param>
    /// <param name="destination">Where the values go: as many as <paramref name="codes"/>.</param>
    /// <exception cref="ArgumentException">The lengths do not match, or <paramref name="kind"/> has no 8-bit format.</exception>
    public static unsafe void Decode(StateKind kind, ReadOnlySpan<byte> codes, ReadOnlySpan<float> scales, Span<float> destination)
    {
        if (destination.Length != codes.Length)
        {
            throw new ArgumentException($"destination has {destination.Length} elements but codes has {codes.Length}: the lengths must match.", nameof(destination));
        }
        NativeRuntime.EnsureInitialized();
        fixed (byte* c = codes)
        fixed (float* s = scales)
        fixed (float* d = destination)
        {
            nab_status status = NativeMethods.nab_state_decode((int)StateEncoding.Blockwise8Bit, (int)kind, c, (ulong)codes.Length, s,
                (ulong)scales.Length, d);
            NativeStatus.Check(status, NativeStatus.LastErrorArgument() switch
            {
                "state_kind" => nameof(kind),
                "scale_count" => nameof(scales),
                _ => null,
            });
        }
    }
}
