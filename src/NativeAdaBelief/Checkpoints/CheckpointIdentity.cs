namespace NativeAdaBelief;

/// <summary>
/// The first checks of a checkpoint's metadata: that it is a NativeAdaBelief optimizer
/// checkpoint of a format version this library reads, and that its metadata checksum holds
/// (which also protects the recorded checksum of the data).
/// </summary>
internal static class CheckpointIdentity
{
    /// <summary>Returns the format version; throws <see cref="InvalidDataException"/> saying what is wrong.</summary>
    internal static int Check(CheckpointMetadata meta)
    {
        // Identity and version first: a file of another kind gets the plainest message.
        string format = meta.Required(CheckpointFormat.KeyFormat);
        if (format != CheckpointFormat.FormatName)
        {
            throw new InvalidDataException($"The checkpoint's format is '{format}', not '{CheckpointFormat.FormatName}': it was not written by NativeAdaBelief.");
        }
        string versionText = meta.Required(CheckpointFormat.KeyFormatVersion);
        _ = meta.Required(CheckpointFormat.KeyLibraryVersion); // informational, but part of the format
        int version = -1;
        for (int v = CheckpointFormat.OldestReadableFormatVersion; v <= CheckpointFormat.FormatVersion; v++)
        {
            if (versionText == CheckpointFormat.Invariant(v))
            {
                version = v;
            }
        }
        if (version < 0)
        {
            throw new InvalidDataException(
                $"The checkpoint's format_version is '{versionText}'; this library reads versions "
                + $"{CheckpointFormat.OldestReadableFormatVersion} to {CheckpointFormat.FormatVersion}.");
        }

        // The metadata checksum covers every metadata entry (data_sha256 included).
        string recorded = meta.Required(CheckpointFormat.KeyMetadataSha256);
        string dataSha = meta.Required(CheckpointFormat.KeyDataSha256);
        string computed = CheckpointFormat.MetadataSha256(meta.Values);
        if (computed != recorded)
        {
            throw new InvalidDataException(
                $"The checkpoint's metadata is corrupted: its SHA-256 is {computed} but the header records {recorded}.");
        }
        if (dataSha.Length != 64 || !dataSha.All(char.IsAsciiHexDigitLower))
        {
            throw new InvalidDataException($"The checkpoint's data_sha256 '{dataSha}' is not 64 lowercase hex digits.");
        }

        return version;
    }
}
