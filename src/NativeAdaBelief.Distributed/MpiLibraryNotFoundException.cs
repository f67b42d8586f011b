namespace NativeAdaBelief.Distributed;

/// <summary>
/// No MPI library could be loaded. The message lists every library tried and why each failed,
/// and says what to install.
/// </summary>
public sealed class MpiLibraryNotFoundException : DllNotFoundException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Every attempt and what to do.</param>
    /// <param name="searchedLibraries">The libraries tried, in order.</param>
    public MpiLibraryNotFoundException(string message, IReadOnlyList<string> searchedLibraries)
        : base(message)
    {
        SearchedLibraries = searchedLibraries;
    }

    /// <summary>The libraries tried, in order.</summary>
    public IReadOnlyList<string> SearchedLibraries { get; }
}
