namespace NativeAdaBelief;

/// <summary>
/// A checkpoint's parameter groups against an optimizer's: the same count, and every group's
/// options parsed and valid by the native library's rules.
/// </summary>
internal static class CheckpointGroups
{
    /// <summary>Every group's options, in group order; throws <see cref="InvalidDataException"/> saying what is wrong.</summary>
    internal static AdaBeliefOptions[] Read(CheckpointMetadata meta, AdaBeliefOptimizer optimizer)
    {
        IReadOnlyList<ParameterGroup> groups = optimizer.ParamGroups;
        long groupCount = meta.Count(CheckpointFormat.KeyGroupCount);
        if (groupCount != groups.Count)
        {
            throw new InvalidDataException(
                $"The checkpoint has {groupCount} parameter groups but this optimizer has {groups.Count}: it belongs to a differently built optimizer.");
        }
        // Parsed here; valid by the native library's rules (OptionsFromJson validates them).
        var options = new AdaBeliefOptions[groups.Count];
        var modes = new List<string>();
        for (int g = 0; g < groups.Count; g++)
        {
            string key = CheckpointFormat.GroupOptionsKey(g);
            options[g] = CheckpointFormat.OptionsFromJson(meta.Required(key), $"Metadata '{key}'");
            modes.Add(CheckpointFormat.CompatibilityName(options[g].Compatibility));
        }
        string compatibility = meta.Required(CheckpointFormat.KeyCompatibility);
        if (compatibility != string.Join(",", modes))
        {
            throw new InvalidDataException(
                $"The checkpoint's compatibility '{compatibility}' disagrees with its groups' options ('{string.Join(",", modes)}').");
        }
        return options;
    }
}
