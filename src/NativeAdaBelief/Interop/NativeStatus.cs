using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NativeAdaBelief.Interop;

/// <summary>
/// The one place that turns a native <see cref="nab_status"/> and <c>nab_get_last_error()</c>
/// into a typed exception carrying the native message. Success costs one comparison and
/// allocates nothing.
/// </summary>
internal static class NativeStatus
{
    /// <summary>Throws the exception that <paramref name="status"/> stands for, unless it is OK.</summary>
    /// <param name="status">What the native call returned.</param>
    /// <param name="paramName">The managed argument the call was about, for argument errors.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Check(nab_status status, string? paramName = null)
    {
        if (status != nab_status.NAB_STATUS_OK)
        {
            Throw(status, paramName);
        }
    }

    /// <summary>The calling thread's last native error message ("" when none).</summary>
    internal static unsafe string LastError()
    {
        byte* text = NativeMethods.nab_get_last_error();
        return text == null ? "" : Marshal.PtrToStringUTF8((nint)text) ?? "";
    }

    /// <summary>
    /// The argument or field the calling thread's last failed native call refused, as the native
    /// library names it ("options.beta1", "tensor->gradients"); "" when it named none.
    /// </summary>
    internal static unsafe string LastErrorArgument()
    {
        byte* text = NativeMethods.nab_get_last_error_argument();
        return text == null ? "" : Marshal.PtrToStringUTF8((nint)text) ?? "";
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Throw(nab_status status, string? paramName)
    {
        // Read the thread-local message first: any later native call would replace it.
        string native = LastError();
        throw Create(status, native, paramName);
    }

    /// <summary>Builds (does not throw) the exception for a failed status and message.</summary>
    internal static Exception Create(nab_status status, string nativeMessage, string? paramName = null)
    {
        string message = string.IsNullOrEmpty(nativeMessage)
            ? $"The native library returned {status} without a message."
            : nativeMessage;
        return status switch
        {
            nab_status.NAB_STATUS_INVALID_ARGUMENT => new ArgumentException(message, paramName),
            nab_status.NAB_STATUS_NOT_FOUND => new KeyNotFoundException(message),
            nab_status.NAB_STATUS_OUT_OF_MEMORY => new OutOfMemoryException(message),
            nab_status.NAB_STATUS_UNSUPPORTED => new NotSupportedException(message),
            nab_status.NAB_STATUS_BUSY => new InvalidOperationException(
                message + " (the optimizer is in use by another thread: one optimizer must not be used from two threads at once)"),
            nab_status.NAB_STATUS_DEVICE_ERROR => new NativeAdaBeliefException("Device error: " + message, (int)status),
            nab_status.NAB_STATUS_INTERNAL_ERROR => new NativeAdaBeliefException(
                "Internal error in the native library (please report it): " + message, (int)status),
            _ => new NativeAdaBeliefException($"Unknown native status {(int)status}: {message}", (int)status),
        };
    }
}
