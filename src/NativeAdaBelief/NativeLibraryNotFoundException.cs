namespace NativeAdaBelief;

/// <summary>
/// The native library could not be found or loaded. The message lists every place that was
/// tried and why each failed, and says what to do.
/// </summary>
public sealed class NativeLibraryNotFoundException : DllNotFoundException
{
    /// <summary>Creates the exception with a message and the places tried.</summary>
    /// <param name="message">What went wrong, every attempt, and what to do.</param>
    /// <param name="searchedPaths">The places tried, in order.</param>
    public NativeLibraryNotFoundException(string message, IReadOnlyList<string> searchedPaths)
        : base(message)
    {
        SearchedPaths = searchedPaths;
    }

    /// <summary>The places tried, in order.</summary>
    public IReadOnlyList<string> SearchedPaths { get; }
}
