namespace NativeAdaBelief;

/// <summary>
/// The last checks of a checkpoint's header: nothing in it that the format does not define (no
/// other tensor entry, no other metadata key), and state entries that tile the data section
/// exactly, in any order, without gaps or overlaps.
/// </summary>
internal static class CheckpointLayout
{
    /// <summary>The data section's length in bytes; throws <see cref="InvalidDataException"/> saying what is wrong.</summary>
    internal static long Check(CheckpointMetadata meta, CheckpointHeader header, int version, int groupCount, CheckpointTensorPlan plan)
    {
        foreach (string name in header.Entries.Keys)
        {
            if (!plan.EntryNames.Contains(name))
            {
                throw new InvalidDataException($"The checkpoint has an unexpected tensor '{name}'.");
            }
        }
        // The training state's keys (format version 4) are CheckpointTrainingState's to check.
        int optimizerKeys = meta.Values.Keys.Count(k => !CheckpointTrainingState.IsTrainingKey(k, version));
        if (optimizerKeys != ExpectedMetadataCount(version, groupCount, plan.Steps.Length))
        {
            string unexpected = meta.Values.Keys.FirstOrDefault(k =>
                !CheckpointTrainingState.IsTrainingKey(k, version) && !IsKnownKey(k, version, groupCount, plan.Steps.Length)) ?? "?";
            throw new InvalidDataException($"The checkpoint's metadata has an unexpected key '{unexpected}'.");
        }

        // The data section: the entries must tile it exactly, in any order, without gaps or overlaps.
        CheckpointSlot[] byOffset = [.. plan.Slots.OrderBy(s => s.Begin)];
        long end = 0;
        foreach (CheckpointSlot slot in byOffset)
        {
            if (slot.Begin != end)
            {
                string what = slot.Begin < end ? "overlaps the previous tensor" : $"leaves a gap of {slot.Begin - end} bytes";
                throw new InvalidDataException(
                    $"Tensor '{CheckpointFormat.StateName(slot)}' starts at byte {slot.Begin} of the data, which {what} (expected {end}).");
            }
            end = slot.End;
        }

        return end;
    }

    private static int ExpectedMetadataCount(int version, int groups, int tensors) =>
        CheckpointFormat.GlobalKeys(version) + groups + CheckpointFormat.KeysPerTensor(version) * tensors;

    /// <summary>
    /// Whether <paramref name="key"/> is one the format defines for this many groups and tensors:
    /// decided from the key's own parts, so checking every key costs O(number of keys).
    /// </summary>
    private static bool IsKnownKey(string key, int version, int groups, int tensors)
    {
        if (key is CheckpointFormat.KeyFormat or CheckpointFormat.KeyFormatVersion or CheckpointFormat.KeyLibraryVersion
            or CheckpointFormat.KeyGroupCount or CheckpointFormat.KeyTensorCount or CheckpointFormat.KeyCompatibility
            or CheckpointFormat.KeyDataSha256 or CheckpointFormat.KeyMetadataSha256)
        {
            return true;
        }
        if (version >= 3 && key is CheckpointFormat.KeyFirstMomentFormat or CheckpointFormat.KeySecondMomentFormat)
        {
            return true;
        }
        string[] parts = key.Split('.');
        if (parts.Length != 3 || !CheckpointFormat.TryParseCount(parts[1], out long index)
            || parts[1] != CheckpointFormat.Invariant(index))
        {
            return false;
        }
        return parts[0] switch
        {
            "group" => index < groups && key == CheckpointFormat.GroupOptionsKey((int)index),
            "tensor" => index < tensors && CheckpointFormat.IsTensorKeyName(parts[2], version),
            _ => false,
        };
    }
}
