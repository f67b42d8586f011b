namespace NativeAdaBelief.Distributed;

/// <summary>
/// A collective operation failed: MPI returned an error, or it did not complete within the
/// communicator's <see cref="Communicator.Timeout"/> (<see cref="CommunicatorTimeoutException"/>).
/// The communicator cannot be used afterwards; end the process (<see cref="Communicator.Abort"/>
/// ends every rank).
/// </summary>
public class CommunicatorException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, on which rank, and MPI's own message.</param>
    public CommunicatorException(string message)
        : base(message)
    {
    }
}
