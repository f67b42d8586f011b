namespace NativeAdaBelief;

/// <summary>
/// The native library reported a failure that is not the caller's doing: a device (CUDA) error,
/// an internal error, or a native/managed version mismatch. The message carries the native
/// library's own text.
/// </summary>
public class NativeAdaBeliefException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public NativeAdaBeliefException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the native status code.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="nativeStatus">The native <c>nab_status</c> value, or 0 when none applies.</param>
    public NativeAdaBeliefException(string message, int nativeStatus) : base(message)
    {
        NativeStatus = nativeStatus;
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public NativeAdaBeliefException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>The native <c>nab_status</c> code behind this exception (0 when none applies).</summary>
    public int NativeStatus { get; }
}
