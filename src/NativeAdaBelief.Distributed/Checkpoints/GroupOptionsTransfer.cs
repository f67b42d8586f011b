namespace NativeAdaBelief.Distributed;

/// <summary>
/// Moves parameter groups' options between ranks exactly, as the bytes of a native checkpoint of
/// an optimizer that has those groups and no tensors: the checkpoint format is the one that
/// already writes and reads every option (and will keep doing so for options added later).
/// </summary>
internal static class GroupOptionsTransfer
{
    /// <summary>The options as checkpoint bytes.</summary>
    internal static byte[] Pack(IReadOnlyList<AdaBeliefOptions> groups)
    {
        using var carrier = new AdaBeliefOptimizer(new OptimizerConfig { ThreadCount = 1 });
        foreach (AdaBeliefOptions options in groups)
        {
            carrier.AddParamGroup(options);
        }
        using var stream = new MemoryStream();
        carrier.SaveCheckpoint(stream);
        return stream.ToArray();
    }

    /// <summary>The options <see cref="Pack"/> wrote, for <paramref name="groupCount"/> groups.</summary>
    /// <exception cref="InvalidDataException">The bytes do not hold that many groups' options.</exception>
    internal static AdaBeliefOptions[] Unpack(byte[] packed, int groupCount)
    {
        using var carrier = new AdaBeliefOptimizer(new OptimizerConfig { ThreadCount = 1 });
        for (int g = 0; g < groupCount; g++)
        {
            carrier.AddParamGroup(new AdaBeliefOptions());
        }
        using (var stream = new MemoryStream(packed, writable: false))
        {
            carrier.LoadCheckpoint(stream);
        }
        return [.. carrier.ParamGroups.Select(group => group.Options)];
    }
}
