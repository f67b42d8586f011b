namespace NativeAdaBelief.Distributed;

/// <summary>
/// A collective operation did not complete within <see cref="Communicator.Timeout"/>: another
/// rank has most likely died, hung, or stopped calling the same operation. The communicator
/// cannot be used afterwards.
/// </summary>
public sealed class CommunicatorTimeoutException : CommunicatorException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which operation waited how long on which rank.</param>
    public CommunicatorTimeoutException(string message)
        : base(message)
    {
    }
}
